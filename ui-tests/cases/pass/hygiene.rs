//! The expansion depends on no name the user can shadow: `core`, `std`, `Result`, `Option`,
//! `Some`, `Ok`, ... may be anything here, and arguments may be named like generated locals.
#![deny(warnings)]
#![allow(dead_code, non_camel_case_types, non_snake_case)]

mod core {}
mod std {}
mod __private {}

struct Option;
struct Some;
struct None;
struct Result;
struct Ok;
struct Err;
struct Duration;
struct String;
struct Site;
struct KindTag;
struct MemoReturnsWrapper;
trait IsWrapper {}

type MyResult<T> = ::core::result::Result<T, ()>;

#[memo::cached(ttl = 5, prefix = "hygiene")]
fn plain(id: u64) -> ::core::option::Option<u64> {
    ::core::option::Option::Some(id)
}

#[memo::cached(cache_err)]
fn strict(id: u64) -> MyResult<u64> {
    MyResult::Ok(id)
}

#[memo::cached(ttl = 5, prefix = "hygiene_args")]
fn load(
    __memo_site: u64,
    __memo_kind: u64,
    __memo_entry: u64,
    __memo_value: u64,
    __memo_guard: u64,
    __memo_k: u64,
    __memo_w: u64,
    __MEMO_SITE: u64,
) -> MyResult<u64> {
    MyResult::Ok(__memo_site + __memo_kind + __memo_entry + __memo_value + __memo_guard + __memo_k + __memo_w + __MEMO_SITE)
}

#[memo::invalidates("hygiene:{__memo_out}:*", "hygiene:{__memo_pattern0}")]
fn touch(__memo_out: u64, __memo_pattern0: u64, __memo_fake: u64) -> u64 {
    __memo_out + __memo_pattern0 + __memo_fake
}

fn main() {
    assert_eq!(load(1, 1, 1, 1, 1, 1, 1, 1), MyResult::Ok(8));
    assert_eq!(touch(1, 2, 3), 6);
    assert_eq!(plain(1), ::core::option::Option::Some(1));
    assert_eq!(strict(1), MyResult::Ok(1));
}
