use memo::invalidates;

#[invalidates("user:{user}")]
fn rename(user_id: u64, name: &str) {
    let _ = (user_id, name);
}

fn main() {
    rename(1, "ada");
}
