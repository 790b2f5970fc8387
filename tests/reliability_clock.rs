//! Reliability, item 8: clock faults, through `#[cached(ttl = ...)]` on cache types that run on a
//! `memo::ManualClock` (beyond the manual-API cases of `tests/expiry.rs`). TTL boundaries to the
//! nanosecond, the smallest TTLs the attribute accepts, the largest, a cache-type default TTL of
//! `Duration::MAX`, a clock near the end of its range, and a clock that steps backwards
//! (property test): no panic, no entry outliving its TTL by more than the backward steps, and
//! no entry expiring early.

mod reliability_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use memo::{CacheConfig, ManualClock, cached};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reliability_support as support;

/// Every computation returns a new number, so a call tells a hit (the stored number) from a
/// computation (a new one).
static RUNS: AtomicU64 = AtomicU64::new(1);

fn next_run() -> u64 {
    RUNS.fetch_add(1, Ordering::SeqCst)
}

fn clock_for(cache_type: &str, default_ttl: Option<Duration>) -> ManualClock {
    let clock = ManualClock::new();
    let builder = CacheConfig::builder().capacity(1_000_000).clock(&clock);
    let builder = match default_ttl {
        Some(ttl) => builder.ttl(ttl),
        None => builder,
    };
    memo::configure(cache_type, builder.build().unwrap()).unwrap();
    clock
}

#[cached(prefix = "rclk_10s", cache_type = "rclk_boundary", ttl = "10s")]
fn ten_seconds(key: u64) -> u64 {
    let _ = key;
    next_run()
}

#[cached(prefix = "rclk_1s", cache_type = "rclk_boundary", ttl = 1)]
fn one_second(key: u64) -> u64 {
    let _ = key;
    next_run()
}

#[cached(prefix = "rclk_1ms", cache_type = "rclk_boundary", ttl = "1ms")]
fn one_milli(key: u64) -> u64 {
    let _ = key;
    next_run()
}

/// Calls `f(key)` at `store + ttl - 1ns` (a hit) and at `store + ttl` (a new computation).
fn boundary(clock: &ManualClock, f: fn(u64) -> u64, key: u64, ttl: Duration) {
    let first = f(key);
    clock.advance(ttl.saturating_sub(Duration::from_nanos(1)));
    assert_eq!(f(key), first, "one nanosecond before the TTL: a hit");
    clock.advance(Duration::from_nanos(1));
    let second = f(key);
    assert_ne!(second, first, "at the TTL: computed again");
    assert_eq!(f(key), second, "and stored again");
}

#[test]
fn ttls_expire_exactly_at_their_end() {
    let clock = clock_for("rclk_boundary", None);
    clock.advance(Duration::from_secs(1_000));
    for key in 0..50 {
        boundary(&clock, ten_seconds, key, Duration::from_secs(10));
        boundary(&clock, one_second, key, Duration::from_secs(1));
        boundary(&clock, one_milli, key, Duration::from_millis(1));
    }
    for f in ["ten_seconds", "one_second", "one_milli"] {
        let a = support::activity(f);
        assert!(a.is_conserved(), "{f}: {a:?}");
        assert_eq!(a.in_flight, 0);
    }
    support::report(
        "clock",
        &[("test", &"ttl_boundaries"), ("cases", &150), ("panics", &0)],
    );
}

/// The largest TTL the attribute takes in days, and a cache-type default TTL of
/// `Duration::MAX` for a function that sets none.
#[cached(prefix = "rclk_long", cache_type = "rclk_long", ttl = "100000d")]
fn very_long(key: u64) -> u64 {
    let _ = key;
    next_run()
}

#[cached(prefix = "rclk_max", cache_type = "rclk_max")]
fn default_max(key: u64) -> u64 {
    let _ = key;
    next_run()
}

#[test]
fn huge_ttls_do_not_overflow() {
    let long = clock_for("rclk_long", None);
    let max = clock_for("rclk_max", Some(Duration::MAX));
    let a = very_long(1);
    let b = default_max(1);
    long.advance(Duration::from_secs(99_999 * 86_400));
    // (Clocks count nanoseconds in a u64: about 584 years, the end of their range.)
    max.advance(Duration::from_secs(500 * 365 * 86_400));
    assert_eq!(very_long(1), a, "not expired after 99,999 days");
    assert_eq!(
        default_max(1),
        b,
        "a Duration::MAX TTL does not expire in 500 years"
    );
    long.advance(Duration::from_secs(86_400));
    assert_ne!(very_long(1), a, "expired after 100,000 days");
    // Moving the clocks to the end of their range: no panic; whatever is read is consistent.
    for clock in [&long, &max] {
        clock.advance(Duration::MAX);
        clock.advance(Duration::MAX);
    }
    let _ = very_long(2);
    let _ = default_max(2);
    let _ = very_long(1);
    let _ = default_max(1);
    memo::sweep_expired();
    for f in ["very_long", "default_max"] {
        let a = support::activity(f);
        assert!(a.is_conserved(), "{f}: {a:?}");
        assert_eq!(a.in_flight, 0);
    }
}

#[cached(prefix = "rclk_end", cache_type = "rclk_end", ttl = "10s")]
fn near_the_end(key: u64) -> u64 {
    let _ = key;
    next_run()
}

/// A clock a few nanoseconds before the end of its range: the deadline saturates beyond the
/// clock's last time, so the entry outlives the clock (an entry stored at its end is live too);
/// nothing panics.
#[test]
fn a_clock_near_its_maximum() {
    let clock = clock_for("rclk_end", None);
    clock.set(Duration::from_nanos(u64::MAX - 1_000));
    let first = near_the_end(1);
    clock.advance(Duration::from_nanos(500));
    assert_eq!(near_the_end(1), first);
    clock.advance(Duration::from_secs(60));
    assert_eq!(
        near_the_end(1),
        first,
        "the clock stops before the deadline"
    );
    assert_eq!(
        near_the_end(2),
        near_the_end(2),
        "stored at the end of time, and live"
    );
    clock.rewind(Duration::MAX);
    assert_eq!(clock.now(), Duration::ZERO);
    let _ = near_the_end(1);
    memo::sweep_expired();
    let a = support::activity("near_the_end");
    assert!(a.is_conserved(), "{a:?}");
    assert_eq!(a.in_flight, 0);
}

#[cached(prefix = "rclk_prop", cache_type = "rclk_prop", ttl = "10s")]
fn stepped_clock(key: u64) -> u64 {
    let _ = key;
    next_run()
}

const TTL_NANOS: u64 = 10_000_000_000;

#[derive(Debug, Clone)]
enum Step {
    Advance(u64),
    Rewind(u64),
    Call,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..15_000_000_000_u64).prop_map(Step::Advance),
        1 => (0..15_000_000_000_u64).prop_map(Step::Rewind),
        1 => (TTL_NANOS - 3..TTL_NANOS + 3).prop_map(Step::Advance),
        4 => Just(Step::Call),
    ]
}

/// Random sequences of calls, forward steps and backward steps of the clock. A model keeps,
/// for the key, the stored run and its deadline (store time + TTL, on the clock) and the
/// latest time the clock showed since the store. A hit must be before the deadline: the entry
/// outlives its TTL (measured forward) by at most the backward steps since it was stored. A new
/// computation is allowed only once the clock has reached the deadline at some point (a read
/// or the background sweep may have removed it then); before that, the entry must still be there.
#[test]
fn a_clock_stepping_backwards_never_extends_an_entry_beyond_the_step() {
    let clock = clock_for("rclk_prop", None);
    let cases = support::count(256, 5_000) as u32;
    let key = AtomicU64::new(0);
    let checked = AtomicU64::new(0);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(step(), 1..40), |steps| {
            let key = key.fetch_add(1, Ordering::SeqCst);
            clock.set(Duration::from_secs(3_600));
            // (run, deadline, latest clock reading since the store)
            let mut stored: Option<(u64, u64, u64)> = None;
            for s in steps {
                let now = clock.now().as_nanos() as u64;
                match s {
                    Step::Advance(n) => clock.advance(Duration::from_nanos(n)),
                    Step::Rewind(n) => clock.rewind(Duration::from_nanos(n)),
                    Step::Call => {
                        let r = stepped_clock(key);
                        checked.fetch_add(1, Ordering::Relaxed);
                        match stored {
                            Some((run, deadline, _)) if r == run => {
                                prop_assert!(
                                    now < deadline,
                                    "a hit at {now} past the deadline {deadline}"
                                );
                            }
                            Some((_, deadline, latest)) => {
                                prop_assert!(
                                    latest >= deadline,
                                    "expired early: at {now}, deadline {deadline}, clock never past {latest}"
                                );
                                stored = Some((r, now.saturating_add(TTL_NANOS), now));
                            }
                            None => stored = Some((r, now.saturating_add(TTL_NANOS), now)),
                        }
                    }
                }
                let now = clock.now().as_nanos() as u64;
                if let Some((_, _, latest)) = &mut stored {
                    *latest = (*latest).max(now);
                }
            }
            Ok(())
        })
        .unwrap();
    let a = support::activity("stepped_clock");
    assert!(a.is_conserved(), "{a:?}");
    assert_eq!(a.in_flight, 0);
    support::report(
        "clock",
        &[
            ("test", &"backward_steps_property"),
            ("cases", &cases),
            ("calls_checked", &checked.load(Ordering::Relaxed)),
            ("panics", &0),
        ],
    );
}
