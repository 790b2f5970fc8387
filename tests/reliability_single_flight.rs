//! Reliability, item 1: single-flight under load, through `#[cached]`. 64 threads and 512 async
//! tasks (tokio multi-thread, and a `futures` `LocalPool`) call one cold key at once, for a sync
//! function, an async function and `&self` methods: the body runs exactly once per key and every
//! caller gets the value of that one run. Repeated over many keys (250 in `cargo test`, 2,000
//! with `MEMO_SOAK=1`).
//!
//! Each run returns `key * 1000 + n`, `n` being how many runs the key had before, so two runs of
//! one key would hand different values to their callers. The run holds (yielding) until the
//! stats show every other caller waiting on it, so the callers really overlap; ordering comes
//! from barriers and the counters, never from sleeping.

mod reliability_support;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use memo::{CacheConfig, cached};
use reliability_support as support;

const THREADS: usize = 64;
const TASKS: usize = 512;
/// Longest a run holds waiting for the other callers (only reached if something is wrong).
const HOLD_LIMIT: Duration = Duration::from_secs(10);

type BoxFuture = Pin<Box<dyn Future<Output = u64> + Send>>;

/// Runs per (function, key).
static RUNS: Mutex<Option<HashMap<(&'static str, u64), u64>>> = Mutex::new(None);

/// The number of waits (`coalesced_waits`) each function's current run holds for.
static TARGETS: Mutex<Vec<(&'static str, u64)>> = Mutex::new(Vec::new());

/// Runs that gave up holding (the other callers never all waited).
static HOLD_TIMEOUTS: AtomicU64 = AtomicU64::new(0);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records a run of `key` and returns its number (0 for the first).
fn record_run(function: &'static str, key: u64) -> u64 {
    let mut runs = lock(&RUNS);
    let n = runs
        .get_or_insert_with(HashMap::new)
        .entry((function, key))
        .or_insert(0);
    *n += 1;
    *n - 1
}

fn runs_of(function: &'static str, key: u64) -> u64 {
    lock(&RUNS)
        .as_ref()
        .and_then(|r| r.get(&(function, key)).copied())
        .unwrap_or(0)
}

fn target(function: &'static str) -> u64 {
    lock(&TARGETS)
        .iter()
        .find(|(f, _)| *f == function)
        .map_or(0, |(_, t)| *t)
}

fn set_target(function: &'static str, waits: u64) {
    let mut targets = lock(&TARGETS);
    match targets.iter_mut().find(|(f, _)| *f == function) {
        Some((_, t)) => *t = waits,
        None => targets.push((function, waits)),
    }
}

fn all_waiting(function: &'static str) -> bool {
    support::activity(function).coalesced_waits >= target(function)
}

/// The body of the sync functions: record, hold until every other caller waits, answer.
fn body(function: &'static str, key: u64) -> u64 {
    let n = record_run(function, key);
    if !support::wait_for(HOLD_LIMIT, || all_waiting(function)) {
        eprintln!(
            "HOLD TIMEOUT {function} key {key} target {} have {}",
            target(function),
            support::activity(function).coalesced_waits
        );
        HOLD_TIMEOUTS.fetch_add(1, Ordering::SeqCst);
    }
    key * 1000 + n
}

/// A future that is pending once (waking itself), then ready: lets other tasks run.
async fn yield_now() {
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

/// The body of the async functions, holding by yielding to the executor.
async fn async_body(function: &'static str, key: u64) -> u64 {
    let n = record_run(function, key);
    let deadline = Instant::now() + HOLD_LIMIT;
    while !all_waiting(function) {
        if Instant::now() >= deadline {
            eprintln!(
                "ASYNC HOLD TIMEOUT {function} key {key} target {} have {}",
                target(function),
                support::activity(function).coalesced_waits
            );
            HOLD_TIMEOUTS.fetch_add(1, Ordering::SeqCst);
            break;
        }
        yield_now().await;
    }
    key * 1000 + n
}

#[cached(prefix = "rsf_sync", cache_type = "rsf_sync")]
fn sync_value(key: u64) -> u64 {
    body("reliability_single_flight::sync_value", key)
}

#[cached(prefix = "rsf_async", cache_type = "rsf_async")]
async fn async_value(key: u64) -> u64 {
    async_body("reliability_single_flight::async_value", key).await
}

#[cached(prefix = "rsf_local", cache_type = "rsf_local")]
async fn local_value(key: u64) -> u64 {
    async_body("reliability_single_flight::local_value", key).await
}

/// A service struct: `&self` is not part of the key.
struct Service {
    #[allow(dead_code)] // only there to make `self` a real receiver
    name: &'static str,
}

static SERVICE: Service = Service { name: "svc" };

// A service method as users write one: the body does not need `self` (not part of the key).
#[allow(clippy::unused_self)]
impl Service {
    #[cached(prefix = "rsf_method", cache_type = "rsf_method")]
    fn value(&self, key: u64) -> u64 {
        body("Service::value", key)
    }

    #[cached(prefix = "rsf_amethod", cache_type = "rsf_amethod")]
    async fn async_value(&self, key: u64) -> u64 {
        async_body("Service::async_value", key).await
    }
}

/// How the callers of one load test call the function.
#[derive(Clone, Copy)]
struct Load {
    /// The stats name of the function.
    function: &'static str,
    cache_type: &'static str,
    /// The key range's start (keys are `first..first + keys`).
    first: u64,
    /// Blocking callers (threads): a sync call, or `block_on` of the async one.
    threads: usize,
    sync_call: Option<fn(u64) -> u64>,
    /// Async callers, as tokio tasks on a multi-thread runtime.
    tasks: usize,
    async_call: Option<fn(u64) -> BoxFuture>,
}

/// Runs `keys` rounds of `load`, one cold key per round; returns the calls made.
fn run(load: Load, keys: usize) -> u64 {
    memo::configure(
        load.cache_type,
        CacheConfig::builder().capacity(100_000).build().unwrap(),
    )
    .unwrap();
    let started = Instant::now();
    let callers = (load.threads + load.tasks) as u64;
    let runtime = (load.tasks > 0).then(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
    });
    let key_now = AtomicU64::new(0);
    let results: Vec<AtomicU64> = (0..load.threads).map(|_| AtomicU64::new(0)).collect();
    let barrier = Barrier::new(load.threads + 1);
    std::thread::scope(|s| {
        for result in &results {
            let (barrier, key_now) = (&barrier, &key_now);
            s.spawn(move || {
                loop {
                    barrier.wait();
                    let key = key_now.load(Ordering::SeqCst);
                    if key == u64::MAX {
                        return;
                    }
                    let v = match (load.sync_call, load.async_call) {
                        (Some(call), _) => call(key),
                        (None, Some(call)) => futures::executor::block_on(call(key)),
                        (None, None) => unreachable!("a load has a call"),
                    };
                    result.store(v, Ordering::SeqCst);
                    barrier.wait();
                }
            });
        }
        for key in load.first..load.first + keys as u64 {
            let base = support::activity(load.function).coalesced_waits;
            set_target(load.function, base + callers - 1);
            key_now.store(key, Ordering::SeqCst);
            if load.threads > 0 {
                barrier.wait();
            }
            let task_values: Vec<u64> = match (&runtime, load.async_call) {
                (Some(rt), Some(call)) => rt.block_on(async {
                    let handles: Vec<_> =
                        (0..load.tasks).map(|_| tokio::spawn(call(key))).collect();
                    let mut values = Vec::with_capacity(handles.len());
                    for h in handles {
                        values.push(h.await.unwrap());
                    }
                    values
                }),
                _ => Vec::new(),
            };
            if load.threads > 0 {
                barrier.wait();
            }
            check_round(load, key, &results, &task_values);
        }
        key_now.store(u64::MAX, Ordering::SeqCst);
        if load.threads > 0 {
            barrier.wait();
        }
    });
    finish(load, keys, started)
}

/// Checks one round: one run for the key, and its value for every caller.
fn check_round(load: Load, key: u64, results: &[AtomicU64], task_values: &[u64]) {
    let expected = key * 1000;
    assert_eq!(
        runs_of(load.function, key),
        1,
        "{}: key {key} ran more than once",
        load.function
    );
    for r in results {
        assert_eq!(
            r.load(Ordering::SeqCst),
            expected,
            "{}: a thread got another run's value",
            load.function
        );
    }
    for &v in task_values {
        assert_eq!(
            v, expected,
            "{}: a task got another run's value",
            load.function
        );
    }
}

/// The checks after all rounds, and the summary line; returns the calls made.
fn finish(load: Load, keys: usize, started: Instant) -> u64 {
    let callers = (load.threads + load.tasks) as u64;
    let a = support::activity(load.function);
    assert_eq!(
        HOLD_TIMEOUTS.load(Ordering::SeqCst),
        0,
        "a run waited in vain for its callers"
    );
    assert_eq!(a.loads.count, keys as u64, "{a:?}");
    assert_eq!(a.coalesced_waits, keys as u64 * (callers - 1), "{a:?}");
    assert_eq!(a.in_flight, 0, "{a:?}");
    assert!(a.is_conserved(), "{a:?}");
    let calls = keys as u64 * callers;
    let secs = started.elapsed().as_secs_f64();
    support::report(
        "single_flight",
        &[
            ("function", &short_name(load.function)),
            ("keys", &keys),
            ("threads", &load.threads),
            ("tasks", &load.tasks),
            ("calls", &calls),
            ("runs", &a.loads.count),
            ("secs", &format!("{secs:.2}")),
            ("calls_per_sec", &format!("{:.0}", calls as f64 / secs)),
            ("wrong_values", &0),
        ],
    );
    calls
}

/// A stats name without this crate's module path.
fn short_name(name: &str) -> &str {
    name.strip_prefix("reliability_single_flight::")
        .unwrap_or(name)
}

fn keys() -> usize {
    support::count(250, 2_000)
}

#[test]
fn sixty_four_threads_on_one_cold_key_run_a_sync_function_once() {
    let load = Load {
        function: "reliability_single_flight::sync_value",
        cache_type: "rsf_sync",
        first: 1,
        threads: THREADS,
        sync_call: Some(sync_value),
        tasks: 0,
        async_call: None,
    };
    support::within(Duration::from_secs(600), "sync single-flight", move || {
        run(load, keys())
    });
}

#[test]
fn threads_and_tokio_tasks_on_one_cold_key_run_an_async_function_once() {
    let load = Load {
        function: "reliability_single_flight::async_value",
        cache_type: "rsf_async",
        first: 1,
        threads: THREADS,
        sync_call: None,
        tasks: TASKS,
        async_call: Some(|k| Box::pin(async_value(k))),
    };
    support::within(Duration::from_secs(600), "async single-flight", move || {
        run(load, keys())
    });
}

#[test]
fn sixty_four_threads_on_one_cold_key_run_a_method_once() {
    let load = Load {
        function: "Service::value",
        cache_type: "rsf_method",
        first: 1,
        threads: THREADS,
        sync_call: Some(|k| SERVICE.value(k)),
        tasks: 0,
        async_call: None,
    };
    support::within(
        Duration::from_secs(600),
        "method single-flight",
        move || run(load, keys()),
    );
}

#[test]
fn tokio_tasks_on_one_cold_key_run_an_async_method_once() {
    let load = Load {
        function: "Service::async_value",
        cache_type: "rsf_amethod",
        first: 1,
        threads: 0,
        sync_call: None,
        tasks: TASKS,
        async_call: Some(|k| Box::pin(SERVICE.async_value(k))),
    };
    support::within(
        Duration::from_secs(600),
        "async method single-flight",
        move || run(load, keys()),
    );
}

/// 512 tasks on one thread (a `futures` `LocalPool`): the waiting tasks must not block the
/// thread the computing task needs.
#[test]
fn local_pool_tasks_on_one_cold_key_run_an_async_function_once() {
    support::within(Duration::from_secs(600), "local pool single-flight", || {
        memo::configure(
            "rsf_local",
            CacheConfig::builder().capacity(100_000).build().unwrap(),
        )
        .unwrap();
        let keys = keys() as u64;
        let started = Instant::now();
        let mut pool = LocalPool::new();
        for key in 1..=keys {
            let base = support::activity("reliability_single_flight::local_value").coalesced_waits;
            set_target(
                "reliability_single_flight::local_value",
                base + TASKS as u64 - 1,
            );
            let values = Arc::new(Mutex::new(Vec::with_capacity(TASKS)));
            for _ in 0..TASKS {
                let values = Arc::clone(&values);
                pool.spawner()
                    .spawn_local(async move {
                        let v = local_value(key).await;
                        lock(&values).push(v);
                    })
                    .unwrap();
            }
            pool.run();
            assert_eq!(
                runs_of("reliability_single_flight::local_value", key),
                1,
                "key {key} ran more than once"
            );
            assert_eq!(*lock(&values), vec![key * 1000; TASKS]);
        }
        let a = support::activity("reliability_single_flight::local_value");
        assert_eq!(HOLD_TIMEOUTS.load(Ordering::SeqCst), 0);
        assert_eq!((a.loads.count, a.in_flight), (keys, 0), "{a:?}");
        assert!(a.is_conserved(), "{a:?}");
        let secs = started.elapsed().as_secs_f64();
        let calls = keys * TASKS as u64;
        support::report(
            "single_flight",
            &[
                ("function", &"local_value"),
                ("keys", &keys),
                ("threads", &0),
                ("tasks", &TASKS),
                ("calls", &calls),
                ("runs", &a.loads.count),
                ("secs", &format!("{secs:.2}")),
                ("calls_per_sec", &format!("{:.0}", calls as f64 / secs)),
                ("wrong_values", &0),
            ],
        );
    });
}

/// A value whose last copy, when dropped, holds the dropping thread (the engine drops evicted
/// entries after releasing the shard lock, so this runs inside the eviction a store makes room
/// with) until a caller has joined the computation of `window_a(7)`.
struct Marker;

static MARKER_ARMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static IN_WINDOW: Mutex<Option<std::sync::mpsc::Sender<()>>> = Mutex::new(None);

impl Drop for Marker {
    fn drop(&mut self) {
        if MARKER_ARMED.swap(false, Ordering::SeqCst) {
            if let Some(tx) = lock(&IN_WINDOW).take() {
                let _ = tx.send(());
            }
            support::wait_for(Duration::from_secs(10), || {
                support::activity("reliability_single_flight::window_a").coalesced_waits >= 1
            });
        }
    }
}

#[cached(prefix = "rsf_window_a", cache_type = "rsf_window")]
fn window_a(key: u64) -> u64 {
    key * 1000
}

#[cached(prefix = "rsf_window_b", cache_type = "rsf_window")]
fn window_b(key: u64) -> Arc<Marker> {
    let _ = key;
    Arc::new(Marker)
}

/// Regression (found by the soak test, `tests/reliability_soak.rs`): a caller that joins a
/// computation while its leader is storing the value must get the value. The cache type is
/// full and has two functions, so storing evicts from the other function's store, with the
/// shard lock of the computing key released meanwhile; the evicted value's `Drop` (user code,
/// run after the eviction) holds that moment open until a waiter has joined.
#[test]
fn a_caller_joining_while_the_value_is_stored_gets_it() {
    memo::configure(
        "rsf_window",
        CacheConfig::builder().capacity(1).build().unwrap(),
    )
    .unwrap();
    drop(window_b(1));
    let (tx, rx) = std::sync::mpsc::channel();
    *lock(&IN_WINDOW) = Some(tx);
    MARKER_ARMED.store(true, Ordering::SeqCst);
    let leader = std::thread::spawn(|| window_a(7));
    rx.recv_timeout(Duration::from_secs(30))
        .expect("storing the value evicts the other function's entry");
    // The leader is storing its value, its shard unlocked; this caller joins the computation.
    let joined = support::within(Duration::from_secs(10), "the caller that joined", || {
        window_a(7)
    });
    assert_eq!(joined, 7000);
    assert_eq!(leader.join().unwrap(), 7000);
    let a = support::activity("reliability_single_flight::window_a");
    assert_eq!((a.in_flight, a.coalesced_waits), (0, 1), "{a:?}");
}
