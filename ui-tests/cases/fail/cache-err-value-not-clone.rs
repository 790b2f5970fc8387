// With `cache_err` the whole `Result` is stored, so its error type must be `Clone` too: one
// error, at the return type, naming the bound that fails (and no advice to import one of
// memo's internal traits).
#[memo::cached(cache_err, ttl = 30)]
fn read(path: &str) -> Result<String, std::io::Error> {
    std::fs::read_to_string(path)
}

fn main() {
    let _ = read("Cargo.toml");
}
