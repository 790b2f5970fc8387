use memo::cached;

#[cached(tll = 60)]
fn load(id: u64) -> u64 {
    id
}

fn main() {
    load(1);
}
