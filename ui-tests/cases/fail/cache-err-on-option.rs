use memo::cached;

#[cached(cache_err)]
fn find(id: u64) -> Option<String> {
    (id > 0).then(|| id.to_string())
}

fn main() {
    find(1);
}
