//! W3: two threads hitting one shared function (10,000 keys, all present), total calls per
//! second, beside each candidate's single-thread figure measured in the same rounds.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::harness::{
    Bench, Measured, Mode, Summary, access_sequence, compute, distinct_keys, interleave, time_seq,
};
use crate::report::{Report, Row, pct};

const KEYS: usize = 10_000;
/// Capacity of every cache: room for every key (`quick_cache`'s capacity is approximate).
const CAP: usize = 12_000;
const SEQ: usize = 1 << 16;
/// The scaling of unsynchronized reads below which the second core was busy during a run:
/// 75% of perfect scaling. On this suite's 2-core machine, with nothing else of ours running,
/// attempts read 1.6-1.8x (an independent harness, 1.8-2.0x), and with the second core taken
/// by another process about 1.0x.
const FREE_CORE_FLOOR: f64 = 1.5;
/// Runs of W3 at most, to find one with the second core free.
const MAX_ATTEMPTS: usize = 4;

#[memo::cached(cache_type = "bench_w3")]
fn memo_shared(x: u64) -> u64 {
    compute(x)
}

#[cached::proc_macro::cached(max_size = 10_000)]
fn cached_shared(x: u64) -> u64 {
    compute(x)
}

/// One shared memoized function, called with the index of a key.
trait Hit: Sync {
    fn hit(&self, i: u32) -> u64;
}

struct Keys(Vec<u64>);

struct Qc<'a>(&'a Keys, quick_cache::sync::Cache<u64, u64>);
impl Hit for Qc<'_> {
    #[inline]
    fn hit(&self, i: u32) -> u64 {
        let k = self.0.0[i as usize];
        if let Some(v) = self.1.get(&k) {
            v
        } else {
            let v = compute(k);
            self.1.insert(k, v);
            v
        }
    }
}

struct Moka<'a>(&'a Keys, moka::sync::Cache<u64, u64>);
impl Hit for Moka<'_> {
    #[inline]
    fn hit(&self, i: u32) -> u64 {
        let k = self.0.0[i as usize];
        if let Some(v) = self.1.get(&k) {
            v
        } else {
            let v = compute(k);
            self.1.insert(k, v);
            v
        }
    }
}

/// The scaling floor: every key present in a hashbrown map that both threads read without any
/// synchronization (valid only because nothing is written while they run).
struct ReadOnly<'a>(&'a Keys, hashbrown::HashMap<u64, u64, ahash::RandomState>);
impl Hit for ReadOnly<'_> {
    #[inline]
    fn hit(&self, i: u32) -> u64 {
        let k = self.0.0[i as usize];
        self.1.get(&k).copied().unwrap_or_else(|| compute(k))
    }
}

struct CachedFn<'a>(&'a Keys);
impl Hit for CachedFn<'_> {
    #[inline]
    fn hit(&self, i: u32) -> u64 {
        cached_shared(self.0.0[i as usize])
    }
}

struct MemoFn<'a>(&'a Keys);
impl Hit for MemoFn<'_> {
    #[inline]
    fn hit(&self, i: u32) -> u64 {
        memo_shared(self.0.0[i as usize])
    }
}

struct Manual<'a>(&'a [String], memo::Cache);
impl Hit for Manual<'_> {
    #[inline]
    fn hit(&self, i: u32) -> u64 {
        let t = &self.0[i as usize];
        self.1.get_or_insert_with(t, || compute(t.len() as u64))
    }
}

/// Runs `ops` calls on each of `threads` threads (each on its own key sequence) and returns the
/// wall time divided by the thread count: the time per call of the total throughput.
fn run_threads<H: Hit>(
    h: &H,
    seqs: &[Vec<u32>],
    cursors: &mut [usize],
    threads: usize,
    ops: u64,
) -> Duration {
    if threads == 1 {
        return time_seq(&seqs[0], &mut cursors[0], ops, |i| h.hit(i));
    }
    let barrier = Barrier::new(threads);
    // Each thread notes when it started and ended; the wall time runs from the first start to
    // the last end, so neither spawning nor joining counts.
    let spans: Vec<(Instant, Instant, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (seq, barrier) = (&seqs[t], &barrier);
                let mut cursor = cursors[t];
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    time_seq(seq, &mut cursor, ops, |i| h.hit(i));
                    (start, Instant::now(), cursor)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bench thread panicked"))
            .collect()
    });
    let first = spans.iter().map(|s| s.0).min().expect("threads ran");
    let last = spans.iter().map(|s| s.1).max().expect("threads ran");
    let wall = last - first;
    let ends: Vec<usize> = spans.iter().map(|s| s.2).collect();
    cursors[..threads].copy_from_slice(&ends);
    wall / threads as u32
}

/// Two benches (one thread, two threads) for one candidate.
fn pair<'a, H: Hit>(name: &str, h: &'a H, seqs: &'a [Vec<u32>]) -> [Bench<'a>; 2] {
    let mut c1 = vec![0; seqs.len()];
    let mut c2 = vec![0; seqs.len()];
    [
        Bench::new(format!("{name}, 1 thread"), move |ops| {
            run_threads(h, seqs, &mut c1, 1, ops)
        }),
        Bench::new(format!("{name}, 2 threads"), move |ops| {
            run_threads(h, seqs, &mut c2, 2, ops)
        }),
    ]
}

fn per_round(a: &Measured, b: &Measured, f: impl Fn(f64, f64) -> f64) -> Summary {
    let v: Vec<f64> = a.ns.iter().zip(&b.ns).map(|(x, y)| f(*x, *y)).collect();
    Summary::of(&v)
}

/// Runs W3 and records its targets.
pub(crate) fn run(mode: Mode, report: &mut Report) {
    let keys = Keys(distinct_keys(KEYS, 30));
    let texts: Vec<String> = keys.0.iter().map(|k| format!("t:{k}")).collect();
    let seqs = vec![
        access_sequence(SEQ, KEYS, 31),
        access_sequence(SEQ, KEYS, 32),
    ];
    let config = || {
        memo::CacheConfig::builder()
            .capacity(CAP)
            .build()
            .expect("valid config")
    };
    memo::configure("bench_w3", config()).expect("valid cache type");
    let read_only = ReadOnly(
        &keys,
        keys.0
            .iter()
            .map(|&k| (k, crate::harness::expected(k)))
            .collect(),
    );
    let qc = Qc(&keys, quick_cache::sync::Cache::new(CAP));
    let moka = Moka(&keys, moka::sync::Cache::new(CAP as u64));
    let cached = CachedFn(&keys);
    let memo_fn = MemoFn(&keys);
    let manual = Manual(
        &texts,
        memo::configure("bench_w3_manual", config()).expect("valid cache type"),
    );
    for _ in 0..2 {
        for i in 0..KEYS as u32 {
            let want = crate::harness::expected(keys.0[i as usize]);
            assert_eq!(qc.hit(i), want);
            assert_eq!(moka.hit(i), want);
            assert_eq!(cached.hit(i), want);
            assert_eq!(memo_fn.hit(i), want);
            manual.hit(i);
        }
        moka.1.run_pending_tasks();
    }

    let measure = || {
        let mut benches = Vec::new();
        benches.extend(pair("quick_cache sync::Cache", &qc, &seqs));
        benches.extend(pair("moka sync::Cache", &moka, &seqs));
        benches.extend(pair("cached #[cached(max_size)]", &cached, &seqs));
        benches.extend(pair("memo #[cached]", &memo_fn, &seqs));
        benches.extend(pair("memo manual get_or_insert_with", &manual, &seqs));
        benches.extend(pair(
            "reference: hashbrown read-only, shared without synchronization (scaling floor)",
            &read_only,
            &seqs,
        ));
        let results = interleave(mode, benches);
        let floor = per_round(&results[10], &results[11], |o, t| o / t).median;
        (results, floor)
    };
    // Two threads scale only if the second core is free while they run. When the scaling
    // floor (unsynchronized reads) says it was not, measure again, and keep the attempt whose
    // second core was the freest; if none had it free, the two targets are not judged.
    let (mut results, mut floor) = measure();
    let mut attempts = 1;
    while floor < FREE_CORE_FLOOR && attempts < mode.size(MAX_ATTEMPTS, 1) {
        let (again, again_floor) = measure();
        attempts += 1;
        if again_floor > floor {
            (results, floor) = (again, again_floor);
        }
    }
    let core_free = floor >= FREE_CORE_FLOOR;

    let qc2 = &results[1];
    for pair in results.chunks(2) {
        let (one, two) = (&pair[0], &pair[1]);
        let name = one.name.trim_end_matches(", 1 thread");
        let calls = |m: &Measured| 1e3 / m.summary().median; // M calls/s
        let vs_qc = per_round(qc2, two, |q, c| q / c);
        let scaling = per_round(one, two, |o, t| o / t);
        report.row(Row {
            workload: "W3 two threads, shared function".to_owned(),
            candidate: name.to_owned(),
            value: format!("{:.1} M calls/s", calls(two)),
            spread: pct(two.summary().spread()),
            ratio: if std::ptr::eq(two, qc2) {
                "1.00x (baseline: quick_cache, 2 threads)".to_owned()
            } else {
                format!(
                    "{:.2}x of quick_cache ({:.2}–{:.2})",
                    vs_qc.median, vs_qc.p25, vs_qc.p75
                )
            },
            note: format!(
                "1 thread: {:.1} M calls/s {}; 2 threads / 1 thread: {:.2}x; {:.2} allocs/call",
                calls(one),
                pct(one.summary().spread()),
                scaling.median,
                two.allocs_per_op
            ),
        });
    }
    let (memo1, memo2) = (&results[6], &results[7]);
    let machine = format!(
        "scaling floor (unsynchronized reads): {floor:.2}x, attempt {attempts}{}",
        if core_free {
            ""
        } else {
            ", so the second core was not free: not judged"
        }
    );
    let vs_qc = per_round(qc2, memo2, |q, c| q / c).median;
    report.check_if(
        "W3 two-thread hits: memo `#[cached]` calls/s / `quick_cache` calls/s",
        ">= 1.0x",
        format!(
            "{vs_qc:.2}x ({:.1} vs {:.1} M calls/s; {machine})",
            1e3 / memo2.summary().median,
            1e3 / qc2.summary().median
        ),
        core_free.then_some(vs_qc >= 1.0),
    );
    let scaling = per_round(memo1, memo2, |o, t| o / t).median;
    report.check_if(
        "W3 two-thread hits: memo `#[cached]` 2 threads / memo 1 thread",
        ">= 1.6x",
        format!(
            "{scaling:.2}x ({:.1} vs {:.1} M calls/s; {machine})",
            1e3 / memo2.summary().median,
            1e3 / memo1.summary().median
        ),
        core_free.then_some(scaling >= 1.6),
    );
}
