//! W2: misses. Capacity 10,000, keys uniform over 1,000,000: nearly every call misses,
//! computes, inserts and evicts.

use crate::harness::{Bench, Mode, Rng, compute, interleave, time_seq};
use crate::report::{Report, ns};

const CAP: usize = 10_000;
const UNIVERSE: u64 = 1_000_000;
const SEQ: usize = 1 << 20;

#[memo::cached(cache_type = "bench_w2")]
fn memo_miss(x: u64) -> u64 {
    compute(x)
}

#[memo::cached(ttl = 300, cache_type = "bench_w2_ttl")]
fn memo_miss_ttl(x: u64) -> u64 {
    compute(x)
}

#[cached::proc_macro::cached(max_size = 10_000)]
fn cached_miss(x: u64) -> u64 {
    compute(x)
}

#[cached::proc_macro::cached(max_size = 10_000, ttl_secs = 300)]
fn cached_miss_ttl(x: u64) -> u64 {
    compute(x)
}

fn configure(name: &str) -> memo::Cache {
    let config = memo::CacheConfig::builder()
        .capacity(CAP)
        .build()
        .expect("valid config");
    memo::configure(name, config).expect("valid cache type")
}

/// Runs W2 and records its target.
pub(crate) fn run(mode: Mode, report: &mut Report) {
    let mut rng = Rng::new(20);
    let seq: Vec<u64> = (0..mode.size(SEQ, 1 << 14))
        .map(|_| rng.below(UNIVERSE))
        .collect();
    let texts: Vec<String> = seq.iter().map(|k| format!("m:{k}")).collect();
    let text_seq: Vec<&str> = texts.iter().map(String::as_str).collect();

    let qc = quick_cache::sync::Cache::<u64, u64>::new(CAP);
    let qc_flight = quick_cache::sync::Cache::<u64, u64>::new(CAP);
    let moka = moka::sync::Cache::<u64, u64>::new(CAP as u64);
    configure("bench_w2");
    configure("bench_w2_ttl");
    let manual = configure("bench_w2_manual");

    let qc_memo = |k: u64| {
        if let Some(v) = qc.get(&k) {
            v
        } else {
            let v = compute(k);
            qc.insert(k, v);
            v
        }
    };
    // quick_cache's own single-flight path (a placeholder while computing), as memo does.
    let qc_flight_memo = |k: u64| {
        qc_flight
            .get_or_insert_with(&k, || Ok::<_, std::convert::Infallible>(compute(k)))
            .unwrap_or_else(|e| match e {})
    };
    let moka_memo = |k: u64| {
        if let Some(v) = moka.get(&k) {
            v
        } else {
            let v = compute(k);
            moka.insert(k, v);
            v
        }
    };
    let manual_memo = |t: &str| manual.get_or_insert_with(t, || compute(t.len() as u64));

    // Fill every cache to capacity first, so that every timed insert evicts.
    let warm = mode.size(4 * CAP, 2 * CAP);
    for f in [
        &qc_memo as &dyn Fn(u64) -> u64,
        &moka_memo,
        &memo_miss,
        &memo_miss_ttl,
        &cached_miss,
        &cached_miss_ttl,
        &qc_flight_memo,
    ] {
        for i in 0..warm {
            let k = UNIVERSE + i as u64; // keys the sequence never asks for
            assert_eq!(f(k), crate::harness::expected(k));
        }
    }
    for i in 0..warm {
        manual_memo(&format!("w:{i}"));
    }

    let (mut c0, mut c1, mut c2, mut c3, mut c4, mut c5, mut c6, mut c7) = (0, 0, 0, 0, 0, 0, 0, 0);
    let benches = vec![
        Bench::new("quick_cache sync::Cache", |ops| {
            time_seq(&seq, &mut c0, ops, qc_memo)
        }),
        Bench::new("moka sync::Cache", |ops| {
            time_seq(&seq, &mut c1, ops, moka_memo)
        }),
        Bench::new("cached #[cached(max_size)]", |ops| {
            time_seq(&seq, &mut c2, ops, cached_miss)
        }),
        Bench::new("cached #[cached(max_size, ttl_secs)]", |ops| {
            time_seq(&seq, &mut c3, ops, cached_miss_ttl)
        }),
        Bench::new("memo #[cached]", |ops| {
            time_seq(&seq, &mut c4, ops, memo_miss)
        }),
        Bench::new("memo #[cached(ttl = 300)]", |ops| {
            time_seq(&seq, &mut c5, ops, memo_miss_ttl)
        }),
        Bench::new("memo manual get_or_insert_with (key pre-rendered)", |ops| {
            time_seq(&text_seq, &mut c6, ops, manual_memo)
        }),
        Bench::new(
            "reference: quick_cache get_or_insert_with (single-flight, as memo)",
            |ops| time_seq(&seq, &mut c7, ops, qc_flight_memo),
        ),
    ];
    let results = interleave(mode, benches);
    report.timings("W2 miss + insert + evict", &results, 0);
    let r = results[4].ratio_to(&results[0]).median;
    report.check(
        "W2 miss + insert + evict: memo `#[cached]` / `quick_cache`",
        "<= 1.5x",
        format!(
            "{r:.2}x ({} vs {})",
            ns(results[4].summary().median),
            ns(results[0].summary().median)
        ),
        r <= 1.5,
    );
    let r = results[6].ratio_to(&results[0]).median;
    report.info(
        "W2: memo manual `get_or_insert_with` / `quick_cache`",
        "(none)",
        format!("{r:.2}x"),
    );
    let r = results[4].ratio_to(&results[7]).median;
    report.info(
        "W2: memo `#[cached]` / quick_cache `get_or_insert_with` (both single-flight)",
        "(none)",
        format!("{r:.2}x ({})", ns(results[7].summary().median)),
    );
}
