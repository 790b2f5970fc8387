use std::borrow::Cow;

use memo::cached;

#[cached]
fn by_option(name: Option<&str>) -> usize {
    name.map_or(0, str::len)
}

#[cached]
fn by_tuple(pair: (&str, u32)) -> usize {
    pair.0.len()
}

#[cached]
fn by_double_ref(name: &&str) -> usize {
    name.len()
}

#[cached]
fn by_cow<'a>(name: Cow<'a, str>, n: u32) -> usize {
    name.len() + n as usize
}

// Fine: the outer `&` only, `'static` borrows, and a borrow left out of the key.
#[cached]
fn by_slice(names: &[String], tag: &'static str, _: Option<&str>) -> usize {
    names.len() + tag.len()
}

fn main() {
    by_option(None);
    by_tuple(("a", 1));
    by_double_ref(&"a");
    by_cow(Cow::Borrowed("a"), 1);
    by_slice(&[], "t", None);
}
