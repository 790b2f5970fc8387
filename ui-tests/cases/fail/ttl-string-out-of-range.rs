use memo::cached;

#[cached(ttl = "300000d")]
fn load(id: u64) -> u64 {
    id
}

fn main() {
    load(1);
}
