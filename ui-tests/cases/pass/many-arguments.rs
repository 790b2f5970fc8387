#![deny(warnings)]

use memo::cached;

#[cached]
#[allow(clippy::too_many_arguments)]
fn wide(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: u8, i: u8, j: &str) -> String {
    format!("{a}{b}{c}{d}{e}{f}{g}{h}{i}{j}")
}

#[cached]
fn none() -> u64 {
    7
}

fn main() {
    assert_eq!(wide(1, 2, 3, 4, 5, 6, 7, 8, 9, "x"), "123456789x");
    assert_eq!(none(), 7);
}
