//! TTLs on the replaceable clock: boundaries, extreme values, a clock stepping backwards, and
//! expired entries removed without being read.

use std::time::{Duration, Instant};

use memo::{CacheConfig, ManualClock};

fn timed(name: &str, ttl: Duration) -> (memo::Cache, ManualClock) {
    let clock = ManualClock::new();
    let c = memo::configure(
        name,
        CacheConfig::builder()
            .capacity(100_000)
            .ttl(ttl)
            .clock(&clock)
            .build()
            .unwrap(),
    )
    .unwrap();
    (c, clock)
}

#[test]
fn an_entry_lives_exactly_its_ttl() {
    let (c, clock) = timed("expiry_boundary", Duration::from_secs(10));
    clock.advance(Duration::from_secs(100));
    c.insert("k", 1);
    clock.advance(Duration::from_secs(10) - Duration::from_nanos(1));
    assert_eq!(c.get::<i32>("k"), Some(1), "one tick before the TTL");
    clock.advance(Duration::from_nanos(1));
    assert_eq!(c.get::<i32>("k"), None, "at the TTL");
    let a = c.stats().activity;
    assert_eq!((a.evictions.expired, a.size), (1, 0));
    assert!(a.is_conserved());
}

#[test]
fn ttl_counts_from_the_store_not_from_the_last_read() {
    let (c, clock) = timed("expiry_from_store", Duration::from_secs(10));
    c.insert("k", 1);
    for _ in 0..9 {
        clock.advance(Duration::from_secs(1));
        assert!(c.get::<i32>("k").is_some());
    }
    clock.advance(Duration::from_secs(1));
    assert!(c.get::<i32>("k").is_none());
}

#[test]
fn get_or_insert_recomputes_after_expiry() {
    let (c, clock) = timed("expiry_recompute", Duration::from_millis(250));
    let mut runs = 0;
    let mut call = || {
        c.get_or_insert_with("k", || {
            runs += 1;
            runs
        })
    };
    assert_eq!(call(), 1);
    clock.advance(Duration::from_millis(249));
    assert_eq!(call(), 1);
    clock.advance(Duration::from_millis(1));
    assert_eq!(call(), 2);
}

#[test]
fn extreme_ttls_and_clock_values_do_not_panic() {
    let (c, clock) = timed("expiry_extreme", Duration::MAX);
    c.insert("max", 1);
    c.insert_with_ttl("zero", 2, Duration::ZERO);
    assert!(c.contains("max"));
    assert!(
        !c.contains("zero"),
        "a zero TTL stores an already expired entry"
    );
    clock.set(Duration::from_nanos(u64::MAX - 10));
    c.insert_with_ttl("near_end", 3, Duration::from_secs(3600));
    clock.advance(Duration::MAX);
    clock.advance(Duration::MAX);
    let _ = c.get::<i32>("near_end");
    let _ = c.get::<i32>("max");
    clock.rewind(Duration::MAX);
    assert_eq!(clock.now(), Duration::ZERO);
    assert!(c.stats().activity.is_conserved());
}

/// An entry without a TTL is live at any time the clock can read, its last one included (the
/// hit path tells a live entry by one comparison of its deadline with the time); so is one
/// stored with a TTL at that last time, which the clock can no longer pass.
#[test]
fn an_entry_without_ttl_outlives_the_clock() {
    let clock = ManualClock::new();
    let c = memo::configure(
        "expiry_no_ttl_at_the_end",
        CacheConfig::builder().clock(&clock).build().unwrap(),
    )
    .unwrap();
    c.insert("forever", 1);
    // Exactly `u64::MAX` nanoseconds, the internal "never", included.
    clock.set(Duration::from_nanos(u64::MAX));
    assert_eq!(c.get::<i32>("forever"), Some(1));
    clock.set(Duration::MAX);
    assert_eq!(c.get::<i32>("forever"), Some(1));
    clock.advance(Duration::MAX);
    assert_eq!(c.get::<i32>("forever"), Some(1));
    c.insert("late", 2);
    assert_eq!(c.get::<i32>("late"), Some(2));
    c.insert_with_ttl("late_ttl", 3, Duration::from_secs(1));
    assert_eq!(c.get::<i32>("late_ttl"), Some(3));
    assert_eq!(c.stats().activity.evictions.expired, 0);
}

/// An entry whose TTL ran out is absent to every call, not only to reads: removing,
/// invalidating, clearing or overwriting it before a sweep does counts it as expired and not in
/// what the call returns.
#[test]
fn an_expired_entry_is_gone_for_removals_too() {
    let (c, clock) = timed("expiry_removals", Duration::from_secs(1));
    for k in ["r:1", "i:1", "i:2", "c:1", "o:1"] {
        c.insert(k, 1);
    }
    c.insert_with_ttl("c:live", 1, Duration::from_secs(3600));
    clock.advance(Duration::from_secs(1));
    assert!(!c.contains("r:1"));
    assert!(!c.remove("r:1"), "nothing live was removed");
    assert_eq!(c.invalidate("i:1").unwrap(), 0, "exact");
    assert_eq!(memo::invalidate("i:*").unwrap(), 0, "pattern");
    c.insert("o:1", 2);
    assert_eq!(c.get::<i32>("o:1"), Some(2));
    assert_eq!(c.clear(), 2, "c:live and o:1; not c:1");
    let a = c.stats().activity;
    assert_eq!(
        (
            a.evictions.expired,
            a.evictions.invalidated,
            a.evictions.replaced
        ),
        (5, 2, 0)
    );
    assert!(a.is_conserved());
}

#[test]
fn a_backward_step_extends_life_by_at_most_the_step() {
    let (c, clock) = timed("expiry_backwards", Duration::from_secs(10));
    clock.advance(Duration::from_secs(100));
    c.insert("k", 1); // expires at 110 s
    clock.rewind(Duration::from_secs(5)); // 95 s
    clock.advance(Duration::from_secs(14)); // 109 s: 14 s after the store, within TTL + step
    assert!(c.contains("k"));
    clock.advance(Duration::from_secs(1)); // 110 s
    assert!(!c.contains("k"));
}

#[test]
fn expired_entries_are_swept_without_reads() {
    let (c, clock) = timed("expiry_sweep", Duration::from_secs(1));
    for i in 0..20_000 {
        c.insert(&format!("k{i}"), i);
    }
    c.insert_with_ttl("long", 0, Duration::from_secs(3600));
    clock.advance(Duration::from_secs(2));
    // The background housekeeper may take part of the work; together they remove them all.
    c.sweep_expired();
    assert_eq!(c.len(), 1);
    let a = c.stats().activity;
    assert_eq!(a.evictions.expired, 20_000);
    assert_eq!(a.hits + a.misses, 0, "nothing was read");
    assert!(a.is_conserved());
}

#[test]
fn the_housekeeper_sweeps_in_the_background() {
    let (c, clock) = timed("expiry_background", Duration::from_secs(1));
    for i in 0..1_000 {
        c.insert(&format!("k{i}"), i);
    }
    clock.advance(Duration::from_secs(2));
    // A watchdog, not a sleep: the test passes as soon as the sweep has happened.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !c.is_empty() {
        assert!(Instant::now() < deadline, "no background sweep within 30 s");
        std::thread::yield_now();
    }
    assert_eq!(c.stats().activity.evictions.expired, 1_000);
}

#[test]
fn a_new_default_ttl_applies_to_later_entries() {
    let (c, clock) = timed("expiry_reconfigure", Duration::from_secs(10));
    c.insert("old", 1);
    memo::configure(
        "expiry_reconfigure",
        CacheConfig::builder()
            .capacity(100_000)
            .ttl(Duration::from_secs(100))
            .clock(&clock)
            .build()
            .unwrap(),
    )
    .unwrap();
    c.insert("new", 2);
    clock.advance(Duration::from_secs(50));
    assert!(!c.contains("old"));
    assert!(c.contains("new"));
}
