use memo::cached;

#[cached(ttl = "30m1h")]
fn load(id: u64) -> u64 {
    id
}

fn main() {
    load(1);
}
