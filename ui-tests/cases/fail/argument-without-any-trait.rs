use memo::cached;

// No `Hash`, `Eq`, `Clone`, `Debug` or `Display`: each missing trait of the key is reported at
// the argument's type, and nothing more (no error about how the key would be rendered).
struct Opaque(u32);

#[cached]
fn weight(item: Opaque) -> u32 {
    item.0
}

fn main() {
    weight(Opaque(1));
}
