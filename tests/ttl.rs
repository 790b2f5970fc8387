//! TTLs: whole seconds and duration strings, the cache type's default, expiry from the time a
//! value is stored. Every test gives its own cache type a `ManualClock` before the first call,
//! so nothing sleeps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use memo::{CacheConfig, ManualClock, cached};

fn calls(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

fn manual(name: &str, config: memo::CacheConfigBuilder) -> ManualClock {
    let clock = ManualClock::new();
    memo::configure(name, config.clock(&clock).build().unwrap()).unwrap();
    clock
}

#[test]
fn ttl_in_seconds_expires_on_time() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(ttl = 60, cache_type = "ttl_seconds")]
    fn session(id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        id
    }

    let clock = manual("ttl_seconds", CacheConfig::builder());
    session(1);
    clock.advance(Duration::from_secs(59));
    session(1);
    assert_eq!(calls(&CALLS), 1, "still fresh after 59 s");
    clock.advance(Duration::from_secs(1));
    session(1);
    assert_eq!(calls(&CALLS), 2, "expired after 60 s");
    let stats = memo::stats();
    let f = stats.function("session").unwrap();
    assert_eq!(f.ttl_ms, Some(60_000));
    assert_eq!(f.activity.evictions.expired, 1);
}

#[test]
fn duration_strings_are_read_at_compile_time() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(ttl = "1h30m", cache_type = "ttl_string")]
    fn report(id: u64) -> String {
        CALLS.fetch_add(1, Ordering::SeqCst);
        id.to_string()
    }

    let clock = manual("ttl_string", CacheConfig::builder());
    report(1);
    clock.advance(Duration::from_secs(5_399));
    report(1);
    assert_eq!(calls(&CALLS), 1);
    clock.advance(Duration::from_secs(1));
    report(1);
    assert_eq!(calls(&CALLS), 2);
    assert_eq!(
        memo::stats().function("report").unwrap().ttl_ms,
        Some(5_400_000)
    );
}

#[test]
fn milliseconds_are_honoured() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(ttl = "250ms", cache_type = "ttl_millis")]
    fn quote(id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        id
    }

    let clock = manual("ttl_millis", CacheConfig::builder());
    quote(1);
    clock.advance(Duration::from_millis(249));
    quote(1);
    assert_eq!(calls(&CALLS), 1);
    clock.advance(Duration::from_millis(1));
    quote(1);
    assert_eq!(calls(&CALLS), 2);
}

#[test]
fn without_ttl_the_cache_types_default_applies() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache_type = "ttl_default")]
    fn token(id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        id
    }

    let clock = manual(
        "ttl_default",
        CacheConfig::builder().ttl(Duration::from_secs(10)),
    );
    token(1);
    clock.advance(Duration::from_secs(9));
    token(1);
    assert_eq!(calls(&CALLS), 1);
    clock.advance(Duration::from_secs(1));
    token(1);
    assert_eq!(calls(&CALLS), 2);
    assert_eq!(memo::stats().function("token").unwrap().ttl_ms, None);
}

#[test]
fn a_functions_ttl_overrides_the_cache_types_default() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(ttl = 5, cache_type = "ttl_override")]
    fn short_lived(id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        id
    }

    let clock = manual(
        "ttl_override",
        CacheConfig::builder().ttl(Duration::from_secs(3_600)),
    );
    short_lived(1);
    clock.advance(Duration::from_secs(5));
    short_lived(1);
    assert_eq!(calls(&CALLS), 2);
}

#[test]
fn expiry_counts_from_when_the_value_is_stored() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(ttl = 10, cache_type = "ttl_from_store")]
    fn stamped(id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        id
    }

    let clock = manual("ttl_from_store", CacheConfig::builder());
    clock.advance(Duration::from_secs(100));
    stamped(1);
    clock.advance(Duration::from_secs(9));
    stamped(1);
    assert_eq!(calls(&CALLS), 1, "time before the store does not count");
    clock.advance(Duration::from_secs(1));
    stamped(1);
    assert_eq!(calls(&CALLS), 2);
}

#[test]
fn expired_entries_are_removed_without_being_read() {
    #[cached(ttl = 30, cache_type = "ttl_sweep")]
    fn written_once(id: u64) -> u64 {
        id
    }

    let clock = manual("ttl_sweep", CacheConfig::builder());
    for id in 0..10 {
        written_once(id);
    }
    let size = || {
        memo::stats()
            .function("written_once")
            .unwrap()
            .activity
            .size
    };
    assert_eq!(size(), 10);
    clock.advance(Duration::from_secs(30));
    memo::sweep_expired();
    assert_eq!(size(), 0);
    let stats = memo::stats();
    let f = stats.function("written_once").unwrap();
    assert_eq!(f.activity.evictions.expired, 10);
    assert!(f.activity.is_conserved());
}

#[tokio::test]
async fn async_functions_expire_too() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(ttl = "2m", cache_type = "ttl_async")]
    async fn feed(id: u64) -> Vec<u64> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        vec![id]
    }

    let clock = manual("ttl_async", CacheConfig::builder());
    feed(1).await;
    clock.advance(Duration::from_secs(119));
    feed(1).await;
    assert_eq!(calls(&CALLS), 1);
    clock.advance(Duration::from_secs(1));
    feed(1).await;
    assert_eq!(calls(&CALLS), 2);
}

#[test]
fn the_longest_ttl_reads_back_as_a_ttl() {
    for (name, ttl) in [
        ("ttl_u64_max_nanos", Duration::from_nanos(u64::MAX)),
        ("ttl_duration_max", Duration::MAX),
    ] {
        let cache =
            memo::configure(name, CacheConfig::builder().ttl(ttl).build().unwrap()).unwrap();
        assert!(
            cache.config().ttl().is_some(),
            "{name}: configured with a TTL"
        );
        let shown = memo::stats().cache_type(name).unwrap().default_ttl_ms;
        assert!(shown.is_some(), "{name}: stats show the TTL");
    }
}
