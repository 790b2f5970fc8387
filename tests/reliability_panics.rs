//! Reliability, item 2: panicking computations, through `#[cached]` (sync functions, async
//! functions under tokio, `&self` methods). The computing caller panics while 16 waiters wait
//! for it; 1,000 computations in a row panic on one key while 16 callers keep asking. Only the
//! caller whose computation panicked sees the panic (every payload names the thread that
//! raised it, and only that thread may catch it); every waiter completes with the value of a
//! later computation; nothing stays in flight; later calls hit.

mod reliability_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::Duration;

use memo::{CacheConfig, cached};
use reliability_support as support;

const WAITERS: u64 = 16;

/// Runs per (function, key), and how many panics each function still has to inject.
static RUNS: Mutex<Vec<(&'static str, u64, u64)>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records a run; returns its number for this key (0 for the first).
fn record_run(function: &'static str, key: u64) -> u64 {
    let mut runs = lock(&RUNS);
    if let Some(r) = runs.iter_mut().find(|r| r.0 == function && r.1 == key) {
        r.2 += 1;
        return r.2 - 1;
    }
    runs.push((function, key, 1));
    0
}

fn runs_of(function: &'static str, key: u64) -> u64 {
    lock(&RUNS)
        .iter()
        .find(|r| r.0 == function && r.1 == key)
        .map_or(0, |r| r.2)
}

/// The waits (`coalesced_waits`) the first run of a key holds for before it panics, by function.
static HOLD_FOR: Mutex<Vec<(&'static str, u64)>> = Mutex::new(Vec::new());

fn hold_for(function: &'static str, waits: u64) {
    let mut targets = lock(&HOLD_FOR);
    targets.retain(|t| t.0 != function);
    targets.push((function, waits));
}

fn hold_target(function: &'static str) -> u64 {
    lock(&HOLD_FOR)
        .iter()
        .find(|t| t.0 == function)
        .map_or(0, |t| t.1)
}
/// How many first runs panic in the "in a row" tests (runs `0..PANICKING_RUNS` panic).
const PANICKING_RUNS: u64 = 1_000;

/// The body of the hand-over tests: the first run holds until the waiters wait, then panics.
fn first_run_panics(function: &'static str, key: u64) -> u64 {
    let n = record_run(function, key);
    if n == 0 {
        let target = hold_target(function);
        support::wait_until(Duration::from_secs(30), "the waiters", || {
            support::activity(function).coalesced_waits >= target
        });
        support::inject(key);
    }
    key * 10 + n
}

/// The waits counted when the previous run of the "in a row" tests panicked, by function.
static LAST_PANIC_WAITS: Mutex<Vec<(&'static str, u64)>> = Mutex::new(Vec::new());

/// Whether some caller has come to wait since the previous panic of `function` (so, nearly
/// always, on the run in progress); records the count if so.
fn waited_since_last_panic(function: &'static str) -> bool {
    let now = support::activity(function).coalesced_waits;
    let mut last = lock(&LAST_PANIC_WAITS);
    let previous = last.iter().find(|l| l.0 == function).map_or(0, |l| l.1);
    if now > previous {
        last.retain(|l| l.0 != function);
        last.push((function, now));
        true
    } else {
        false
    }
}

/// The body of the "in a row" tests: the first 1,000 runs of the key panic, each once another
/// caller has come to wait (bounded: the callers keep coming until they get a value).
fn first_thousand_panic(function: &'static str, key: u64) -> u64 {
    let n = record_run(function, key);
    if n < PANICKING_RUNS {
        support::wait_until(Duration::from_secs(30), "a waiter", || {
            waited_since_last_panic(function)
        });
        support::inject(n);
    }
    key * 10_000 + n
}

#[cached(prefix = "rp_sync", cache_type = "rp_sync")]
fn handover_sync(key: u64) -> u64 {
    first_run_panics("handover_sync", key)
}

#[cached(prefix = "rp_async", cache_type = "rp_async")]
async fn handover_async(key: u64) -> u64 {
    tokio::task::yield_now().await;
    // The first run blocks its worker until the waiters wait. `block_in_place` hands the tasks
    // queued on this worker (waiters among them) to another thread meanwhile: without it they
    // could stay queued behind the blocked task while the other worker sleeps, and the waiters
    // would never come.
    tokio::task::block_in_place(|| first_run_panics("handover_async", key))
}

struct Service;

// A service method as users write one: the body does not need `self` (not part of the key).
#[allow(clippy::unused_self)]
impl Service {
    #[cached(prefix = "rp_method", cache_type = "rp_method")]
    fn handover(&self, key: u64) -> u64 {
        first_run_panics("Service::handover", key)
    }
}

#[cached(prefix = "rp_row_sync", cache_type = "rp_row_sync")]
fn row_sync(key: u64) -> u64 {
    first_thousand_panic("row_sync", key)
}

#[cached(prefix = "rp_row_async", cache_type = "rp_row_async")]
async fn row_async(key: u64) -> u64 {
    // As `first_thousand_panic`, holding by yielding to the runtime (never blocking it).
    let function = "row_async";
    let n = record_run(function, key);
    if n < PANICKING_RUNS {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !waited_since_last_panic(function) {
            assert!(
                std::time::Instant::now() < deadline,
                "hang: a waiter within 30 s"
            );
            tokio::task::yield_now().await;
        }
        support::inject(n);
    }
    key * 10_000 + n
}

fn configure(name: &str) {
    memo::configure(
        name,
        CacheConfig::builder().capacity(100_000).build().unwrap(),
    )
    .unwrap();
}

/// What one caller saw: a value, or the injected panic (checked to be its own).
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Value(u64),
    OwnPanic,
}

/// Calls `f`, catching an injected panic, which must have been raised on this thread.
fn call(f: impl FnOnce() -> u64) -> Seen {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(v) => Seen::Value(v),
        Err(p) => {
            let i = support::injected(&*p)
                .unwrap_or_else(|| panic!("not an injected panic: {}", support::panic_text(&*p)));
            assert_eq!(
                i.thread,
                std::thread::current().id(),
                "a panic reached a caller whose computation did not raise it"
            );
            Seen::OwnPanic
        }
    }
}

fn rounds() -> u64 {
    support::count(100, 1_000) as u64
}

/// `rounds` keys, each called by 17 threads at once: the first computation panics once the 16
/// others wait, one waiter computes again, everyone else gets its value.
fn handover_with_threads(function: &'static str, cache_type: &str, f: fn(u64) -> u64) {
    support::quiet_injected_panics();
    configure(cache_type);
    let rounds = rounds();
    let barrier = Barrier::new(WAITERS as usize + 1);
    for key in 1..=rounds {
        hold_for(
            function,
            support::activity(function).coalesced_waits + WAITERS,
        );
        let seen: Vec<Seen> = std::thread::scope(|s| {
            let callers: Vec<_> = (0..=WAITERS)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        call(|| f(key))
                    })
                })
                .collect();
            callers.into_iter().map(|c| c.join().unwrap()).collect()
        });
        let panics = seen.iter().filter(|s| **s == Seen::OwnPanic).count();
        assert_eq!(panics, 1, "key {key}: {seen:?}");
        assert!(
            seen.iter()
                .all(|s| *s == Seen::OwnPanic || *s == Seen::Value(key * 10 + 1)),
            "key {key}: every waiter gets the takeover's value: {seen:?}"
        );
        assert_eq!(
            runs_of(function, key),
            2,
            "the panicking run and one takeover"
        );
        assert_eq!(
            call(|| f(key)),
            Seen::Value(key * 10 + 1),
            "later calls hit"
        );
    }
    let a = support::activity(function);
    assert_eq!(a.in_flight, 0, "{a:?}");
    assert!(a.is_conserved(), "{a:?}");
    // A computation that panicked did not finish: only the takeovers count as loads.
    assert_eq!(a.loads.count, rounds, "{a:?}");
    support::report(
        "panics",
        &[
            ("test", &"leader_panic_16_waiters"),
            ("function", &function),
            ("rounds", &rounds),
            ("panics_injected", &rounds),
            ("waiters_completed", &(rounds * WAITERS)),
            ("hangs", &0),
        ],
    );
}

#[test]
fn a_panicking_sync_leader_hands_over_to_one_of_sixteen_waiters() {
    support::within(Duration::from_secs(300), "sync hand-over", || {
        handover_with_threads("handover_sync", "rp_sync", handover_sync);
    });
}

#[test]
fn a_panicking_method_leader_hands_over_to_one_of_sixteen_waiters() {
    support::within(Duration::from_secs(300), "method hand-over", || {
        handover_with_threads("Service::handover", "rp_method", |k| Service.handover(k));
    });
}

#[test]
fn a_panicking_async_leader_hands_over_to_one_of_sixteen_waiting_tasks() {
    support::quiet_injected_panics();
    configure("rp_async");
    support::within(Duration::from_secs(300), "async hand-over", || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let rounds = rounds();
        for key in 1..=rounds {
            hold_for(
                "handover_async",
                support::activity("handover_async").coalesced_waits + WAITERS,
            );
            let (panics, values) = rt.block_on(async {
                let tasks: Vec<_> = (0..=WAITERS)
                    .map(|_| tokio::spawn(handover_async(key)))
                    .collect();
                let (mut panics, mut values) = (0, Vec::new());
                for t in tasks {
                    match t.await {
                        Ok(v) => values.push(v),
                        Err(e) => {
                            let p = e.into_panic();
                            assert!(
                                support::injected(&*p).is_some(),
                                "{}",
                                support::panic_text(&*p)
                            );
                            panics += 1;
                        }
                    }
                }
                (panics, values)
            });
            assert_eq!(panics, 1, "key {key}: only the computing task panics");
            assert_eq!(values, vec![key * 10 + 1; WAITERS as usize]);
            assert_eq!(runs_of("handover_async", key), 2);
            assert_eq!(rt.block_on(handover_async(key)), key * 10 + 1);
        }
        let a = support::activity("handover_async");
        assert_eq!(a.in_flight, 0, "{a:?}");
        assert!(a.is_conserved(), "{a:?}");
        support::report(
            "panics",
            &[
                ("test", &"leader_panic_16_waiters"),
                ("function", &"handover_async"),
                ("rounds", &rounds),
                ("panics_injected", &rounds),
                ("waiters_completed", &(rounds * WAITERS)),
                ("hangs", &0),
            ],
        );
    });
}

/// 17 threads ask for one key until they get a value; the first 1,000 computations panic.
#[test]
fn a_thousand_panicking_sync_leaders_in_a_row_leave_no_state() {
    support::quiet_injected_panics();
    configure("rp_row_sync");
    let seen_panics = support::within(Duration::from_secs(300), "1,000 panics in a row", || {
        let barrier = Barrier::new(WAITERS as usize + 1);
        let panics = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..=WAITERS {
                s.spawn(|| {
                    barrier.wait();
                    loop {
                        match call(|| row_sync(7)) {
                            Seen::OwnPanic => {
                                panics.fetch_add(1, Ordering::SeqCst);
                            }
                            Seen::Value(v) => {
                                assert_eq!(v, 7 * 10_000 + PANICKING_RUNS);
                                return;
                            }
                        }
                    }
                });
            }
        });
        panics.into_inner()
    });
    assert_eq!(
        seen_panics, PANICKING_RUNS,
        "each panic reached exactly one caller"
    );
    assert_eq!(runs_of("row_sync", 7), PANICKING_RUNS + 1);
    let a = support::activity("row_sync");
    assert_eq!((a.in_flight, a.size), (0, 1), "{a:?}");
    assert!(a.is_conserved(), "{a:?}");
    assert_eq!(row_sync(7), 7 * 10_000 + PANICKING_RUNS, "later calls hit");
    assert_eq!(runs_of("row_sync", 7), PANICKING_RUNS + 1);
    support::report(
        "panics",
        &[
            ("test", &"panicking_leaders_in_a_row"),
            ("function", &"row_sync"),
            ("callers", &(WAITERS + 1)),
            ("panics_injected", &PANICKING_RUNS),
            ("coalesced_waits", &a.coalesced_waits),
            ("hangs", &0),
        ],
    );
}

/// The same with 17 tokio tasks on a multi-thread runtime.
#[test]
fn a_thousand_panicking_async_leaders_in_a_row_leave_no_state() {
    support::quiet_injected_panics();
    configure("rp_row_async");
    let seen_panics = support::within(
        Duration::from_secs(300),
        "1,000 async panics in a row",
        || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap();
            rt.block_on(async {
                let tasks: Vec<_> = (0..=WAITERS)
                    .map(|_| {
                        tokio::spawn(async {
                            let mut panics = 0_u64;
                            loop {
                                // Each attempt is its own task, so a panic ends only that task.
                                match tokio::spawn(row_async(8)).await {
                                    Ok(v) => {
                                        assert_eq!(v, 8 * 10_000 + PANICKING_RUNS);
                                        return panics;
                                    }
                                    Err(e) => {
                                        let p = e.into_panic();
                                        assert!(support::injected(&*p).is_some());
                                        panics += 1;
                                    }
                                }
                            }
                        })
                    })
                    .collect();
                let mut total = 0;
                for t in tasks {
                    total += t.await.unwrap();
                }
                total
            })
        },
    );
    assert_eq!(
        seen_panics, PANICKING_RUNS,
        "each panic reached exactly one caller"
    );
    assert_eq!(runs_of("row_async", 8), PANICKING_RUNS + 1);
    let a = support::activity("row_async");
    assert_eq!((a.in_flight, a.size), (0, 1), "{a:?}");
    assert!(a.is_conserved(), "{a:?}");
    support::report(
        "panics",
        &[
            ("test", &"panicking_leaders_in_a_row"),
            ("function", &"row_async"),
            ("callers", &(WAITERS + 1)),
            ("panics_injected", &PANICKING_RUNS),
            ("coalesced_waits", &a.coalesced_waits),
            ("hangs", &0),
        ],
    );
}
