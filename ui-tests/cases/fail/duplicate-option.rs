use memo::cached;

#[cached(prefix = "user", ttl = 60, prefix = "account")]
fn load(id: u64) -> u64 {
    id
}

fn main() {
    load(1);
}
