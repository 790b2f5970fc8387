//! A tour of memo: cached free functions, a service struct with async methods, invalidation,
//! the manual API, and the stats document.
//!
//! Run it with `cargo run --example tour`. It needs no async runtime: the async methods run on
//! `futures::executor::block_on` (see `service_tokio.rs` for the same under tokio).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use memo::{CacheConfig, EvictionPolicy, cached, invalidates};

// ---------------------------------------------------------------------------------------------
// Free functions
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct User {
    id: u64,
    name: String,
}

#[derive(Debug)]
struct DbError(String);

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "database error: {}", self.0)
    }
}

impl std::error::Error for DbError {}

/// Queries sent to the pretend database.
static QUERIES: AtomicUsize = AtomicUsize::new(0);

/// The pretend database's user names.
static NAMES: LazyLock<Mutex<HashMap<u64, String>>> = LazyLock::new(Mutex::default);

/// Cached for ten minutes in the `user` cache type. Only `Ok` values are stored: an error is
/// retried on the next call.
#[cached(ttl = "10m", prefix = "user", cache_type = "user")]
fn load_user(id: u64) -> Result<User, DbError> {
    QUERIES.fetch_add(1, Ordering::Relaxed);
    if id == 0 {
        return Err(DbError("there is no user 0".into()));
    }
    let name = NAMES.lock().unwrap().get(&id).cloned();
    Ok(User {
        id,
        name: name.unwrap_or_else(|| format!("user-{id}")),
    })
}

/// Runs the body, then (if it returned `Ok`) drops `user:{id}` so the next load sees the change.
#[invalidates("user:{id}")]
fn rename_user(id: u64, name: &str) -> Result<(), DbError> {
    QUERIES.fetch_add(1, Ordering::Relaxed);
    if name.is_empty() {
        return Err(DbError("empty name".into()));
    }
    NAMES.lock().unwrap().insert(id, name.to_owned());
    Ok(())
}

/// Recursion goes through the cache: each `fib(n)` is computed once.
#[cached]
fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

// ---------------------------------------------------------------------------------------------
// A service struct with async methods
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Product {
    id: String,
    price: u64,
}

struct ProductService {
    region: &'static str,
    prices: Mutex<HashMap<String, u64>>,
    loads: AtomicUsize,
}

impl ProductService {
    /// `&self` is not part of the key: one service per process.
    #[cached(ttl = 300, prefix = "product", cache_type = "catalog")]
    async fn product(&self, id: &str) -> Option<Product> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        let price = *self.prices.lock().unwrap().get(id)?;
        Some(Product {
            id: id.to_owned(),
            price,
        })
    }

    /// A key template puts a field of `self` into the key: `catalog_page:{page}:{region}`.
    #[cached(
        prefix = "catalog_page",
        cache_type = "catalog",
        key = "{page}:{self.region}"
    )]
    async fn catalog_page(&self, page: usize) -> Vec<String> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        let mut ids: Vec<String> = self.prices.lock().unwrap().keys().cloned().collect();
        ids.sort();
        ids.into_iter().skip(page * 2).take(2).collect()
    }

    #[invalidates("product:{id}", "catalog_page:*")]
    async fn update_product(&self, id: &str, price: u64) -> Result<(), DbError> {
        self.prices.lock().unwrap().insert(id.to_owned(), price);
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Cache types are configured once, before their first use.
    memo::configure(
        "user",
        CacheConfig::builder()
            .capacity(1_000)
            .ttl(Duration::from_secs(30 * 60))
            .policy(EvictionPolicy::Lru)
            .build()?,
    )?;
    memo::configure("catalog", CacheConfig::builder().capacity(5_000).build()?)?;

    println!("== free functions");
    for _ in 0..3 {
        let user = load_user(42)?;
        println!("load_user(42) -> {} ({})", user.name, user.id);
    }
    println!("queries so far: {}", QUERIES.load(Ordering::Relaxed));
    for _ in 0..2 {
        if let Err(e) = load_user(0) {
            println!("load_user(0) -> {e}");
        }
    }
    println!(
        "queries so far: {} (errors are not cached)",
        QUERIES.load(Ordering::Relaxed)
    );
    println!("fib(90) = {}", fib(90));

    println!("\n== invalidation");
    rename_user(42, "ada")?;
    let user = load_user(42)?;
    println!(
        "after rename_user(42): load_user(42) ran again -> {}",
        user.name
    );
    println!("queries so far: {}", QUERIES.load(Ordering::Relaxed));

    println!("\n== a service with async methods");
    let service = ProductService {
        region: "eu",
        prices: Mutex::new(HashMap::from([
            ("apple".to_owned(), 120),
            ("pear".to_owned(), 90),
            ("plum".to_owned(), 60),
        ])),
        loads: AtomicUsize::new(0),
    };
    futures::executor::block_on(async {
        for _ in 0..3 {
            let p = service
                .product("apple")
                .await
                .map(|p| format!("{} at {}", p.id, p.price));
            println!("product(apple) -> {p:?}");
        }
        println!("catalog_page(0) -> {:?}", service.catalog_page(0).await);
        println!("catalog_page(0) -> {:?}", service.catalog_page(0).await);
        service.update_product("apple", 150).await?;
        service.update_product("apricot", 80).await?;
        let p = service.product("apple").await.map(|p| p.price);
        println!("after update_product: price of apple -> {p:?}");
        println!(
            "after update_product: catalog_page(0) -> {:?}",
            service.catalog_page(0).await
        );
        Ok::<(), DbError>(())
    })?;
    println!("service loads: {}", service.loads.load(Ordering::Relaxed));

    println!("\n== the manual API");
    let url = memo::cache("url")?;
    url.insert("url:abc", "https://example.org/a/long/path".to_owned());
    println!("url:abc -> {:?}", url.get::<String>("url:abc"));
    let removed = memo::invalidate("url:*")?;
    println!("invalidate(\"url:*\") removed {removed} entry");

    println!("\n== stats");
    let stats = memo::stats();
    for f in &stats.functions {
        println!(
            "{:<24} hits: {:>3}  misses: {:>3}  hit rate: {:>5.1}%",
            f.name,
            f.activity.hits,
            f.activity.misses,
            f.activity.hit_rate * 100.0
        );
    }
    println!(
        "total hits: {}, total misses: {}",
        stats.totals.hits, stats.totals.misses
    );
    println!("{}", serde_json::to_string_pretty(&stats)?);
    Ok(())
}
