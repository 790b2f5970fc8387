use memo::cached;

#[cached(ttl = "5 minutes")]
fn load(id: u64) -> u64 {
    id
}

fn main() {
    load(1);
}
