use memo::cached;

#[cached(ttl = 0)]
fn load(id: u64) -> u64 {
    id
}

fn main() {
    load(1);
}
