#![deny(warnings)]

use memo::{cached, invalidates};

trait Store {
    async fn get(&self, id: u64) -> Option<String>;
    async fn put(&self, id: u64, value: String) -> Result<(), String>;
}

struct Memory;

impl Store for Memory {
    #[cached(prefix = "store_get")]
    async fn get(&self, id: u64) -> Option<String> {
        Some(id.to_string())
    }

    #[invalidates("store_get:{id}")]
    async fn put(&self, id: u64, value: String) -> Result<(), String> {
        if value.is_empty() { Err("empty".into()) } else { Ok(()) }
    }
}

fn main() {
    futures::executor::block_on(async {
        assert_eq!(Memory.get(1).await.as_deref(), Some("1"));
        Memory.put(1, "x".into()).await.unwrap();
    });
}
