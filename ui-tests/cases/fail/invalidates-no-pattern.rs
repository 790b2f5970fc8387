use memo::invalidates;

#[invalidates()]
fn rename(id: u64) {
    let _ = id;
}

fn main() {
    rename(1);
}
