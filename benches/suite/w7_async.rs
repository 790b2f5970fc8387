//! W7: a hit through an async cached method under a current-thread executor
//! (`futures::executor::block_on`), beside the same hit through a sync cached method.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::harness::{Bench, Mode, access_sequence, compute, distinct_keys, interleave, time_seq};
use crate::report::{Report, ns};

const KEYS: usize = 10_000;
const SEQ: usize = 1 << 16;

/// A service struct, as in the design's examples.
struct Catalog {
    #[allow(dead_code)] // a field a real service would have; `&self` is not part of the key
    region: u32,
}

// Service methods as users write them: the bodies do not need `self` (not part of the key).
#[allow(clippy::unused_self)]
impl Catalog {
    #[memo::cached(cache_type = "bench_w7_async")]
    async fn price(&self, id: u64) -> u64 {
        compute(id)
    }

    #[memo::cached(cache_type = "bench_w7_sync")]
    fn price_sync(&self, id: u64) -> u64 {
        compute(id)
    }
}

/// The sync hit in W1's shape (a free function), for a second baseline.
#[memo::cached(cache_type = "bench_w7_free")]
fn price_free(id: u64) -> u64 {
    compute(id)
}

/// Polls a future once with a waker that does nothing; `None` if it is not ready.
fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Runs W7 and records its targets.
pub(crate) fn run(mode: Mode, report: &mut Report) {
    let keys = distinct_keys(KEYS, 70);
    let seq: Vec<u64> = access_sequence(SEQ, KEYS, 71)
        .into_iter()
        .map(|i| keys[i as usize])
        .collect();
    let mask = SEQ - 1;
    for name in ["bench_w7_async", "bench_w7_sync", "bench_w7_free"] {
        let config = memo::CacheConfig::builder()
            .capacity(KEYS + KEYS / 5)
            .build()
            .expect("valid config");
        memo::configure(name, config).expect("valid cache type");
    }
    let svc = Catalog { region: 1 };
    let moka = moka::future::Cache::<u64, u64>::new((KEYS + KEYS / 5) as u64);
    futures::executor::block_on(async {
        for &k in &keys {
            assert_eq!(svc.price(k).await, crate::harness::expected(k));
            assert_eq!(svc.price_sync(k), crate::harness::expected(k));
            assert_eq!(price_free(k), crate::harness::expected(k));
            moka.insert(k, compute(k)).await;
        }
        moka.run_pending_tasks().await;
    });
    // A hit must complete on its first poll: it never awaits (a lock or anything else).
    let pending = keys
        .iter()
        .filter(|&&k| poll_once(svc.price(k)).is_none())
        .count();

    let (mut c0, mut c1, mut c2, mut c3, mut c4, mut c5) = (0, 0, 0, 0, 0, 0_usize);
    let benches = vec![
        Bench::new("memo sync cached method (baseline)", |ops| {
            time_seq(&seq, &mut c0, ops, |k| svc.price_sync(k))
        }),
        Bench::new(
            "memo async cached method, awaited in one block_on per batch",
            |ops| {
                futures::executor::block_on(async {
                    // The loop of `time_seq` (the baseline's), with an `.await`.
                    let mut at = c1;
                    let start = Instant::now();
                    let mut acc = 0_u64;
                    for _ in 0..ops {
                        acc = acc.wrapping_add(svc.price(black_box(seq[at & mask])).await);
                        at = at.wrapping_add(1);
                    }
                    let t = start.elapsed();
                    black_box(acc);
                    c1 = at & mask;
                    t
                })
            },
        ),
        Bench::new("memo async cached method, one block_on per call", |ops| {
            time_seq(&seq, &mut c2, ops, |k| {
                futures::executor::block_on(svc.price(k))
            })
        }),
        Bench::new(
            "memo async cached method, polled once by hand (noop waker)",
            |ops| {
                time_seq(&seq, &mut c3, ops, |k| {
                    poll_once(svc.price(k)).expect("a hit is ready on its first poll")
                })
            },
        ),
        Bench::new(
            "moka future::Cache::get, awaited in one block_on per batch",
            |ops| {
                futures::executor::block_on(async {
                    let mut at = c4;
                    let start = Instant::now();
                    let mut acc = 0_u64;
                    for _ in 0..ops {
                        acc = acc
                            .wrapping_add(moka.get(&black_box(seq[at & mask])).await.unwrap_or(0));
                        at = at.wrapping_add(1);
                    }
                    let t = start.elapsed();
                    black_box(acc);
                    c4 = at & mask;
                    t
                })
            },
        ),
        Bench::new(
            "memo sync cached free function `fn(u64) -> u64` (W1's shape)",
            |ops| time_seq(&seq, &mut c5, ops, price_free),
        ),
    ];
    let results = interleave(mode, benches);
    report.timings("W7 async hit (current-thread executor)", &results, 0);
    let r = results[1].ratio_to(&results[0]).median;
    report.check(
        "W7 async hit (`block_on`, awaited in a loop) / sync hit",
        "<= 1.5x",
        format!(
            "{r:.2}x ({} vs {})",
            ns(results[1].summary().median),
            ns(results[0].summary().median)
        ),
        r <= 1.5,
    );
    report.check(
        "W7 async hit: no await on a lock",
        "every hit ready on its first poll",
        format!(
            "{} of {} hits pending on their first poll",
            pending,
            keys.len()
        ),
        pending == 0,
    );
    let future_size = std::mem::size_of_val(&svc.price(0));
    report.info(
        "W7: size of the future of an async cached method `price(&self, u64) -> u64`",
        "(none)",
        format!("{future_size} bytes (moved at least once per call)"),
    );
    let r = results[1].ratio_to(&results[5]).median;
    report.info(
        "W7 async method hit (`block_on`, awaited in a loop) / sync free-function hit",
        "(none; the target compares methods with methods)",
        format!(
            "{r:.2}x ({} vs {})",
            ns(results[1].summary().median),
            ns(results[5].summary().median)
        ),
    );
    let r = results[2].ratio_to(&results[0]).median;
    report.info(
        "W7 async hit with one `block_on` per call / sync hit",
        "(none; includes the executor's own cost)",
        format!("{r:.2}x"),
    );
}
