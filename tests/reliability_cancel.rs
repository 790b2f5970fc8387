//! Reliability, item 3: async cancellation at every await point, through `#[cached]` async
//! functions. The computing future is dropped at each of its await points (by hand; by tokio's
//! `JoinHandle::abort`; by `tokio::select!` against a timer on tokio's paused clock), then the
//! computation that took over is dropped too, and waiters are dropped while they wait: a
//! waiter always takes over, every remaining caller gets one value, nothing stays in flight,
//! and nobody hangs (each test runs under a watchdog). No real time decides anything.

mod reliability_support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use memo::{CacheConfig, cached};
use reliability_support as support;

/// Await points in the body of `stepped`.
const STEPS: u32 = 4;

static RUNS: Mutex<Vec<(&'static str, u64, u64)>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

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

/// Pending once (waking itself), then ready: one await point.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

/// `STEPS` await points, then `key * 10 + run`.
async fn steps(function: &'static str, key: u64) -> u64 {
    let n = record_run(function, key);
    for _ in 0..STEPS {
        yield_once().await;
    }
    key * 10 + n
}

#[cached(prefix = "rc_steps", cache_type = "rc_steps")]
async fn stepped(key: u64) -> u64 {
    steps("stepped", key).await
}

#[cached(prefix = "rc_waiters", cache_type = "rc_steps")]
async fn stepped_waiters(key: u64) -> u64 {
    steps("stepped_waiters", key).await
}

#[cached(prefix = "rc_everyone", cache_type = "rc_steps")]
async fn stepped_everyone(key: u64) -> u64 {
    steps("stepped_everyone", key).await
}

/// Run 0 of a key stops for good at await point `key % (STEPS + 1)` (it is to be aborted);
/// later runs finish.
#[cached(prefix = "rc_abort", cache_type = "rc_abort")]
async fn abortable(key: u64) -> u64 {
    let n = record_run("abortable", key);
    let stop_at = key % u64::from(STEPS + 1);
    for step in 0..=u64::from(STEPS) {
        if n == 0 && step == stop_at {
            std::future::pending::<()>().await;
        }
        tokio::task::yield_now().await;
    }
    key * 10 + n
}

/// `STEPS` timer waits of 10 ms each, on tokio's clock.
#[cached(prefix = "rc_timed", cache_type = "rc_timed")]
async fn timed(key: u64) -> u64 {
    let n = record_run("timed", key);
    for _ in 0..STEPS {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    key * 10 + n
}

fn configure(name: &str) {
    memo::configure(
        name,
        CacheConfig::builder().capacity(100_000).build().unwrap(),
    )
    .unwrap();
}

type Call = Pin<Box<dyn Future<Output = u64> + Send>>;

fn poll_once(f: &mut Call) -> Poll<u64> {
    let waker = futures::task::noop_waker();
    f.as_mut().poll(&mut Context::from_waker(&waker))
}

/// Polls every future round-robin until all are ready (bounded: a hang fails).
fn finish_all(mut calls: Vec<Call>) -> Vec<u64> {
    let mut out = vec![None; calls.len()];
    for _ in 0..100_000 {
        for (i, c) in calls.iter_mut().enumerate() {
            if out[i].is_none() {
                if let Poll::Ready(v) = poll_once(c) {
                    out[i] = Some(v);
                }
            }
        }
        if out.iter().all(Option::is_some) {
            return out.into_iter().map(Option::unwrap).collect();
        }
    }
    panic!("hang: the remaining callers never completed");
}

fn check_clean(function: &str) {
    let a = support::activity(function);
    assert_eq!(a.in_flight, 0, "{function}: in-flight state leaked: {a:?}");
    assert!(a.is_conserved(), "{function}: {a:?}");
}

/// For every await point of the leader (and before its first poll), and for every await point
/// of the caller that takes over (or none): the leader is dropped there, a waiter is dropped
/// while it waits, the takeover is dropped at its point, and the two waiters left complete.
#[test]
fn dropping_the_computation_at_every_await_point_hands_over() {
    configure("rc_steps");
    let cases = support::within(Duration::from_secs(60), "manual cancellation", || {
        let mut key = 0;
        let mut cases = 0_u64;
        for leader_polls in 0..=STEPS {
            for takeover_polls in std::iter::once(None).chain((1..=STEPS).map(Some)) {
                key += 1;
                let mut leader: Call = Box::pin(stepped(key));
                for _ in 0..leader_polls {
                    assert!(poll_once(&mut leader).is_pending());
                }
                // Four waiters join (or, if the leader was never polled, one of them leads).
                let mut waiters: Vec<Call> =
                    (0..4).map(|_| Box::pin(stepped(key)) as Call).collect();
                for w in &mut waiters {
                    assert!(poll_once(w).is_pending());
                }
                drop(leader);
                // A waiter gives up while it waits.
                drop(waiters.pop());
                let mut expected_runs = u64::from(leader_polls > 0);
                if let Some(polls) = takeover_polls {
                    // The first waiter polled takes over (or led from the start, if the
                    // leader was never polled); it is dropped at its `polls`-th stop.
                    let mut takeover = waiters.remove(0);
                    let already = u32::from(leader_polls == 0);
                    for _ in already..polls {
                        assert!(poll_once(&mut takeover).is_pending());
                    }
                    drop(takeover);
                    expected_runs += 1;
                }
                let values = finish_all(waiters);
                expected_runs += 1;
                let run = runs_of("stepped", key) - 1;
                assert_eq!(runs_of("stepped", key), expected_runs, "key {key}");
                assert!(
                    values.iter().all(|v| *v == key * 10 + run),
                    "key {key}: {values:?}"
                );
                check_clean("stepped");
                assert_eq!(
                    futures::executor::block_on(stepped(key)),
                    key * 10 + run,
                    "later calls hit"
                );
                cases += 1;
            }
        }
        cases
    });
    support::report(
        "cancel",
        &[
            ("test", &"drop_at_every_await_point"),
            ("cases", &cases),
            ("await_points", &STEPS),
            ("cancellations", &(cases * 2)),
            ("hangs", &0),
        ],
    );
}

/// tokio: the computing task is aborted while stopped at each await point in turn, with 8
/// waiting tasks, on a multi-thread runtime; one waiting task is aborted too.
#[test]
fn aborting_the_computing_task_hands_over() {
    configure("rc_abort");
    let rounds = support::count(100, 2_000) as u64;
    support::within(Duration::from_secs(300), "tokio abort", move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            for key in 1..=rounds {
                let base = support::activity("abortable").coalesced_waits;
                let leader = tokio::spawn(abortable(key));
                while support::activity("abortable").in_flight == 0 {
                    tokio::task::yield_now().await;
                }
                let waiters: Vec<_> = (0..8).map(|_| tokio::spawn(abortable(key))).collect();
                while support::activity("abortable").coalesced_waits < base + 8 {
                    tokio::task::yield_now().await;
                }
                waiters[0].abort();
                leader.abort();
                assert!(leader.await.unwrap_err().is_cancelled());
                let mut values = Vec::new();
                for (i, w) in waiters.into_iter().enumerate() {
                    match w.await {
                        Ok(v) => values.push(v),
                        Err(e) => assert!(i == 0 && e.is_cancelled(), "{e}"),
                    }
                }
                assert!(values.len() >= 7);
                assert!(
                    values.iter().all(|v| *v == key * 10 + 1),
                    "key {key}: {values:?}"
                );
                assert_eq!(runs_of("abortable", key), 2, "key {key}");
                check_clean("abortable");
            }
        });
    });
    support::report(
        "cancel",
        &[
            ("test", &"tokio_abort"),
            ("rounds", &rounds),
            ("cancellations", &(rounds * 2)),
            ("hangs", &0),
        ],
    );
}

/// `tokio::select!` against a timer, on tokio's paused clock: the caller gives up at each await
/// point of the computation in turn (its deadline falls between two of the computation's
/// timer waits); a task that was waiting takes over. The clock is moved by hand with
/// `tokio::time::advance`.
#[test]
fn a_select_timeout_at_every_await_point_hands_over() {
    configure("rc_timed");
    let rounds = support::count(50, 1_000) as u64;
    support::within(Duration::from_secs(300), "select timeout", move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::pause();
            for key in 1..=rounds {
                let step = key % u64::from(STEPS);
                // Gives up 5 ms after the computation's `step`-th timer wait began.
                let patience = Duration::from_millis(10 * step + 5);
                let impatient = tokio::spawn(async move {
                    tokio::select! {
                        v = timed(key) => Some(v),
                        () = tokio::time::sleep(patience) => None,
                    }
                });
                tokio::task::yield_now().await;
                let waiter = tokio::spawn(timed(key));
                tokio::task::yield_now().await;
                // Move the clock in 1 ms steps, letting every task run after each.
                let mut given_up = None;
                for _ in 0..(10 * u64::from(STEPS) + 20) * 2 {
                    tokio::time::advance(Duration::from_millis(1)).await;
                    tokio::task::yield_now().await;
                    if given_up.is_none() && impatient.is_finished() {
                        given_up = Some(());
                    }
                    if waiter.is_finished() {
                        break;
                    }
                }
                assert_eq!(
                    impatient.await.unwrap(),
                    None,
                    "key {key}: the caller gave up"
                );
                assert!(given_up.is_some());
                let v = waiter.await.unwrap();
                assert_eq!(v, key * 10 + 1, "key {key}: the waiter took over");
                assert_eq!(runs_of("timed", key), 2);
                check_clean("timed");
            }
        });
    });
    support::report(
        "cancel",
        &[
            ("test", &"select_timer_paused_clock"),
            ("rounds", &rounds),
            ("cancellations", &rounds),
            ("hangs", &0),
        ],
    );
}

/// Waiters that give up (dropped while they wait) leave nothing behind: the computation
/// finishes, stores its value, and the waiters that stayed get it.
#[test]
fn dropped_waiters_leave_no_state() {
    configure("rc_steps");
    support::within(Duration::from_secs(60), "dropped waiters", || {
        for key in 10_000..10_100 {
            let mut leader: Call = Box::pin(stepped_waiters(key));
            assert!(poll_once(&mut leader).is_pending());
            let mut waiters: Vec<Call> = (0..6)
                .map(|_| Box::pin(stepped_waiters(key)) as Call)
                .collect();
            for w in &mut waiters {
                assert!(poll_once(w).is_pending());
            }
            // Every other waiter gives up.
            let kept: Vec<Call> = waiters
                .into_iter()
                .enumerate()
                .filter_map(|(i, w)| (i % 2 == 0).then_some(w))
                .collect();
            let mut all = vec![leader];
            all.extend(kept);
            let values = finish_all(all);
            assert_eq!(values, vec![key * 10; 4]);
            assert_eq!(runs_of("stepped_waiters", key), 1);
            check_clean("stepped_waiters");
        }
    });
}

/// Every caller of a key is dropped (the computation and all its waiters): the next call
/// starts afresh and nothing is left of the abandoned one.
#[test]
fn dropping_every_caller_leaves_no_state() {
    configure("rc_steps");
    support::within(Duration::from_secs(60), "everyone dropped", || {
        for key in 20_000..20_100 {
            let mut calls: Vec<Call> = (0..5)
                .map(|_| Box::pin(stepped_everyone(key)) as Call)
                .collect();
            for c in &mut calls {
                assert!(poll_once(c).is_pending());
            }
            drop(calls);
            check_clean("stepped_everyone");
            assert_eq!(
                futures::executor::block_on(stepped_everyone(key)),
                key * 10 + 1
            );
        }
    });
}
