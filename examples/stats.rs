//! Reading `memo::stats()`: per cache type and per function counters, evictions by cause, load
//! times, and the JSON document for a dashboard or an admin endpoint.
//!
//! Run it with `cargo run --example stats`.

use std::time::Duration;

use memo::{CacheConfig, ManualClock, cached, invalidates};

#[cached(prefix = "word", cache_type = "words")]
fn word_length(word: &str) -> usize {
    word.chars().count()
}

#[cached(ttl = "1m", prefix = "quote", cache_type = "quotes")]
fn quote(symbol: &str) -> Option<u64> {
    (!symbol.is_empty()).then(|| symbol.bytes().map(u64::from).sum())
}

#[invalidates("word:{word}")]
fn forget_word(word: &str) {
    let _ = word;
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A small `words` type shows capacity evictions; a manual clock expires `quotes`.
    memo::configure("words", CacheConfig::builder().capacity(3).build()?)?;
    let clock = ManualClock::new();
    memo::configure("quotes", CacheConfig::builder().clock(&clock).build()?)?;

    for word in [
        "alpha", "beta", "alpha", "gamma", "delta", "alpha", "epsilon",
    ] {
        word_length(word);
    }
    forget_word("alpha");
    for symbol in ["ACME", "ACME", "", "INIT"] {
        quote(symbol);
    }
    clock.advance(Duration::from_secs(60));
    quote("ACME");

    let stats = memo::stats();
    println!("cache types:");
    for t in &stats.cache_types {
        println!(
            "  {:<8} configured: {:<5} capacity: {:>6}  size: {:>2}  hits: {:>2}  misses: {:>2}",
            t.name, t.configured, t.capacity, t.activity.size, t.activity.hits, t.activity.misses
        );
    }
    println!("functions:");
    for f in &stats.functions {
        let a = &f.activity;
        println!(
            "  {} (prefix `{}`, type `{}`, ttl {:?} ms)",
            f.name, f.prefix, f.cache_type, f.ttl_ms
        );
        println!(
            "    hits {} misses {} hit rate {:.0}%  inserts {} size {}",
            a.hits,
            a.misses,
            a.hit_rate * 100.0,
            a.inserts,
            a.size
        );
        println!(
            "    evicted: capacity {} expired {} invalidated {} replaced {}",
            a.evictions.capacity,
            a.evictions.expired,
            a.evictions.invalidated,
            a.evictions.replaced
        );
        println!(
            "    loads {} (mean {} ns)  counters add up: {}",
            a.loads.count,
            a.loads.mean_nanos,
            a.is_conserved()
        );
    }

    // One function by name, as a JSON document.
    let words = stats.function("word_length").expect("word_length ran");
    println!("{}", serde_json::to_string_pretty(words)?);
    println!(
        "totals: hits {}, misses {}",
        stats.totals.hits, stats.totals.misses
    );
    Ok(())
}
