//! Many tables in one full cache type, filled by several threads at once: every insertion
//! evicts from the table that holds the most while the others change size. Nothing panics,
//! the capacity holds and the counters add up.
//!
//! Before the sizes were read once per eviction, ordering the tables by sizes that other
//! threads were changing panicked in the sort (seen with more than about 20 tables).

use std::sync::Barrier;

use memo::CacheConfig;

macro_rules! functions {
    ($($name:ident),* $(,)?) => {
        $(
            #[memo::cached(cache_type = "shared_full_fns")]
            fn $name(k: u64) -> u64 {
                k.wrapping_mul(3)
            }
        )*
        const FUNCTIONS: &[fn(u64) -> u64] = &[$($name),*];
    };
}

functions!(
    f00, f01, f02, f03, f04, f05, f06, f07, f08, f09, f10, f11, f12, f13, f14, f15, f16, f17, f18,
    f19, f20, f21, f22, f23,
);

#[test]
fn many_functions_fill_one_full_cache_type_from_three_threads() {
    let cache = memo::configure(
        "shared_full_fns",
        CacheConfig::builder().capacity(10).build().unwrap(),
    )
    .unwrap();
    let threads = 3;
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        for t in 0..threads as u64 {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for i in 0..20_000_u64 {
                    let f = FUNCTIONS[usize::try_from((i + t) % 24).unwrap()];
                    let k = i * 8 + t;
                    assert_eq!(f(k), k.wrapping_mul(3));
                }
            });
        }
    });
    assert!(cache.len() <= 10, "{} entries", cache.len());
    let a = &cache.stats().activity;
    assert!(a.is_conserved(), "{a:?}");
    assert_eq!(a.lookups, 3 * 20_000);
    assert!(a.evictions.capacity > 0);
}

#[test]
fn many_key_segments_fill_one_full_cache_type_from_three_threads() {
    let cache = memo::configure(
        "shared_full_segments",
        CacheConfig::builder().capacity(17).build().unwrap(),
    )
    .unwrap();
    let threads = 3;
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        for t in 0..threads as u64 {
            let (cache, barrier) = (&cache, &barrier);
            s.spawn(move || {
                barrier.wait();
                for i in 0..20_000_u64 {
                    cache.insert(&format!("seg{}:{i}", (i + t) % 40), i);
                }
            });
        }
    });
    assert!(cache.len() <= 17, "{} entries", cache.len());
    let a = &cache.stats().activity;
    assert!(a.is_conserved(), "{a:?}");
    assert_eq!(a.inserts, 3 * 20_000);
}
