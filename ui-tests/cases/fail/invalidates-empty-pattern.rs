use memo::invalidates;

#[invalidates("user:{id}", "")]
fn rename(id: u64) {
    let _ = id;
}

fn main() {
    rename(1);
}
