//! Shared by the `reliability_*` test binaries (issue 5): the short/soak switch, watchdogs,
//! injected panics, and the `RELIABILITY key=value ...` summary lines that
//! `scripts/reliability.sh` collects into `RELIABILITY.md`.
//!
//! Every binary uses only part of this module.
#![allow(dead_code)]

use std::fmt::Display;
use std::sync::Once;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Whether the long ("soak") versions run: `MEMO_SOAK=1` (any value but `0` or empty).
pub(crate) fn soak() -> bool {
    std::env::var("MEMO_SOAK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// `short` in `cargo test`, `long` in soak mode.
pub(crate) fn count(short: usize, long: usize) -> usize {
    if soak() { long } else { short }
}

/// How long the duration-bound workloads run: `short` in `cargo test`; in soak mode
/// `MEMO_SOAK_SECS` seconds (default `long`).
pub(crate) fn duration(short: Duration, long: Duration) -> Duration {
    if !soak() {
        return short;
    }
    std::env::var("MEMO_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .map_or(long, Duration::from_secs_f64)
}

/// Prints one machine-readable summary line: `RELIABILITY family=<family> key=value ...`.
/// Seen with `cargo test -- --nocapture`; `scripts/reliability.sh` collects them.
pub(crate) fn report(family: &str, fields: &[(&str, &dyn Display)]) {
    use std::fmt::Write as _;
    let mut line = format!("RELIABILITY family={family} mode=");
    line.push_str(if soak() { "soak" } else { "short" });
    for (k, v) in fields {
        let _ = write!(line, " {k}={v}");
    }
    println!("{line}");
}

/// Runs `f` on a thread of its own and fails the test if it has not finished within `limit`
/// (the stuck thread is left behind: a hang becomes a failure instead of a stuck test run).
/// A panic in `f` is re-raised here.
///
/// # Panics
///
/// If `f` panics or does not finish within `limit`.
pub(crate) fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(format!("watched: {what}"))
        .stack_size(64 << 20)
        .spawn(move || {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(out);
        })
        .expect("spawn a watched thread");
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => {
            let _ = handle.join();
            v
        }
        Ok(Err(panic)) => match injected(&*panic) {
            Some(i) => panic!("{what}: an injected panic reached the test: {i:?}"),
            None => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("hang: {what} did not finish within {limit:?}")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: the watched thread died"),
    }
}

/// Spins (yielding) until `cond` holds; fails the test after `limit`.
///
/// # Panics
///
/// If `cond` does not hold within `limit`.
pub(crate) fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "hang: {what} within {limit:?}");
        std::thread::yield_now();
    }
}

/// Spins (yielding) until `cond` holds or `limit` passes; whether it held. For waits whose
/// failure the caller turns into a precise assertion.
pub(crate) fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::yield_now();
    }
}

/// The payload of a panic a test injects on purpose (its hook keeps them out of the output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Injected {
    /// Which injected fault this is (a test-chosen number).
    pub(crate) tag: u64,
    /// The thread that raised it.
    pub(crate) thread: std::thread::ThreadId,
}

/// Panics with an [`Injected`] payload.
pub(crate) fn inject(tag: u64) -> ! {
    quiet_injected_panics();
    std::panic::panic_any(Injected {
        tag,
        thread: std::thread::current().id(),
    })
}

/// Installs (once) a panic hook that stays silent for [`Injected`] panics and reports every
/// other panic as the default hook does.
pub(crate) fn quiet_injected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Injected>() {
                default(info);
            }
        }));
    });
}

/// The [`Injected`] payload of a caught panic, if it is one.
pub(crate) fn injected(payload: &(dyn std::any::Any + Send)) -> Option<Injected> {
    payload.downcast_ref::<Injected>().copied()
}

/// The text of a caught panic (`&str` or `String` payloads).
pub(crate) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("<non-text panic payload>")
    }
}

/// The counters of the cached function `name` (its stats entry), or the defaults before its
/// first call. `name` is the full stats name or a `::`-separated suffix of exactly one function
/// (`Stats::function` takes the first match, which a method `Type::f` and a function `f` share).
///
/// # Panics
///
/// If `name` matches more than one function.
pub(crate) fn activity(name: &str) -> memo::Activity {
    let stats = memo::stats();
    let mut matching = stats.functions.iter().filter(|f| {
        f.name == name
            || f.name
                .strip_suffix(name)
                .is_some_and(|head| head.ends_with("::"))
    });
    let found = matching.next();
    assert!(
        matching.next().is_none(),
        "`{name}` names several functions"
    );
    found.map(|f| f.activity).unwrap_or_default()
}

/// The counters of the cache type `name`.
pub(crate) fn type_activity(name: &str) -> memo::Activity {
    memo::stats()
        .cache_type(name)
        .map(|t| t.activity)
        .unwrap_or_default()
}

/// A small deterministic generator (xorshift64*), so workloads are reproducible by seed.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
