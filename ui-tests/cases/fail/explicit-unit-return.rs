use memo::cached;

#[cached]
fn warm_up(id: u64) -> () {
    let _ = id;
}

fn main() {
    warm_up(1);
}
