use memo::cached;

#[cached(ttl = 100000000000)]
fn load(id: u64) -> u64 {
    id
}

fn main() {
    load(1);
}
