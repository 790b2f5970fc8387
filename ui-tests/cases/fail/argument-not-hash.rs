use memo::cached;

#[derive(Clone, Debug, PartialEq)]
struct Point {
    x: f64,
    y: f64,
}

#[cached]
fn norm(scale: u32, point: Point) -> u64 {
    ((point.x * point.x + point.y * point.y).sqrt() as u64) * u64::from(scale)
}

fn main() {
    norm(1, Point { x: 3.0, y: 4.0 });
}
