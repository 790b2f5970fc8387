use memo::cached;

// A bare duration is taken for the `ttl` it most likely means.
#[cached("10m")]
fn user(id: u64) -> u64 {
    id
}

fn main() {
    user(1);
}
