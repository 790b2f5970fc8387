//! Model-checked interleavings of the in-flight slot and insert fencing, with shuttle.
//!
//! Run with `RUSTFLAGS="--cfg memo_shuttle" cargo test -p memo-runtime --lib model_tests`
//! (a separate target directory keeps the normal build intact:
//! `CARGO_TARGET_DIR=target/shuttle`). `MEMO_MODEL_ITERATIONS` sets the schedules tried per test
//! (default 2,000 random and 2,000 PCT schedules).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use shuttle::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use shuttle::thread;

use crate::cache_type::CacheType;
use crate::config::CacheConfig;
use crate::function::Leader;
use crate::pattern::Pattern;
use crate::store::{Begin, ErasedStore, Lookup, Store, StoreInfo};

type TestStore = Store<Box<str>, u64>;

fn iterations() -> usize {
    std::env::var("MEMO_MODEL_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Runs a model under random and PCT schedules.
fn check(f: impl Fn() + Send + Sync + 'static) {
    let f = Arc::new(f);
    let g = Arc::clone(&f);
    shuttle::check_random(move || f(), iterations());
    shuttle::check_pct(move || g(), iterations(), 3);
}

fn new_store() -> &'static TestStore {
    let config = CacheConfig::builder().capacity(16).build().unwrap();
    let ty: &'static CacheType = Box::leak(Box::new(CacheType::new("model", &config, true)));
    let info = StoreInfo::manual(0);
    let store: &'static TestStore = Box::leak(Box::new(Store::new(ty, info, None)));
    ty.add_store(store);
    store
}

/// Gets `key` or computes it with `compute` (`None`: the computation fails and stores nothing),
/// as generated code does.
fn get_or_compute(
    store: &'static TestStore,
    key: &str,
    compute: impl FnOnce() -> Option<u64>,
) -> Option<u64> {
    let hash = store.hash(key);
    let mut count = true;
    let mut compute = Some(compute);
    loop {
        match store.lookup_or_begin(hash, key, count) {
            Begin::Hit(v) => return Some(v),
            Begin::Wait(flight) => {
                if let Some(v) = flight.wait() {
                    return Some(v);
                }
            }
            Begin::Recursion => panic!("no recursion in these models"),
            Begin::Lead { id, .. } => {
                let leader = Leader::new(store, hash, id, false);
                let value = (compute.take().expect("computes once"))();
                leader.finish(value);
                return value;
            }
        }
        count = false;
    }
}

#[test]
fn concurrent_misses_compute_once_and_share() {
    check(|| {
        let store = new_store();
        let runs = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let runs = Arc::clone(&runs);
                thread::spawn(move || {
                    get_or_compute(store, "k", || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        Some(7)
                    })
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), Some(7));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let (c, size, pending) = store.counters();
        assert_eq!((size, pending, c.inserts, c.loads), (1, 0, 1, 1));
    });
}

/// After an invalidation returns, no lookup sees a value computed from the old source.
fn fenced_by(invalidate: fn(&'static TestStore)) {
    check(move || {
        let store = new_store();
        let source = Arc::new(AtomicU64::new(1));
        let reader = {
            let source = Arc::clone(&source);
            thread::spawn(move || {
                get_or_compute(store, "k", || Some(source.load(Ordering::SeqCst)))
            })
        };
        // The writer: change the source, then invalidate, then read.
        source.store(2, Ordering::SeqCst);
        invalidate(store);
        if let Lookup::Hit(v) = store.lookup(store.hash("k"), "k") {
            assert_eq!(v, 2, "stale value visible after the invalidation returned");
        }
        let _ = reader.join().unwrap();
        if let Lookup::Hit(v) = store.lookup(store.hash("k"), "k") {
            assert_eq!(v, 2, "stale value stored after the invalidation returned");
        }
        assert_eq!(store.counters().2, 0, "no computation left in flight");
    });
}

#[test]
fn exact_invalidation_fences_computations_in_flight() {
    fenced_by(|s| {
        s.invalidate(&Pattern::new("k").unwrap());
    });
}

#[test]
fn pattern_invalidation_fences_computations_in_flight() {
    fenced_by(|s| {
        s.invalidate(&Pattern::new("*").unwrap());
    });
}

#[test]
fn clear_fences_computations_in_flight() {
    fenced_by(|s| {
        s.clear_all();
    });
}

#[test]
fn a_panicking_leader_hands_over() {
    check(|| {
        let store = new_store();
        let panicker = thread::spawn(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                get_or_compute(store, "k", || panic!("leader fails"))
            }))
            .is_err()
        });
        let waiter = thread::spawn(move || get_or_compute(store, "k", || Some(5)));
        // Either the panicking call led (and the waiter took over) or it found the value.
        let leader_panicked = panicker.join().unwrap();
        assert_eq!(waiter.join().unwrap(), Some(5));
        assert_eq!(store.counters().2, 0);
        if !leader_panicked {
            assert!(matches!(store.lookup(store.hash("k"), "k"), Lookup::Hit(5)));
        }
    });
}

#[test]
fn a_dropped_leader_hands_over() {
    check(|| {
        let store = new_store();
        let hash = store.hash("k");
        // A leader that goes away without finishing (a cancelled future).
        let canceller = thread::spawn(move || {
            if let Begin::Lead { id, .. } = store.lookup_or_begin(hash, "k", true) {
                drop(Leader::new(store, hash, id, false));
            }
        });
        let waiter = thread::spawn(move || get_or_compute(store, "k", || Some(9)));
        canceller.join().unwrap();
        assert_eq!(waiter.join().unwrap(), Some(9));
        assert_eq!(store.counters().2, 0);
    });
}

#[test]
fn a_failed_computation_lets_waiters_compute() {
    check(|| {
        let store = new_store();
        let failing = thread::spawn(move || get_or_compute(store, "k", || None));
        let other = thread::spawn(move || get_or_compute(store, "k", || Some(3)));
        let a = failing.join().unwrap();
        assert!(a.is_none() || a == Some(3));
        assert_eq!(other.join().unwrap(), Some(3));
        let (c, size, pending) = store.counters();
        assert_eq!((size, pending), (1, 0));
        assert_eq!(c.inserts, 1);
    });
}
