// `#[async_trait]` on the impl rewrites its `async fn`s before the attributes see them.
use async_trait::async_trait;
use memo::{cached, invalidates};

#[async_trait]
trait Repo: Send + Sync {
    async fn get(&self, id: u32) -> Option<String>;
    async fn rename(&self, id: u32) -> Result<(), String>;
}

struct Db;

#[async_trait]
impl Repo for Db {
    #[cached]
    async fn get(&self, id: u32) -> Option<String> {
        Some(id.to_string())
    }

    #[invalidates("get:{id}")]
    async fn rename(&self, id: u32) -> Result<(), String> {
        let _ = id;
        Ok(())
    }
}

fn main() {}
