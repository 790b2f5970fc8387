//! Statistics: counters kept per shard under the shard's write lock, hits in a per-store
//! striped counter (so that a hit writes nothing another core reads), and the read-only
//! snapshot that [`stats`](crate::stats()) returns.
//!
//! At quiescence the counters add up exactly:
//! `hits + misses == lookups` and
//! `inserts == size + evictions.capacity + evictions.expired + evictions.invalidated + evictions.replaced`.

use serde::Serialize;

use crate::config::EvictionPolicy;

/// Counters of one shard (plain integers: they are only touched under the shard's write lock;
/// `hits` is only filled in when a store sums its counters).
#[derive(Clone, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) inserts: u64,
    pub(crate) evicted: u64,
    pub(crate) expired: u64,
    pub(crate) invalidated: u64,
    pub(crate) replaced: u64,
    pub(crate) loads: u64,
    /// Loads that were timed, and their total time.
    pub(crate) timed_loads: u64,
    pub(crate) load_nanos: u64,
    pub(crate) coalesced: u64,
}

impl Counters {
    pub(crate) fn add(&mut self, o: &Counters) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.inserts += o.inserts;
        self.evicted += o.evicted;
        self.expired += o.expired;
        self.invalidated += o.invalidated;
        self.replaced += o.replaced;
        self.loads += o.loads;
        self.timed_loads += o.timed_loads;
        self.load_nanos = self.load_nanos.saturating_add(o.load_nanos);
        self.coalesced += o.coalesced;
    }
}

/// Entries that left a cache, by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Evictions {
    /// Dropped by the eviction policy to make room.
    pub capacity: u64,
    /// Removed because their TTL ran out: on read, by the background sweep, or when evicted,
    /// invalidated, removed, cleared or overwritten after it ran out.
    pub expired: u64,
    /// Removed by invalidation, `remove` or `clear` before their TTL ran out.
    pub invalidated: u64,
    /// Overwritten by an insert of the same key before their TTL ran out.
    pub replaced: u64,
}

/// Computations run on misses.
///
/// Reading the time costs more than a cache hit, so not every load is timed: the first 64 of
/// each shard are, then one in 1,024. For one table the mean is that of the timed loads and the
/// total is the mean times the count; figures over several tables (a cache type's, the
/// process's totals) add the tables' totals and divide the sum by the count, so there the total
/// and the mean times the count differ by less than the count (the mean is rounded down).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Loads {
    /// Computations that finished (whether or not their result was stored).
    pub count: u64,
    /// Their total time in nanoseconds (estimated from the timed loads).
    pub total_nanos: u64,
    /// Their mean time in nanoseconds (0 when none was timed).
    pub mean_nanos: u64,
    /// How many of them were timed.
    pub timed: u64,
}

/// The counters of a function or a cache type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Activity {
    /// Lookups that found a value.
    pub hits: u64,
    /// Lookups that did not (they computed, or waited for another caller's computation).
    pub misses: u64,
    /// `hits + misses`.
    pub lookups: u64,
    /// `hits / lookups`, between 0 and 1 (0 when there was no lookup).
    pub hit_rate: f64,
    /// Values stored.
    pub inserts: u64,
    /// Entries that left, by cause.
    pub evictions: Evictions,
    /// Computations run.
    pub loads: Loads,
    /// Times a miss joined another caller's computation to wait for its value instead of
    /// running its own. A computation that stores nothing (it panicked, was cancelled or
    /// invalidated, or returned an `Err` or `None` that is not stored) sends its waiters to
    /// look again; one of them computes and the others join it, counted again, so with such
    /// failures this can exceed `misses`.
    pub coalesced_waits: u64,
    /// Entries held now. A snapshot reads its tables one after another while calls may run;
    /// a cache type's figure is kept within its capacity, as the cache type is. Exact when no
    /// call is in progress.
    pub size: usize,
    /// Computations in progress now.
    pub in_flight: usize,
    /// Approximate memory of the entries: the bytes each entry takes in the table besides the
    /// heap memory its key and value own.
    pub estimated_bytes: usize,
}

impl Activity {
    /// Lowers `size` to `capacity` if it is above, and the estimated bytes in proportion.
    pub(crate) fn clamp_size(&mut self, capacity: usize) {
        if self.size > capacity {
            let scaled = self.estimated_bytes as u128 * capacity as u128 / self.size as u128;
            self.estimated_bytes = usize::try_from(scaled).unwrap_or(usize::MAX);
            self.size = capacity;
        }
    }

    pub(crate) fn from_counters(
        c: &Counters,
        size: usize,
        in_flight: usize,
        entry_bytes: usize,
    ) -> Self {
        let lookups = c.hits + c.misses;
        Self {
            hits: c.hits,
            misses: c.misses,
            lookups,
            hit_rate: if lookups == 0 {
                0.0
            } else {
                c.hits as f64 / lookups as f64
            },
            inserts: c.inserts,
            evictions: Evictions {
                capacity: c.evicted,
                expired: c.expired,
                invalidated: c.invalidated,
                replaced: c.replaced,
            },
            loads: {
                let mean = c.load_nanos.checked_div(c.timed_loads).unwrap_or(0);
                Loads {
                    count: c.loads,
                    total_nanos: mean.saturating_mul(c.loads),
                    mean_nanos: mean,
                    timed: c.timed_loads,
                }
            },
            coalesced_waits: c.coalesced,
            size,
            in_flight,
            estimated_bytes: size.saturating_mul(entry_bytes),
        }
    }

    pub(crate) fn merge(&mut self, o: &Activity) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.lookups += o.lookups;
        self.hit_rate = if self.lookups == 0 {
            0.0
        } else {
            self.hits as f64 / self.lookups as f64
        };
        self.inserts += o.inserts;
        self.evictions.capacity += o.evictions.capacity;
        self.evictions.expired += o.evictions.expired;
        self.evictions.invalidated += o.evictions.invalidated;
        self.evictions.replaced += o.evictions.replaced;
        self.loads.count += o.loads.count;
        self.loads.timed += o.loads.timed;
        self.loads.total_nanos = self.loads.total_nanos.saturating_add(o.loads.total_nanos);
        self.loads.mean_nanos = self
            .loads
            .total_nanos
            .checked_div(self.loads.count)
            .unwrap_or(0);
        self.coalesced_waits += o.coalesced_waits;
        self.size += o.size;
        self.in_flight += o.in_flight;
        self.estimated_bytes += o.estimated_bytes;
    }

    /// Whether the conservation equations hold:
    /// `hits + misses == lookups` and
    /// `inserts == size + capacity + expired + invalidated + replaced` evictions.
    ///
    /// They hold exactly whenever no call is in progress.
    #[must_use]
    pub fn is_conserved(&self) -> bool {
        let e = &self.evictions;
        self.hits + self.misses == self.lookups
            && self.inserts
                == self.size as u64 + e.capacity + e.expired + e.invalidated + e.replaced
    }
}

/// One cache type in a [`Stats`] snapshot.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct CacheTypeStats {
    /// The cache type's name.
    pub name: String,
    /// False when no [`configure`](crate::configure) call named it: it runs on the defaults.
    pub configured: bool,
    /// The most entries it holds.
    pub capacity: usize,
    /// Its default TTL in milliseconds (rounded up: a TTL under a millisecond shows as 1), if
    /// any.
    pub default_ttl_ms: Option<u64>,
    /// Its eviction policy.
    pub policy: EvictionPolicy,
    /// Whether its clock is a manual one.
    pub manual_clock: bool,
    /// Its counters: the sum over its functions and its manual entries.
    #[serde(flatten)]
    pub activity: Activity,
}

/// One cached function in a [`Stats`] snapshot. A generic function is one row: its
/// instantiations (one table per set of key and value types) are added up. Rows are told apart
/// by name, cache type and prefix: functions that share a name (a free function and an
/// associated function without `self` are both `module::function`) have a row each if their
/// prefixes differ, and share one (added up) if they do not.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct FunctionStats {
    /// `module::function` (or `module::Type::method`).
    pub name: String,
    /// The first segment of its rendered keys.
    pub prefix: String,
    /// The cache type it stores in.
    pub cache_type: String,
    /// Its own TTL in milliseconds (rounded up), if it sets one (else the cache type's
    /// applies).
    pub ttl_ms: Option<u64>,
    /// Its counters.
    #[serde(flatten)]
    pub activity: Activity,
}

/// A snapshot of every cache type and every cached function that has run, from
/// [`stats`](crate::stats()).
///
/// It is `serde::Serialize`: `serde_json::to_string_pretty(&memo::stats())` gives the JSON
/// document.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Stats {
    /// Every cache type, by name.
    pub cache_types: Vec<CacheTypeStats>,
    /// Every cached function that has run at least once, by name.
    pub functions: Vec<FunctionStats>,
    /// The sum over every cache type.
    pub totals: Activity,
}

impl Stats {
    /// The function whose name is `name`, or else the one function whose name ends with
    /// `::name` (`"load"` finds `app::users::load`). `None` if there is none, or if several
    /// end with `::name`: give more of the path then (`"users::load"`). Of several rows with
    /// the name itself (one name in two cache types, or under two prefixes) it returns the
    /// first in [`functions`](Self::functions) (sorted by name, cache type, then prefix): find
    /// the others there.
    #[must_use]
    pub fn function(&self, name: &str) -> Option<&FunctionStats> {
        if let Some(f) = self.functions.iter().find(|f| f.name == name) {
            return Some(f);
        }
        let mut ends_with = self.functions.iter().filter(|f| {
            f.name
                .strip_suffix(name)
                .is_some_and(|head| head.ends_with("::"))
        });
        match (ends_with.next(), ends_with.next()) {
            (Some(f), None) => Some(f),
            _ => None,
        }
    }

    /// The cache type named `name`.
    #[must_use]
    pub fn cache_type(&self, name: &str) -> Option<&CacheTypeStats> {
        self.cache_types.iter().find(|t| t.name == name)
    }
}
