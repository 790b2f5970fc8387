//! The process-wide registry: every cache type by name and every store, and the operations that
//! span them (configuration, invalidation, clearing, sweeping, stats).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use crate::cache_type::CacheType;
use crate::config::{CacheConfig, DEFAULT_CACHE_TYPE, check_name};
use crate::error::{ConfigError, PatternError};
use crate::manual::Cache;
use crate::pattern::Pattern;
use crate::stats::{Activity, CacheTypeStats, FunctionStats, Stats};
use crate::store::ErasedStore;
// The registry is process-wide and outside the model-checked state: plain `parking_lot`.
use parking_lot::RwLock;

pub(crate) struct Registry {
    types: RwLock<HashMap<&'static str, &'static CacheType>>,
    /// Every store; replaced (not mutated) when one is added, so that callers iterate a
    /// snapshot without holding the lock while user `Drop` code runs.
    stores: RwLock<Arc<Stores>>,
}

type StoreRef = &'static dyn ErasedStore;

/// Every store, and the same stores by the first segment their keys share, so that a key or a
/// pattern `user:...` is taken only to the stores that can hold keys starting with `user:`.
#[derive(Default, Clone)]
pub(crate) struct Stores {
    all: Vec<StoreRef>,
    /// Stores whose keys all start with one first segment (`user:`): a function's (by its
    /// prefix), a manual segment's.
    by_segment: HashMap<Box<str>, Vec<StoreRef>, ahash::RandomState>,
    /// Stores whose keys have no `:` (functions without arguments whose prefix has none).
    no_segment: Vec<StoreRef>,
    /// Stores whose keys may start with anything (the shared manual store of a cache type).
    any: Vec<StoreRef>,
}

impl Stores {
    fn with(&self, store: StoreRef) -> Self {
        let mut next = self.clone();
        next.all.push(store);
        let info = store.info();
        // What every key of the store starts with, up to its first `:`.
        let start: &str = match info.prefix {
            Some(prefix) if info.zero_arity => prefix,
            _ => &info.key_start,
        };
        match start.find(':') {
            Some(end) => next
                .by_segment
                .entry(Box::from(&start[..=end]))
                .or_default()
                .push(store),
            None if info.zero_arity => next.no_segment.push(store),
            None => next.any.push(store),
        }
        next
    }

    /// Every store.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, StoreRef> {
        self.all.iter()
    }

    /// The stores that can hold keys starting with `literal`.
    fn for_start(&self, literal: &str) -> impl Iterator<Item = StoreRef> + '_ {
        let (segment, no_segment): (&[StoreRef], &[StoreRef]) = match literal.find(':') {
            Some(end) => (
                self.by_segment
                    .get(&literal[..=end])
                    .map_or(&[], Vec::as_slice),
                &[],
            ),
            None => (&[], &self.no_segment),
        };
        segment.iter().chain(no_segment).chain(&self.any).copied()
    }
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| Registry {
    types: RwLock::new(HashMap::new()),
    stores: RwLock::new(Arc::new(Stores::default())),
});

pub(crate) fn registry() -> &'static Registry {
    &REGISTRY
}

impl Registry {
    /// The cache type `name`, made with the default configuration if it does not exist.
    pub(crate) fn cache_type(&self, name: &str) -> &'static CacheType {
        if let Some(t) = self.types.read().get(name) {
            return t;
        }
        let mut types = self.types.write();
        if let Some(t) = types.get(name) {
            return t;
        }
        let name: &'static str = Box::leak(Box::from(name));
        let t: &'static CacheType = Box::leak(Box::new(CacheType::new(
            name,
            &CacheConfig::default(),
            false,
        )));
        types.insert(name, t);
        t
    }

    fn configure(
        &self,
        name: &str,
        config: &CacheConfig,
    ) -> Result<&'static CacheType, ConfigError> {
        check_name(name)?;
        let mut types = self.types.write();
        if let Some(t) = types.get(name).copied() {
            drop(types);
            if !t.clock().same_as(config.clock())
                && (config.has_custom_clock() || t.clock().is_manual())
            {
                return Err(ConfigError::ClockInUse {
                    name: name.to_owned(),
                });
            }
            t.apply(config);
            return Ok(t);
        }
        let name: &'static str = Box::leak(Box::from(name));
        let t: &'static CacheType = Box::leak(Box::new(CacheType::new(name, config, true)));
        types.insert(name, t);
        Ok(t)
    }

    pub(crate) fn add_store(&self, store: &'static dyn ErasedStore) {
        {
            let mut stores = self.stores.write();
            let next = stores.with(store);
            *stores = Arc::new(next);
        }
        store.cache_type().add_store(store);
    }

    /// A snapshot of every store.
    pub(crate) fn stores(&self) -> Arc<Stores> {
        Arc::clone(&self.stores.read())
    }

    fn types(&self) -> Vec<&'static CacheType> {
        let mut v: Vec<_> = self.types.read().values().copied().collect();
        v.sort_by_key(|t| t.name);
        v
    }
}

/// Configures the cache type `name`, creating it or changing it in place, and returns its
/// handle.
///
/// A cache type in use takes the new capacity, default TTL and policy at once: a smaller
/// capacity evicts entries until it fits, a new default TTL applies to entries stored from now
/// on. Call it before the first call that uses the type to choose its clock.
///
/// # Errors
///
/// [`ConfigError::InvalidName`] for a name that is empty, longer than 128 bytes or has
/// characters other than ASCII letters, digits, `_`, `-`, `.` and `:`;
/// [`ConfigError::ClockInUse`] when the type was already made with another clock (a
/// configuration without a clock asks for the system clock).
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use memo::CacheConfig;
///
/// // The URL shortener's cache types.
/// memo::configure("doc_url", CacheConfig::builder().capacity(5_000).ttl(Duration::from_secs(3600)).build()?)?;
/// memo::configure("doc_user", CacheConfig::builder().capacity(1_000).ttl(Duration::from_secs(1800)).build()?)?;
/// assert_eq!(memo::cache("doc_url")?.config().capacity(), 5_000);
/// # Ok::<(), memo::ConfigError>(())
/// ```
#[allow(clippy::needless_pass_by_value)] // `configure(name, builder.build()?)` reads best
pub fn configure(name: &str, config: CacheConfig) -> Result<Cache, ConfigError> {
    registry().configure(name, &config).map(Cache::new)
}

/// The handle of the cache type `name`, made with the default configuration if nothing
/// configured it (stats then show it as not configured). Making it fixes its clock (the
/// system clock): a cache type that is to run on a [`ManualClock`](crate::ManualClock) is
/// configured with it before its handle is asked for.
///
/// # Errors
///
/// [`ConfigError::InvalidName`] for a name that is empty, longer than 128 bytes or has
/// characters other than ASCII letters, digits, `_`, `-`, `.` and `:`.
pub fn cache(name: &str) -> Result<Cache, ConfigError> {
    check_name(name)?;
    Ok(Cache::new(registry().cache_type(name)))
}

/// The handle of the cache type that functions naming none use ([`DEFAULT_CACHE_TYPE`]).
#[must_use]
pub fn default_cache() -> Cache {
    Cache::new(registry().cache_type(DEFAULT_CACHE_TYPE))
}

/// Removes, from every cache type, the entries whose rendered key matches `pattern`, and returns
/// how many were removed. Matching entries whose TTL has run out (not swept yet) are removed
/// too but not counted: they count as expired, in the returned number as in the statistics.
///
/// Patterns follow Redis `MATCH`: `*` any run of characters, `?` one character, `[abc]`,
/// `[a-z]`, `[^a]` a class, `\` escapes. A pattern without wildcards removes that one key; a
/// pattern `prefix:*` removes a function's entries without looking at other functions. A
/// pattern, an exact key included, has at most [`Pattern::MAX_LEN`] bytes: a longer key is
/// removed with [`Cache::remove`] (manual keys) or a pattern with a wildcard.
///
/// Once this returns, no call that starts afterwards can see a value computed before it began:
/// computations in progress on matching keys will not store their results. Those computations
/// are not counted in the returned number, which counts stored entries only.
///
/// # Errors
///
/// A [`PatternError`] if the pattern is malformed; nothing is removed then.
///
/// # Example
///
/// ```
/// let users = memo::cache("doc_invalidate")?;
/// users.insert("user:1", "ada".to_owned());
/// users.insert("user:2", "bob".to_owned());
/// users.insert("team:1", "core".to_owned());
/// assert_eq!(memo::invalidate("user:*")?, 2);
/// assert!(users.contains("team:1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn invalidate(pattern: &str) -> Result<usize, PatternError> {
    if !pattern.is_empty()
        && pattern.len() <= Pattern::MAX_LEN
        && !pattern
            .bytes()
            .any(|b| matches!(b, b'*' | b'?' | b'[' | b']' | b'\\'))
    {
        // A plain key: no pattern to compile.
        let stores = registry().stores();
        return Ok(stores
            .for_start(pattern)
            .map(|s| s.invalidate_key(pattern))
            .sum());
    }
    let pattern = Pattern::new(pattern)?;
    Ok(invalidate_pattern(&pattern))
}

/// [`invalidate`] with a pattern checked beforehand.
pub fn invalidate_pattern(pattern: &Pattern) -> usize {
    let stores = registry().stores();
    if let Some(text) = pattern.exact() {
        return stores.for_start(text).map(|s| s.invalidate(pattern)).sum();
    }
    let literal = pattern.literal_prefix();
    if literal.contains(':') {
        // Only keys starting with the literal's first segment can match.
        return stores
            .for_start(literal)
            .map(|s| s.invalidate(pattern))
            .sum();
    }
    stores.iter().map(|s| s.invalidate(pattern)).sum()
}

/// Removes every entry of every cache type; returns how many were removed, expired ones (whose
/// TTL had run out) not counted. Computations in progress will not store their results.
pub fn clear_all() -> usize {
    registry().stores().iter().map(|s| s.clear()).sum()
}

/// Removes every expired entry now, in every cache type, and returns how many.
///
/// The background housekeeper does this by itself a few times a second; call it to make
/// memory use deterministic, e.g. in a test that moves a [`ManualClock`](crate::ManualClock).
pub fn sweep_expired() -> usize {
    registry().stores().iter().map(|s| s.sweep()).sum()
}

/// The stats entry of one cache type.
pub(crate) fn type_stats(t: &CacheType, mut activity: Activity) -> CacheTypeStats {
    // The tables were read one after another while calls may run: an entry evicted from a
    // table read before and inserted into one read after counts twice. The type never holds
    // more than its capacity, so neither does its snapshot.
    activity.clamp_size(t.capacity());
    CacheTypeStats {
        name: t.name.to_owned(),
        configured: t.is_configured(),
        capacity: t.capacity(),
        default_ttl_ms: t.default_ttl().map(millis),
        policy: t.policy(),
        manual_clock: t.clock().is_manual(),
        activity,
    }
}

/// A TTL in whole milliseconds, rounded up: a TTL under a millisecond shows as 1, not as 0
/// (which would read as "expires at once").
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// A snapshot of every cache type and every cached function that has run.
///
/// # Example
///
/// ```
/// let c = memo::cache("doc_stats")?;
/// c.insert("k", 1_u8);
/// assert_eq!(c.get::<u8>("k"), Some(1));
/// assert_eq!(c.get::<u8>("absent"), None);
/// let stats = memo::stats();
/// let t = stats.cache_type("doc_stats").unwrap();
/// assert_eq!((t.activity.hits, t.activity.misses, t.activity.size), (1, 1, 1));
/// # Ok::<(), memo::ConfigError>(())
/// ```
#[must_use]
pub fn stats() -> Stats {
    let mut cache_types = Vec::new();
    let mut functions = Vec::new();
    let mut totals = Activity::default();
    for t in registry().types() {
        let mut activity = Activity::default();
        for s in t.stores() {
            let (c, size, pending) = s.counters();
            let a = Activity::from_counters(&c, size, pending, s.info().entry_bytes);
            activity.merge(&a);
            if let Some(prefix) = s.info().prefix {
                functions.push(FunctionStats {
                    name: s.info().name.clone(),
                    prefix: prefix.to_owned(),
                    cache_type: t.name.to_owned(),
                    ttl_ms: s.info().ttl.map(|n| millis(Duration::from_nanos(n))),
                    activity: a,
                });
            }
        }
        let type_stats = type_stats(t, activity);
        totals.merge(&type_stats.activity);
        cache_types.push(type_stats);
    }
    // Each instantiation of a generic function has a table of its own, under the one name and
    // prefix of the function: one row, adding them up. Functions that only share a name (a
    // free function and an associated one, two local functions) keep a row each when their
    // prefixes differ.
    functions.sort_by(|a, b| stats_row(a).cmp(&stats_row(b)));
    functions.dedup_by(|later, first| {
        let same = stats_row(later) == stats_row(first);
        if same {
            first.activity.merge(&later.activity);
        }
        same
    });
    Stats {
        cache_types,
        functions,
        totals,
    }
}

/// What tells two rows of [`Stats::functions`] apart: rows equal in it are one function (the
/// instantiations of a generic one) and are added up.
fn stats_row(f: &FunctionStats) -> (&str, &str, &str) {
    (&f.name, &f.cache_type, &f.prefix)
}
