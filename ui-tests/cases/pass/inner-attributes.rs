#![deny(warnings)]

use memo::{cached, invalidates};

#[cached]
fn load(id: u64) -> u64 {
    #![allow(unused_variables)]
    let unused = 1;
    id
}

#[cached]
async fn load_async(id: u64) -> u64 {
    #![allow(unused_variables)]
    let unused = 1;
    id
}

#[invalidates("load:*")]
fn reset(id: u64) -> u64 {
    #![allow(unused_variables)]
    let unused = 1;
    id
}

fn main() {
    assert_eq!(load(1), 1);
    assert_eq!(futures::executor::block_on(load_async(2)), 2);
    assert_eq!(reset(3), 3);
}
