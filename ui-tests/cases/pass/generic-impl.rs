#![deny(warnings)]

use std::fmt::Display;
use std::hash::Hash;

use memo::cached;

struct Repo<T> {
    label: T,
}

impl<T> Repo<T>
where
    T: Display + Clone + Hash + Eq + Send + Sync + 'static,
{
    // `self` is not in the key unless named: instances of one type share entries, so the
    // label goes into the key (each instantiation has its own entries anyway).
    #[cached(key = "{id}:{self.label}")]
    fn describe(&self, id: u64) -> String {
        format!("{}#{id}", self.label)
    }

    #[cached]
    fn echo(&self, value: T) -> Option<T> {
        Some(value)
    }
}

#[cached]
fn twice<K: Hash + Eq + Clone + Send + Sync + 'static>(key: K) -> (K, K) {
    (key.clone(), key)
}

fn main() {
    let a = Repo { label: "a" };
    let b = Repo { label: 7_u8 };
    assert_eq!(a.describe(1), "a#1");
    assert_eq!(b.describe(1), "7#1");
    assert_eq!(b.echo(3), Some(3));
    assert_eq!(twice(1_u8), (1, 1));
    assert_eq!(twice("x"), ("x", "x"));
}
