use memo::cached;

#[cached(prefix = "user*")]
fn load(id: u64) -> u64 {
    id
}

fn main() {
    load(1);
}
