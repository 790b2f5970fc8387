//! Measurement: candidates run interleaved, round after round, each round in a rotated order;
//! every figure is the median over the rounds with its spread, and every ratio is taken within
//! a round (candidate time over baseline time of the same round) before its median is taken.
//! Also the miss counter shared by every candidate's "expensive" function, the random numbers
//! and the counting allocator.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How the suite runs: the full measurement, or once through everything (`--test`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mode {
    /// `--test`: every benchmark runs once, on small inputs, to prove it still works.
    pub(crate) quick: bool,
}

impl Mode {
    /// Rounds of interleaved measurement.
    pub(crate) fn rounds(self) -> usize {
        if self.quick { 1 } else { 21 }
    }

    /// Wall time one candidate's batch should take.
    fn batch_time(self) -> Duration {
        if self.quick {
            Duration::ZERO
        } else {
            Duration::from_millis(20)
        }
    }

    /// `full` in a full run, `quick` under `--test`.
    pub(crate) fn size(self, full: usize, quick: usize) -> usize {
        if self.quick { quick } else { full }
    }
}

// ---------------------------------------------------------------------------------------------
// The "expensive" function behind every candidate.

static MISSES: AtomicU64 = AtomicU64::new(0);

/// The computation every memoized candidate wraps: cheap, but it counts its runs, so the suite
/// knows how many calls missed whatever cache sat in front of it.
#[inline(never)]
pub(crate) fn compute(x: u64) -> u64 {
    MISSES.fetch_add(1, Ordering::Relaxed);
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ 0x5bd1_e995
}

/// The value `compute(x)` returns, without counting a run.
pub(crate) fn expected(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ 0x5bd1_e995
}

/// Runs of [`compute`] (and of the other candidates' bodies) so far.
pub(crate) fn misses() -> u64 {
    MISSES.load(Ordering::Relaxed)
}

/// Counts one run of a body that does not go through [`compute`].
pub(crate) fn count_miss() {
    MISSES.fetch_add(1, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------------
// Random numbers (no dependency: SplitMix64 is enough for key sequences).

/// `SplitMix64`.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }
}

/// `n` distinct random keys.
pub(crate) fn distinct_keys(n: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    let mut taken = hashbrown::HashSet::with_capacity_and_hasher(n, ahash::RandomState::new());
    let mut keys = Vec::with_capacity(n);
    while keys.len() < n {
        let k = rng.next_u64() >> 1;
        if taken.insert(k) {
            keys.push(k);
        }
    }
    keys
}

/// A random access sequence of `len` (a power of two) indices below `n`.
pub(crate) fn access_sequence(len: usize, n: usize, seed: u64) -> Vec<u32> {
    assert!(len.is_power_of_two());
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.below(n as u64) as u32).collect()
}

// ---------------------------------------------------------------------------------------------
// Statistics.

/// Median and quartiles of a sample.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Summary {
    pub(crate) median: f64,
    pub(crate) p25: f64,
    pub(crate) p75: f64,
}

impl Summary {
    pub(crate) fn of(samples: &[f64]) -> Self {
        assert!(!samples.is_empty());
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let pos = q * (s.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            s[lo] + (s[hi] - s[lo]) * (pos - lo as f64)
        };
        Self {
            median: at(0.5),
            p25: at(0.25),
            p75: at(0.75),
        }
    }

    /// Half the interquartile range, relative to the median (the `±` column).
    pub(crate) fn spread(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            (self.p75 - self.p25) / 2.0 / self.median
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Interleaved measurement.

/// A candidate: runs `ops` operations and returns the time they took (the closure times itself,
/// so that setup such as spawning threads stays out of the figure).
pub(crate) struct Bench<'a> {
    pub(crate) name: String,
    run: Box<dyn FnMut(u64) -> Duration + 'a>,
}

impl<'a> Bench<'a> {
    pub(crate) fn new(name: impl Into<String>, run: impl FnMut(u64) -> Duration + 'a) -> Self {
        Self {
            name: name.into(),
            run: Box::new(run),
        }
    }
}

/// What was measured of one candidate.
#[derive(Clone, Debug)]
pub(crate) struct Measured {
    pub(crate) name: String,
    /// Nanoseconds per operation, one sample per round.
    pub(crate) ns: Vec<f64>,
    /// Allocations per operation over every timed batch.
    pub(crate) allocs_per_op: f64,
    /// Runs of the computation per operation over every timed batch (0 for a pure hit load).
    pub(crate) misses_per_op: f64,
}

impl Measured {
    pub(crate) fn summary(&self) -> Summary {
        Summary::of(&self.ns)
    }

    /// Per-round ratios of this candidate's time over `base`'s, summarized.
    pub(crate) fn ratio_to(&self, base: &Measured) -> Summary {
        let r: Vec<f64> = self.ns.iter().zip(&base.ns).map(|(a, b)| a / b).collect();
        Summary::of(&r)
    }
}

/// Runs the candidates interleaved: a calibration per candidate (batch sized to the mode's
/// batch time), then rounds in which every candidate runs one batch, in an order rotated by
/// one each round.
pub(crate) fn interleave(mode: Mode, benches: Vec<Bench<'_>>) -> Vec<Measured> {
    let mut benches = benches;
    let ops: Vec<u64> = benches
        .iter_mut()
        .map(|b| calibrate(mode, &mut b.run))
        .collect();
    let n = benches.len();
    let mut ns = vec![Vec::new(); n];
    let mut allocs = vec![0_u64; n];
    let mut missed = vec![0_u64; n];
    for round in 0..mode.rounds() {
        for j in 0..n {
            let i = (round + j) % n;
            let (a0, m0) = (alloc::count(), misses());
            let t = (benches[i].run)(ops[i]);
            allocs[i] += alloc::count() - a0;
            missed[i] += misses() - m0;
            ns[i].push(t.as_nanos() as f64 / ops[i] as f64);
        }
    }
    let total_ops = |i: usize| (ops[i] * mode.rounds() as u64) as f64;
    benches
        .into_iter()
        .enumerate()
        .map(|(i, b)| Measured {
            name: b.name,
            ns: std::mem::take(&mut ns[i]),
            allocs_per_op: allocs[i] as f64 / total_ops(i),
            misses_per_op: missed[i] as f64 / total_ops(i),
        })
        .collect()
}

fn calibrate(mode: Mode, run: &mut dyn FnMut(u64) -> Duration) -> u64 {
    if mode.quick {
        run(64);
        return 256;
    }
    let mut ops = 1_u64;
    loop {
        let t = run(ops);
        if t >= Duration::from_millis(2) || ops >= 1 << 32 {
            let per_op = t.as_secs_f64() / ops as f64;
            return ((mode.batch_time().as_secs_f64() / per_op) as u64).max(1);
        }
        ops *= 2;
    }
}

/// Times `ops` calls of `f` on successive items of `seq` (cycled from `*cursor`), keeping the
/// results alive with `black_box`.
#[inline]
pub(crate) fn time_seq<T: Copy>(
    seq: &[T],
    cursor: &mut usize,
    ops: u64,
    mut f: impl FnMut(T) -> u64,
) -> Duration {
    debug_assert!(seq.len().is_power_of_two());
    let mask = seq.len() - 1;
    let mut at = *cursor;
    let mut acc = 0_u64;
    let start = Instant::now();
    for _ in 0..ops {
        acc = acc.wrapping_add(f(black_box(seq[at & mask])));
        at = at.wrapping_add(1);
    }
    let t = start.elapsed();
    black_box(acc);
    *cursor = at & mask;
    t
}

// ---------------------------------------------------------------------------------------------
// How busy the machine was.

/// CPU time used by other processes while the suite ran, from `/proc` (Linux only): the
/// machine's busy time minus this process's.
#[derive(Clone, Copy)]
pub(crate) struct Load {
    machine_busy: u64,
    own: u64,
    at: Instant,
}

impl Load {
    pub(crate) fn now() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal ...
        let total: u64 = cpu.iter().take(8).sum();
        let idle = cpu.get(3)? + cpu.get(4)?;
        let own_stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the parenthesized command name: utime and stime are the 12th and 13th.
        let after = own_stat.rsplit_once(')')?.1;
        let fields: Vec<u64> = after
            .split_whitespace()
            .skip(11)
            .take(2)
            .filter_map(|v| v.parse().ok())
            .collect();
        Some(Self {
            machine_busy: total - idle,
            own: fields.iter().sum(),
            at: Instant::now(),
        })
    }

    /// Cores' worth of CPU that other processes used since `self`.
    pub(crate) fn others_since(self, later: Self) -> f64 {
        let ticks = later
            .machine_busy
            .saturating_sub(self.machine_busy)
            .saturating_sub(later.own.saturating_sub(self.own));
        // /proc counts in USER_HZ, 100 per second on Linux.
        ticks as f64 / 100.0 / later.at.duration_since(self.at).as_secs_f64()
    }
}

// ---------------------------------------------------------------------------------------------
// The counting allocator.

/// A global allocator that forwards to the system allocator and counts allocations and live
/// bytes, for allocations per operation (W1-W3) and bytes per entry (W5).
#[allow(unsafe_code)] // `GlobalAlloc` is an unsafe trait; this only forwards to `System`.
pub(crate) mod alloc {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

    static ALLOCS: AtomicU64 = AtomicU64::new(0);
    static LIVE: AtomicI64 = AtomicI64::new(0);

    /// The counting allocator (installed in `main.rs`).
    pub(crate) struct Counting;

    // SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
    // counters are plain atomics and never allocate.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
            // SAFETY: forwarded as is.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
            // SAFETY: forwarded as is.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
            // SAFETY: forwarded as is.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
            // SAFETY: forwarded as is.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    /// Allocations (and reallocations) so far, in every thread.
    pub(crate) fn count() -> u64 {
        ALLOCS.load(Ordering::Relaxed)
    }

    /// Bytes allocated and not yet freed, in every thread.
    pub(crate) fn live_bytes() -> i64 {
        LIVE.load(Ordering::Relaxed)
    }
}
