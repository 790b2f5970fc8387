use memo::invalidates;

struct Users;

#[invalidates("user:*")]
impl Users {
    fn rename(&self) {}
}

fn main() {
    Users.rename();
}
