//! W5: memory. Bytes allocated by each cache once it holds 100,000 `u64 -> u64` entries (the
//! counting allocator's live bytes after filling minus before creating it), per entry, minus
//! the key and value sizes.

use crate::harness::{Mode, alloc, compute};
use crate::report::{Report, Row};

#[memo::cached(cache_type = "bench_w5")]
fn memo_mem(x: u64) -> u64 {
    compute(x)
}

#[cached::proc_macro::cached(max_size = 100_000)]
fn cached_mem(x: u64) -> u64 {
    compute(x)
}

struct Footprint {
    name: &'static str,
    bytes: i64,
    held: usize,
    /// Key and value bytes of one entry as the user sees them.
    payload: usize,
    note: String,
}

impl Footprint {
    fn per_entry(&self) -> f64 {
        self.bytes as f64 / self.held as f64
    }

    fn overhead(&self) -> f64 {
        self.per_entry() - self.payload as f64
    }
}

/// Live bytes allocated while `fill` runs (the cache it builds must still be alive when it
/// returns: it returns it, and it is dropped after the count).
fn footprint<T>(fill: impl FnOnce() -> T) -> (i64, T) {
    let before = alloc::live_bytes();
    let kept = fill();
    let bytes = alloc::live_bytes() - before;
    (bytes, kept)
}

/// Runs W5 and records its target.
pub(crate) fn run(mode: Mode, report: &mut Report) {
    let n = mode.size(100_000, 10_000);
    let kv = 2 * std::mem::size_of::<u64>();
    let mut out = Vec::new();

    let (bytes, map) = footprint(|| {
        let mut m = hashbrown::HashMap::with_hasher(ahash::RandomState::new());
        for k in 0..n as u64 {
            m.insert(k, compute(k));
        }
        m
    });
    out.push(Footprint {
        name: "hashbrown HashMap<u64, u64> + ahash (no policy)",
        bytes,
        held: map.len(),
        payload: kv,
        note: String::new(),
    });
    drop(map);

    let (bytes, qc) = footprint(|| {
        let c = quick_cache::sync::Cache::<u64, u64>::new(n);
        for k in 0..n as u64 {
            c.insert(k, compute(k));
        }
        c
    });
    out.push(Footprint {
        name: "quick_cache sync::Cache",
        bytes,
        held: qc.len(),
        payload: kv,
        note: String::new(),
    });
    drop(qc);

    let (bytes, moka) = footprint(|| {
        let c = moka::sync::Cache::<u64, u64>::new(n as u64);
        for k in 0..n as u64 {
            c.insert(k, compute(k));
        }
        c.run_pending_tasks();
        c
    });
    out.push(Footprint {
        name: "moka sync::Cache",
        bytes,
        held: moka.entry_count() as usize,
        payload: kv,
        note: String::new(),
    });
    drop(moka);

    let (bytes, ()) = footprint(|| {
        for k in 0..n as u64 {
            cached_mem(k);
        }
    });
    out.push(Footprint {
        name: "cached #[cached(max_size)]",
        bytes,
        held: n,
        payload: kv,
        note: String::new(),
    });

    let config = memo::CacheConfig::builder()
        .capacity(n)
        .build()
        .expect("valid config");
    let memo_type = memo::configure("bench_w5", config.clone()).expect("valid cache type");
    let (bytes, ()) = footprint(|| {
        for k in 0..n as u64 {
            memo_mem(k);
        }
    });
    let stats = memo_type.stats();
    out.push(Footprint {
        name: "memo #[cached]",
        bytes,
        held: stats.activity.size,
        payload: kv,
        note: format!(
            "stats estimated_bytes: {:.1} B/entry",
            stats.activity.estimated_bytes as f64 / stats.activity.size.max(1) as f64
        ),
    });

    let texts: Vec<String> = (0..n).map(|k| format!("k:{k}")).collect();
    let manual = memo::configure("bench_w5_manual", config).expect("valid cache type");
    let (bytes, ()) = footprint(|| {
        for (k, t) in texts.iter().enumerate() {
            manual.insert(t, compute(k as u64));
        }
    });
    let stats = manual.stats();
    let key_bytes = texts.iter().map(String::len).sum::<usize>() / n;
    out.push(Footprint {
        name: "memo manual insert (key \"k:{i}\", value u64)",
        bytes,
        held: stats.activity.size,
        payload: key_bytes + 8,
        note: format!(
            "stats estimated_bytes: {:.1} B/entry; key text {key_bytes} B on average",
            stats.activity.estimated_bytes as f64 / stats.activity.size.max(1) as f64
        ),
    });

    let moka_overhead = out[2].overhead();
    for f in &out {
        report.row(Row {
            workload: format!("W5 memory, {n} entries"),
            candidate: f.name.to_owned(),
            value: format!("{:.1} B/entry overhead", f.overhead()),
            spread: "—".to_owned(),
            ratio: format!("{:.2}x of moka's overhead", f.overhead() / moka_overhead),
            note: format!(
                "{:.1} B/entry allocated in all, {} entries held, key + value {} B{}{}",
                f.per_entry(),
                f.held,
                f.payload,
                if f.note.is_empty() { "" } else { "; " },
                f.note
            ),
        });
    }
    for (f, primary) in [(&out[4], true), (&out[5], false)] {
        let ok = f.overhead() <= moka_overhead;
        let figure = format!("W5 bytes per entry over key + value: {}", f.name);
        let measured = format!(
            "{:.1} B vs moka {:.1} B ({:.1} B/entry in all)",
            f.overhead(),
            moka_overhead,
            f.per_entry()
        );
        if primary {
            report.check(figure, "<= moka's", measured, ok);
        } else {
            report.info(
                figure,
                "(<= moka's)",
                format!("{measured}; {}", if ok { "meets it" } else { "above it" }),
            );
        }
    }
}
