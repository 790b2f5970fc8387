use memo::cached;

#[cached]
fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or("")
}

fn main() {
    first_word("a b");
}
