use std::rc::Rc;

use memo::cached;

// `Rc` is `Clone` but neither `Send` nor `Sync`: cached values are shared between threads.
#[cached]
fn shared(id: u64) -> Rc<u64> {
    Rc::new(id)
}

fn main() {
    let _ = shared(1);
}
