//! W1: hits. A memoized `fn(u64) -> u64` and a `fn(&str, u32) -> Value64`, every one of the
//! 10,000 keys present, random access; with and without a TTL.

use std::time::Duration;

use hashbrown::HashMap;

use crate::harness::{
    Bench, Measured, Mode, Rng, access_sequence, compute, distinct_keys, interleave, time_seq,
};
use crate::report::{Report, ns};

/// Keys present in every cache.
pub(crate) const KEYS: usize = 10_000;
/// Capacity of every cache: room for every key, with headroom (`quick_cache`'s capacity is
/// approximate and it evicts a little below it).
const CAP: usize = 12_000;
/// Length of the access sequence (a power of two).
const SEQ: usize = 1 << 16;
/// The TTL of the TTL variants: long enough that nothing expires during the run.
const TTL: Duration = Duration::from_secs(300);

/// A 64-byte value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Value64(pub(crate) [u64; 8]);

impl Value64 {
    fn sum(&self) -> u64 {
        self.0.iter().fold(0, |a, b| a.wrapping_add(*b))
    }
}

/// The body of the `(&str, u32)` functions.
fn compute_v64(name: &str, n: u32) -> Value64 {
    let h = compute(name.len() as u64 ^ u64::from(n) ^ u64::from(name.as_bytes()[name.len() - 1]));
    Value64([h, h ^ 1, h ^ 2, h ^ 3, h ^ 4, h ^ 5, h ^ 6, h ^ 7])
}

// ---------------------------------------------------------------------------------------------
// The candidates' functions.

type Hb<K, V> = HashMap<K, V, ahash::RandomState>;

/// The physical limit: a memo in a local hashbrown map (no lock, no policy, no TTL).
#[inline]
fn hb_u64(map: &mut Hb<u64, u64>, x: u64) -> u64 {
    if let Some(v) = map.get(&x) {
        return *v;
    }
    let v = compute(x);
    map.insert(x, v);
    v
}

/// The floor of any design that takes a lock per hit: the same memo behind a `Mutex`.
#[inline]
fn hb_locked_u64(map: &std::sync::Mutex<Hb<u64, u64>>, x: u64) -> u64 {
    let mut map = map.lock().expect("not poisoned");
    hb_u64(&mut map, x)
}

/// The owned key of the `(&str, u32)` maps.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct OwnedKey(String, u32);

/// The borrowed key: hashes as [`OwnedKey`] does, so lookups need no allocation.
#[derive(Hash)]
struct KeyRef<'a>(&'a str, u32);

impl quick_cache::Equivalent<OwnedKey> for KeyRef<'_> {
    fn equivalent(&self, key: &OwnedKey) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

impl hashbrown::Equivalent<OwnedKey> for KeyRef<'_> {
    fn equivalent(&self, key: &OwnedKey) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

#[inline]
fn hb_str(map: &mut Hb<OwnedKey, Value64>, name: &str, n: u32) -> Value64 {
    if let Some(v) = map.get(&KeyRef(name, n)) {
        return *v;
    }
    let v = compute_v64(name, n);
    map.insert(OwnedKey(name.to_owned(), n), v);
    v
}

#[memo::cached(cache_type = "bench_w1_u64")]
fn memo_u64(x: u64) -> u64 {
    compute(x)
}

#[memo::cached(ttl = 300, cache_type = "bench_w1_u64_ttl")]
fn memo_u64_ttl(x: u64) -> u64 {
    compute(x)
}

#[memo::cached(cache_type = "bench_w1_str")]
fn memo_str(name: &str, n: u32) -> Value64 {
    compute_v64(name, n)
}

#[memo::cached(ttl = 300, cache_type = "bench_w1_str_ttl")]
fn memo_str_ttl(name: &str, n: u32) -> Value64 {
    compute_v64(name, n)
}

/// The same function for the names of 40 bytes, which memo stores on the heap (those of up to
/// 24 bytes are kept inside the entry).
#[memo::cached(cache_type = "bench_w1_str_long")]
fn memo_str_long(name: &str, n: u32) -> Value64 {
    compute_v64(name, n)
}

#[cached::proc_macro::cached(max_size = 12_000)]
fn cached_u64(x: u64) -> u64 {
    compute(x)
}

#[cached::proc_macro::cached(max_size = 12_000, ttl_secs = 300)]
fn cached_u64_ttl(x: u64) -> u64 {
    compute(x)
}

#[cached::proc_macro::cached(max_size = 12_000)]
fn cached_str(name: &str, n: u32) -> Value64 {
    compute_v64(name, n)
}

#[cached::proc_macro::cached(max_size = 12_000, ttl_secs = 300)]
fn cached_str_ttl(name: &str, n: u32) -> Value64 {
    compute_v64(name, n)
}

fn memo_type(name: &str, ttl: bool) -> memo::Cache {
    let b = memo::CacheConfig::builder().capacity(CAP);
    let b = if ttl { b.ttl(TTL) } else { b };
    memo::configure(name, b.build().expect("valid config")).expect("valid cache type")
}

fn qc<K: Eq + std::hash::Hash + Clone, V: Clone>() -> quick_cache::sync::Cache<K, V> {
    quick_cache::sync::Cache::new(CAP)
}

fn moka<K, V>(ttl: bool) -> moka::sync::Cache<K, V>
where
    K: Eq + std::hash::Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let b = moka::sync::Cache::builder().max_capacity(CAP as u64);
    if ttl {
        b.time_to_live(TTL).build()
    } else {
        b.build()
    }
}

// ---------------------------------------------------------------------------------------------

/// Strings packed into one buffer, so that every candidate reads its callers' keys from the
/// same compact memory (separately allocated strings would land wherever the heap has room,
/// which differs from group to group).
struct Arena {
    text: String,
    spans: Vec<(usize, usize)>,
}

impl Arena {
    fn new(items: impl IntoIterator<Item = String>) -> Self {
        let mut text = String::new();
        let spans = items
            .into_iter()
            .map(|s| {
                let start = text.len();
                text.push_str(&s);
                (start, text.len())
            })
            .collect();
        Self { text, spans }
    }

    fn get(&self, i: usize) -> &str {
        let (a, b) = self.spans[i];
        &self.text[a..b]
    }
}

/// Checks that `f` returns the right value for every key, twice (filling the cache first).
fn fill_u64(keys: &[u64], f: impl Fn(u64) -> u64) {
    for _ in 0..2 {
        for &k in keys {
            assert_eq!(
                f(k),
                crate::harness::expected(k),
                "a candidate returned a wrong value"
            );
        }
    }
}

/// Picks rows of a combined measurement.
fn pick(results: &[Measured], rows: &[usize]) -> Vec<Measured> {
    rows.iter().map(|&i| results[i].clone()).collect()
}

/// The `u64` groups, without and with a TTL, measured in one interleaved set (one baseline).
fn u64_groups(mode: Mode, report: &mut Report) -> (Vec<Measured>, Vec<Measured>) {
    let keys = distinct_keys(KEYS, 1);
    let index_seq = access_sequence(SEQ, KEYS, 2);
    let seq: Vec<u64> = index_seq.iter().map(|&i| keys[i as usize]).collect();
    let texts = Arena::new(keys.iter().map(|k| format!("u:{k}")));

    let mut hb: Hb<u64, u64> = HashMap::with_capacity_and_hasher(CAP, ahash::RandomState::new());
    for _ in 0..2 {
        for &k in &keys {
            assert_eq!(hb_u64(&mut hb, k), crate::harness::expected(k));
        }
    }
    let locked = std::sync::Mutex::new(hb.clone());
    let qc = qc::<u64, u64>();
    let (moka_plain, moka_ttl) = (moka::<u64, u64>(false), moka::<u64, u64>(true));
    let manual = memo_type("bench_w1_manual", false);
    let manual_ttl = memo_type("bench_w1_manual_ttl", true);
    memo_type("bench_w1_u64", false);
    memo_type("bench_w1_u64_ttl", true);

    let qc_memo = |k: u64| {
        if let Some(v) = qc.get(&k) {
            v
        } else {
            let v = compute(k);
            qc.insert(k, v);
            v
        }
    };
    let moka_memo = |c: &moka::sync::Cache<u64, u64>, k: u64| {
        if let Some(v) = c.get(&k) {
            v
        } else {
            let v = compute(k);
            c.insert(k, v);
            v
        }
    };
    let manual_memo = |c: memo::Cache, i: u32| {
        c.get_or_insert_with(texts.get(i as usize), || compute(keys[i as usize]))
    };
    fill_u64(&keys, qc_memo);
    fill_u64(&keys, |k| moka_memo(&moka_plain, k));
    fill_u64(&keys, |k| moka_memo(&moka_ttl, k));
    moka_plain.run_pending_tasks();
    moka_ttl.run_pending_tasks();
    fill_u64(&keys, memo_u64);
    fill_u64(&keys, memo_u64_ttl);
    fill_u64(&keys, cached_u64);
    fill_u64(&keys, cached_u64_ttl);
    for i in 0..KEYS as u32 {
        for c in [manual, manual_ttl] {
            assert_eq!(
                manual_memo(c, i),
                crate::harness::expected(keys[i as usize])
            );
        }
    }

    let mut cur = [0_usize; 13];
    let [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12] = &mut cur;
    let benches = vec![
        Bench::new("hashbrown + ahash, local memo (no TTL)", |ops| {
            time_seq(&seq, c0, ops, |k| hb_u64(&mut hb, k))
        }),
        Bench::new("quick_cache sync::Cache (no TTL support)", |ops| {
            time_seq(&seq, c1, ops, qc_memo)
        }),
        Bench::new("moka sync::Cache", |ops| {
            time_seq(&seq, c2, ops, |k| moka_memo(&moka_plain, k))
        }),
        Bench::new("moka sync::Cache (time_to_live)", |ops| {
            time_seq(&seq, c3, ops, |k| moka_memo(&moka_ttl, k))
        }),
        Bench::new("cached #[cached(max_size)]", |ops| {
            time_seq(&seq, c4, ops, cached_u64)
        }),
        Bench::new("cached #[cached(max_size, ttl_secs)]", |ops| {
            time_seq(&seq, c5, ops, cached_u64_ttl)
        }),
        Bench::new("memo #[cached]", |ops| time_seq(&seq, c6, ops, memo_u64)),
        Bench::new("memo #[cached(ttl = 300)]", |ops| {
            time_seq(&seq, c7, ops, memo_u64_ttl)
        }),
        Bench::new(
            "memo manual get_or_insert_with (key \"u:{k}\" pre-rendered)",
            |ops| time_seq(&index_seq, c8, ops, |i| manual_memo(manual, i)),
        ),
        Bench::new(
            "memo manual get_or_insert_with, default TTL (key pre-rendered)",
            |ops| time_seq(&index_seq, c9, ops, |i| manual_memo(manual_ttl, i)),
        ),
        Bench::new("memo manual get::<u64> (key pre-rendered)", |ops| {
            time_seq(&index_seq, c10, ops, |i| {
                manual.get::<u64>(texts.get(i as usize)).unwrap_or(0)
            })
        }),
        Bench::new(
            "memo manual get::<u64>, default TTL (key pre-rendered)",
            |ops| {
                time_seq(&index_seq, c11, ops, |i| {
                    manual_ttl.get::<u64>(texts.get(i as usize)).unwrap_or(0)
                })
            },
        ),
        Bench::new(
            "reference: the hashbrown memo behind a std Mutex (lock floor)",
            |ops| time_seq(&seq, c12, ops, |k| hb_locked_u64(&locked, k)),
        ),
    ];
    let results = interleave(mode, benches);
    let plain = pick(&results, &[0, 1, 2, 4, 6, 8, 10, 12]);
    let timed = pick(&results, &[0, 1, 3, 5, 7, 9, 11]);
    report.timings("W1 u64 hit", &plain, 0);
    report.timings("W1 u64 hit, TTL", &timed, 0);
    (plain, timed)
}

/// The `(&str, u32)` groups, without and with a TTL, measured in one interleaved set.
fn str_groups(mode: Mode, report: &mut Report) -> (Vec<Measured>, Vec<Measured>) {
    let mut rng = Rng::new(3);
    let names = Arena::new((0..KEYS).map(|i| format!("customer-{:010}", i * 7919 + 13)));
    let nums: Vec<u32> = (0..KEYS).map(|_| rng.below(100) as u32).collect();
    let texts = Arena::new((0..KEYS).map(|i| format!("{}:{}", names.get(i), nums[i])));
    let seq: Vec<u32> = access_sequence(SEQ, KEYS, 4);
    let at = |i: u32| (names.get(i as usize), nums[i as usize]);
    let long_names = Arena::new((0..KEYS).map(|i| format!("customer-{:031}", i * 7919 + 13)));
    let at_long = |i: u32| (long_names.get(i as usize), nums[i as usize]);
    let mut hb_long: Hb<OwnedKey, Value64> =
        HashMap::with_capacity_and_hasher(CAP, ahash::RandomState::new());

    let mut hb: Hb<OwnedKey, Value64> =
        HashMap::with_capacity_and_hasher(CAP, ahash::RandomState::new());
    let qc = qc::<OwnedKey, Value64>();
    let (moka_plain, moka_ttl) = (
        moka::<OwnedKey, Value64>(false),
        moka::<OwnedKey, Value64>(true),
    );
    let manual = memo_type("bench_w1_manual_str", false);
    let manual_ttl = memo_type("bench_w1_manual_str_ttl", true);
    memo_type("bench_w1_str", false);
    memo_type("bench_w1_str_ttl", true);
    memo_type("bench_w1_str_long", false);

    let qc_memo = |name: &str, n: u32| {
        if let Some(v) = qc.get(&KeyRef(name, n)) {
            v
        } else {
            let v = compute_v64(name, n);
            qc.insert(OwnedKey(name.to_owned(), n), v);
            v
        }
    };
    // moka looks keys up through `Borrow`, which `(String, u32)` cannot give from a `&str`:
    // a user builds the owned key for every lookup.
    let moka_memo = |c: &moka::sync::Cache<OwnedKey, Value64>, name: &str, n: u32| {
        let key = OwnedKey(name.to_owned(), n);
        if let Some(v) = c.get(&key) {
            v
        } else {
            let v = compute_v64(name, n);
            c.insert(key, v);
            v
        }
    };
    let manual_memo = |c: memo::Cache, i: u32| {
        let (name, n) = at(i);
        c.get_or_insert_with(texts.get(i as usize), || compute_v64(name, n))
    };
    // Each candidate is filled on its own, one after the other, so that the keys it allocates
    // lie together on the heap, as they would in a program that fills one cache at a time.
    // Filled all together, the baselines' `String`s (and memo's names of 40 bytes) were
    // scattered among the other caches' allocations and read 30-40% slower.
    let fill = |f: &mut dyn FnMut(&str, u32) -> Value64, long: bool| {
        for i in 0..KEYS as u32 {
            let (name, n) = if long { at_long(i) } else { at(i) };
            assert_eq!(f(name, n), compute_v64(name, n));
        }
    };
    fill(&mut |name, n| hb_str(&mut hb, name, n), false);
    fill(&mut |name, n| hb_str(&mut hb_long, name, n), true);
    fill(&mut |name, n| memo_str_long(name, n), true);
    fill(&mut |name, n| qc_memo(name, n), false);
    fill(&mut |name, n| moka_memo(&moka_plain, name, n), false);
    fill(&mut |name, n| moka_memo(&moka_ttl, name, n), false);
    fill(&mut |name, n| memo_str(name, n), false);
    fill(&mut |name, n| memo_str_ttl(name, n), false);
    fill(&mut |name, n| cached_str(name, n), false);
    fill(&mut |name, n| cached_str_ttl(name, n), false);
    for c in [manual, manual_ttl] {
        for i in 0..KEYS as u32 {
            let (name, n) = at(i);
            assert_eq!(manual_memo(c, i), compute_v64(name, n));
        }
    }
    for _ in 0..2 {
        for i in 0..KEYS as u32 {
            let (name, n) = at(i);
            let want = compute_v64(name, n);
            assert_eq!(hb_str(&mut hb, name, n), want);
            assert_eq!(qc_memo(name, n), want);
            assert_eq!(moka_memo(&moka_plain, name, n), want);
            assert_eq!(moka_memo(&moka_ttl, name, n), want);
            assert_eq!(memo_str(name, n), want);
            assert_eq!(memo_str_ttl(name, n), want);
            assert_eq!(cached_str(name, n), want);
            assert_eq!(cached_str_ttl(name, n), want);
            assert_eq!(manual_memo(manual, i), want);
            assert_eq!(manual_memo(manual_ttl, i), want);
            let (long, n) = at_long(i);
            assert_eq!(long.len(), 40);
            let want = compute_v64(long, n);
            assert_eq!(hb_str(&mut hb_long, long, n), want);
            assert_eq!(memo_str_long(long, n), want);
        }
        moka_plain.run_pending_tasks();
        moka_ttl.run_pending_tasks();
    }

    let mut cur = [0_usize; 12];
    let [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11] = &mut cur;
    let benches = vec![
        Bench::new("hashbrown + ahash, local memo (no TTL)", |ops| {
            time_seq(&seq, c0, ops, |i| {
                let (name, n) = at(i);
                hb_str(&mut hb, name, n).sum()
            })
        }),
        Bench::new(
            "quick_cache sync::Cache, Equivalent key (no TTL support)",
            |ops| {
                time_seq(&seq, c1, ops, |i| {
                    let (name, n) = at(i);
                    qc_memo(name, n).sum()
                })
            },
        ),
        Bench::new("moka sync::Cache (owned key per lookup)", |ops| {
            time_seq(&seq, c2, ops, |i| {
                let (name, n) = at(i);
                moka_memo(&moka_plain, name, n).sum()
            })
        }),
        Bench::new(
            "moka sync::Cache, time_to_live (owned key per lookup)",
            |ops| {
                time_seq(&seq, c3, ops, |i| {
                    let (name, n) = at(i);
                    moka_memo(&moka_ttl, name, n).sum()
                })
            },
        ),
        Bench::new("cached #[cached(max_size)]", |ops| {
            time_seq(&seq, c4, ops, |i| {
                let (name, n) = at(i);
                cached_str(name, n).sum()
            })
        }),
        Bench::new("cached #[cached(max_size, ttl_secs)]", |ops| {
            time_seq(&seq, c5, ops, |i| {
                let (name, n) = at(i);
                cached_str_ttl(name, n).sum()
            })
        }),
        Bench::new("memo #[cached]", |ops| {
            time_seq(&seq, c6, ops, |i| {
                let (name, n) = at(i);
                memo_str(name, n).sum()
            })
        }),
        Bench::new("memo #[cached(ttl = 300)]", |ops| {
            time_seq(&seq, c7, ops, |i| {
                let (name, n) = at(i);
                memo_str_ttl(name, n).sum()
            })
        }),
        Bench::new("memo manual get_or_insert_with (key pre-rendered)", |ops| {
            time_seq(&seq, c8, ops, |i| manual_memo(manual, i).sum())
        }),
        Bench::new(
            "memo manual get_or_insert_with, default TTL (key pre-rendered)",
            |ops| time_seq(&seq, c9, ops, |i| manual_memo(manual_ttl, i).sum()),
        ),
        Bench::new("hashbrown + ahash, local memo, names of 40 bytes", |ops| {
            time_seq(&seq, c10, ops, |i| {
                let (name, n) = at_long(i);
                hb_str(&mut hb_long, name, n).sum()
            })
        }),
        Bench::new(
            "memo #[cached], names of 40 bytes (stored on the heap)",
            |ops| {
                time_seq(&seq, c11, ops, |i| {
                    let (name, n) = at_long(i);
                    memo_str_long(name, n).sum()
                })
            },
        ),
    ];
    let results = interleave(mode, benches);
    let plain = pick(&results, &[0, 1, 2, 4, 6, 8]);
    let timed = pick(&results, &[0, 1, 3, 5, 7, 9]);
    let long = pick(&results, &[10, 11]);
    report.timings("W1 (&str, u32) -> Value64 hit", &plain, 0);
    report.timings("W1 (&str, u32) -> Value64 hit, TTL", &timed, 0);
    report.timings("W1 (&str, u32) -> Value64 hit, names of 40 bytes", &long, 0);
    report.info(
        "W1 hit, `(&str, u32)` key with names of 40 bytes (past the 24 kept inline): memo `#[cached]` / local hashbrown memo",
        "(none)",
        format!(
            "{:.2}x ({} vs {})",
            long[1].ratio_to(&long[0]).median,
            ns(long[1].summary().median),
            ns(long[0].summary().median)
        ),
    );
    (plain, timed)
}

/// Runs W1 and records its targets.
pub(crate) fn run(mode: Mode, report: &mut Report) {
    let (plain, timed) = u64_groups(mode, report);
    let (hb, cached, memo) = (&timed[0], &timed[3], &timed[4]);
    let r = memo.ratio_to(hb).median;
    report.check(
        "W1 hit, `u64`, with TTL: memo `#[cached(ttl)]` / local hashbrown memo",
        "<= 2.5x",
        format!(
            "{r:.2}x ({} vs {})",
            ns(memo.summary().median),
            ns(hb.summary().median)
        ),
        r <= 2.5,
    );
    let speedup = cached.ratio_to(memo).median;
    report.check(
        "W1 hit, `u64`, with TTL: `cached` `#[cached(max_size, ttl_secs)]` / memo",
        ">= 4x faster",
        format!("{speedup:.2}x ({})", ns(cached.summary().median)),
        speedup >= 4.0,
    );
    report.info(
        "W1 hit, `u64`, no TTL: memo `#[cached]` / local hashbrown memo",
        "(none)",
        format!("{:.2}x", plain[4].ratio_to(&plain[0]).median),
    );
    report.info(
        "W1 hit, `u64`: the lock floor (hashbrown memo in a `Mutex`) / local hashbrown memo",
        "(none)",
        format!(
            "{:.2}x ({})",
            plain[7].ratio_to(&plain[0]).median,
            ns(plain[7].summary().median)
        ),
    );
    let (plain, timed) = str_groups(mode, report);
    for (g, ttl) in [(&plain, false), (&timed, true)] {
        let r = g[4].ratio_to(&g[0]).median;
        report.check(
            format!(
                "W1 hit, `(&str, u32)` key{}: memo `#[cached]` / local hashbrown memo",
                if ttl { ", with TTL" } else { "" }
            ),
            "<= 1.5x",
            format!(
                "{r:.2}x ({} vs {})",
                ns(g[4].summary().median),
                ns(g[0].summary().median)
            ),
            r <= 1.5,
        );
    }
}
