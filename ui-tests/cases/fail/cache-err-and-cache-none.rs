use memo::cached;

#[cached(cache_err, cache_none)]
fn find(id: u64) -> Result<String, String> {
    Ok(id.to_string())
}

fn main() {
    let _ = find(1);
}
