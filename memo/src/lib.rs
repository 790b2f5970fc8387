//! Memoize functions, async functions and methods with two attributes, [`cached`] and
//! [`invalidates`], backed by a process-wide registry of named cache types whose statistics a
//! program can inspect at run time.
//!
//! See the crate README for the tour; the attributes' documentation is their manual.

pub use memo_macros::{cached, invalidates};
pub use memo_runtime::{
    Activity, Cache, CacheConfig, CacheConfigBuilder, CacheTypeStats, CallError, Clock,
    ConfigError, DEFAULT_CACHE_TYPE, DurationError, EvictionPolicy, Evictions, FunctionStats,
    Loads, ManualClock, Pattern, PatternError, PrefixMatch, Stats, cache, clear_all, configure,
    default_cache, escape_pattern, escape_pattern_to_string, format_duration, invalidate,
    invalidate_pattern, parse_duration, stats, sweep_expired,
};

#[doc(hidden)]
pub use memo_runtime::__private;
