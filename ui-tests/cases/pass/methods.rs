#![deny(warnings)]

use memo::{cached, invalidates};

struct Service {
    region: String,
    shard: (u8, u8),
    calls: std::sync::atomic::AtomicUsize,
}

impl Service {
    #[cached(prefix = "svc_product")]
    fn product(&self, id: u64) -> String {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{}:{id}", self.region)
    }

    #[cached(key = "{id}:{self.region}:{self.shard.1}")]
    fn regional(&self, id: u64, _trace: bool) -> String {
        format!("{}:{id}", self.region)
    }

    #[cached]
    fn typed_receiver(self: &Self, id: u64) -> u64 {
        id
    }

    #[cached]
    async fn product_async(&self, id: &str) -> Option<String> {
        Some(format!("{}:{id}", self.region))
    }

    #[cached]
    fn associated(id: u64) -> u64 {
        id
    }

    #[invalidates("svc_product:{id}", "regional:{id}:{self.region}:*")]
    fn update(&mut self, id: u64) {
        self.region.push('!');
    }

    #[invalidates("product_async:*")]
    async fn consume(self) -> String {
        self.region
    }
}

fn main() {
    let mut s = Service {
        region: "eu".into(),
        shard: (1, 2),
        calls: Default::default(),
    };
    assert_eq!(s.product(1), "eu:1");
    assert_eq!(s.regional(1, true), "eu:1");
    assert_eq!(s.typed_receiver(3), 3);
    assert_eq!(Service::associated(4), 4);
    assert_eq!(futures::executor::block_on(s.product_async("x")).as_deref(), Some("eu:x"));
    s.update(1);
    assert_eq!(futures::executor::block_on(s.consume()), "eu!");
}
