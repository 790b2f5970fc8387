use memo::cached;

#[cached]
struct User {
    id: u64,
}

fn main() {
    let _ = User { id: 1 }.id;
}
