#![deny(warnings)]

use memo::cached;

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Query {
    text: String,
}

#[cached]
fn score(word: &str, bytes: &[u8], query: &Query, _: u8, boxed: Box<str>) -> usize {
    word.len() + bytes.len() + query.text.len() + boxed.len()
}

#[cached]
fn nothing(_: &mut Vec<u8>) -> u64 {
    42
}

#[cached(key = "{id}")]
fn with_connection(id: u64, connection: &mut Vec<u64>, log: impl Fn(u64)) -> u64 {
    connection.push(id);
    log(id);
    id
}

fn main() {
    let q = Query { text: "q".into() };
    assert_eq!(score("ab", &[1, 2, 3], &q, 9, "x".into()), 7);
    assert_eq!(nothing(&mut Vec::new()), 42);
    assert_eq!(with_connection(1, &mut Vec::new(), |_| {}), 1);
}
