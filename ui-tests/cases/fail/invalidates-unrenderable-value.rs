use memo::invalidates;

// A pattern's value needs `Display`, `Debug` or `Hash` to be rendered as `#[cached]` renders
// arguments.
struct Handle(u32);

#[invalidates("user:{user}")]
fn rename(user: Handle, name: &str) {
    let _ = (user.0, name);
}

fn main() {
    rename(Handle(1), "ada");
}
