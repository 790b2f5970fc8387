#![deny(warnings)]

use memo::cached;

#[derive(Clone, Debug, PartialEq)]
struct NotFound;

type Lookup<T> = Result<T, NotFound>;
type Maybe = Option<u64>;

#[cached(cache_err)]
fn strict(id: u64) -> Lookup<u64> {
    if id == 0 { Err(NotFound) } else { Ok(id) }
}

#[cached(cache_none = true)]
fn maybe(id: u64) -> Maybe {
    (id > 0).then_some(id)
}

#[cached(cache_err = false)]
fn lenient(id: u64) -> Result<u64, String> {
    Ok(id)
}

fn main() {
    assert_eq!(strict(0), Err(NotFound));
    assert_eq!(maybe(0), None);
    assert_eq!(lenient(1), Ok(1));
}
