#![deny(warnings)]

use memo::{cached, invalidates};

trait Catalog {
    fn price(&self, sku: &str) -> Option<u64>;
    fn reprice(&self, sku: &str) -> bool;
    fn default_price(&self, sku: &str) -> u64;
}

struct Shop;

impl Catalog for Shop {
    #[cached(prefix = "price")]
    fn price(&self, sku: &str) -> Option<u64> {
        Some(sku.len() as u64)
    }

    #[invalidates("price:{sku}")]
    fn reprice(&self, sku: &str) -> bool {
        !sku.is_empty()
    }

    fn default_price(&self, sku: &str) -> u64 {
        sku.len() as u64
    }
}

trait WithDefault {
    #[cached(prefix = "with_default")]
    fn code(&self, id: u64) -> u64 {
        id * 2
    }
}

impl WithDefault for Shop {}

fn main() {
    assert_eq!(Shop.price("abc"), Some(3));
    assert!(Shop.reprice("abc"));
    assert_eq!(Shop.default_price("ab"), 2);
    assert_eq!(Shop.code(2), 4);
}
