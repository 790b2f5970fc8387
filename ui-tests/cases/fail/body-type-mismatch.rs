use memo::cached;

#[derive(Debug)]
struct NotFound;

#[cached]
async fn load(id: u64) -> Result<String, NotFound> {
    if id == 0 {
        return Err("not found");
    }
    Ok(id.to_string())
}

fn main() {
    let _ = futures::executor::block_on(load(1));
}
