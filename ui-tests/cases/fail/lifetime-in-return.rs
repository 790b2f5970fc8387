use std::borrow::Cow;

use memo::cached;

#[cached]
fn normalize<'a>(text: &'a str) -> Cow<'a, str> {
    Cow::Borrowed(text)
}

fn main() {
    normalize("a");
}
