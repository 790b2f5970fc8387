use memo::cached;

#[derive(Clone, Debug, PartialEq)]
struct Point {
    x: f64,
    y: f64,
}

// Every error is shown at the argument's type, none at the attribute: the async miss path's
// steps bring the same bounds again (rustc reports them once per step, all at the type).
#[cached]
async fn norm(scale: u32, point: Point) -> u64 {
    ((point.x * point.x + point.y * point.y).sqrt() as u64) * u64::from(scale)
}

fn main() {
    let _ = norm(1, Point { x: 3.0, y: 4.0 });
}
