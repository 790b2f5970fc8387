//! Reliability, item 4: invalidation during a computation, through `#[cached]` with
//! `#[invalidates]` (exact and pattern, sync and async) and with `memo::invalidate` (exact and
//! a whole prefix) and a cache type's `clear`.
//!
//! Each repetition, on a fresh key: a computation reads version 1 of its source and is held; a
//! second caller joins it and waits; a writer moves the source to version 2 and invalidates
//! (`#[invalidates]` runs the body, then invalidates); a caller that starts after the writer
//! returned must get version 2 without waiting for the held computation; the held computation
//! then finishes (its own caller gets version 1, as it started before); the waiter that joined
//! before the invalidation started over and got version 2; a call after all that gets version
//! 2. 1,000 repetitions per kind in `cargo test`, 10,000 with `MEMO_SOAK=1`.
//!
//! A second family of tests runs readers and writers freely over a few keys: every read that
//! starts after an invalidation returned must see at least the version the writer published.

mod reliability_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use memo::{CacheConfig, cached, invalidates};
use reliability_support as support;

/// Holds the computation of one chosen key until released.
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

struct GateState {
    armed: Option<u64>,
    held: bool,
    released: bool,
}

impl Gate {
    const fn new() -> Self {
        Self {
            state: Mutex::new(GateState {
                armed: None,
                held: false,
                released: false,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn arm(&self, key: u64) {
        *self.lock() = GateState {
            armed: Some(key),
            held: false,
            released: false,
        };
    }

    /// Called by computations: the armed key's first computation stops here until released.
    fn pass(&self, key: u64) {
        let mut s = self.lock();
        if s.armed != Some(key) {
            return;
        }
        s.armed = None;
        s.held = true;
        self.changed.notify_all();
        while !s.released {
            s = self
                .changed
                .wait(s)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Waits until the armed computation is held (bounded).
    fn wait_held(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut s = self.lock();
        while !s.held {
            assert!(
                Instant::now() < deadline,
                "hang: the computation never started"
            );
            s = self
                .changed
                .wait_timeout(s, Duration::from_millis(100))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    fn release(&self) {
        self.lock().released = true;
        self.changed.notify_all();
    }
}

/// One kind of invalidation under test: its functions, source and gate.
struct Kind {
    name: &'static str,
    /// The cached function's stats name.
    function: &'static str,
    cache_type: &'static str,
    source: &'static AtomicU64,
    gate: &'static Gate,
    read: fn(u64) -> u64,
    /// Moves the source on and invalidates `key` (however this kind does it).
    write: fn(u64),
}

macro_rules! kind {
    ($module:ident, $prefix:tt, $ty:tt, $write_attr:meta) => {
        mod $module {
            use super::*;

            pub(super) static SOURCE: AtomicU64 = AtomicU64::new(1);
            pub(super) static GATE: Gate = Gate::new();

            #[cached(prefix = $prefix, cache_type = $ty)]
            pub(super) fn read(id: u64) -> u64 {
                let v = SOURCE.load(Ordering::SeqCst);
                GATE.pass(id);
                v
            }

            #[$write_attr]
            pub(super) fn write(id: u64) {
                let _ = id;
                SOURCE.fetch_add(1, Ordering::SeqCst);
            }
        }
    };
}

kind!(
    attr_exact,
    "rf_exact",
    "rf_exact",
    invalidates("rf_exact:{id}")
);
kind!(
    attr_pattern,
    "rf_pattern",
    "rf_pattern",
    invalidates("rf_pattern:{id}*")
);

/// Written by hand: the invalidation is `memo::invalidate` / `clear` after the source moved.
mod runtime_exact {
    use super::*;

    pub(super) static SOURCE: AtomicU64 = AtomicU64::new(1);
    pub(super) static GATE: Gate = Gate::new();

    #[cached(prefix = "rf_rexact", cache_type = "rf_rexact")]
    pub(super) fn read(id: u64) -> u64 {
        let v = SOURCE.load(Ordering::SeqCst);
        GATE.pass(id);
        v
    }

    pub(super) fn write(id: u64) {
        SOURCE.fetch_add(1, Ordering::SeqCst);
        assert!(memo::invalidate(&format!("rf_rexact:{id}")).unwrap() <= 1);
    }
}

mod runtime_prefix {
    use super::*;

    pub(super) static SOURCE: AtomicU64 = AtomicU64::new(1);
    pub(super) static GATE: Gate = Gate::new();

    #[cached(prefix = "rf_rprefix", cache_type = "rf_rprefix")]
    pub(super) fn read(id: u64) -> u64 {
        let v = SOURCE.load(Ordering::SeqCst);
        GATE.pass(id);
        v
    }

    pub(super) fn write(_id: u64) {
        SOURCE.fetch_add(1, Ordering::SeqCst);
        memo::invalidate("rf_rprefix:*").unwrap();
    }
}

mod type_clear {
    use super::*;

    pub(super) static SOURCE: AtomicU64 = AtomicU64::new(1);
    pub(super) static GATE: Gate = Gate::new();

    #[cached(prefix = "rf_clear", cache_type = "rf_clear")]
    pub(super) fn read(id: u64) -> u64 {
        let v = SOURCE.load(Ordering::SeqCst);
        GATE.pass(id);
        v
    }

    pub(super) fn write(_id: u64) {
        SOURCE.fetch_add(1, Ordering::SeqCst);
        memo::cache("rf_clear").unwrap().clear();
    }
}

/// Async: an async cached function and an async `#[invalidates]` writer.
mod async_exact {
    use super::*;

    pub(super) static SOURCE: AtomicU64 = AtomicU64::new(1);
    pub(super) static GATE: Gate = Gate::new();

    #[cached(prefix = "rf_async", cache_type = "rf_async")]
    pub(super) async fn read_async(id: u64) -> u64 {
        let v = SOURCE.load(Ordering::SeqCst);
        futures::future::ready(()).await;
        // Blocks the thread, which is the caller's own (`block_on`): fine here.
        GATE.pass(id);
        v
    }

    #[invalidates("rf_async:{id}")]
    pub(super) async fn write_async(id: u64) -> Result<(), String> {
        let _ = id;
        SOURCE.fetch_add(1, Ordering::SeqCst);
        futures::future::ready(()).await;
        Ok(())
    }

    pub(super) fn read(id: u64) -> u64 {
        futures::executor::block_on(read_async(id))
    }

    pub(super) fn write(id: u64) {
        futures::executor::block_on(write_async(id)).unwrap();
    }
}

macro_rules! kind_of {
    ($module:ident, $name:literal, $function:literal, $ty:literal) => {
        Kind {
            name: $name,
            function: $function,
            cache_type: $ty,
            source: &$module::SOURCE,
            gate: &$module::GATE,
            read: $module::read,
            write: $module::write,
        }
    };
}

/// What one kind's repetitions saw.
#[derive(Debug, Default)]
struct Tally {
    reads_checked: u64,
    stale: u64,
    waited_on_stale: u64,
}

/// One repetition on `key`; panics at the first stale read.
fn repetition(kind: &Kind, key: u64, tally: &mut Tally) {
    let read = kind.read;
    kind.gate.arm(key);
    let waits = support::activity(kind.function).coalesced_waits;
    std::thread::scope(|s| {
        let held = s.spawn(move || read(key));
        kind.gate.wait_held();
        let v1 = kind.source.load(Ordering::SeqCst);
        // A caller joins the held computation and waits for it.
        let joined = s.spawn(move || read(key));
        support::wait_until(Duration::from_secs(30), "the joining caller", || {
            support::activity(kind.function).coalesced_waits > waits
        });
        (kind.write)(key);
        let v2 = kind.source.load(Ordering::SeqCst);
        assert!(v2 > v1);
        // A call that starts now: it must not wait for the held (fenced) computation.
        let after = s.spawn(move || read(key));
        let finished = support::wait_for(Duration::from_secs(10), || {
            after.is_finished() && joined.is_finished()
        });
        if !finished {
            tally.waited_on_stale += 1;
        }
        kind.gate.release();
        let held_value = held.join().unwrap();
        let after_value = after.join().unwrap();
        let joined_value = joined.join().unwrap();
        let later = read(key);
        assert_eq!(held_value, v1, "the held computation returns what it read");
        for (who, v) in [
            ("after", after_value),
            ("joined", joined_value),
            ("later", later),
        ] {
            tally.reads_checked += 1;
            if v < v2 {
                tally.stale += 1;
                panic!(
                    "{}: key {key}: the {who} call saw version {v} after the invalidation of \
                     version {v1} returned (source now {v2})",
                    kind.name
                );
            }
        }
        assert!(
            finished,
            "{}: key {key}: a call waited for the fenced computation",
            kind.name
        );
    });
}

fn run_kind(kind: &'static Kind) {
    memo::configure(
        kind.cache_type,
        CacheConfig::builder().capacity(100_000).build().unwrap(),
    )
    .unwrap();
    let repetitions = support::count(1_000, 10_000) as u64;
    let started = Instant::now();
    let tally = support::within(Duration::from_secs(900), kind.name, move || {
        let mut tally = Tally::default();
        for key in 1..=repetitions {
            repetition(kind, key, &mut tally);
        }
        tally
    });
    let a = support::activity(kind.function);
    assert_eq!(a.in_flight, 0, "{a:?}");
    assert!(a.is_conserved(), "{a:?}");
    support::report(
        "fencing",
        &[
            ("test", &"held_computation"),
            ("kind", &kind.name),
            ("repetitions", &repetitions),
            ("reads_checked", &tally.reads_checked),
            ("stale", &tally.stale),
            ("waited_on_fenced", &tally.waited_on_stale),
            ("secs", &format!("{:.2}", started.elapsed().as_secs_f64())),
        ],
    );
}

static ATTR_EXACT: Kind = kind_of!(attr_exact, "attr_exact", "attr_exact::read", "rf_exact");
static ATTR_PATTERN: Kind = kind_of!(
    attr_pattern,
    "attr_pattern",
    "attr_pattern::read",
    "rf_pattern"
);
static RUNTIME_EXACT: Kind = kind_of!(
    runtime_exact,
    "runtime_exact",
    "runtime_exact::read",
    "rf_rexact"
);
static RUNTIME_PREFIX: Kind = kind_of!(
    runtime_prefix,
    "runtime_prefix",
    "runtime_prefix::read",
    "rf_rprefix"
);
static TYPE_CLEAR: Kind = kind_of!(type_clear, "type_clear", "type_clear::read", "rf_clear");
static ASYNC_EXACT: Kind = kind_of!(
    async_exact,
    "async_attr_exact",
    "async_exact::read_async",
    "rf_async"
);

#[test]
fn an_exact_invalidates_fences_a_held_computation() {
    run_kind(&ATTR_EXACT);
}

#[test]
fn a_pattern_invalidates_fences_a_held_computation() {
    run_kind(&ATTR_PATTERN);
}

#[test]
fn an_exact_memo_invalidate_fences_a_held_computation() {
    run_kind(&RUNTIME_EXACT);
}

#[test]
fn a_prefix_memo_invalidate_fences_a_held_computation() {
    run_kind(&RUNTIME_PREFIX);
}

#[test]
fn clearing_the_cache_type_fences_a_held_computation() {
    run_kind(&TYPE_CLEAR);
}

#[test]
fn an_async_invalidates_fences_a_held_async_computation() {
    run_kind(&ASYNC_EXACT);
}

/// Keys of the free-running tests, each with its own version.
const KEYS: usize = 8;

/// One free-running family: sources and published versions per key.
struct Free {
    sources: [AtomicU64; KEYS],
    published: [AtomicU64; KEYS],
}

impl Free {
    const fn new() -> Self {
        Self {
            sources: [const { AtomicU64::new(1) }; KEYS],
            published: [const { AtomicU64::new(1) }; KEYS],
        }
    }

    /// A computation: reads the version, yields a few times (to let writers in), returns it.
    fn compute(&self, key: u64) -> u64 {
        let v = self.sources[key as usize].load(Ordering::SeqCst);
        for _ in 0..3 {
            std::thread::yield_now();
        }
        (key << 32) | v
    }
}

static FREE_EXACT: Free = Free::new();
static FREE_PATTERN: Free = Free::new();
static FREE_CLEAR: Free = Free::new();

#[cached(prefix = "rf_free_exact", cache_type = "rf_free_exact")]
fn free_exact(key: u64) -> u64 {
    FREE_EXACT.compute(key)
}

#[invalidates("rf_free_exact:{key}")]
fn free_exact_write(key: u64) {
    FREE_EXACT.sources[key as usize].fetch_add(1, Ordering::SeqCst);
}

#[cached(prefix = "rf_free_pattern", cache_type = "rf_free_pattern")]
fn free_pattern(key: u64) -> u64 {
    FREE_PATTERN.compute(key)
}

#[invalidates("rf_free_pattern:[{key}]")]
fn free_pattern_write(key: u64) {
    FREE_PATTERN.sources[key as usize].fetch_add(1, Ordering::SeqCst);
}

#[cached(prefix = "rf_free_clear", cache_type = "rf_free_clear")]
fn free_clear(key: u64) -> u64 {
    FREE_CLEAR.compute(key)
}

fn free_clear_write(key: u64) {
    FREE_CLEAR.sources[key as usize].fetch_add(1, Ordering::SeqCst);
    memo::cache("rf_free_clear").unwrap().clear();
}

/// Four readers and one writer over `KEYS` keys; returns (reads checked, writes).
fn free_running(
    name: &str,
    free: &'static Free,
    read: fn(u64) -> u64,
    write: fn(u64),
) -> (u64, u64) {
    let writes = support::count(2_000, 20_000) as u64;
    let done = AtomicU64::new(0);
    let checked = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..4_u64 {
            let (done, checked) = (&done, &checked);
            s.spawn(move || {
                let mut rng = support::Rng::new(t + 1);
                while done.load(Ordering::SeqCst) == 0 {
                    let key = rng.below(KEYS as u64);
                    let floor = free.published[key as usize].load(Ordering::SeqCst);
                    let v = read(key);
                    assert_eq!(v >> 32, key, "{name}: a value of another key");
                    assert!(
                        v & 0xffff_ffff >= floor,
                        "{name}: key {key}: read version {} after version {floor} was published",
                        v & 0xffff_ffff
                    );
                    checked.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let mut rng = support::Rng::new(99);
        for _ in 0..writes {
            let key = rng.below(KEYS as u64);
            write(key);
            // The write's invalidation has returned: publish the version it wrote.
            let v = free.sources[key as usize].load(Ordering::SeqCst);
            free.published[key as usize].fetch_max(v, Ordering::SeqCst);
            std::thread::yield_now();
        }
        done.store(1, Ordering::SeqCst);
    });
    (checked.into_inner(), writes)
}

fn run_free(
    name: &'static str,
    function: &'static str,
    free: &'static Free,
    read: fn(u64) -> u64,
    write: fn(u64),
) {
    let (checked, writes) = support::within(Duration::from_secs(600), name, move || {
        free_running(name, free, read, write)
    });
    let a = support::activity(function);
    assert_eq!(a.in_flight, 0, "{a:?}");
    assert!(a.is_conserved(), "{a:?}");
    support::report(
        "fencing",
        &[
            ("test", &"free_running"),
            ("kind", &name),
            ("writes", &writes),
            ("reads_checked", &checked),
            ("stale", &0),
            ("wrong_key", &0),
        ],
    );
}

#[test]
fn free_running_readers_never_see_a_version_older_than_an_exact_invalidation() {
    run_free(
        "free_exact",
        "free_exact",
        &FREE_EXACT,
        free_exact,
        free_exact_write,
    );
}

#[test]
fn free_running_readers_never_see_a_version_older_than_a_pattern_invalidation() {
    run_free(
        "free_pattern",
        "free_pattern",
        &FREE_PATTERN,
        free_pattern,
        free_pattern_write,
    );
}

#[test]
fn free_running_readers_never_see_a_version_older_than_a_clear() {
    run_free(
        "free_clear",
        "free_clear",
        &FREE_CLEAR,
        free_clear,
        free_clear_write,
    );
}
