//! Race-free invalidation: a computation that began before an invalidation never stores its
//! value afterwards, whether the invalidation is an exact key, a pattern or a clear.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use memo::CacheConfig;

#[derive(Clone, Copy, Debug)]
enum How {
    Exact,
    Pattern,
    Clear,
}

fn invalidate_during_compute(name: &str, how: How, rounds: usize) {
    let c = memo::configure(
        name,
        CacheConfig::builder().capacity(1_000).build().unwrap(),
    )
    .unwrap();
    let key = format!("{name}:1");
    let source = &AtomicU64::new(1);
    for round in 0..rounds {
        c.remove(&key);
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        std::thread::scope(|s| {
            let key = &key;
            let leader = s.spawn(move || {
                c.get_or_insert_with(key, move || {
                    let v = source.load(Ordering::SeqCst);
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    v
                })
            });
            started_rx.recv().unwrap();
            // The computation has read the old version and is held.
            match how {
                How::Exact => {
                    memo::invalidate(key).unwrap();
                }
                How::Pattern => {
                    memo::invalidate(&format!("{name}:*")).unwrap();
                }
                How::Clear => {
                    c.clear();
                }
            }
            // The invalidation has returned; the source moves on; the computation finishes.
            let new = source.fetch_add(1, Ordering::SeqCst) + 1;
            release_tx.send(()).unwrap();
            let old = leader.join().unwrap();
            assert_eq!(old + 1, new, "the leader itself returns what it computed");
            // A call that starts now must not see the old value.
            let seen = c.get_or_insert_with(key, || source.load(Ordering::SeqCst));
            assert_eq!(
                seen, new,
                "{how:?} round {round}: stale value after invalidation"
            );
        });
    }
    assert_eq!(c.stats().activity.in_flight, 0);
    assert!(c.stats().activity.is_conserved());
}

#[test]
fn exact_invalidation_fences_an_in_flight_computation() {
    invalidate_during_compute("fence_exact", How::Exact, 200);
}

#[test]
fn pattern_invalidation_fences_an_in_flight_computation() {
    invalidate_during_compute("fence_pattern", How::Pattern, 200);
}

#[test]
fn clearing_the_type_fences_an_in_flight_computation() {
    invalidate_during_compute("fence_clear", How::Clear, 200);
}

#[test]
fn waiters_that_joined_before_an_invalidation_start_over() {
    let c = memo::configure(
        "fence_waiters",
        CacheConfig::builder().capacity(10).build().unwrap(),
    )
    .unwrap();
    let source = AtomicU64::new(1);
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    std::thread::scope(|s| {
        let leader = s.spawn(|| {
            c.get_or_insert_with("w", || {
                let v = source.load(Ordering::SeqCst);
                started_tx.send(()).unwrap();
                release_rx.lock().unwrap().recv().unwrap();
                v
            })
        });
        started_rx.recv().unwrap();
        let waiter = s.spawn(|| c.get_or_insert_with("w", || source.load(Ordering::SeqCst)));
        while c.stats().activity.coalesced_waits < 1 {
            std::thread::yield_now();
        }
        // The source changes, then the cache is told (the usual order for a write).
        source.store(2, Ordering::SeqCst);
        memo::invalidate("w").unwrap();
        // The waiter was told to start over by the invalidation and computes the new version
        // without waiting for the old leader. (Release the leader first, so that a failed
        // assertion cannot leave it blocked.)
        let seen = waiter.join().unwrap();
        release_tx.send(()).unwrap();
        assert_eq!(seen, 2);
        assert_eq!(leader.join().unwrap(), 1);
    });
    assert_eq!(c.get::<u64>("w"), Some(2));
}

#[test]
fn an_insert_over_an_in_flight_key_wins() {
    let c = memo::configure(
        "fence_insert",
        CacheConfig::builder().capacity(10).build().unwrap(),
    )
    .unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let leader = s.spawn(move || {
            c.get_or_insert_with("i", move || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                "computed"
            })
        });
        started_rx.recv().unwrap();
        c.insert("i", "inserted");
        release_tx.send(()).unwrap();
        assert_eq!(leader.join().unwrap(), "computed");
    });
    assert_eq!(c.get::<&str>("i"), Some("inserted"));
}

/// A computation fenced off stores nothing, so it makes no room either: in a full cache type,
/// the entries there stay.
#[test]
fn a_fenced_computation_evicts_nothing() {
    let c = memo::configure(
        "fencing_full",
        CacheConfig::builder().capacity(2).build().unwrap(),
    )
    .unwrap();
    c.insert("a", 1_u32);
    c.insert("b", 2_u32);
    // Invalidated while it runs.
    let v = c.get_or_insert_with("c", || {
        memo::invalidate("c").unwrap();
        3_u32
    });
    assert_eq!(v, 3);
    // Written while it runs: the insert evicts for its own value, once.
    let v = c.get_or_insert_with("d", || {
        c.insert("d", 40_u32);
        4_u32
    });
    assert_eq!(v, 4);
    assert_eq!(c.get::<u32>("d"), Some(40));
    assert_eq!(c.len(), 2);
    let a = c.stats().activity;
    assert_eq!(a.evictions.capacity, 1, "{a:?}");
    assert_eq!(a.size, 2);
}
