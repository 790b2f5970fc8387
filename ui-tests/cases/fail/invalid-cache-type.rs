use memo::cached;

#[cached(cache_type = "user sessions")]
fn load(id: u64) -> u64 {
    id
}

fn main() {
    load(1);
}
