use memo::cached;

trait Repo {
    #[cached]
    fn load(&self, id: u64) -> u64;
}

fn main() {}
