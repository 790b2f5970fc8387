//! `#[cached]` and `#[invalidates]` on methods: `&self` (not in the key unless named), key
//! templates with `self` fields, async methods, trait impls and generic impls.

use std::sync::atomic::{AtomicUsize, Ordering};

use memo::{cached, invalidates};

/// A service struct, one per process in real code.
struct Catalog {
    region: &'static str,
    loads: AtomicUsize,
}

impl Catalog {
    fn new(region: &'static str) -> Self {
        Self {
            region,
            loads: AtomicUsize::new(0),
        }
    }

    fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }

    /// `self` is not part of the key: every `Catalog` shares these entries.
    #[cached(prefix = "methods_price")]
    fn price(&self, sku: &str) -> Option<u64> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        Some(sku.len() as u64 * 100)
    }

    /// The region is part of the key: each region has its own entries.
    #[cached(prefix = "methods_stock", key = "{sku}:{self.region}")]
    fn stock(&self, sku: &str, _trace_id: u64) -> u64 {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if self.region == "eu" { 5 } else { 7 }
    }

    #[cached(prefix = "methods_title")]
    async fn title(&self, sku: &str) -> Result<String, String> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if sku.is_empty() {
            return Err("empty sku".to_owned());
        }
        Ok(sku.to_uppercase())
    }

    #[invalidates("methods_stock:{sku}:{self.region}")]
    fn restock(&mut self, sku: &str) -> Result<(), String> {
        if sku.is_empty() {
            Err("empty sku".to_owned())
        } else {
            Ok(())
        }
    }

    #[invalidates("methods_title:{sku}")]
    async fn retitle(&self, sku: &str) {
        let _ = sku;
    }
}

#[test]
fn self_is_not_part_of_the_key_by_default() {
    let eu = Catalog::new("eu");
    let us = Catalog::new("us");
    assert_eq!(eu.price("abc"), Some(300));
    assert_eq!(us.price("abc"), Some(300), "a hit on the entry `eu` stored");
    assert_eq!((eu.loads(), us.loads()), (1, 0));
    let stats = memo::stats();
    let f = stats.function("price").unwrap();
    assert_eq!((f.activity.hits, f.activity.misses), (1, 1));
    // Methods show under their impl's type.
    assert_eq!(f.name, "methods::Catalog::price");
    assert!(stats.function("Catalog::price").is_some());
}

#[test]
fn a_key_template_puts_fields_of_self_in_the_key() {
    let eu = Catalog::new("eu");
    let mut us = Catalog::new("us");
    assert_eq!(eu.stock("abc", 1), 5);
    assert_eq!(us.stock("abc", 2), 7);
    assert_eq!(
        eu.stock("abc", 3),
        5,
        "arguments outside the template are not in the key"
    );
    assert_eq!(us.stock("abc", 4), 7);
    assert_eq!((eu.loads(), us.loads()), (1, 1));

    // The rendered key is `prefix:sku:region`; the invalidation fills the same template.
    assert_eq!(memo::invalidate("methods_stock:abc:eu").unwrap(), 1);
    assert_eq!(eu.stock("abc", 5), 5);
    assert_eq!(eu.loads(), 2);
    us.restock("abc").unwrap();
    assert_eq!(us.stock("abc", 6), 7);
    assert_eq!(us.loads(), 2);
    assert_eq!(eu.stock("abc", 7), 5, "only the `us` entry was invalidated");
    assert_eq!(eu.loads(), 2);
}

#[test]
fn async_methods_are_cached_and_invalidated() {
    let c = Catalog::new("eu");
    futures::executor::block_on(async {
        assert_eq!(c.title("ab").await.as_deref(), Ok("AB"));
        assert_eq!(c.title("ab").await.as_deref(), Ok("AB"));
        assert!(c.title("").await.is_err());
        assert!(c.title("").await.is_err());
        assert_eq!(c.loads(), 3);
        c.retitle("ab").await;
        assert_eq!(c.title("ab").await.as_deref(), Ok("AB"));
        assert_eq!(c.loads(), 4);
    });
}

trait Pricing {
    fn quote(&self, qty: u32) -> u64;
}

struct Flat;

static QUOTES: AtomicUsize = AtomicUsize::new(0);

impl Pricing for Flat {
    #[cached(prefix = "methods_quote")]
    fn quote(&self, qty: u32) -> u64 {
        QUOTES.fetch_add(1, Ordering::SeqCst);
        u64::from(qty) * 3
    }
}

#[test]
fn trait_impl_methods_are_cached() {
    let p: &dyn Pricing = &Flat;
    assert_eq!(p.quote(2), 6);
    assert_eq!(Flat.quote(2), 6);
    assert_eq!(QUOTES.load(Ordering::SeqCst), 1);
}

struct Repo<T> {
    name: T,
}

static REPO_LOADS: AtomicUsize = AtomicUsize::new(0);

impl<T> Repo<T>
where
    T: std::fmt::Display + std::hash::Hash + Eq + Clone + Send + Sync + 'static,
{
    #[cached(prefix = "methods_repo", key = "{self.name}:{id}")]
    fn get(&self, id: u64) -> String {
        REPO_LOADS.fetch_add(1, Ordering::SeqCst);
        format!("{}/{id}", self.name)
    }
}

#[test]
fn generic_impls_are_cached_per_instantiation() {
    let a = Repo { name: "a" };
    let b = Repo { name: 2_u8 };
    assert_eq!(a.get(1), "a/1");
    assert_eq!(b.get(1), "2/1");
    assert_eq!(a.get(1), "a/1");
    assert_eq!(b.get(1), "2/1");
    assert_eq!(REPO_LOADS.load(Ordering::SeqCst), 2);
    assert_eq!(memo::invalidate("methods_repo:2:1").unwrap(), 1);
}

trait AsyncStore {
    async fn fetch(&self, id: u64) -> Option<u64>;
}

struct Doubler;

static FETCHES: AtomicUsize = AtomicUsize::new(0);

impl AsyncStore for Doubler {
    #[cached(prefix = "methods_fetch")]
    async fn fetch(&self, id: u64) -> Option<u64> {
        FETCHES.fetch_add(1, Ordering::SeqCst);
        Some(id * 2)
    }
}

#[tokio::test]
async fn native_async_fn_in_traits_is_cached() {
    assert_eq!(Doubler.fetch(4).await, Some(8));
    assert_eq!(Doubler.fetch(4).await, Some(8));
    assert_eq!(FETCHES.load(Ordering::SeqCst), 1);
}

/// A service shared as `Arc<Self>`, whose methods borrow the `Arc`.
struct Shared {
    region: &'static str,
    loads: AtomicUsize,
}

impl Shared {
    #[cached(prefix = "methods_arc", key = "{id}:{self.region}")]
    fn name(self: &std::sync::Arc<Self>, id: u64) -> String {
        self.loads.fetch_add(1, Ordering::SeqCst);
        format!("{id}@{}", self.region)
    }

    #[cached(prefix = "methods_arc_async")]
    async fn double(self: &std::sync::Arc<Self>, id: u64) -> u64 {
        self.loads.fetch_add(1, Ordering::SeqCst);
        id * 2
    }
}

#[test]
fn a_method_borrowing_an_arc_of_self_is_cached_as_one_borrowing_self() {
    let shared = std::sync::Arc::new(Shared {
        region: "eu",
        loads: AtomicUsize::new(0),
    });
    assert_eq!(shared.name(1), "1@eu");
    assert_eq!(shared.name(1), "1@eu");
    assert_eq!(futures::executor::block_on(shared.double(4)), 8);
    assert_eq!(futures::executor::block_on(shared.double(4)), 8);
    assert_eq!(shared.loads.load(Ordering::SeqCst), 2);
    assert_eq!(memo::invalidate("methods_arc:1:eu").unwrap(), 1);
}

/// A view that borrows its fields: keyed by them, its entries own copies of what they borrow.
struct View<'a> {
    user: &'a str,
    flags: &'a [u8],
    loads: &'a AtomicUsize,
}

impl View<'_> {
    #[cached(prefix = "methods_view", key = "{self.user}:{page}")]
    fn page(&self, page: u32) -> String {
        self.loads.fetch_add(1, Ordering::SeqCst);
        format!("{}#{page}", self.user)
    }

    #[cached(prefix = "methods_view_flags", key = "{self.flags}")]
    fn flag_count(&self) -> usize {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.flags.iter().filter(|&&f| f != 0).count()
    }

    #[cached(prefix = "methods_view_async", key = "{self.user}:{page}")]
    async fn page_async(&self, page: u32) -> String {
        self.loads.fetch_add(1, Ordering::SeqCst);
        format!("{}~{page}", self.user)
    }

    #[invalidates("methods_view:{self.user}:*")]
    fn reset(&self) {}
}

#[test]
fn fields_that_borrow_key_entries_that_outlive_them() {
    let loads = AtomicUsize::new(0);
    {
        let name = String::from("ada");
        let flags = vec![1, 0, 1];
        let view = View {
            user: &name,
            flags: &flags,
            loads: &loads,
        };
        assert_eq!(view.page(1), "ada#1");
        assert_eq!(view.page(1), "ada#1");
        assert_eq!(view.flag_count(), 2);
        assert_eq!(view.flag_count(), 2);
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }
    // The borrowed strings are gone; the entries still answer for equal ones.
    let name = String::from("ada");
    let flags = vec![1, 0, 1];
    let view = View {
        user: &name,
        flags: &flags,
        loads: &loads,
    };
    assert_eq!(view.page(1), "ada#1");
    assert_eq!(view.flag_count(), 2);
    assert_eq!(loads.load(Ordering::SeqCst), 2);
    // The key renders the text the field holds, as a `&str` argument would.
    view.reset();
    assert_eq!(view.page(1), "ada#1");
    assert_eq!(loads.load(Ordering::SeqCst), 3);
    assert_eq!(memo::invalidate("methods_view:ada:1").unwrap(), 1);
}

#[tokio::test]
async fn async_methods_key_by_fields_that_borrow() {
    let loads = AtomicUsize::new(0);
    let name = String::from("bo");
    let view = View {
        user: &name,
        flags: &[],
        loads: &loads,
    };
    assert_eq!(view.page_async(2).await, "bo~2");
    assert_eq!(view.page_async(2).await, "bo~2");
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert_eq!(memo::invalidate("methods_view_async:bo:2").unwrap(), 1);
}
