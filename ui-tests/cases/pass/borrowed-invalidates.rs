#![deny(warnings)]

use memo::invalidates;

struct Names {
    first: String,
}

impl Names {
    #[invalidates("names:*")]
    fn first(&self) -> &str {
        &self.first
    }

    #[invalidates("names:{n}")]
    fn iter(&self, n: usize) -> impl Iterator<Item = char> + '_ {
        self.first.chars().take(n)
    }
}

fn main() {
    let n = Names { first: "ada".into() };
    assert_eq!(n.first(), "ada");
    assert_eq!(n.iter(2).count(), 2);
}
