use memo::cached;

#[cached(key = "{user_idd}")]
fn load(user_id: u64, verbose: bool) -> u64 {
    if verbose { user_id } else { 0 }
}

fn main() {
    load(1, true);
}
