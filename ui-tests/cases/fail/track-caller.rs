// The body moves into a closure, where the caller's location is not passed on.
use memo::{cached, invalidates};

#[cached]
#[track_caller]
fn load(id: u64) -> u64 {
    id
}

#[track_caller]
#[invalidates("load:{id}")]
fn forget(id: u64) {
    assert!(id > 0);
}

fn main() {
    load(1);
    forget(1);
}
