use memo::cached;

#[cached]
fn next_id(counter: &mut u64) -> u64 {
    *counter += 1;
    *counter
}

fn main() {
    let mut c = 0;
    next_id(&mut c);
}
