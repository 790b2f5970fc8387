//! The manual API: a handle per cache type with string keys (the seeds' `get_cache(...)`).

use std::time::Duration;

use memo::{CacheConfig, ConfigError, EvictionPolicy, PatternError};

fn config(capacity: usize) -> CacheConfig {
    CacheConfig::builder().capacity(capacity).build().unwrap()
}

fn lru_config(capacity: usize) -> CacheConfig {
    CacheConfig::builder()
        .capacity(capacity)
        .policy(EvictionPolicy::Lru)
        .build()
        .unwrap()
}

#[test]
fn set_get_exists_delete_clear() {
    let c = memo::configure("manual_crud", config(100)).unwrap();
    c.insert("k1", "v1".to_owned());
    c.insert("k2", 2_u32);
    assert_eq!(c.get::<String>("k1").as_deref(), Some("v1"));
    assert_eq!(c.get::<u32>("k2"), Some(2));
    assert_eq!(c.get::<u32>("k3"), None);
    assert!(c.contains("k1"));
    assert!(c.remove("k1"));
    assert!(!c.remove("k1"));
    assert!(!c.contains("k1"));
    assert_eq!(c.len(), 1);
    assert_eq!(c.clear(), 1);
    assert!(c.is_empty());
}

#[test]
fn a_value_of_another_type_reads_as_absent() {
    let c = memo::configure("manual_types", config(10)).unwrap();
    c.insert("k", 1_u64);
    assert_eq!(c.get::<String>("k"), None);
    assert_eq!(c.get::<u64>("k"), Some(1));
}

/// Hits are read in place under the shard's read lock (LRU: its write lock), misses are counted
/// under the write lock: each path counts exactly once, and a value of another type is a hit
/// that `get_or_insert_with` answers by computing without storing.
#[test]
fn manual_hits_and_misses_count_once_on_every_path() {
    for (name, policy) in [
        ("manual_counts_default", EvictionPolicy::default()),
        ("manual_counts_lru", EvictionPolicy::Lru),
    ] {
        let c = memo::configure(
            name,
            CacheConfig::builder()
                .capacity(10)
                .policy(policy)
                .build()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(c.get::<u64>("k"), None); // miss
        assert_eq!(c.get_or_insert_with("k", || 7_u64), 7); // miss, computes
        assert_eq!(c.get::<u64>("k"), Some(7)); // hit
        assert_eq!(c.get_or_insert_with("k", || 8_u64), 7); // hit
        // Another type: a hit; the computed value is returned and not stored.
        assert_eq!(c.get::<String>("k"), None);
        assert_eq!(c.get_or_insert_with("k", || "x".to_owned()), "x");
        assert_eq!(c.get::<u64>("k"), Some(7));
        let a = c.stats().activity;
        assert_eq!((a.hits, a.misses, a.inserts), (5, 2, 1), "{name}");
    }
}

#[test]
fn insert_replaces_and_counts_the_replacement() {
    let c = memo::configure("manual_replace", config(10)).unwrap();
    c.insert("k", 1_u8);
    c.insert("k", 2_u8);
    assert_eq!(c.get::<u8>("k"), Some(2));
    let a = c.stats().activity;
    assert_eq!((a.inserts, a.evictions.replaced, a.size), (2, 1, 1));
    assert!(a.is_conserved());
}

/// Replacing a key of a full cache type gives the new value the old one's place: nothing
/// else is evicted, under either policy, down to a capacity of one.
#[test]
fn replacing_a_key_in_a_full_cache_evicts_nothing() {
    for (name, policy) in [
        ("manual_replace_full_lru", EvictionPolicy::Lru),
        ("manual_replace_full_s3", EvictionPolicy::default()),
    ] {
        let c = memo::configure(
            name,
            CacheConfig::builder()
                .capacity(4)
                .policy(policy)
                .build()
                .unwrap(),
        )
        .unwrap();
        for k in ["a", "b", "c", "d"] {
            c.insert(k, 0_u8);
        }
        c.insert("b", 1_u8);
        for (k, v) in [("a", 0_u8), ("b", 1), ("c", 0), ("d", 0)] {
            assert_eq!(c.get::<u8>(k), Some(v), "{name}: {k}");
        }
        let a = c.stats().activity;
        assert_eq!(
            (a.size, a.evictions.capacity, a.evictions.replaced),
            (4, 0, 1),
            "{name}"
        );
        assert_eq!(c.len(), 4, "{name}");
        assert!(a.is_conserved(), "{name}");
    }
    let one = memo::configure("manual_replace_full_one", config(1)).unwrap();
    one.insert("a", 1_u8);
    one.insert("a", 2_u8);
    assert_eq!(one.get::<u8>("a"), Some(2));
    let a = one.stats().activity;
    assert_eq!((a.evictions.capacity, a.evictions.replaced), (0, 1));
    // LRU: the replaced key is the most recent, so the next new key evicts `a`, then `c`.
    let lru = memo::configure("manual_replace_lru_order", lru_config(3)).unwrap();
    for k in ["a", "b", "c"] {
        lru.insert(k, 0_u8);
    }
    lru.insert("b", 1_u8);
    lru.insert("d", 0_u8);
    assert!(!lru.contains("a") && lru.contains("b") && lru.contains("c"));
    lru.insert("e", 0_u8);
    assert!(!lru.contains("c") && lru.contains("b"));
}

/// Once `configure` has lowered the capacity, the cache type holds no more than the new
/// capacity, while other threads kept inserting during the change (a place taken against the
/// old capacity after the shrink's evictions, or before the new capacity but landing after the
/// evictions, once stayed above it). The inserts hold a gate the check takes, so that it reads
/// the count with no place being taken at that moment (one being taken against a capacity
/// lowered meanwhile counts for an instant before it is given back).
#[test]
fn a_lowered_capacity_holds_at_once_under_concurrent_inserts() {
    let name = "manual_shrink_race";
    let c = memo::configure(name, config(64)).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let gate = std::sync::RwLock::new(());
    let started = std::sync::Barrier::new(4);
    std::thread::scope(|s| {
        for t in 0..3_u64 {
            let (done, started, gate) = (&done, &started, &gate);
            s.spawn(move || {
                started.wait();
                let mut i = 0_u64;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let _inserting = gate.read().unwrap();
                    c.insert(&format!("k{t}:{}", i % 100), i);
                    i += 1;
                }
            });
        }
        started.wait();
        let _stop = Stop(&done);
        for round in 0..4_000 {
            let small = 1 + round % 3;
            memo::configure(name, config(small)).unwrap();
            let quiet = gate.write().unwrap();
            let len = c.len();
            assert!(
                len <= small,
                "round {round}: {len} entries for a capacity of {small}"
            );
            drop(quiet);
            memo::configure(name, config(64)).unwrap();
        }
    });
    assert!(c.stats().activity.is_conserved());
}

/// Sets its flag when dropped (stops the other threads however the test thread leaves).
struct Stop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn capacity_is_never_exceeded() {
    let c = memo::configure("manual_capacity", config(50)).unwrap();
    for i in 0..1_000 {
        c.insert(&format!("k{i}"), i);
        assert!(c.len() <= 50, "len {} after insert {i}", c.len());
    }
    let a = c.stats().activity;
    assert_eq!(a.size, 50);
    assert_eq!(a.evictions.capacity, 950);
    assert!(a.is_conserved());
}

#[test]
fn capacity_holds_under_concurrent_inserts() {
    let c = memo::configure("manual_capacity_mt", config(64)).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in 0..5_000 {
                    c.insert(&format!("t{t}:{i}"), i);
                    assert!(c.len() <= 64);
                }
            });
        }
    });
    assert_eq!(c.len(), 64);
    assert!(c.stats().activity.is_conserved());
}

#[test]
fn lru_evicts_the_least_recently_used() {
    let c = memo::configure("manual_lru", lru_config(3)).unwrap();
    c.insert("a", 1);
    c.insert("b", 2);
    c.insert("c", 3);
    assert_eq!(c.get::<i32>("a"), Some(1)); // a is now the most recent
    c.insert("d", 4);
    assert!(!c.contains("b"), "b was the least recently used");
    assert!(c.contains("a") && c.contains("c") && c.contains("d"));
    assert_eq!(c.get::<i32>("c"), Some(3));
    c.insert("e", 5);
    assert!(!c.contains("a"));
}

#[test]
fn default_policy_keeps_a_hot_key_through_a_scan() {
    let c = memo::configure("manual_scan", config(100)).unwrap();
    c.insert("hot", 0);
    for i in 0..10_000 {
        assert_eq!(
            c.get::<i32>("hot"),
            Some(0),
            "hot key lost after {i} scan keys"
        );
        c.insert(&format!("scan:{i}"), i);
    }
}

#[test]
fn shrinking_a_cache_type_in_use_evicts_at_once() {
    let c = memo::configure("manual_shrink", config(100)).unwrap();
    for i in 0..100 {
        c.insert(&i.to_string(), i);
    }
    memo::configure("manual_shrink", config(10)).unwrap();
    assert_eq!(c.len(), 10);
    assert_eq!(c.config().capacity(), 10);
    let a = c.stats().activity;
    assert_eq!(a.evictions.capacity, 90);
    assert!(a.is_conserved());
}

#[test]
fn switching_policy_in_use_keeps_entries() {
    let c = memo::configure("manual_switch", config(10)).unwrap();
    for i in 0..10 {
        c.insert(&i.to_string(), i);
    }
    let lru = CacheConfig::builder()
        .capacity(10)
        .policy(EvictionPolicy::Lru)
        .build()
        .unwrap();
    memo::configure("manual_switch", lru).unwrap();
    assert_eq!(c.len(), 10);
    assert_eq!(c.stats().policy, EvictionPolicy::Lru);
    c.insert("new", 99);
    assert_eq!(c.len(), 10);
}

/// A table made while `configure` switches the policy takes the new policy: the first key of
/// a segment makes a table while another thread switches to LRU, then LRU's order is checked
/// in that table. Many rounds, the switch at a different moment in each.
#[test]
fn a_table_made_during_a_policy_switch_follows_the_switch() {
    let mut wrong = 0;
    for round in 0..300 {
        let name = format!("manual_switch_race_{round}");
        let c = memo::configure(&name, config(3)).unwrap();
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..(round % 64) * 20 {
                    std::hint::spin_loop();
                }
                memo::configure(&name, lru_config(3)).unwrap();
            });
            barrier.wait();
            c.insert("s:1", 1_u8); // the segment `s:`'s first key: a new table
        });
        c.insert("s:2", 2_u8);
        c.insert("s:3", 3_u8);
        for k in ["s:3", "s:2", "s:1"] {
            assert!(c.get::<u8>(k).is_some());
        }
        c.insert("s:4", 4_u8);
        // LRU drops s:3, read longest ago (S3-FIFO would drop s:1, inserted first).
        if c.contains("s:3") || !c.contains("s:1") {
            wrong += 1;
        }
    }
    assert_eq!(
        wrong, 0,
        "rounds in which the new table kept the old policy"
    );
}

#[test]
fn unknown_cache_types_get_defaults_visibly() {
    let c = memo::cache("manual_never_configured").unwrap();
    c.insert("k", 1);
    let stats = memo::stats();
    let t = stats.cache_type("manual_never_configured").unwrap();
    assert!(!t.configured);
    assert_eq!(t.capacity, CacheConfig::DEFAULT_CAPACITY);
    assert_eq!(t.default_ttl_ms, None);
}

#[test]
fn bad_configuration_is_a_typed_error() {
    assert_eq!(
        CacheConfig::builder().capacity(0).build().unwrap_err(),
        ConfigError::ZeroCapacity
    );
    assert!(matches!(
        memo::cache("has space"),
        Err(ConfigError::InvalidName { .. })
    ));
    assert!(matches!(
        memo::configure("", CacheConfig::default()),
        Err(ConfigError::InvalidName { .. })
    ));
    let msg = ConfigError::ZeroCapacity.to_string();
    assert!(msg.starts_with("capacity must be at least 1"), "{msg}");
    // A name too long says so, without repeating all of it.
    let long = "a".repeat(100_000);
    let err = memo::cache(&long).unwrap_err();
    assert!(matches!(err, ConfigError::InvalidName { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("100000 bytes") && msg.contains("at most 128"),
        "{msg}"
    );
    assert!(msg.len() < 200, "{} bytes", msg.len());
    assert!(memo::cache(&"a".repeat(128)).is_ok());
}

#[test]
fn clocks_cannot_change_once_a_type_is_in_use() {
    let c = memo::cache("manual_clock_in_use").unwrap();
    c.insert("k", 1);
    let clock = memo::ManualClock::new();
    let err = memo::configure(
        "manual_clock_in_use",
        CacheConfig::builder().clock(&clock).build().unwrap(),
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::ClockInUse { .. }));
    assert!(c.contains("k"), "a rejected configuration changes nothing");
    // Configured again with the clock it has, a manual-clock type takes the new settings.
    let manual = memo::configure(
        "manual_clock_kept",
        CacheConfig::builder().clock(&clock).build().unwrap(),
    )
    .unwrap();
    let again = memo::configure(
        "manual_clock_kept",
        CacheConfig::builder()
            .clock(&clock)
            .capacity(7)
            .build()
            .unwrap(),
    );
    assert_eq!(again.unwrap().config().capacity(), 7);
    // Without a clock, the configuration asks for the system clock, which the message says.
    let err = memo::configure("manual_clock_kept", config(8)).unwrap_err();
    assert!(err.to_string().contains("without `.clock(..)`"), "{err}");
    assert_eq!(manual.config().capacity(), 7);
}

/// A key longer than a pattern may be is refused by exact invalidation (a pattern has at most
/// `Pattern::MAX_LEN` bytes, as documented) and removed with `Cache::remove` or a wildcard.
#[test]
fn keys_longer_than_a_pattern_are_removed_by_remove_or_a_wildcard() {
    let c = memo::configure("manual_long_keys", config(10)).unwrap();
    let a = format!("long:a{}", "x".repeat(memo::Pattern::MAX_LEN));
    let b = format!("long:b{}", "x".repeat(memo::Pattern::MAX_LEN));
    c.insert(&a, 1_u8);
    c.insert(&b, 1_u8);
    assert!(matches!(
        memo::invalidate(&a),
        Err(PatternError::TooLong { .. })
    ));
    assert!(c.remove(&a));
    assert_eq!(memo::invalidate("long:b*"), Ok(1));
    assert!(c.is_empty());
}

#[test]
fn pattern_invalidation_spans_types_and_stays_within_one_on_request() {
    let a = memo::configure("manual_inv_a", config(100)).unwrap();
    let b = memo::configure("manual_inv_b", config(100)).unwrap();
    for i in 0..10 {
        a.insert(&format!("minv:{i}"), i);
        b.insert(&format!("minv:{i}"), i);
        a.insert(&format!("minv_other:{i}"), i);
    }
    assert_eq!(b.invalidate("minv:[0-4]").unwrap(), 5);
    assert_eq!(memo::invalidate("minv:*").unwrap(), 15);
    assert_eq!(a.len(), 10);
    assert_eq!(memo::invalidate("minv_other:3").unwrap(), 1);
    assert!(!a.contains("minv_other:3") && a.contains("minv_other:4"));
}

#[test]
fn malformed_patterns_are_rejected_and_remove_nothing() {
    let c = memo::configure("manual_bad_pattern", config(10)).unwrap();
    c.insert("mbad[", 1);
    assert!(matches!(
        memo::invalidate("mbad["),
        Err(PatternError::UnclosedClass { position: 4 })
    ));
    assert!(matches!(memo::invalidate(""), Err(PatternError::Empty)));
    assert!(c.contains("mbad["));
    assert_eq!(memo::invalidate("mbad\\[").unwrap(), 1);
}

#[test]
fn ttl_per_insert_is_honoured() {
    let clock = memo::ManualClock::new();
    let c = memo::configure(
        "manual_ttl",
        CacheConfig::builder().clock(&clock).build().unwrap(),
    )
    .unwrap();
    c.insert_with_ttl("short", 1, Duration::from_secs(1));
    c.insert("forever", 2);
    clock.advance(Duration::from_secs(3600));
    assert!(!c.contains("short"));
    assert_eq!(c.get::<i32>("forever"), Some(2));
}

#[test]
fn segment_patterns_on_manual_keys_remove_exactly_their_matches() {
    let c = memo::configure("manual_segments", config(10_000)).unwrap();
    for i in 0..500 {
        c.insert(&format!("seg:{i}"), i);
        c.insert(&format!("segment:{i}"), i);
        c.insert(&format!("other:{i}"), i);
    }
    c.insert("seg", -1); // no colon: its own segment
    // The first segment pattern builds the index; later ones use it as keys come and go.
    assert_eq!(c.invalidate("seg:1*").unwrap(), 111); // 1, 10-19, 100-199
    for i in 0..500 {
        c.insert(&format!("seg:new{i}"), i);
    }
    assert_eq!(c.invalidate("seg:new4?").unwrap(), 10);
    assert_eq!(c.invalidate("seg:*").unwrap(), 500 - 111 + 500 - 10);
    assert!(c.contains("seg") && c.contains("segment:3") && c.contains("other:3"));
    assert_eq!(
        c.invalidate("seg*").unwrap(),
        501,
        "a pattern without a colon scans"
    );
    assert_eq!(c.len(), 500);
    assert!(c.stats().activity.is_conserved());
}

#[test]
fn a_segment_pattern_fences_a_computation_in_flight() {
    let c = memo::configure("manual_segments_fence", config(100)).unwrap();
    c.insert("job:0", 0_u32);
    assert_eq!(c.invalidate("job:*").unwrap(), 1); // builds the segment index
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let leader = s.spawn(move || {
            c.get_or_insert_with("job:1", move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                1_u32
            })
        });
        started_rx.recv().unwrap();
        assert_eq!(c.invalidate("job:*").unwrap(), 0, "in flight, not an entry");
        release_tx.send(()).unwrap();
        assert_eq!(leader.join().unwrap(), 1);
    });
    assert!(!c.contains("job:1"), "the computation was fenced off");
}

/// Keys of the first segments seen get a store per segment; the segments past that limit, and
/// keys without a colon, share one. Which store holds a key must not show: every key reads
/// back, and segment patterns, scans and exact keys remove exactly their matches on both sides
/// of the limit.
#[test]
fn many_segments_behave_alike_on_both_sides_of_the_per_segment_limit() {
    let c = memo::configure("manual_many_segments", config(10_000)).unwrap();
    let segments = 80;
    for s in 0..segments {
        for i in 0..20 {
            c.insert(&format!("ms{s}:{i}"), s * 100 + i);
        }
    }
    c.insert("ms7", -1); // no colon
    for s in 0..segments {
        for i in 0..20 {
            assert_eq!(c.get::<i32>(&format!("ms{s}:{i}")), Some(s * 100 + i));
        }
    }
    assert_eq!(c.len(), 80 * 20 + 1);
    // A segment with a store of its own, and one surely past the limit.
    assert_eq!(c.invalidate("ms3:*").unwrap(), 20);
    assert_eq!(c.invalidate("ms77:*").unwrap(), 20);
    assert_eq!(c.invalidate("ms5:1?").unwrap(), 10);
    assert_eq!(c.invalidate("ms78:1?").unwrap(), 10);
    assert_eq!(memo::invalidate("ms4:4").unwrap(), 1);
    assert_eq!(memo::invalidate("ms79:4").unwrap(), 1);
    assert_eq!(memo::invalidate("ms7").unwrap(), 1);
    // A pattern without a colon spans every segment: ms6, ms60-ms69 (ms7 is gone).
    assert_eq!(c.invalidate("ms6*").unwrap(), 11 * 20);
    assert!(!c.contains("ms3:0") && !c.contains("ms77:0") && !c.contains("ms79:4"));
    assert!(c.contains("ms4:3") && c.contains("ms79:3") && c.contains("ms5:0"));
    // Stored again after invalidation, a key is found where it was.
    c.insert("ms77:0", 1);
    c.insert("ms3:0", 2);
    assert_eq!(
        (c.get::<i32>("ms77:0"), c.get::<i32>("ms3:0")),
        (Some(1), Some(2))
    );
    assert_eq!(c.len(), 80 * 20 - 20 - 20 - 10 - 10 - 1 - 1 - 11 * 20 + 2);
    assert!(c.stats().activity.is_conserved());
}

/// Threads storing at once into a cache type smaller than their number, each into a table of
/// its own: every value is stored (none is dropped for want of a place while the only places
/// are held by values on their way into a table).
#[test]
fn concurrent_inserts_into_a_tiny_cache_type_are_all_stored() {
    let c = memo::configure("manual_tiny_contended", config(1)).unwrap();
    let start = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        for t in ["a", "b"] {
            let start = &start;
            s.spawn(move || {
                start.wait();
                for i in 0..20_000_u32 {
                    c.insert(&format!("{t}:{i}"), i);
                }
            });
        }
    });
    let a = c.stats().activity;
    assert_eq!(a.inserts, 40_000, "{a:?}");
    assert!(a.is_conserved());
    assert_eq!(c.len(), 1);
}
