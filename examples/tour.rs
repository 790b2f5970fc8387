//! A tour of memo's manual API: named cache types, inserts with TTLs, single-flight
//! computation, pattern invalidation and the stats document.
//!
//! Run it with `cargo run --example tour`.

use std::time::Duration;

use memo::{CacheConfig, EvictionPolicy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Named cache types, as the URL shortener configured them.
    let url = memo::configure(
        "url",
        CacheConfig::builder()
            .capacity(5_000)
            .ttl(Duration::from_secs(3600))
            .build()?,
    )?;
    let user = memo::configure(
        "user",
        CacheConfig::builder()
            .capacity(1_000)
            .ttl(Duration::from_secs(30 * 60))
            .policy(EvictionPolicy::Lru)
            .build()?,
    )?;

    // set / get / exists / delete.
    url.insert("url:abc", "https://example.org/a/long/path".to_owned());
    url.insert_with_ttl("url:tmp", "https://example.org/tmp".to_owned(), Duration::from_secs(5));
    println!("url:abc -> {:?}", url.get::<String>("url:abc"));
    println!("url:nope -> {:?}", url.get::<String>("url:nope"));
    println!("exists url:tmp: {}", url.contains("url:tmp"));
    println!("deleted url:tmp: {}", url.remove("url:tmp"));

    // Compute on a miss, once, however many callers ask at the same time.
    for _ in 0..3 {
        let profile = user.get_or_insert_with("user:42", || {
            println!("  (loading user 42)");
            format!("profile of user {}", 42)
        });
        println!("user:42 -> {profile}");
    }
    user.insert("user:7", "profile of user 7".to_owned());
    user.insert("team:1", "the core team".to_owned());

    // Pattern invalidation, Redis MATCH style, across every cache type.
    let removed = memo::invalidate("user:*")?;
    println!("invalidated user:* -> {removed} entries; team:1 still cached: {}", user.contains("team:1"));

    let stats = memo::stats();
    println!(
        "hits: {}, misses: {}, hit rate: {:.1}%",
        stats.totals.hits,
        stats.totals.misses,
        stats.totals.hit_rate * 100.0
    );
    println!("{}", serde_json::to_string_pretty(&stats)?);
    Ok(())
}
