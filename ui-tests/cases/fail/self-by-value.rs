use memo::cached;

struct Repo;

impl Repo {
    #[cached]
    fn load(self, id: u64) -> u64 {
        id
    }
}

fn main() {
    Repo.load(1);
}
