//! The manual API: a handle per cache type with string keys and values of any
//! `Clone + Send + Sync + 'static` type (the seeds' `get_cache('url').set/get/delete/exists`).

use std::sync::Arc;
use std::time::Duration;

use crate::cache_type::{CacheType, ManualStore, ManualValue};
use crate::clock::duration_nanos;
use crate::config::CacheConfig;
use crate::error::{CallError, PatternError};
use crate::flight::RunningMark;
use crate::function::Leader;
use crate::pattern::Pattern;
use crate::stats::{Activity, CacheTypeStats};
use crate::store::{Begin, Caller, Lookup};

/// A handle to one cache type: string keys, values of any `Clone + Send + Sync + 'static` type.
///
/// Get one with [`cache`](crate::cache()) or [`configure`](crate::configure); handles are cheap
/// to copy and all handles of a name reach the same entries. The keys of this API are their own
/// rendered text, so `memo::invalidate("user:*")` reaches `"user:1"` here as it reaches the
/// entries of a function with prefix `user`.
///
/// Keys are kept by their first segment (`user:` of `user:42`): each of the first 32 segments a
/// cache type sees gets a table of its own (the others, and keys without a `:`, share one), so
/// that `user:*` costs what its matches cost, however many other keys there are. A full cache
/// type evicts, by its policy, from the table holding the most entries (a segment's or a cached
/// function's), so that they converge to equal shares.
///
/// [`get`](Self::get), [`insert`](Self::insert), [`remove`](Self::remove) and
/// [`contains`](Self::contains) see the entries made through this API; [`len`](Self::len),
/// [`clear`](Self::clear) and [`invalidate`](Self::invalidate) act on the whole cache type,
/// including the entries of cached functions that store in it.
///
/// # Example
///
/// ```
/// use std::time::Duration;
///
/// let url = memo::cache("doc_manual")?;
/// url.insert("abc", "https://example.org".to_owned());
/// url.insert_with_ttl("tmp", 5_u32, Duration::from_secs(60));
/// assert_eq!(url.get::<String>("abc").as_deref(), Some("https://example.org"));
/// assert!(url.contains("tmp"));
/// assert!(url.remove("tmp"));
/// assert_eq!(url.len(), 1);
/// assert_eq!(url.clear(), 1);
/// # Ok::<(), memo::ConfigError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Cache {
    ty: &'static CacheType,
}

impl Cache {
    pub(crate) fn new(ty: &'static CacheType) -> Self {
        Self { ty }
    }

    /// The store that holds `key`.
    #[inline]
    fn store(self, key: &str) -> &'static ManualStore {
        self.ty.manual_store(key)
    }

    /// The cache type's name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.ty.name
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> CacheConfig {
        self.ty.config()
    }

    /// Stores `value` under `key` with the cache type's default TTL, replacing any value there.
    ///
    /// A computation of the same key in progress (through
    /// [`get_or_insert_with`](Self::get_or_insert_with)) will not overwrite it.
    pub fn insert<V: Send + Sync + 'static>(&self, key: &str, value: V) {
        self.store(key)
            .insert(key, Arc::new(value) as ManualValue, None);
    }

    /// Stores `value` under `key` for `ttl` (a zero TTL stores an entry that is already expired).
    pub fn insert_with_ttl<V: Send + Sync + 'static>(&self, key: &str, value: V, ttl: Duration) {
        self.store(key).insert(
            key,
            Arc::new(value) as ManualValue,
            Some(duration_nanos(ttl)),
        );
    }

    /// A copy of the value under `key`, if there is one of type `V` and it has not expired.
    ///
    /// Counts a hit or a miss. A value stored with another type reads as `None` (and counts as
    /// a hit, since the key was found).
    #[must_use]
    pub fn get<V: Clone + 'static>(&self, key: &str) -> Option<V> {
        let hash = self.ty.manual_hash(key);
        let store = self.store(key);
        // The value is copied out under the shard's read lock, so that a hit does not touch the
        // `Arc`'s count (a cache line shared by every thread reading the key).
        match store.lookup_with(hash, key, read_as::<V>) {
            Lookup::Hit(v) => v,
            Lookup::Miss => None,
        }
    }

    /// The value under `key`, computing and storing it with `compute` if there is none.
    ///
    /// # Concurrent calls on the same key
    ///
    /// Only one caller computes; the others wait and get a copy of its value. If the computing
    /// caller panics, one of the waiters computes instead. If the key holds a value of another
    /// type, `compute` runs and its value is returned without being stored.
    ///
    /// Waiting blocks the thread. Called from async code on a key that a task suspended on the
    /// same executor thread is computing (with
    /// [`get_or_insert_with_async`](Self::get_or_insert_with_async)), it blocks that task's
    /// only thread and waits for ever, as any blocking call in async code can: use the async
    /// form there.
    ///
    /// # Panics
    ///
    /// If `compute` calls `get_or_insert_with` on the same key (it would wait for itself
    /// forever); see [`try_get_or_insert_with`](Self::try_get_or_insert_with). A panic in
    /// `compute` reaches the caller.
    pub fn get_or_insert_with<V, F>(&self, key: &str, compute: F) -> V
    where
        V: Clone + Send + Sync + 'static,
        F: FnOnce() -> V,
    {
        match self.try_get_or_insert_with(key, compute) {
            Ok(v) => v,
            Err(e) => panic!("memo: {e}"),
        }
    }

    /// [`get_or_insert_with`](Self::get_or_insert_with) that reports a recursive call on the same
    /// key as an error instead of panicking.
    ///
    /// # Errors
    ///
    /// [`CallError::Recursion`] if `compute` (directly or not) asks for the same key.
    pub fn try_get_or_insert_with<V, F>(&self, key: &str, compute: F) -> Result<V, CallError>
    where
        V: Clone + Send + Sync + 'static,
        F: FnOnce() -> V,
    {
        let hash = self.ty.manual_hash(key);
        let store = self.store(key);
        // A hit first, under the read lock and without touching the value's `Arc`.
        match store.get_hit_with(hash, key, read_as::<V>) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Ok(compute()),
            Err(_) => get_or_insert_after_no_hit(store, hash, key, compute),
        }
    }

    /// [`get_or_insert_with`](Self::get_or_insert_with) for async computations, on any
    /// executor. A hit completes on the first poll without awaiting anything.
    ///
    /// # Concurrent calls on the same key
    ///
    /// Only one caller computes; the others wait (without blocking their thread) and get a copy
    /// of its value. If the computing future is dropped or panics, a waiting caller computes
    /// instead.
    ///
    /// # Errors
    ///
    /// [`CallError::Recursion`] if `compute` (directly or not) asks for the same key while it
    /// runs or its future is polled.
    pub async fn get_or_insert_with_async<V, F, Fut>(
        &self,
        key: &str,
        compute: F,
    ) -> Result<V, CallError>
    where
        V: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = V>,
    {
        let hash = self.ty.manual_hash(key);
        let store = self.store(key);
        // A hit first, under the read lock and without touching the value's `Arc`.
        if let Ok(found) = store.get_hit_with(hash, key, read_as::<V>) {
            return Ok(match found {
                Some(v) => v,
                None => compute().await,
            });
        }
        let mut count = true;
        let found = loop {
            match store.lookup_or_begin(hash, key, count, Caller::Task) {
                Begin::Hit(v) => break Some(v),
                Begin::Wait(flight) => {
                    if let Some(v) = (crate::flight::WaitFlight { flight }).await {
                        break Some(v);
                    }
                }
                Begin::Recursion => {
                    return Err(CallError::Recursion {
                        key: key.to_owned(),
                    });
                }
                Begin::Lead { stamp, timed } => {
                    let leader = Leader::new(store, hash, stamp);
                    let id = leader.id();
                    let started = timed.then(std::time::Instant::now);
                    // `compute` itself runs as part of the computation too: a call it makes for
                    // this key is recursion, not a wait for ever.
                    let fut = {
                        let _running = RunningMark::new(id);
                        compute()
                    };
                    let mut fut = std::pin::pin!(fut);
                    let value = std::future::poll_fn(|cx| {
                        let _running = RunningMark::new(id);
                        fut.as_mut().poll(cx)
                    })
                    .await;
                    leader.finish(Some(Arc::new(value.clone()) as ManualValue), started);
                    return Ok(value);
                }
            }
            count = false;
        };
        match found.as_deref().and_then(|v| v.downcast_ref::<V>()) {
            Some(v) => Ok(v.clone()),
            None => Ok(compute().await),
        }
    }

    /// Removes `key`; true if it held a value whose TTL had not run out (as [`contains`] would
    /// have said; an expired entry is removed too, and counted as expired).
    ///
    /// [`contains`]: Self::contains
    pub fn remove(&self, key: &str) -> bool {
        self.store(key).remove(key)
    }

    /// Whether `key` holds an unexpired value (counts no lookup).
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        self.store(key).contains(key)
    }

    /// Entries held by the cache type, functions' entries included (expired ones not yet swept
    /// too). It is the count of places taken, read at once, so while other threads store values
    /// it includes the few that have taken their place and are being written; never more than
    /// the capacity, but for an instant while `configure` lowers it: a place taken against the
    /// old capacity at that moment counts until it is given back.
    #[must_use]
    pub fn len(&self) -> usize {
        // Not the sum of the tables' counts: read one after another while entries move between
        // tables (an eviction in one, an insert in another), that sum can pass the capacity.
        self.ty.live()
    }

    /// Whether the cache type holds no entry.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry of the cache type; returns how many had not expired (expired ones
    /// go too, counted as expired). Computations in progress will not store their results.
    pub fn clear(&self) -> usize {
        self.ty.stores().iter().map(|s| s.clear()).sum()
    }

    /// Removes the entries of this cache type whose rendered key matches `pattern` (the grammar
    /// and length limit of [`memo::invalidate`](crate::invalidate)); returns how many had not
    /// expired, as `memo::invalidate` does.
    ///
    /// # Errors
    ///
    /// A [`PatternError`] if the pattern is malformed; nothing is removed then.
    pub fn invalidate(&self, pattern: &str) -> Result<usize, PatternError> {
        let pattern = Pattern::new(pattern)?;
        Ok(self
            .ty
            .stores()
            .iter()
            .map(|s| s.invalidate(&pattern))
            .sum())
    }

    /// Removes the expired entries of this cache type now; returns how many.
    pub fn sweep_expired(&self) -> usize {
        self.ty.stores().iter().map(|s| s.sweep()).sum()
    }

    /// A snapshot of this cache type's counters.
    #[must_use]
    pub fn stats(&self) -> CacheTypeStats {
        let mut activity = Activity::default();
        for s in self.ty.stores() {
            let (c, size, pending) = s.counters();
            activity.merge(&Activity::from_counters(
                &c,
                size,
                pending,
                s.info().entry_bytes,
            ));
        }
        crate::registry::type_stats(self.ty, activity)
    }
}

/// [`Cache::try_get_or_insert_with`] once the hit path found nothing (out of line, so that the
/// hit path stays small): waits for the computation in flight, or computes.
#[inline(never)]
fn get_or_insert_after_no_hit<V, F>(
    store: &'static ManualStore,
    hash: u64,
    key: &str,
    compute: F,
) -> Result<V, CallError>
where
    V: Clone + Send + Sync + 'static,
    F: FnOnce() -> V,
{
    let mut count = true;
    let found = loop {
        match store.lookup_or_begin(hash, key, count, Caller::Thread) {
            Begin::Hit(v) => break Some(v),
            Begin::Wait(flight) => {
                if let Some(v) = flight.wait() {
                    break Some(v);
                }
            }
            Begin::Recursion => {
                return Err(CallError::Recursion {
                    key: key.to_owned(),
                });
            }
            Begin::Lead { stamp, timed } => {
                let leader = Leader::new(store, hash, stamp);
                let started = timed.then(std::time::Instant::now);
                // No running mark: the computation recorded this thread when it began.
                let value = compute();
                leader.finish(Some(Arc::new(value.clone()) as ManualValue), started);
                return Ok(value);
            }
        }
        count = false;
    };
    match found.as_deref().and_then(|v| v.downcast_ref::<V>()) {
        Some(v) => Ok(v.clone()),
        None => Ok(compute()),
    }
}

/// A copy of a stored value if it has type `V` (a value of another type reads as `None`).
fn read_as<V: Clone + 'static>(value: &ManualValue) -> Option<V> {
    value.downcast_ref::<V>().cloned()
}

// A panic in a computation leaves every cache consistent (the in-flight slot is removed and
// waiters take over), so handles may cross `catch_unwind`.
impl std::panic::UnwindSafe for Cache {}
impl std::panic::RefUnwindSafe for Cache {}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("name", &self.ty.name)
            .field("len", &self.len())
            .finish()
    }
}
