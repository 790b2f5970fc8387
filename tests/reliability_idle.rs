//! Reliability, item 9: idle garbage. 1,000,000 keys are written once with a short TTL through a
//! `#[cached(ttl = ...)]` function and never read; once the TTL has passed, the background
//! housekeeper alone (no read, no call) brings the size back to 0, the estimated bytes back to
//! 0, and the process's live heap (counted by this binary's global allocator: bytes allocated
//! minus bytes freed) back to its baseline within 5% plus 1 MiB. A second wave writes through the
//! manual API and is removed by an explicit `memo::sweep_expired()`.
//!
//! One test in this binary, so no other test allocates while it measures.

#![allow(unsafe_code)] // the counting allocator: `GlobalAlloc` is an unsafe trait

mod reliability_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use memo::{CacheConfig, ManualClock, cached};
use reliability_support as support;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

// `Layout` sizes never exceed `isize::MAX`, so these casts cannot wrap.
#[allow(clippy::cast_possible_wrap)]
fn grew(by: usize) {
    let now = LIVE.fetch_add(by as isize, Ordering::Relaxed) + by as isize;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

#[allow(clippy::cast_possible_wrap)]
fn shrank(by: usize) {
    LIVE.fetch_sub(by as isize, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// bookkeeping touches only atomics, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::SeqCst)
}

const TYPE: &str = "ridle";
const TTL: Duration = Duration::from_secs(1);

#[cached(prefix = "ridle", cache_type = "ridle", ttl = "1s")]
fn written_once(key: u64) -> u64 {
    key ^ 0x5555
}

/// The size and estimated bytes of the cache type.
fn occupancy() -> (usize, usize) {
    let c = memo::cache(TYPE).unwrap();
    let a = c.stats().activity;
    (a.size, a.estimated_bytes)
}

fn mib(bytes: isize) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

/// Whether `after` is back to `baseline`, within 5% plus 1 MiB.
fn near_baseline(after: isize, baseline: isize) -> bool {
    after <= baseline + baseline / 20 + (1 << 20)
}

#[test]
fn a_million_idle_keys_are_swept_and_memory_returns_to_baseline() {
    let keys = support::count(1_000_000, 1_000_000) as u64;
    let manual_keys = support::count(200_000, 1_000_000) as u64;
    let clock = ManualClock::new();
    let cache = memo::configure(
        TYPE,
        CacheConfig::builder()
            .capacity(keys as usize + manual_keys as usize + 1_000)
            .clock(&clock)
            .build()
            .unwrap(),
    )
    .unwrap();
    // Warm up: the function's store, the manual store, the housekeeper thread and the stats
    // exist before the baseline is taken; then they are empty again.
    written_once(u64::MAX);
    cache.insert_with_ttl("warm", 1_u64, TTL);
    clock.advance(TTL * 2);
    memo::sweep_expired();
    assert_eq!(occupancy(), (0, 0));
    let baseline = live();

    // Wave 1: a million keys through the function, never read again.
    let started = Instant::now();
    for key in 0..keys {
        written_once(key);
    }
    let write_secs = started.elapsed().as_secs_f64();
    let (size, bytes) = occupancy();
    assert_eq!(size, keys as usize);
    assert!(bytes > 0);
    let peak = live();
    clock.advance(TTL * 2);
    // Nothing reads: the background housekeeper (a sweep every 100 ms) must remove them.
    let swept_at = Instant::now();
    support::wait_until(Duration::from_secs(60), "the background sweep", || {
        occupancy().0 == 0
    });
    let sweep_secs = swept_at.elapsed().as_secs_f64();
    assert_eq!(occupancy(), (0, 0), "size and estimated bytes back to 0");
    let after = live();
    assert!(
        near_baseline(after, baseline),
        "live heap {} MiB after the sweep, baseline {} MiB (peak {} MiB)",
        mib(after),
        mib(baseline),
        mib(peak)
    );
    let f = support::activity("written_once");
    assert_eq!(f.evictions.expired, keys + 1);
    assert_eq!(f.hits, 0, "nothing was read");
    assert!(f.is_conserved(), "{f:?}");

    // Wave 2: through the manual API, removed by an explicit sweep.
    let baseline2 = live();
    for key in 0..manual_keys {
        cache.insert_with_ttl(&format!("idle:{key}"), key, TTL);
    }
    let peak2 = live();
    clock.advance(TTL * 2);
    memo::sweep_expired();
    support::wait_until(Duration::from_secs(60), "the explicit sweep", || {
        occupancy().0 == 0
    });
    let after2 = live();
    assert!(
        near_baseline(after2, baseline2),
        "live heap {} MiB after the manual sweep, baseline {} MiB (peak {} MiB)",
        mib(after2),
        mib(baseline2),
        mib(peak2)
    );
    let t = cache.stats().activity;
    assert!(t.is_conserved(), "{t:?}");
    assert_eq!(t.in_flight, 0);
    support::report(
        "idle",
        &[
            ("keys", &keys),
            ("manual_keys", &manual_keys),
            ("baseline_mib", &mib(baseline)),
            ("peak_mib", &mib(peak)),
            ("after_mib", &mib(after)),
            ("manual_peak_mib", &mib(peak2)),
            ("manual_after_mib", &mib(after2)),
            ("write_secs", &format!("{write_secs:.2}")),
            ("background_sweep_secs", &format!("{sweep_secs:.2}")),
        ],
    );
}
