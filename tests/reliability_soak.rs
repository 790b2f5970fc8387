//! Reliability, item 12: the soak. A mixed workload over many threads and tokio tasks:
//! `#[cached]` sync and async gets, `#[invalidates]` exact writes, pattern invalidations,
//! manual-API inserts, gets, `get_or_insert_with` and removes, a TTL clock that moves, stats
//! snapshots; 0.1% of computations panic and 1% of async callers are cancelled (dropped after
//! one to three polls).
//!
//! Checked all along: every value belongs to the key asked for; no call that starts after an
//! invalidation returned sees an older version; every injected panic reaches exactly the caller
//! whose computation raised it. Checked periodically (the workload pauses, so the counters are
//! at rest) and at the end: the conservation equations, `lookups` equal to the calls made,
//! nothing in flight, sizes within capacity. A watchdog fails the run (printing what hung, then
//! exiting) if any single call takes more than 5 s.
//!
//! 3 s in `cargo test`; with `MEMO_SOAK=1`, `MEMO_SOAK_SECS` seconds (default 300).

mod reliability_support;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use memo::{CacheConfig, ManualClock, cached, invalidates};
use reliability_support as support;

const KEYS: usize = 1_000;
const CAPACITY: usize = 512;
const MANUAL_CAPACITY: usize = 256;
/// A call slower than this is a hang.
const SLOW_CALL: Duration = Duration::from_secs(5);

static VERSIONS: [AtomicU64; KEYS] = [const { AtomicU64::new(1) }; KEYS];
static PUBLISHED: [AtomicU64; KEYS] = [const { AtomicU64::new(1) }; KEYS];

/// Counters of the run.
#[derive(Default)]
struct Counts {
    sync_calls: AtomicU64,
    async_calls: AtomicU64,
    manual_ops: AtomicU64,
    exact_writes: AtomicU64,
    pattern_writes: AtomicU64,
    panics_injected: AtomicU64,
    panics_seen: AtomicU64,
    cancelled: AtomicU64,
    clock_steps: AtomicU64,
    sweeps: AtomicU64,
    snapshots: AtomicU64,
    version_checks: AtomicU64,
    key_checks: AtomicU64,
    conservation_checks: AtomicU64,
}

static COUNTS: Counts = Counts {
    sync_calls: AtomicU64::new(0),
    async_calls: AtomicU64::new(0),
    manual_ops: AtomicU64::new(0),
    exact_writes: AtomicU64::new(0),
    pattern_writes: AtomicU64::new(0),
    panics_injected: AtomicU64::new(0),
    panics_seen: AtomicU64::new(0),
    cancelled: AtomicU64::new(0),
    clock_steps: AtomicU64::new(0),
    sweeps: AtomicU64::new(0),
    snapshots: AtomicU64::new(0),
    version_checks: AtomicU64::new(0),
    key_checks: AtomicU64::new(0),
    conservation_checks: AtomicU64::new(0),
};

fn add(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

thread_local! {
    static RNG: std::cell::RefCell<support::Rng> = std::cell::RefCell::new(support::Rng::new(
        std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0_u8),
    ));
}

fn roll(n: u64) -> u64 {
    RNG.with(|r| r.borrow_mut().below(n))
}

/// Who is computing: a thread, or a tokio task (by id), for checking who sees a panic.
fn caller_tag() -> u64 {
    tokio::task::try_id().map_or(0, |id| id.to_string().parse().unwrap_or(1))
}

/// A computation: reads the key's version; 0.1% of them panic.
fn compute(key: u64) -> u64 {
    let v = VERSIONS[key as usize].load(Ordering::SeqCst);
    if roll(1_000) == 0 {
        add(&COUNTS.panics_injected);
        support::inject(caller_tag());
    }
    (key << 32) | v
}

#[cached(prefix = "soak", cache_type = "soak")]
fn get(key: u64) -> u64 {
    compute(key)
}

#[cached(prefix = "soak_async", cache_type = "soak")]
async fn get_async(key: u64) -> u64 {
    tokio::task::yield_now().await;
    compute(key)
}

/// Moves the key to a new version and returns it (the invalidation follows the body).
#[invalidates("soak:{key}", "soak_async:{key}")]
fn write(key: u64) -> u64 {
    VERSIONS[key as usize].fetch_add(1, Ordering::SeqCst) + 1
}

/// Checks a value read for `key` by a call that started when `floor` was published.
fn check(key: u64, floor: u64, value: u64) {
    add(&COUNTS.key_checks);
    add(&COUNTS.version_checks);
    assert_eq!(
        value >> 32,
        key,
        "a value of key {} returned for key {key}",
        value >> 32
    );
    let version = value & 0xffff_ffff;
    assert!(
        version >= floor,
        "key {key}: version {version} read after version {floor} was published"
    );
}

/// The pause that lets the checker see the counters at rest, and the watchdog's view of the
/// calls in progress.
struct Control {
    stop: AtomicBool,
    pause: AtomicBool,
    active: AtomicU64,
    /// Per worker: when its current call started (ms since `epoch`, +1), or 0.
    started: Vec<AtomicU64>,
    epoch: Instant,
}

impl Control {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    /// Enters a call (waiting out a pause); `None` once the run is over.
    fn enter(&self, worker: usize) -> Option<CallGuard<'_>> {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return None;
            }
            if !self.pause.load(Ordering::SeqCst) {
                self.active.fetch_add(1, Ordering::SeqCst);
                if !self.pause.load(Ordering::SeqCst) {
                    self.started[worker].store(self.now_ms(), Ordering::SeqCst);
                    return Some(CallGuard {
                        control: self,
                        worker,
                    });
                }
                self.active.fetch_sub(1, Ordering::SeqCst);
            }
            std::thread::yield_now();
        }
    }
}

struct CallGuard<'a> {
    control: &'a Control,
    worker: usize,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        self.control.started[self.worker].store(0, Ordering::SeqCst);
        self.control.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `f`, catching an injected panic, which must come from this caller's own computation.
fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(p) => {
            let i = support::injected(&*p).unwrap_or_else(|| std::panic::resume_unwind(p));
            assert_eq!(
                i.thread,
                std::thread::current().id(),
                "a panic reached another caller"
            );
            add(&COUNTS.panics_seen);
            None
        }
    }
}

/// One operation of a worker thread.
fn sync_op(clock: &ManualClock, manual: memo::Cache) {
    let key = roll(KEYS as u64);
    let k = key as usize;
    match roll(1_000) {
        0..600 => {
            let floor = PUBLISHED[k].load(Ordering::SeqCst);
            add(&COUNTS.sync_calls);
            if let Some(v) = guarded(|| get(key)) {
                check(key, floor, v);
            }
        }
        600..700 => {
            add(&COUNTS.manual_ops);
            let v = manual.get_or_insert_with(&format!("m:{key}"), || (key << 32) | 7);
            assert_eq!(v >> 32, key, "manual: another key's value");
            add(&COUNTS.key_checks);
        }
        700..800 => {
            add(&COUNTS.manual_ops);
            manual.insert(&format!("m:{key}"), (key << 32) | roll(1 << 20));
        }
        800..850 => {
            add(&COUNTS.manual_ops);
            if let Some(v) = manual.get::<u64>(&format!("m:{key}")) {
                assert_eq!(v >> 32, key, "manual: another key's value");
                add(&COUNTS.key_checks);
            }
        }
        850..880 => {
            add(&COUNTS.manual_ops);
            manual.remove(&format!("m:{key}"));
        }
        880..960 => {
            add(&COUNTS.exact_writes);
            // Publish the version this write made (another writer may have moved the key on
            // since, without having invalidated yet).
            let v = write(key);
            PUBLISHED[k].fetch_max(v, Ordering::SeqCst);
        }
        960..970 => {
            // Every key ending in one digit: bump, invalidate by pattern, publish.
            add(&COUNTS.pattern_writes);
            let digit = key % 10;
            let written: Vec<(usize, u64)> = (0..KEYS)
                .filter(|i| *i as u64 % 10 == digit)
                .map(|i| (i, VERSIONS[i].fetch_add(1, Ordering::SeqCst) + 1))
                .collect();
            memo::invalidate(&format!("soak*:*{digit}")).unwrap();
            for (i, v) in written {
                PUBLISHED[i].fetch_max(v, Ordering::SeqCst);
            }
        }
        970..975 => {
            add(&COUNTS.clock_steps);
            clock.advance(Duration::from_secs(1));
        }
        975..980 => {
            add(&COUNTS.sweeps);
            memo::sweep_expired();
        }
        _ => {
            add(&COUNTS.snapshots);
            let stats = memo::stats();
            if roll(10) == 0 {
                let _ = serde_json::to_string(&stats).unwrap();
            }
        }
    }
}

fn noop_poll<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    let waker = futures::task::noop_waker();
    f.poll(&mut Context::from_waker(&waker))
}

/// One operation of an async task: a get, or (1%) a get that is dropped after 1 to 3 polls.
async fn async_op() {
    let key = roll(KEYS as u64);
    let floor = PUBLISHED[key as usize].load(Ordering::SeqCst);
    add(&COUNTS.async_calls);
    let me = caller_tag();
    let call = AssertUnwindSafe(get_async(key)).catch_unwind();
    let outcome = if roll(100) == 0 {
        add(&COUNTS.cancelled);
        let mut call = Box::pin(call);
        let mut out = None;
        for _ in 0..=roll(3) {
            if let Poll::Ready(o) = noop_poll(call.as_mut()) {
                out = Some(o);
                break;
            }
        }
        out
    } else {
        Some(call.await)
    };
    match outcome {
        None => {}
        Some(Ok(v)) => check(key, floor, v),
        Some(Err(p)) => {
            let i = support::injected(&*p).unwrap_or_else(|| std::panic::resume_unwind(p));
            assert_eq!(i.tag, me, "a panic reached another task");
            add(&COUNTS.panics_seen);
        }
    }
}

/// Checks the counters at rest (panics at the first violation).
fn check_at_rest(stage: &str) {
    add(&COUNTS.conservation_checks);
    let stats = memo::stats();
    let soak = stats.cache_type("soak").unwrap();
    let manual = stats.cache_type("soak_manual").unwrap();
    for t in [soak, manual] {
        assert!(
            t.activity.is_conserved(),
            "{stage}: {}: not conserved: {:?}",
            t.name,
            t.activity
        );
        assert_eq!(
            t.activity.in_flight, 0,
            "{stage}: {}: in flight at rest",
            t.name
        );
        assert!(
            t.activity.size <= t.capacity,
            "{stage}: {}: over capacity",
            t.name
        );
    }
    let f = support::activity("reliability_soak::get");
    assert_eq!(
        f.lookups,
        COUNTS.sync_calls.load(Ordering::SeqCst),
        "{stage}: sync lookups"
    );
    let f = support::activity("reliability_soak::get_async");
    assert_eq!(
        f.lookups,
        COUNTS.async_calls.load(Ordering::SeqCst),
        "{stage}: async lookups"
    );
}

/// The watchdog: any call slower than `SLOW_CALL` ends the run (after printing what hung).
fn watchdog(control: &Control) {
    while !control.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        let now = control.now_ms();
        for (w, st) in control.started.iter().enumerate() {
            let at = st.load(Ordering::SeqCst);
            if at != 0 && now.saturating_sub(at) > SLOW_CALL.as_millis() as u64 {
                eprintln!(
                    "hang (watchdog): worker {w} has been in one call for {} ms; stats: {:?}",
                    now - at,
                    memo::stats().cache_type("soak").map(|t| t.activity)
                );
                support::report("soak", &[("hangs", &1)]);
                if std::env::var_os("MEMO_SOAK_HANG_PAUSE").is_some() {
                    // Leaves time to attach a debugger to the hung process.
                    std::thread::sleep(Duration::from_secs(300));
                }
                std::process::exit(101);
            }
        }
    }
}

/// The async callers: `tasks` tokio tasks (workers `first..first + tasks`) on a 2-thread
/// runtime, until the run stops.
fn run_tasks(control: &'static Control, first: usize, tasks: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                tokio::spawn(async move {
                    loop {
                        if control.stop.load(Ordering::SeqCst) {
                            return;
                        }
                        if control.pause.load(Ordering::SeqCst) {
                            tokio::task::yield_now().await;
                            continue;
                        }
                        control.active.fetch_add(1, Ordering::SeqCst);
                        if control.pause.load(Ordering::SeqCst) {
                            control.active.fetch_sub(1, Ordering::SeqCst);
                            continue;
                        }
                        control.started[first + t].store(control.now_ms(), Ordering::SeqCst);
                        async_op().await;
                        control.started[first + t].store(0, Ordering::SeqCst);
                        control.active.fetch_sub(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
    });
}

fn report_run(threads: usize, tasks: usize, secs: f64) {
    let c = &COUNTS;
    let load = |a: &AtomicU64| a.load(Ordering::SeqCst);
    assert_eq!(
        load(&c.panics_seen),
        load(&c.panics_injected),
        "every panic seen exactly once"
    );
    let ops = load(&c.sync_calls)
        + load(&c.async_calls)
        + load(&c.manual_ops)
        + load(&c.exact_writes)
        + load(&c.pattern_writes)
        + load(&c.clock_steps)
        + load(&c.sweeps)
        + load(&c.snapshots);
    let soak = memo::stats().cache_type("soak").unwrap().activity;
    assert!(soak.evictions.capacity > 0 && soak.evictions.invalidated > 0);
    support::report(
        "soak",
        &[
            ("threads", &threads),
            ("tasks", &tasks),
            ("secs", &format!("{secs:.1}")),
            ("ops", &ops),
            ("ops_per_sec", &format!("{:.0}", ops as f64 / secs)),
            ("sync_calls", &load(&c.sync_calls)),
            ("async_calls", &load(&c.async_calls)),
            ("manual_ops", &load(&c.manual_ops)),
            ("exact_invalidations", &load(&c.exact_writes)),
            ("pattern_invalidations", &load(&c.pattern_writes)),
            ("panics_injected", &load(&c.panics_injected)),
            ("panics_seen", &load(&c.panics_seen)),
            ("cancelled", &load(&c.cancelled)),
            ("clock_steps", &load(&c.clock_steps)),
            ("version_checks", &load(&c.version_checks)),
            ("key_checks", &load(&c.key_checks)),
            ("conservation_checks", &load(&c.conservation_checks)),
            ("evicted", &soak.evictions.capacity),
            ("expired", &soak.evictions.expired),
            ("invalidated", &soak.evictions.invalidated),
            ("stale", &0),
            ("wrong_key", &0),
            ("conservation_violations", &0),
            ("hangs", &0),
        ],
    );
}

#[test]
fn mixed_workload_with_faults_keeps_every_promise() {
    support::quiet_injected_panics();
    let clock = ManualClock::new();
    memo::configure(
        "soak",
        CacheConfig::builder()
            .capacity(CAPACITY)
            .ttl(Duration::from_secs(10))
            .clock(&clock)
            .build()
            .unwrap(),
    )
    .unwrap();
    let manual = memo::configure(
        "soak_manual",
        CacheConfig::builder()
            .capacity(MANUAL_CAPACITY)
            .build()
            .unwrap(),
    )
    .unwrap();
    let threads = support::count(8, 16);
    let tasks = support::count(32, 128);
    let duration = support::duration(Duration::from_secs(3), Duration::from_secs(300));
    // Leaked: the tokio tasks need it for `'static`.
    let control: &'static Control = Box::leak(Box::new(Control {
        stop: AtomicBool::new(false),
        pause: AtomicBool::new(false),
        active: AtomicU64::new(0),
        started: (0..threads + tasks).map(|_| AtomicU64::new(0)).collect(),
        epoch: Instant::now(),
    }));
    let started = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| watchdog(control));
        for w in 0..threads {
            let clock = &clock;
            s.spawn(move || {
                while let Some(_call) = control.enter(w) {
                    sync_op(clock, manual);
                }
            });
        }
        s.spawn(move || run_tasks(control, threads, tasks));
        // The checker: every 250 ms, pause, check at rest, resume.
        while started.elapsed() < duration {
            std::thread::sleep(Duration::from_millis(250));
            control.pause.store(true, Ordering::SeqCst);
            support::wait_until(SLOW_CALL * 2, "the workload to pause", || {
                control.active.load(Ordering::SeqCst) == 0
            });
            check_at_rest("periodic");
            control.pause.store(false, Ordering::SeqCst);
        }
        control.stop.store(true, Ordering::SeqCst);
    });
    check_at_rest("final");
    report_run(threads, tasks, started.elapsed().as_secs_f64());
}
