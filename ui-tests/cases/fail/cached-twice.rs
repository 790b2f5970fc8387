use memo::cached;

#[cached(prefix = "outer")]
#[cached(ttl = 60)]
fn twice(x: u64) -> u64 {
    x
}

fn main() {
    twice(1);
}
