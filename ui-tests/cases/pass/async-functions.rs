#![deny(warnings)]

use memo::{cached, invalidates};

#[cached(ttl = "250ms")]
async fn load(id: u64, name: &str) -> Option<String> {
    futures::future::ready(()).await;
    (id > 0).then(|| format!("{id}:{name}"))
}

#[invalidates("load:{id}:*")]
async fn rename(id: u64, name: String) -> Result<(), String> {
    futures::future::ready(()).await;
    if name.is_empty() { Err("empty".to_owned()) } else { Ok(()) }
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

fn main() {
    futures::executor::block_on(async {
        assert_eq!(assert_send(load(1, "a")).await.as_deref(), Some("1:a"));
        assert_eq!(load(0, "a").await, None);
        assert_send(rename(1, "b".to_owned())).await.unwrap();
    });
}
