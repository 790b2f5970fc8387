use memo::cached;

#[cached(ttl = 1.5)]
fn load(id: u64) -> u64 {
    id
}

fn main() {
    load(1);
}
