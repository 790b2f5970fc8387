use memo::invalidates;

#[invalidates("user:*")]
fn fail_loudly(id: u64) -> ! {
    panic!("user {id} cannot be renamed")
}

fn main() {
    if std::env::args().count() > 5 {
        fail_loudly(1);
    }
}
