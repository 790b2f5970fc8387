//! The engine behind [memo](https://docs.rs/memo): a process-wide registry of named cache
//! types, each holding typed, sharded stores with a TTL clock and an eviction policy; single-flight
//! computation of missing values; race-free pattern invalidation; and statistics.
//!
//! Use it through the `memo` crate, which adds the `#[cached]` and `#[invalidates]`
//! attributes. Everything here is re-exported there.
//!
//! # Guarantees
//!
//! - A key belongs to exactly one function: lookups compare full keys (never only hashes), in a
//!   table of that function's own key type.
//! - Concurrent misses on one key run the computation once; the other callers wait and share
//!   its value. Misses on other keys never wait for it. No lock is held while a computation
//!   runs, so computations may call other cached functions, or their own function on other keys.
//! - A computation that asks for its own key fails at once ([`CallError::Recursion`]) instead
//!   of waiting for itself forever.
//! - If the computing caller panics or its future is dropped, a waiting caller takes over;
//!   nobody waits forever and nothing is poisoned.
//! - Once an invalidation returns, no call that starts afterwards sees a value computed before
//!   it began: computations in progress on invalidated keys do not store their results.
//! - The counters add up: `hits + misses == lookups` and
//!   `inserts == size + evictions.capacity + evictions.expired + evictions.invalidated +
//!   evictions.replaced` whenever no call is running.
//!
//! The hash, equality, `Clone`, `Display` and `Debug` of keys and values run under a shard's lock
//! (as in any concurrent map), so they must not call into memo themselves. Their `Drop` does
//! not run under it: an entry that is evicted, replaced, invalidated or expired is dropped by the
//! thread that removed it (the call, or the background sweep) after the lock is released, so a
//! `Drop` may call into memo.

mod cache_type;
mod clock;
mod config;
mod duration;
mod erased;
mod error;
mod flight;
mod function;
mod housekeeper;
mod index;
mod key;
mod manual;
mod outcome;
mod pattern;
mod policy;
mod registry;
mod stats;
mod store;
mod sync;

#[cfg(all(test, memo_shuttle))]
mod model_tests;

#[doc(hidden)]
pub mod __private;

pub use clock::{Clock, ManualClock};
pub use config::{CacheConfig, CacheConfigBuilder, DEFAULT_CACHE_TYPE, EvictionPolicy};
pub use duration::{format_duration, parse_duration};
pub use error::{CallError, ConfigError, DurationError, PatternError};
pub use manual::Cache;
pub use pattern::{
    Pattern, PrefixMatch, escape as escape_pattern, escape_to_string as escape_pattern_to_string,
};
pub use registry::{
    cache, clear_all, configure, default_cache, invalidate, invalidate_pattern, stats,
    sweep_expired,
};
pub use stats::{Activity, CacheTypeStats, Evictions, FunctionStats, Loads, Stats};
