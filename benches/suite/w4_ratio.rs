//! W4: hit ratios on replayed traces (2,000,000 requests over 1,000,000 keys, fixed seeds):
//! Zipf s = 0.99 and s = 0.7, Zipf polluted by one-hit sequential scans, and Zipf whose popular
//! set changes half-way; each at capacity 1% and 10% of the keys. memo runs through
//! `#[cached]` functions (default policy and LRU); beside it moka, `quick_cache`, an exact LRU
//! (`cached::LruCache`) and the offline optimum (Belady).

use std::fmt::Write as _;

use cached::Cached as _;

use crate::harness::{Mode, Rng, count_miss, misses};
use crate::report::Report;
use crate::trace::{Zipf, belady_hits, permutation, scan_polluted, zipf_requests};

#[memo::cached(cache_type = "bench_w4_s3_small")]
fn s3_small(k: u64) -> u64 {
    count_miss();
    k
}

#[memo::cached(cache_type = "bench_w4_s3_large")]
fn s3_large(k: u64) -> u64 {
    count_miss();
    k
}

#[memo::cached(cache_type = "bench_w4_lru_small")]
fn lru_small(k: u64) -> u64 {
    count_miss();
    k
}

#[memo::cached(cache_type = "bench_w4_lru_large")]
fn lru_large(k: u64) -> u64 {
    count_miss();
    k
}

/// Hit ratio of `f` over the trace (keys shifted by `offset`), counting the body's runs.
fn replay(trace: &[u64], offset: u64, mut f: impl FnMut(u64) -> u64) -> f64 {
    let m0 = misses();
    for &k in trace {
        std::hint::black_box(f(k + offset));
    }
    let missed = misses() - m0;
    1.0 - missed as f64 / trace.len() as f64
}

struct Ratios {
    memo: f64,
    memo_lru: f64,
    exact_lru: f64,
    moka: f64,
    qc: f64,
    optimum: f64,
}

/// A memoized function of the replay.
type Memoized = fn(u64) -> u64;

fn measure(
    trace: &[u64],
    capacity: usize,
    offset: u64,
    memo_fns: (Memoized, Memoized),
    types: (&str, &str),
) -> Ratios {
    for t in [types.0, types.1] {
        memo::cache(t).expect("valid cache type").clear();
    }
    let memo = replay(trace, offset, memo_fns.0);
    let memo_lru = replay(trace, offset, memo_fns.1);
    for t in [types.0, types.1] {
        memo::cache(t).expect("valid cache type").clear();
    }
    let moka = {
        let c = moka::sync::Cache::<u64, u64>::new(capacity as u64);
        replay(trace, offset, |k| {
            if let Some(v) = c.get(&k) {
                v
            } else {
                count_miss();
                c.insert(k, k);
                k
            }
        })
    };
    let qc = {
        let c = quick_cache::sync::Cache::<u64, u64>::new(capacity);
        replay(trace, offset, |k| {
            if let Some(v) = c.get(&k) {
                v
            } else {
                count_miss();
                c.insert(k, k);
                k
            }
        })
    };
    let exact_lru = {
        let mut c = cached::LruCache::<u64, u64>::builder()
            .max_size(capacity)
            .build()
            .expect("valid LruCache");
        replay(trace, offset, |k| {
            if let Some(v) = c.cache_get(&k) {
                *v
            } else {
                count_miss();
                c.cache_set(k, k);
                k
            }
        })
    };
    let optimum = belady_hits(trace, capacity) as f64 / trace.len() as f64;
    Ratios {
        memo,
        memo_lru,
        exact_lru,
        moka,
        qc,
        optimum,
    }
}

/// Runs W4 and records its targets.
pub(crate) fn run(mode: Mode, report: &mut Report) {
    assert_eq!(
        belady_hits(&[1, 2, 3, 1, 2, 4, 1, 2], 2),
        4,
        "Belady self-check"
    );
    let universe = mode.size(1_000_000, 20_000);
    let requests = mode.size(2_000_000, 40_000);
    let (small, large) = (universe / 100, universe / 10);
    let policies = [
        ("bench_w4_s3_small", small, memo::EvictionPolicy::S3Fifo),
        ("bench_w4_s3_large", large, memo::EvictionPolicy::S3Fifo),
        ("bench_w4_lru_small", small, memo::EvictionPolicy::Lru),
        ("bench_w4_lru_large", large, memo::EvictionPolicy::Lru),
    ];
    for (name, capacity, policy) in policies {
        let config = memo::CacheConfig::builder()
            .capacity(capacity)
            .policy(policy)
            .build()
            .expect("valid config");
        memo::configure(name, config).expect("valid cache type");
    }
    assert_eq!(
        memo::CacheConfig::default().policy(),
        memo::EvictionPolicy::S3Fifo,
        "the S3-FIFO functions measure the default policy"
    );

    let mut rng = Rng::new(40);
    let z99 = Zipf::new(universe, 0.99);
    let z07 = Zipf::new(universe, 0.7);
    let perm = permutation(universe, &mut rng);
    let perm2 = permutation(universe, &mut rng);
    let shifted = {
        let mut t = zipf_requests(requests / 2, &z99, &perm, &mut rng);
        t.extend(zipf_requests(
            requests - requests / 2,
            &z99,
            &perm2,
            &mut rng,
        ));
        t
    };
    let traces: Vec<(&str, Vec<u64>)> = vec![
        ("Zipf 0.99", zipf_requests(requests, &z99, &perm, &mut rng)),
        ("Zipf 0.7", zipf_requests(requests, &z07, &perm, &mut rng)),
        (
            "Zipf 0.99 + one-hit sequential scans (20% of requests)",
            scan_polluted(requests, requests / 20, &z99, &perm, &mut rng),
        ),
        ("Zipf 0.99, popular set changes half-way", shifted),
    ];

    let mut table = String::from(
        "| trace | capacity | memo default (S3-FIFO) | memo LRU | exact LRU | moka | quick_cache | \
         optimum (Belady) | target: memo >= max(moka, quick_cache) - 0.5 |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let mut offset = 0_u64;
    for (name, trace) in &traces {
        for (capacity, fns, types, label) in [
            (
                small,
                (s3_small as Memoized, lru_small as Memoized),
                ("bench_w4_s3_small", "bench_w4_lru_small"),
                "1%",
            ),
            (
                large,
                (s3_large as Memoized, lru_large as Memoized),
                ("bench_w4_s3_large", "bench_w4_lru_large"),
                "10%",
            ),
        ] {
            // Each replay uses keys of its own, so that no cache remembers an earlier trace
            // (S3-FIFO's ghost queue survives a clear).
            offset += 1 << 40;
            let r = measure(trace, capacity, offset, fns, types);
            let best = r.moka.max(r.qc);
            let ok = r.memo * 100.0 >= best * 100.0 - 0.5;
            let _ = writeln!(
                table,
                "| {name} | {label} ({capacity}) | {:.1}% | {:.1}% | {:.1}% | {:.1}% | {:.1}% | \
                 {:.1}% | {} |",
                r.memo * 100.0,
                r.memo_lru * 100.0,
                r.exact_lru * 100.0,
                r.moka * 100.0,
                r.qc * 100.0,
                r.optimum * 100.0,
                if ok { "PASS" } else { "**FAIL**" }
            );
            report.check(
                format!("W4 hit ratio, {name}, capacity {label}: memo default policy"),
                ">= max(moka, quick_cache) - 0.5 points",
                format!(
                    "{:.1}% vs {:.1}% (moka {:.1}%, quick_cache {:.1}%, optimum {:.1}%)",
                    r.memo * 100.0,
                    best * 100.0,
                    r.moka * 100.0,
                    r.qc * 100.0,
                    r.optimum * 100.0
                ),
                ok,
            );
            if *name == "Zipf 0.99" && label == "1%" {
                report.check(
                    "W4 hit ratio, Zipf 0.99, capacity 1%: memo default policy vs memo LRU",
                    ">= LRU + 5 points",
                    format!(
                        "{:.1}% vs {:.1}% (+{:.1} points; exact LRU {:.1}%)",
                        r.memo * 100.0,
                        r.memo_lru * 100.0,
                        (r.memo - r.memo_lru) * 100.0,
                        r.exact_lru * 100.0
                    ),
                    r.memo * 100.0 >= r.memo_lru * 100.0 + 5.0,
                );
            }
        }
    }
    report.table(
        &format!(
            "W4 hit ratios ({requests} requests over {universe} keys, fixed seeds; \
             memo through `#[cached]` functions)"
        ),
        &table,
    );
}
