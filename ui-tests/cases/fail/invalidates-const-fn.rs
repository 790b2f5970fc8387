use memo::invalidates;

#[invalidates("user:*")]
const fn rename(id: u64) -> u64 {
    id
}

fn main() {
    rename(1);
}
