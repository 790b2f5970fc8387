use memo::cached;

#[cached("user")]
fn user(id: u64) -> u64 {
    id
}

fn main() {
    user(1);
}
