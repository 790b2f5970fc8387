use memo::invalidates;

#[invalidates(user)]
fn rename(id: u64) {
    let _ = id;
}

fn main() {
    rename(1);
}
