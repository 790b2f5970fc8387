use std::rc::Rc;

use memo::cached;

// A key part must be `Send + Sync` (the cache is shared by every thread): every error is shown
// at the argument's type, with rustc's own message, and none names memo's internals as the
// culprit.
#[cached]
fn total(scale: u32, shared: Rc<u32>) -> u64 {
    u64::from(scale * *shared)
}

fn main() {
    total(2, Rc::new(3));
}
