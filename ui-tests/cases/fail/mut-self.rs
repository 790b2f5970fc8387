use memo::cached;

struct Repo {
    loads: u64,
}

impl Repo {
    #[cached]
    fn load(&mut self, id: u64) -> u64 {
        self.loads += 1;
        id
    }
}

fn main() {
    Repo { loads: 0 }.load(1);
}
