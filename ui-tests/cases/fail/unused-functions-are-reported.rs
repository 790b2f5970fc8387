// An unused `#[cached]` or `#[invalidates]` function is reported as dead code, as it would be
// without the attribute.
#![deny(dead_code)]

use memo::{cached, invalidates};

#[cached]
fn never_called(x: u64) -> u64 {
    x * 2
}

#[invalidates("never_called:{x}")]
fn never_forgotten(x: u64) {
    let _ = x;
}

#[cached]
async fn never_awaited(x: u64) -> u64 {
    x * 2
}

fn main() {}
