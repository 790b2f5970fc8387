use memo::invalidates;

#[invalidates("user:{self.id}")]
fn rename(id: u64) {
    let _ = id;
}

fn main() {
    rename(1);
}
