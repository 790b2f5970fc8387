use memo::cached;

#[cached(tll = 5, ttl = 0, cache_type = "")]
fn load(id: &mut u64) {
    *id += 1;
}

fn main() {
    load(&mut 1);
}
