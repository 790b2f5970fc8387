//! Time for TTLs: one coarse system clock that the hit path reads with a single atomic load,
//! and manual clocks that tests advance by hand.
//!
//! Reading [`std::time::Instant`] costs about 20 ns, more than a whole cache hit, so the system
//! clock is a number of nanoseconds that a background thread (`memo-housekeeper`) refreshes
//! every millisecond, and that every insert refreshes too. A TTL is therefore honoured to about
//! a millisecond. The housekeeper starts with the first entry that has a TTL.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

// Time is an input to the model-checked code, not part of it: plain `std` atomics.
use std::sync::atomic::{AtomicU64, Ordering};

/// The instant that memo's system clock counts from.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// The one system clock of the process.
static SYSTEM: LazyLock<Clock> = LazyLock::new(|| Clock {
    inner: Arc::new(ClockInner {
        now: AtomicU64::new(0),
        manual: false,
    }),
});

/// Expiry time of an entry that never expires. Every clock reads below it (the system clock
/// and a manual clock saturate at [`LATEST`]), so that `expires > now` alone tells a live
/// entry, with or without a TTL.
pub(crate) const NEVER: u64 = u64::MAX;

/// The latest time a clock reads: below every deadline ([`deadline`] saturates at
/// `NEVER - 1`), so that an entry stored with a TTL is live when stored, even on a clock that
/// has run to its end.
const LATEST: u64 = NEVER - 2;

/// The time source of a cache type.
///
/// Every cache type reads one clock: the process-wide [`Clock::system`] unless its
/// [`CacheConfig`](crate::CacheConfig) names a [`ManualClock`]. Cloning a `Clock` gives another
/// handle to the same time.
#[derive(Clone)]
pub struct Clock {
    inner: Arc<ClockInner>,
}

struct ClockInner {
    /// Nanoseconds since [`EPOCH`] (system) or since the manual clock was made.
    now: AtomicU64,
    manual: bool,
}

impl Clock {
    /// The process-wide system clock (monotonic, about one millisecond of resolution).
    #[must_use]
    pub fn system() -> Self {
        SYSTEM.clone()
    }

    /// Whether this is a manual clock.
    #[must_use]
    pub fn is_manual(&self) -> bool {
        self.inner.manual
    }

    /// The time as the hit path sees it: one relaxed atomic load.
    #[inline]
    pub(crate) fn coarse_nanos(&self) -> u64 {
        self.inner.now.load(Ordering::Relaxed)
    }

    /// The current time, read precisely. Refreshes the coarse value of the system clock only
    /// when it lags by more than [`REFRESH_LAG`] (the housekeeper refreshes it every
    /// millisecond), so that a store does not write the line every hit with a TTL reads, yet
    /// TTLs still run out should the housekeeper be stalled or missing.
    pub(crate) fn precise_nanos(&self) -> u64 {
        if self.inner.manual {
            return self.coarse_nanos();
        }
        let now = elapsed_nanos();
        if now > self.coarse_nanos().saturating_add(REFRESH_LAG) {
            self.refresh(now);
        }
        now
    }

    /// Moves the coarse value of the system clock up to `now`.
    fn refresh(&self, now: u64) {
        self.inner.now.fetch_max(now, Ordering::Relaxed);
    }

    /// Whether two handles read the same time.
    pub(crate) fn same_as(&self, other: &Clock) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("manual", &self.inner.manual)
            .field("now", &Duration::from_nanos(self.coarse_nanos()))
            .finish()
    }
}

/// How far the coarse system clock may lag before a precise read refreshes it: two of the
/// housekeeper's ticks.
const REFRESH_LAG: u64 = 2_000_000;

/// Refreshes the system clock; called by the housekeeper every tick.
pub(crate) fn tick_system() {
    SYSTEM.refresh(elapsed_nanos());
}

fn elapsed_nanos() -> u64 {
    u64::try_from(EPOCH.elapsed().as_nanos()).map_or(LATEST, |n| n.min(LATEST))
}

/// Adds a TTL to a time without overflow; the result is never [`NEVER`], and later than any
/// time a clock reads when the TTL is not zero.
pub(crate) fn deadline(now: u64, ttl_nanos: u64) -> u64 {
    now.saturating_add(ttl_nanos).min(NEVER - 1)
}

/// Converts a duration to whole nanoseconds, saturating far beyond any useful TTL: below
/// [`NEVER`], which means "no TTL" as a TTL and "never" as a deadline, so that no duration
/// reads as either.
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).map_or(NEVER - 1, |n| n.min(NEVER - 1))
}

/// A clock that moves only when told to, for tests of expiry that never sleep.
///
/// Give it to a cache type with [`CacheConfigBuilder::clock`](crate::CacheConfigBuilder::clock),
/// then move time with [`advance`](Self::advance). It may also be moved backwards with
/// [`rewind`](Self::rewind), to test how a cache behaves when the clock steps back: an entry then
/// outlives its TTL by at most the backward step.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use memo::{CacheConfig, ManualClock};
///
/// let clock = ManualClock::new();
/// let sessions = memo::configure(
///     "doc_manual_clock",
///     CacheConfig::builder().ttl(Duration::from_secs(60)).clock(&clock).build()?,
/// )?;
/// sessions.insert("s1", 7_u32);
/// clock.advance(Duration::from_secs(59));
/// assert_eq!(sessions.get::<u32>("s1"), Some(7));
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(sessions.get::<u32>("s1"), None);
/// # Ok::<(), memo::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    clock: Clock,
}

impl ManualClock {
    /// A manual clock that reads zero.
    #[must_use]
    pub fn new() -> Self {
        Self {
            clock: Clock {
                inner: Arc::new(ClockInner {
                    now: AtomicU64::new(0),
                    manual: true,
                }),
            },
        }
    }

    /// Moves the clock forward by `by`, saturating at the largest representable time (about 584
    /// years), which comes before every deadline: an entry with a TTL does not expire by the
    /// clock's running out, and one stored there is live.
    pub fn advance(&self, by: Duration) {
        let by = duration_nanos(by);
        // fetch_update cannot fail with a closure that always returns Some.
        let _ = self
            .clock
            .inner
            .now
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(by).min(LATEST))
            });
    }

    /// Moves the clock backward by `by` (stopping at zero).
    pub fn rewind(&self, by: Duration) {
        let by = duration_nanos(by);
        let _ = self
            .clock
            .inner
            .now
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_sub(by))
            });
    }

    /// Sets the clock to `to` after its start (saturating at the largest representable time,
    /// as [`advance`](Self::advance) does).
    pub fn set(&self, to: Duration) {
        self.clock
            .inner
            .now
            .store(duration_nanos(to).min(LATEST), Ordering::Relaxed);
    }

    /// The time since the clock's start.
    #[must_use]
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.clock.coarse_nanos())
    }

    /// A [`Clock`] handle reading this manual clock.
    #[must_use]
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl From<&ManualClock> for Clock {
    fn from(manual: &ManualClock) -> Self {
        manual.clock()
    }
}

impl From<ManualClock> for Clock {
    fn from(manual: ManualClock) -> Self {
        manual.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let m = ManualClock::new();
        let c = m.clock();
        assert_eq!(c.coarse_nanos(), 0);
        m.advance(Duration::from_millis(5));
        assert_eq!(c.precise_nanos(), 5_000_000);
        m.rewind(Duration::from_millis(2));
        assert_eq!(m.now(), Duration::from_millis(3));
        m.rewind(Duration::from_secs(1));
        assert_eq!(m.now(), Duration::ZERO);
    }

    #[test]
    fn extreme_advances_saturate_below_never() {
        let m = ManualClock::new();
        m.advance(Duration::MAX);
        m.advance(Duration::MAX);
        assert_eq!(m.clock().coarse_nanos(), LATEST);
        m.set(Duration::MAX);
        assert_eq!(m.clock().coarse_nanos(), LATEST);
        assert_eq!(deadline(LATEST, u64::MAX), NEVER - 1);
        assert!(
            deadline(LATEST, 1) > LATEST,
            "a TTL set at the end of time is still live"
        );
    }

    #[test]
    fn system_clock_is_monotonic_and_refreshed_by_ticks_and_lagging_reads() {
        let c = Clock::system();
        let a = c.precise_nanos();
        let b = c.precise_nanos();
        assert!(b >= a);
        // Within the allowed lag of any precise read, refreshed or not.
        assert!(c.coarse_nanos().saturating_add(REFRESH_LAG) >= a);
        tick_system();
        assert!(c.coarse_nanos() >= b);
        assert!(!c.is_manual());
        assert!(c.same_as(&Clock::system()));
    }
}
