use memo::cached;

#[cached]
fn describe(value: impl std::fmt::Display) -> String {
    value.to_string()
}

fn main() {
    describe(1);
}
