use memo::invalidates;

#[invalidates("user:{id}:[ab")]
fn rename(id: u64) {
    let _ = id;
}

fn main() {
    rename(1);
}
