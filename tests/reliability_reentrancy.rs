//! Reliability, item 6: re-entrancy through `#[cached]`. Recursive `fib(90)`; functions that
//! call each other (and themselves on other keys) thousands of levels deep in a cache type so
//! small that it has one shard per store and evicts all the time, from several threads at once;
//! a computation that uses the manual API of its own cache type; values whose `Drop` calls into
//! memo, evicted or dropped unstored by a computation fenced off; and same-key recursion, direct,
//! indirect and async, which must panic at once with the documented `recursive call on key`
//! message naming the key (each under a watchdog: a hang fails the test).

mod reliability_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use memo::{CacheConfig, cached};
use reliability_support as support;

static FIB_RUNS: AtomicU64 = AtomicU64::new(0);

#[cached(prefix = "rr_fib", cache_type = "rr_fib")]
fn fib(n: u64) -> u64 {
    FIB_RUNS.fetch_add(1, Ordering::SeqCst);
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

#[test]
fn recursive_fib_90_goes_through_the_cache() {
    let v = support::within(Duration::from_secs(30), "fib(90)", || fib(90));
    assert_eq!(v, 2_880_067_194_370_816_120);
    assert_eq!(FIB_RUNS.load(Ordering::SeqCst), 91, "each n computed once");
    assert_eq!(fib(90), v);
    let a = support::activity("fib");
    assert_eq!((a.in_flight, a.size), (0, 91), "{a:?}");
    assert!(a.is_conserved(), "{a:?}");
    support::report(
        "reentrancy",
        &[("test", &"fib_90"), ("depth", &90), ("hangs", &0)],
    );
}

/// Capacity below 1,024: one shard per store, and constant evictions.
const SMALL: usize = 64;

#[cached(prefix = "rr_ping", cache_type = "rr_small")]
fn ping(n: u64) -> u64 {
    if n == 0 { 0 } else { pong(n - 1) + 1 }
}

#[cached(prefix = "rr_pong", cache_type = "rr_small")]
fn pong(n: u64) -> u64 {
    if n == 0 { 0 } else { ping(n - 1) + 1 }
}

#[cached(prefix = "rr_chain", cache_type = "rr_small")]
fn chain(n: u64) -> u64 {
    if n == 0 { 0 } else { chain(n - 1) + 1 }
}

fn small_type() {
    memo::configure(
        "rr_small",
        CacheConfig::builder().capacity(SMALL).build().unwrap(),
    )
    .unwrap();
}

/// Two functions sharing a one-shard cache type call each other 2,000 levels deep, and a
/// function calls itself on other keys as deep, from four threads at once: the type is full
/// all along, so every store made evicts from the others while their computations run.
#[test]
fn functions_calling_each_other_in_a_full_one_shard_cache_type() {
    small_type();
    let depth = support::count(2_000, 5_000) as u64;
    support::within(Duration::from_secs(120), "mutual recursion", move || {
        std::thread::scope(|s| {
            for t in 0..4_u64 {
                std::thread::Builder::new()
                    .stack_size(256 << 20)
                    .spawn_scoped(s, move || {
                        for round in 0..3 {
                            let n = depth - t * 7 - round;
                            assert_eq!(ping(n), n);
                            assert_eq!(pong(n), n);
                            assert_eq!(chain(n), n);
                        }
                    })
                    .unwrap();
            }
        });
    });
    let stats = memo::stats();
    let ty = stats.cache_type("rr_small").unwrap();
    assert!(ty.activity.size <= SMALL, "{:?}", ty.activity);
    assert!(ty.activity.evictions.capacity > 0);
    assert_eq!(ty.activity.in_flight, 0);
    assert!(ty.activity.is_conserved(), "{:?}", ty.activity);
    support::report(
        "reentrancy",
        &[
            ("test", &"mutual_recursion_one_shard"),
            ("depth", &depth),
            ("threads", &4),
            ("evictions", &ty.activity.evictions.capacity),
            ("hangs", &0),
        ],
    );
}

/// Calls through an evicted value's `Drop` left to make (each makes one more call, which evicts
/// again).
static DROP_BUDGET: AtomicU64 = AtomicU64::new(0);
static DROPS_THAT_CALLED: AtomicU64 = AtomicU64::new(0);

/// A value whose `Drop` calls the cached function that made it, on a new key.
#[derive(Clone)]
struct CallsBackOnDrop(u64);

impl Drop for CallsBackOnDrop {
    fn drop(&mut self) {
        let spent =
            DROP_BUDGET.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1));
        if spent.is_ok() {
            DROPS_THAT_CALLED.fetch_add(1, Ordering::SeqCst);
            let _again = calls_back(1_000_000 + self.0);
        }
    }
}

#[cached(prefix = "rr_drop", cache_type = "rr_drop")]
fn calls_back(n: u64) -> CallsBackOnDrop {
    CallsBackOnDrop(n)
}

/// An entry evicted to make room is dropped after the shard's lock is released: in a cache
/// type of one entry every store evicts, and each evicted value's `Drop` calls the function
/// again (which would wait forever on the lock its own store holds).
#[test]
fn an_evicted_value_may_call_its_function_from_drop() {
    memo::configure(
        "rr_drop",
        CacheConfig::builder().capacity(1).build().unwrap(),
    )
    .unwrap();
    DROP_BUDGET.store(500, Ordering::SeqCst);
    support::within(
        Duration::from_secs(30),
        "call from an evicted value's drop",
        || {
            for n in 0..200 {
                assert_eq!(calls_back(n).0, n);
            }
        },
    );
    assert_eq!(
        DROP_BUDGET.load(Ordering::SeqCst),
        0,
        "every drop budgeted made its call"
    );
    assert_eq!(DROPS_THAT_CALLED.load(Ordering::SeqCst), 500);
    let a = support::activity("calls_back");
    assert!(a.evictions.capacity >= 200, "{a:?}");
    assert_eq!((a.in_flight, a.size), (0, 1), "{a:?}");
    assert!(a.is_conserved(), "{a:?}");
}

/// How many [`StatsOnDrop`] values of [`fenced`] (keyed `1`) were dropped.
static FENCED_DROPS: AtomicU64 = AtomicU64::new(0);

/// A value whose `Drop` reads the stats (which reads every shard under its lock), as a metrics
/// hook might.
#[derive(Clone)]
struct StatsOnDrop(u64);

impl Drop for StatsOnDrop {
    fn drop(&mut self) {
        let _stats = memo::stats();
        if self.0 == 1 {
            FENCED_DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The channels a computation reports its start on and waits on to finish.
type Gate = (mpsc::Sender<()>, mpsc::Receiver<()>);

/// Holds the next computation of [`fenced`] between its start and its end.
static FENCED_GATE: Mutex<Option<Gate>> = Mutex::new(None);

fn hold_at_gate(gate: &Mutex<Option<Gate>>) {
    let taken = gate.lock().unwrap().take();
    if let Some((started, go)) = taken {
        started.send(()).unwrap();
        go.recv().unwrap();
    }
}

#[cached(prefix = "rr_fenced", cache_type = "rr_fenced")]
fn fenced(n: u64) -> StatsOnDrop {
    hold_at_gate(&FENCED_GATE);
    StatsOnDrop(n)
}

/// Runs `compute` on a thread of its own, holds it mid-flight at `gate` while `fence` runs,
/// then lets it finish (its value, fenced off, is dropped unstored) and returns what it
/// returned.
fn fenced_run(
    gate: &'static Mutex<Option<Gate>>,
    compute: impl FnOnce() -> u64 + Send + 'static,
    fence: impl FnOnce(),
) -> u64 {
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel();
    *gate.lock().unwrap() = Some((started_tx, go_rx));
    let leader = std::thread::spawn(compute);
    started_rx.recv().unwrap();
    fence();
    go_tx.send(()).unwrap();
    support::within(
        Duration::from_secs(30),
        "a fenced computation drops its value",
        move || leader.join().unwrap(),
    )
}

/// A computation fenced off by an invalidation does not store its value; the value is dropped
/// after the shard's lock is released, so its `Drop` may call into memo (it waited forever on
/// the lock its own thread held).
#[test]
fn a_fenced_computations_value_may_call_into_memo_from_drop() {
    let v = fenced_run(
        &FENCED_GATE,
        || fenced(1).0,
        || assert_eq!(memo::invalidate("rr_fenced:1").unwrap(), 0),
    );
    assert_eq!(v, 1);
    // The unstored copy and the returned value.
    assert_eq!(FENCED_DROPS.load(Ordering::SeqCst), 2);
    let a = support::activity("fenced");
    assert_eq!((a.in_flight, a.size), (0, 0), "{a:?}");
}

static MANUAL_FENCED_GATE: Mutex<Option<Gate>> = Mutex::new(None);

/// The same through the manual API, fenced off by `remove`.
#[test]
fn a_fenced_manual_computations_value_may_call_into_memo_from_drop() {
    let v = fenced_run(
        &MANUAL_FENCED_GATE,
        || {
            let cache = memo::cache("rr_fenced_manual").unwrap();
            cache
                .get_or_insert_with("k", || {
                    hold_at_gate(&MANUAL_FENCED_GATE);
                    StatsOnDrop(2)
                })
                .0
        },
        || {
            let cache = memo::cache("rr_fenced_manual").unwrap();
            assert!(!cache.remove("k"), "nothing stored yet");
        },
    );
    assert_eq!(v, 2);
    let cache = memo::cache("rr_fenced_manual").unwrap();
    assert!(!cache.contains("k"), "the fenced value is not stored");
}

/// A computation that stores through the manual API of its own cache type, whose handle's
/// computation calls the function again on another key.
#[cached(prefix = "rr_manual", cache_type = "rr_manual")]
fn through_manual(n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let cache = memo::cache("rr_manual").unwrap();
    cache.get_or_insert_with(&format!("m{n}"), || through_manual(n - 1) + 1)
}

#[test]
fn a_computation_may_use_the_manual_api_of_its_own_cache_type() {
    memo::configure(
        "rr_manual",
        CacheConfig::builder().capacity(100).build().unwrap(),
    )
    .unwrap();
    let v = support::within(Duration::from_secs(30), "manual re-entrancy", || {
        through_manual(500)
    });
    assert_eq!(v, 500);
    let stats = memo::stats();
    let ty = stats.cache_type("rr_manual").unwrap();
    assert_eq!(ty.activity.in_flight, 0);
    assert!(ty.activity.is_conserved(), "{:?}", ty.activity);
}

#[cached(prefix = "rr_self")]
fn selfish(n: u64) -> u64 {
    selfish(n) + 1
}

#[cached(prefix = "rr_a")]
fn indirect_a(n: u64) -> u64 {
    indirect_b(n) + 1
}

#[cached(prefix = "rr_b")]
fn indirect_b(n: u64) -> u64 {
    if n == 0 { 0 } else { indirect_a(n) + 1 }
}

#[cached(prefix = "rr_async_self")]
async fn async_selfish(n: u64) -> u64 {
    Box::pin(async_selfish(n)).await + 1
}

/// Runs `f` under a watchdog and returns its panic message (it must panic).
fn panic_message(what: &str, f: impl FnOnce() -> u64 + Send + 'static) -> String {
    let out = support::within(Duration::from_secs(10), what, move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
    });
    match out {
        Ok(v) => panic!("{what}: returned {v} instead of panicking"),
        Err(p) => support::panic_text(&*p),
    }
}

#[test]
fn same_key_recursion_panics_with_the_documented_message() {
    let msg = panic_message("direct recursion", || selfish(7));
    assert!(msg.contains("recursive call on key `rr_self:7`"), "{msg}");
    // Nothing is left in flight, and the function still works on other calls (which recurse
    // again, and panic again).
    assert_eq!(support::activity("selfish").in_flight, 0);
    let again = panic_message("direct recursion again", || selfish(7));
    assert!(
        again.contains("recursive call on key `rr_self:7`"),
        "{again}"
    );
}

#[test]
fn indirect_same_key_recursion_panics_with_the_documented_message() {
    let msg = panic_message("indirect recursion", || indirect_a(3));
    assert!(msg.contains("recursive call on key `rr_a:3`"), "{msg}");
    assert_eq!(support::activity("indirect_a").in_flight, 0);
    assert_eq!(support::activity("indirect_b").in_flight, 0);
    // Other keys that do not recurse work.
    assert_eq!(indirect_b(0), 0);
}

#[test]
fn async_same_key_recursion_panics_with_the_documented_message() {
    let msg = panic_message("async recursion", || {
        futures::executor::block_on(async_selfish(5))
    });
    assert!(
        msg.contains("recursive call on key `rr_async_self:5`"),
        "{msg}"
    );
    assert_eq!(support::activity("async_selfish").in_flight, 0);
    support::report(
        "reentrancy",
        &[
            ("test", &"same_key_recursion"),
            ("cases", &3),
            ("hangs", &0),
        ],
    );
}
