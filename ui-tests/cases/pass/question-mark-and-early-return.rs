#![deny(warnings)]

use memo::{cached, invalidates};

#[derive(Debug, PartialEq)]
struct ParseError;

fn parse(text: &str) -> Result<u64, ParseError> {
    text.parse().map_err(|_| ParseError)
}

#[cached]
fn sum(a: &str, b: &str) -> Result<u64, ParseError> {
    if a.is_empty() {
        return Ok(0);
    }
    Ok(parse(a)? + parse(b)?)
}

#[cached]
async fn sum_async(a: &str, b: &str) -> Result<u64, ParseError> {
    if a.is_empty() {
        return Ok(0);
    }
    Ok(parse(a)? + parse(b)?)
}

#[cached]
fn first_even(values: &[u64]) -> Option<u64> {
    for v in values {
        if v % 2 == 0 {
            return Some(*v);
        }
    }
    None
}

#[invalidates("sum:*")]
fn store(text: &str) -> Result<u64, ParseError> {
    if text == "0" {
        return Ok(0);
    }
    let v = parse(text)?;
    Ok(v)
}

#[invalidates("sum_async:*")]
async fn store_async(text: &str) -> Result<u64, ParseError> {
    if text == "0" {
        return Ok(0);
    }
    let v = parse(text)?;
    Ok(v)
}

fn main() {
    assert_eq!(sum("1", "2"), Ok(3));
    assert_eq!(sum("", "x"), Ok(0));
    assert_eq!(sum("1", "x"), Err(ParseError));
    assert_eq!(futures::executor::block_on(sum_async("1", "x")), Err(ParseError));
    assert_eq!(first_even(&[1, 4, 6]), Some(4));
    assert_eq!(store("x"), Err(ParseError));
    assert_eq!(futures::executor::block_on(store_async("0")), Ok(0));
}
