//! The stats add up after a mixed concurrent workload: `hits + misses == lookups` equals the
//! lookups the threads made, and `inserts == size + evicted + expired + invalidated + replaced`.

use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use memo::{CacheConfig, ManualClock};

#[test]
fn counters_add_up_after_a_mixed_concurrent_workload() {
    let clock = ManualClock::new();
    let c = memo::configure(
        "conserve_mixed",
        CacheConfig::builder()
            .capacity(200)
            .ttl(Duration::from_secs(5))
            .clock(&clock)
            .build()
            .unwrap(),
    )
    .unwrap();
    let lookups = AtomicU64::new(0);
    let threads = 4;
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        for t in 0..threads as u64 {
            let (c, clock, lookups, barrier) = (c, &clock, &lookups, &barrier);
            s.spawn(move || {
                barrier.wait();
                let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for i in 0..20_000_u64 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = format!("cm:{}", x % 500);
                    match x % 100 {
                        0..=39 => {
                            let _ = c.get::<u64>(&key);
                            lookups.fetch_add(1, Ordering::Relaxed);
                        }
                        40..=69 => {
                            let _ = c.get_or_insert_with(&key, || i);
                            lookups.fetch_add(1, Ordering::Relaxed);
                        }
                        70..=89 => c.insert(&key, i),
                        90..=94 => {
                            c.remove(&key);
                        }
                        95..=97 => {
                            memo::invalidate(&format!("cm:{}*", x % 10)).unwrap();
                        }
                        98 => clock.advance(Duration::from_millis(100)),
                        _ => {
                            c.sweep_expired();
                        }
                    }
                    if i % 5_000 == 0 {
                        assert!(c.len() <= 200);
                    }
                }
            });
        }
    });
    let a = c.stats().activity;
    assert!(a.is_conserved(), "{a:?}");
    assert_eq!(a.lookups, lookups.load(Ordering::Relaxed));
    assert_eq!(a.in_flight, 0);
    assert!(a.size <= 200);
    assert!(
        a.evictions.capacity > 0 && a.evictions.expired > 0 && a.evictions.invalidated > 0,
        "{a:?}"
    );
    assert!(a.evictions.replaced > 0);
}
