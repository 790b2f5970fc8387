//! One store per cached function (and one per cache type for the manual API): a sharded hash
//! table of typed slots.
//!
//! A slot is either ready (a value) or in flight (a computation in progress). In-flight slots are
//! what single-flight waits on and what invalidation fences: removing an in-flight slot makes
//! its leader's result unstorable, so a computation that began before an invalidation never
//! re-inserts its value afterwards.
//!
//! Rendered keys (`prefix:arg1:arg2`) are made only when needed: to match patterns, and for the
//! index of rendered keys that makes exact invalidation O(1). A store builds that index on its
//! first exact invalidation and maintains it from then on, so functions that are never
//! invalidated by exact key never render a key on their miss path.
//!
//! Locks: one reader-writer lock per shard ([`ShardLock`]), held only for table work (never while
//! user computations run). Hits take it for reading, and a reader counts its entry and exit on a
//! stripe of its own thread's, so hits on different cores share no written cache line. The miss
//! of a key the table does not hold keeps the read lock its hit path took, and registers its
//! computation under it and the shard's in-flight mutex ([`InFlight`]); everything else (storing values, expired
//! entries, evictions, invalidations, LRU) takes it for writing, and then reaches the in-flight
//! records without locking. The order is shard, then in-flight mutex, then index shard; no code
//! holds two shards of one table at once. Values removed from the table are dropped after the
//! lock is released.

use std::any::Any;
use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use hashbrown::HashTable;

use crate::cache_type::CacheType;
use crate::clock::{self, Clock, NEVER};
use crate::config::EvictionPolicy;
use crate::flight::{Flight, FlightId};
use crate::index::TagIndex;
use crate::key::{KeyArgs, KeyWriter, RenderFn, TextKey, hash_key};
use crate::pattern::{Pattern, PrefixMatch};
use crate::policy::{Meta, Policy, Tracked};
use crate::stats::Counters;
use crate::sync::{
    AtomicBool, AtomicUsize, Mutex, Ordering, Padded, ShardLock, ShardReadGuard, ShardWriteGuard,
    SpinMutex, Striped, thread_local,
};

/// What a store is, for stats and invalidation.
#[derive(Debug)]
pub(crate) struct StoreInfo {
    /// `module::function` for function stores, empty for the manual store.
    pub(crate) name: String,
    /// The rendered keys' first segment (function stores only).
    pub(crate) prefix: Option<&'static str>,
    /// Whether the function has no key arguments: its one key is the prefix alone.
    pub(crate) zero_arity: bool,
    /// What every rendered key of the store starts with: `prefix:`, or a manual store's segment
    /// (empty for the manual store shared by keys without a segment of their own).
    pub(crate) key_start: Box<str>,
    /// The function's own TTL in nanoseconds, overriding the cache type's default.
    pub(crate) ttl: Option<u64>,
    /// Approximate bytes one entry takes besides the heap memory its key and value own.
    pub(crate) entry_bytes: usize,
}

impl StoreInfo {
    /// The description of a store whose keys are their own text (the manual API's), all
    /// starting with `segment` (`user:`; empty for the shared manual store).
    pub(crate) fn manual(entry_bytes: usize, segment: &str) -> Self {
        Self {
            name: String::new(),
            prefix: None,
            zero_arity: false,
            key_start: Box::from(segment),
            ttl: None,
            entry_bytes,
        }
    }
}

/// Why a slot leaves the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    Capacity,
    Expired,
    Invalidated,
    Replaced,
}

/// A ready entry. Computations in flight live apart, in [`Pending`], so that the table the hit
/// path reads holds nothing but what a hit needs.
///
/// The hash is kept so that the table never calls the key's `Hash` (user code) under its lock:
/// not when it grows, nor for bookkeeping.
pub(crate) struct Slot<K, V> {
    hash: u64,
    meta: Meta,
    expires: u64,
    key: K,
    value: V,
}

impl<K, V> Tracked for Slot<K, V> {
    fn meta(&self) -> &Meta {
        &self.meta
    }
    fn meta_mut(&mut self) -> &mut Meta {
        &mut self.meta
    }
    fn hash(&self) -> u64 {
        self.hash
    }
}

impl<K, V> Slot<K, V> {
    /// Whether the slot has not expired by `now` (an entry without a TTL expires at
    /// [`NEVER`], which no clock reaches: one comparison on the hit path either way).
    #[inline]
    fn is_live(&self, now: u64) -> bool {
        self.expires > now
    }
}

/// Why [`Store::hit_inline`] found no hit, for the miss path.
pub(crate) enum NoHit<'a, K, V> {
    /// The table of shard `i` does not hold the key: its read lock is still held, so that the
    /// computation is registered under it.
    Absent {
        shard: ShardReadGuard<'a, Shard<K, V>>,
        i: usize,
    },
    /// Anything else (an expired entry, LRU, a writer in the way, the thread's first lock):
    /// the miss path looks again.
    LookAgain,
}

/// A computation in flight. The flight exists once somebody waits.
struct Pending<K, V> {
    hash: u64,
    stamp: u32,
    /// Hash of the rendered key, valid once the shard is indexed.
    tag: u64,
    key: K,
    flight: Option<Arc<Flight<V>>>,
    /// The thread computing ([`this_thread`](crate::flight::this_thread)) when a thread
    /// computes; 0 when a task does (it marks itself running while polled instead).
    thread: u64,
}

/// The computations in flight of a shard, and the counts taken where they begin.
///
/// Behind a mutex of their own, so that a miss on a key the table does not hold registers its
/// computation under the shard's read lock (the table cannot change meanwhile) instead of taking
/// the write lock, which locks every reader stripe. Writers, who hold the shard exclusively,
/// reach it through `get_mut`, without locking.
struct InFlight<K, V> {
    table: PendingSet<K, V>,
    /// The stamp of the next computation (its [`FlightId`]).
    next_stamp: u32,
    misses: u64,
    coalesced: u64,
}

impl<K, V> InFlight<K, V> {
    fn new() -> Self {
        Self {
            table: PendingSet::new(),
            next_stamp: 0,
            misses: 0,
            coalesced: 0,
        }
    }
}

/// The computations in flight of one shard: the first in a field of its own, any others in a
/// table. A shard nearly always has one computation in flight at most, and a field costs a
/// fraction of a table's insert, lookup and removal, which every miss makes.
struct PendingSet<K, V> {
    solo: Option<Pending<K, V>>,
    more: HashTable<Pending<K, V>>,
}

impl<K, V> PendingSet<K, V> {
    fn new() -> Self {
        Self {
            solo: None,
            more: HashTable::new(),
        }
    }

    fn len(&self) -> usize {
        usize::from(self.solo.is_some()) + self.more.len()
    }

    /// The computation of hash `hash` that `eq` accepts.
    fn find(
        &self,
        hash: u64,
        mut eq: impl FnMut(&Pending<K, V>) -> bool,
    ) -> Option<&Pending<K, V>> {
        match &self.solo {
            Some(p) if p.hash == hash && eq(p) => Some(p),
            _ if self.more.is_empty() => None,
            _ => self.more.find(hash, eq),
        }
    }

    /// [`find`](Self::find), for changing it.
    fn find_mut(
        &mut self,
        hash: u64,
        mut eq: impl FnMut(&Pending<K, V>) -> bool,
    ) -> Option<&mut Pending<K, V>> {
        if self.solo.as_ref().is_some_and(|p| p.hash == hash && eq(p)) {
            return self.solo.as_mut();
        }
        if self.more.is_empty() {
            return None;
        }
        self.more.find_mut(hash, eq)
    }

    /// Adds a computation: in the field if it is free (inlined, so that the computation is
    /// written in place rather than built on the stack and copied), else in the table.
    #[inline]
    fn insert(&mut self, p: Pending<K, V>) {
        if self.solo.is_none() {
            self.solo = Some(p);
        } else {
            self.insert_more(p);
        }
    }

    #[cold]
    #[inline(never)]
    fn insert_more(&mut self, p: Pending<K, V>) {
        self.more.insert_unique(p.hash, p, |p| p.hash);
    }

    /// Takes out the computation of hash `hash` that `eq` accepts.
    fn remove(
        &mut self,
        hash: u64,
        mut eq: impl FnMut(&Pending<K, V>) -> bool,
    ) -> Option<Pending<K, V>> {
        if self.solo.as_ref().is_some_and(|p| p.hash == hash && eq(p)) {
            return self.solo.take();
        }
        if self.more.is_empty() {
            return None;
        }
        let entry = self.more.find_entry(hash, eq).ok()?;
        Some(entry.remove().0)
    }

    /// How many computations have the hash `hash`.
    fn count_hash(&self, hash: u64) -> usize {
        let solo = self.solo.as_ref().is_some_and(|p| p.hash == hash);
        let more = if self.more.is_empty() {
            0
        } else {
            self.more.iter_hash(hash).filter(|p| p.hash == hash).count()
        };
        usize::from(solo) + more
    }

    /// Every computation, in an order that stays the same while the set does not change.
    fn iter(&self) -> impl Iterator<Item = &Pending<K, V>> {
        self.solo.iter().chain(self.more.iter())
    }

    /// [`iter`](Self::iter), for changing them (same order).
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Pending<K, V>> {
        self.solo.iter_mut().chain(self.more.iter_mut())
    }

    /// Takes out every computation.
    fn drain(&mut self) -> Vec<Pending<K, V>> {
        self.solo
            .take()
            .into_iter()
            .chain(self.more.drain())
            .collect()
    }
}

/// A hit reads a shard under its read lock and writes nothing in it (the hit is counted in the
/// store's [`Striped`] counter, a slot's S3-FIFO frequency is an atomic that stops changing once
/// it saturates), so that hits on two cores pass no cache line back and forth.
pub(crate) struct Shard<K, V> {
    table: HashTable<Slot<K, V>>,
    /// Whether the policy is LRU, which queues an item on every hit.
    lru: bool,
    pending: SpinMutex<InFlight<K, V>>,
    policy: Policy,
    /// Every counter but `hits` and `misses`.
    counters: Counters,
    /// Entries with a TTL, and the earliest of their deadlines (a lower bound).
    timed: usize,
    next_expiry: u64,
    /// Whether this shard's keys are in the rendered-key index.
    indexed: bool,
    /// Where the table's slots end, as recorded by the last insert: hashbrown lays its buckets
    /// out downwards from there, so bucket `b` starts `(b + 1)` slots below. Only used to
    /// prefetch (a stale or wrong address costs nothing but the prefetch); 0 before the
    /// first insert.
    slots_end: usize,
}

impl<K, V> Shard<K, V> {
    /// Where storing a new entry of hash `hash` in this (full) shard will write and read, for
    /// [`StoreLines::prefetch`]: the first buckets of the key's probe sequence, where the table
    /// (at most 7/8 full) nearly always has a free one, and the slot the policy will look at
    /// first to evict. Computed from [`slots_end`](Self::slots_end) (past the last bucket the
    /// sequence wraps to the first: those lines are simply not fetched).
    #[inline]
    fn lines_for_store(&self, hash: u64) -> StoreLines {
        let mut lines = StoreLines([0; 4]);
        let buckets = self.table.num_buckets();
        if self.slots_end == 0 || buckets == 0 {
            return lines;
        }
        let size = size_of::<Slot<K, V>>();
        let bucket_at = |bucket: usize| self.slots_end.wrapping_sub((bucket + 1) * size);
        #[allow(clippy::cast_possible_truncation)] // hashbrown's `h1`: the low bits, on purpose
        let home = bucket_at((hash as usize) & (buckets - 1));
        lines.0[0] = home;
        lines.0[1] = home.wrapping_sub(size);
        lines.0[2] = home.wrapping_sub(2 * size);
        if let Some(bucket) = self.policy.next_victim() {
            lines.0[3] = bucket_at(bucket);
        }
        lines
    }
}

/// Addresses a miss will store to or load from once it has computed its value (0 for none):
/// see [`Shard::lines_for_store`].
struct StoreLines([usize; 4]);

impl StoreLines {
    /// Asks the processor to fetch the lines, so that they arrive while the miss computes:
    /// otherwise storing waits for them, on its loads and on the locked instructions after its
    /// stores.
    ///
    /// Issued after the miss has left its locks: a locked instruction (the in-flight mutex's,
    /// here) also waited for prefetches issued before it. In-process A/B on W2 (memo against
    /// `quick_cache`, interleaved rounds, 5 runs): no prefetch 1.9x, prefetched under the
    /// read lock 1.8x, after it 1.7x. The victim is better prefetched here than at the end of
    /// the previous store of the shard; the ghost queue's line of the new key and the
    /// victim's control byte gained nothing.
    #[inline]
    fn prefetch(&self) {
        for &line in &self.0 {
            if line != 0 {
                prefetch(line);
            }
        }
    }
}

/// One shard of a store, alone on its cache lines.
type LockedShard<K, V> = Padded<ShardLock<Shard<K, V>>>;

/// One shard of the secondary index.
type IndexShard = Padded<Mutex<TagIndex>>;

/// Outcome of a plain lookup.
pub(crate) enum Lookup<V> {
    Hit(V),
    Miss,
}

/// Outcome of looking up a key to get or compute it.
pub(crate) enum Begin<V> {
    /// The value.
    Hit(V),
    /// The caller computes; the in-flight slot is its, told apart by `stamp` (its
    /// [`FlightId`] is [`Store::flight_id`]). `timed` says whether to time the load. Small
    /// enough that a `Begin<u64>` is returned in two registers: with the whole `FlightId`
    /// here, the miss path moved it through memory in pieces and read it back whole (a stalled
    /// load per W2 miss).
    Lead { stamp: u32, timed: bool },
    /// Another caller computes: wait for this flight.
    Wait(Arc<Flight<V>>),
    /// The caller is itself computing this key.
    Recursion,
}

/// Who computes the value if a lookup begins a computation, for telling recursion apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A thread, which computes right away and on itself: the computation records the thread,
    /// and a call on that thread that would wait for it is recursion.
    Thread,
    /// A task, which may be suspended and moved: it marks itself running on a thread only while
    /// polled ([`RunningMark`](crate::flight::RunningMark)).
    Task,
}

/// The place a new entry takes in its cache type's capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// None could be had (see [`CacheType::reserve`]): the value is not stored.
    None,
    /// A free place, counted in the cache type when taken.
    Fresh,
    /// The place of an entry just evicted for it, never given back to the cache type.
    Inherited,
}

/// Loads timed per shard before sampling starts, and the sampling period after that. A timed
/// load reads the clock twice (about 25 ns each here), which one load in 64 made cost W2's
/// miss about 0.06x `quick_cache` (in-process A/B against never timing).
const TIME_FIRST_LOADS: u64 = 64;
const TIME_ONE_LOAD_IN: u32 = 1024;

/// Entries and computations removed under a lock: dropped after it (user `Drop` code never runs
/// under a lock), and flights to tell to start over.
///
/// The first slot is held inline: a miss that evicts one entry allocates nothing for it. Slots
/// whose drop runs no code (plain keys and values) are not kept at all: only counted.
struct Removed<K, V> {
    first: Option<Slot<K, V>>,
    slots: Vec<Slot<K, V>>,
    count: usize,
    pending: Vec<Pending<K, V>>,
}

impl<K, V: Clone> Removed<K, V> {
    fn new() -> Self {
        Self {
            first: None,
            slots: Vec::new(),
            count: 0,
            pending: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, slot: Slot<K, V>) {
        self.count += 1;
        self.keep(slot);
    }

    /// [`push`](Self::push) for a slot removed for `cause`: one whose TTL had run out is not
    /// counted as removed (to a caller, it was already gone).
    fn push_for(&mut self, slot: Slot<K, V>, cause: Cause) {
        if cause == Cause::Expired {
            self.keep(slot);
        } else {
            self.push(slot);
        }
    }

    #[inline]
    fn keep(&mut self, slot: Slot<K, V>) {
        if !std::mem::needs_drop::<Slot<K, V>>() {
            // Dropping it here runs nothing, under the lock or not; keeping it would move it
            // twice more.
        } else if self.first.is_none() {
            self.first = Some(slot);
        } else {
            self.slots.push(slot);
        }
    }

    /// How many ready, unexpired entries were removed.
    fn count(&self) -> usize {
        self.count
    }
}

/// Dropping what was removed (after the lock) wakes the waiters of removed computations to start
/// over; as a `Drop`, it also does so when a panic unwinds, so that no waiter is stranded.
impl<K, V> Drop for Removed<K, V> {
    fn drop(&mut self) {
        for p in &self.pending {
            if let Some(f) = &p.flight {
                f.retry();
            }
        }
    }
}

thread_local! {
    /// A buffer for rendering keys, reused to spare an allocation per key.
    static RENDER_BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A sharded table of one key type and one value type.
///
/// In declaration order (`repr(C)`): what every hit reads (the shards, the hasher, the clock)
/// fills the first cache line, and the hit counters, written on every hit, come after it, at
/// offsets that are not those of the first line plus a multiple of 4 KiB (a load at the same
/// address bits as a store in flight waits for it, as if it read what the store writes).
#[repr(C)]
pub(crate) struct Store<K, V> {
    shards: Box<[LockedShard<K, V>]>,
    hasher: ahash::RandomState,
    clock: Clock,
    /// The secondary index, built by the first invalidation that needs it: for function stores
    /// the rendered key (exact invalidation in O(1)); for the manual store the key's first
    /// segment, `user:` of `user:42` (`user:*` in O(matches)).
    index: Box<[IndexShard]>,
    /// Set once every shard is indexed (by the first exact invalidation).
    index_ready: AtomicBool,
    render: Option<RenderFn<K>>,
    pub(crate) info: StoreInfo,
    pub(crate) ty: &'static CacheType,
    len: AtomicUsize,
    evict_cursor: AtomicUsize,
    /// Hits, counted outside the shards so that a hit writes nothing a hit on another core
    /// reads.
    hits: Striped,
    /// Manual stores: one bit per hash of a first segment (`user:` of `user:42`) that a key
    /// ever had here, so that an exact invalidation asking every store passes over the stores
    /// that cannot hold its key without touching their shards. Never cleared.
    segments: std::sync::atomic::AtomicU64,
}

/// Where in a hash the bits that choose a shard start: apart from the low bits that place a key
/// in a shard's table and the top seven that tag it there (hashbrown's `h1` and `h2`).
const SHARD_BITS_AT: u32 = 40;

/// The number of shards for a cache type of `capacity` entries: one below 1,024 entries (so
/// that small caches keep an exact global eviction order), else 8 to 256.
fn shard_count(capacity: usize) -> usize {
    if capacity < 1024 {
        1
    } else {
        (capacity / 4096).next_power_of_two().clamp(8, 256)
    }
}

impl<K, V> Store<K, V>
where
    K: Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn new(
        ty: &'static CacheType,
        info: StoreInfo,
        render: Option<RenderFn<K>>,
    ) -> Self {
        Self::with_hasher(ty, info, render, ahash::RandomState::new())
    }

    /// A store whose keys hash with `hasher` (the manual stores of a cache type share one, so
    /// that a call hashes its key while it finds the key's store).
    pub(crate) fn with_hasher(
        ty: &'static CacheType,
        info: StoreInfo,
        render: Option<RenderFn<K>>,
        hasher: ahash::RandomState,
    ) -> Self {
        let (capacity, policy) = (ty.capacity(), ty.policy());
        let n = shard_count(capacity);
        let shards = (0..n)
            .map(|_| {
                Padded(ShardLock::new(Shard {
                    table: HashTable::new(),
                    lru: policy == EvictionPolicy::Lru,
                    pending: SpinMutex::new(InFlight::new()),
                    policy: Policy::new(policy),
                    counters: Counters::default(),
                    timed: 0,
                    next_expiry: NEVER,
                    indexed: false,
                    slots_end: 0,
                }))
            })
            .collect();
        let index = (0..n)
            .map(|_| Padded(Mutex::new(TagIndex::default())))
            .collect();
        Self {
            shards,
            // Shard by bits 40.. of the hash: hashbrown uses the low bits to place slots and
            // the top seven as tags, so neither loses entropy within a shard.
            hasher,
            index,
            index_ready: AtomicBool::new(false),
            render,
            info,
            ty,
            clock: ty.clock().clone(),
            len: AtomicUsize::new(0),
            evict_cursor: AtomicUsize::new(0),
            hits: Striped::default(),
            segments: std::sync::atomic::AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn hash<Q: KeyArgs<Owned = K> + ?Sized>(&self, key: &Q) -> u64 {
        hash_key(&self.hasher, key)
    }

    #[inline]
    fn shard_of(&self, hash: u64) -> usize {
        ((hash >> SHARD_BITS_AT) as usize) & (self.shards.len() - 1)
    }

    #[inline]
    fn lock(&self, i: usize) -> ShardWriteGuard<'_, Shard<K, V>> {
        self.shards[i].write()
    }

    fn addr(&self) -> usize {
        std::ptr::from_ref(self).cast::<()>() as usize
    }

    /// The id of the computation of hash `hash` that [`Begin::Lead`] gave `stamp`.
    pub(crate) fn flight_id(&self, hash: u64, stamp: u32) -> FlightId {
        FlightId {
            store: self.addr(),
            shard: self.shard_of(hash) as u32,
            stamp,
        }
    }

    #[inline]
    fn now(&self) -> u64 {
        self.clock.coarse_nanos()
    }

    /// A plain lookup: what `read` makes of a ready, unexpired value (a hit), or a miss (both
    /// counted). `read` runs under the shard's lock.
    #[inline]
    pub(crate) fn lookup_with<Q, R, F>(&self, hash: u64, key: &Q, read: F) -> Lookup<R>
    where
        Q: KeyArgs<Owned = K> + ?Sized,
        F: FnOnce(&V) -> R,
    {
        // A hit needs only the read lock, and so does the miss of a key the table does not hold;
        // an expired entry is removed (and LRU's miss counted) under the write lock.
        match self.get_hit_with(hash, key, read) {
            Ok(v) => Lookup::Hit(v),
            Err(read) => self.lookup_after_no_hit(hash, key, read),
        }
    }

    /// [`lookup_with`](Self::lookup_with) once the hit path found nothing: out of line, so that
    /// the hit path stays small wherever it is inlined.
    #[inline(never)]
    fn lookup_after_no_hit<Q, R, F>(&self, hash: u64, key: &Q, read: F) -> Lookup<R>
    where
        Q: KeyArgs<Owned = K> + ?Sized,
        F: FnOnce(&V) -> R,
    {
        {
            let shard = self.shards[self.shard_of(hash)].read();
            if !shard.lru && shard.table.find(hash, |s| key.eq_key(&s.key)).is_none() {
                shard.pending.lock().misses += 1;
                return Lookup::Miss;
            }
        }
        let mut guard = self.lock(self.shard_of(hash));
        let shard = &mut *guard;
        if let Some((bucket, slot)) = find_bucket(&mut shard.table, hash, key) {
            if slot.is_live(self.now()) {
                let v = read(&slot.value);
                shard.policy.on_hit(&mut slot.meta, bucket);
                self.hits.incr();
                maybe_compact_after_hit(shard);
                return Lookup::Hit(v);
            }
        }
        shard.pending.get_mut().misses += 1;
        let expired = self.take_expired(shard, hash, key);
        drop(guard);
        drop(expired);
        Lookup::Miss
    }

    /// [`lookup_with`](Self::lookup_with) that clones the value.
    #[cfg(test)]
    pub(crate) fn lookup<Q: KeyArgs<Owned = K> + ?Sized>(&self, hash: u64, key: &Q) -> Lookup<V> {
        self.lookup_with(hash, key, V::clone)
    }

    /// The hit path of a synchronous cached call: the value if the key has a live one (a hit,
    /// counted), or what the miss path needs (nothing counted: [`begin_absent`](Self::begin_absent)
    /// or [`get_or_begin`](Self::get_or_begin) counts the miss, or the hit).
    ///
    /// It calls nothing out of line: whatever needs a call (a writer to wait for, the thread's
    /// first lock, LRU's requeueing under the write lock) is left to the miss path. So the
    /// cached function's hit path keeps its values in registers that need no saving, and
    /// returns the bare value. A key the table does not hold leaves the read lock held, so
    /// that the miss path registers its computation under it without looking again.
    #[allow(clippy::inline_always)] // the hit path: see `Site::hit`
    #[inline(always)]
    pub(crate) fn hit_inline<Q: KeyArgs<Owned = K> + ?Sized>(
        &self,
        hash: u64,
        key: &Q,
    ) -> Result<V, NoHit<'_, K, V>> {
        let i = self.shard_of(hash);
        let Some(shard) = self.shards[i].try_read_inline() else {
            return Err(NoHit::LookAgain);
        };
        if shard.lru {
            return Err(NoHit::LookAgain);
        }
        let Some(slot) = shard.table.find(hash, |s| key.eq_key(&s.key)) else {
            return Err(NoHit::Absent { shard, i });
        };
        if !slot.is_live(self.now()) {
            return Err(NoHit::LookAgain);
        }
        let v = slot.value.clone();
        slot.meta.touch();
        self.hits.incr_at(shard.stripe());
        Ok(v)
    }

    /// The hit path of an async cached call: the value if the key has a live one (a hit,
    /// counted), or
    /// `None` (not counted: the caller goes on to [`lookup_or_begin`](Self::lookup_or_begin),
    /// which counts the miss). It returns the bare value, so that nothing but the value moves.
    /// Unlike [`hit_inline`](Self::hit_inline) it takes LRU's hits too (under the write lock),
    /// which would otherwise make a future for the miss path.
    #[allow(clippy::inline_always)] // the hit path: see `Site::hit`
    #[inline(always)]
    pub(crate) fn get_hit<Q: KeyArgs<Owned = K> + ?Sized>(&self, hash: u64, key: &Q) -> Option<V> {
        self.hit_inlined(hash, key, V::clone).ok()
    }

    /// [`get_hit`](Self::get_hit) that gives what `read` makes of the value (run under the
    /// shard's read lock), or gives `read` back unused when there is no hit. The manual API
    /// reads its type-erased values through it, to copy the value out without touching the
    /// `Arc`'s shared count. Out of line, unlike `get_hit`: inlined into the manual API's
    /// `Cache::get` it made its hits slower (45 -> 58 ns in a probe).
    #[inline(never)]
    pub(crate) fn get_hit_with<Q, R, F>(&self, hash: u64, key: &Q, read: F) -> Result<R, F>
    where
        Q: KeyArgs<Owned = K> + ?Sized,
        F: FnOnce(&V) -> R,
    {
        self.hit_inlined(hash, key, read)
    }

    /// The body of [`get_hit_with`](Self::get_hit_with), always inlined.
    #[allow(clippy::inline_always)] // the hit path: see `Site::hit`
    #[inline(always)]
    fn hit_inlined<Q, R, F>(&self, hash: u64, key: &Q, read: F) -> Result<R, F>
    where
        Q: KeyArgs<Owned = K> + ?Sized,
        F: FnOnce(&V) -> R,
    {
        let i = self.shard_of(hash);
        let shard = self.shards[i].read();
        if shard.lru {
            // LRU requeues the entry on every hit, which needs the shard to itself.
            drop(shard);
            return self.get_hit_exclusive(i, hash, key, read);
        }
        let Some(slot) = shard.table.find(hash, |s| key.eq_key(&s.key)) else {
            return Err(read);
        };
        if !slot.is_live(self.now()) {
            return Err(read);
        }
        let v = read(&slot.value);
        slot.meta.touch();
        self.hits.incr_at(shard.stripe());
        Ok(v)
    }

    /// The second look of a synchronous cached call, after [`hit_inline`](Self::hit_inline)
    /// found nothing and did not keep its read lock: what
    /// [`lookup_or_begin`](Self::lookup_or_begin) would return (a hit counted as one). The miss
    /// of a key the table does not hold registers its computation under the read lock of this
    /// look ([`begin_absent`](Self::begin_absent)).
    #[inline]
    pub(crate) fn get_or_begin<Q: KeyArgs<Owned = K> + ?Sized>(
        &self,
        hash: u64,
        key: &Q,
    ) -> Begin<V> {
        let i = self.shard_of(hash);
        let shard = self.shards[i].read();
        if shard.lru {
            // LRU requeues the entry on every hit, which needs the shard to itself.
            drop(shard);
            return self.lookup_or_begin_exclusive(i, hash, key, true, Caller::Thread);
        }
        let Some(slot) = shard.table.find(hash, |s| key.eq_key(&s.key)) else {
            return self.begin_absent(shard, i, hash, key);
        };
        if !slot.is_live(self.now()) {
            drop(shard);
            return self.lookup_or_begin_exclusive(i, hash, key, true, Caller::Thread);
        }
        let v = slot.value.clone();
        slot.meta.touch();
        self.hits.incr_at(shard.stripe());
        Begin::Hit(v)
    }

    /// The miss of a key the table of shard `i` does not hold, found under `shard`'s read
    /// lock: joins its computation in flight or registers one (counted as a miss). Inlined
    /// into the miss path, which then keeps the outcome in registers.
    #[allow(clippy::inline_always)] // W2's miss: see `Site::enter`
    #[inline(always)]
    pub(crate) fn begin_absent<Q: KeyArgs<Owned = K> + ?Sized>(
        &self,
        shard: ShardReadGuard<'_, Shard<K, V>>,
        i: usize,
        hash: u64,
        key: &Q,
    ) -> Begin<V> {
        let loads = shard.counters.loads;
        let lines = shard.lines_for_store(hash);
        let mut flights = shard.pending.lock();
        let begin = self.begin_in(
            &mut flights,
            shard.indexed,
            loads,
            i,
            hash,
            key,
            true,
            Caller::Thread,
        );
        drop(flights);
        drop(shard);
        lines.prefetch();
        begin
    }

    /// [`get_hit_with`](Self::get_hit_with) with the shard write-locked, for policies that
    /// reorder on hits.
    #[cold]
    #[inline(never)]
    fn get_hit_exclusive<Q, R, F>(&self, i: usize, hash: u64, key: &Q, read: F) -> Result<R, F>
    where
        Q: KeyArgs<Owned = K> + ?Sized,
        F: FnOnce(&V) -> R,
    {
        let mut guard = self.lock(i);
        let shard = &mut *guard;
        let Some((bucket, slot)) = find_bucket(&mut shard.table, hash, key) else {
            return Err(read);
        };
        if !slot.is_live(self.now()) {
            return Err(read);
        }
        let v = read(&slot.value);
        shard.policy.on_hit(&mut slot.meta, bucket);
        self.hits.incr();
        maybe_compact_after_hit(shard);
        Ok(v)
    }

    /// Removes the key's ready slot if it has expired, for dropping after the lock.
    fn take_expired<Q: KeyArgs<Owned = K> + ?Sized>(
        &self,
        shard: &mut Shard<K, V>,
        hash: u64,
        key: &Q,
    ) -> Option<Slot<K, V>> {
        let entry = shard.table.find_entry(hash, |s| key.eq_key(&s.key)).ok()?;
        if entry.get().is_live(self.now()) {
            return None;
        }
        let (slot, _) = entry.remove();
        self.account_removal(shard, &slot, Cause::Expired);
        Some(slot)
    }

    /// Looks a key up to get or compute it: the value if it is there, else joins the
    /// computation in flight, else starts one (the in-flight slot is inserted under the same
    /// lock as the lookup). `count` says whether this call counts as a lookup (retries do not).
    ///
    /// A key the table does not hold is handled under the shard's read lock (and its in-flight
    /// mutex); an expired entry, which must be removed, and LRU, which requeues on hits, take
    /// the write lock.
    #[inline]
    pub(crate) fn lookup_or_begin<Q: KeyArgs<Owned = K> + ?Sized>(
        &self,
        hash: u64,
        key: &Q,
        count: bool,
        caller: Caller,
    ) -> Begin<V> {
        let shard_i = self.shard_of(hash);
        let shard = self.shards[shard_i].read();
        if !shard.lru {
            match shard.table.find(hash, |s| key.eq_key(&s.key)) {
                Some(slot) if slot.is_live(self.now()) => {
                    let v = slot.value.clone();
                    if count {
                        slot.meta.touch();
                        self.hits.incr();
                    }
                    return Begin::Hit(v);
                }
                Some(_) => {}
                None => {
                    let loads = shard.counters.loads;
                    let mut flights = shard.pending.lock();
                    return self.begin_in(
                        &mut flights,
                        shard.indexed,
                        loads,
                        shard_i,
                        hash,
                        key,
                        count,
                        caller,
                    );
                }
            }
        }
        drop(shard);
        self.lookup_or_begin_exclusive(shard_i, hash, key, count, caller)
    }

    /// [`lookup_or_begin`](Self::lookup_or_begin) with the shard write-locked.
    #[cold]
    #[inline(never)]
    fn lookup_or_begin_exclusive<Q: KeyArgs<Owned = K> + ?Sized>(
        &self,
        shard_i: usize,
        hash: u64,
        key: &Q,
        count: bool,
        caller: Caller,
    ) -> Begin<V> {
        let mut guard = self.lock(shard_i);
        let shard = &mut *guard;
        if let Some((bucket, slot)) = find_bucket(&mut shard.table, hash, key) {
            if slot.is_live(self.now()) {
                let v = slot.value.clone();
                if count {
                    shard.policy.on_hit(&mut slot.meta, bucket);
                    self.hits.incr();
                    maybe_compact_after_hit(shard);
                }
                return Begin::Hit(v);
            }
        }
        let expired = self.take_expired(shard, hash, key);
        let begin = self.begin_in(
            shard.pending.get_mut(),
            shard.indexed,
            shard.counters.loads,
            shard_i,
            hash,
            key,
            count,
            caller,
        );
        drop(guard);
        drop(expired);
        begin
    }

    /// The miss half of [`lookup_or_begin`](Self::lookup_or_begin), with no ready value of the
    /// key in the table, which cannot change meanwhile (its shard is locked, for reading or for
    /// writing): joins the key's computation in flight, or registers a new one.
    // Always inlined (into `begin_absent` on the usual miss): W2's miss 898 -> 887
    // instructions.
    #[allow(clippy::too_many_arguments, clippy::inline_always)]
    #[inline(always)]
    fn begin_in<Q: KeyArgs<Owned = K> + ?Sized>(
        &self,
        flights: &mut InFlight<K, V>,
        indexed: bool,
        loads: u64,
        shard_i: usize,
        hash: u64,
        key: &Q,
        count: bool,
        caller: Caller,
    ) -> Begin<V> {
        if count {
            flights.misses += 1;
        }
        if let Some(p) = flights.table.find_mut(hash, |p| key.eq_key(&p.key)) {
            let id = FlightId {
                store: self.addr(),
                shard: shard_i as u32,
                stamp: p.stamp,
            };
            if p.thread == crate::flight::this_thread() || crate::flight::is_running_here(id) {
                return Begin::Recursion;
            }
            let flight = Arc::clone(p.flight.get_or_insert_with(|| Arc::new(Flight::new())));
            flights.coalesced += 1;
            return Begin::Wait(flight);
        }
        let key = key.to_owned_key();
        self.mark_segment(&key);
        let stamp = flights.next_stamp;
        flights.next_stamp = stamp.wrapping_add(1);
        let tag = if indexed {
            let tag = self.index_tag(&key);
            self.index_add(tag, hash);
            tag
        } else {
            0
        };
        flights.table.insert(Pending {
            hash,
            stamp,
            tag,
            key,
            flight: None,
            thread: match caller {
                Caller::Thread => crate::flight::this_thread(),
                Caller::Task => 0,
            },
        });
        Begin::Lead {
            stamp,
            timed: loads < TIME_FIRST_LOADS || stamp % TIME_ONE_LOAD_IN == 0,
        }
    }

    /// Renders an owned key to its text.
    pub(crate) fn render_key(&self, key: &K, out: &mut String) {
        if let Some(prefix) = self.info.prefix {
            out.push_str(prefix);
        }
        match self.render {
            Some(render) => render(key, &mut KeyWriter::new(out)),
            None => {
                // Manual stores: the key is its own text.
                if let Some(text) = (key as &dyn Any).downcast_ref::<TextKey>() {
                    out.push_str(text);
                }
            }
        }
    }

    /// Whether `key` renders as `text` (`buf` is scratch space).
    fn renders_as(&self, key: &K, text: &str, buf: &mut String) -> bool {
        buf.clear();
        self.render_key(key, buf);
        buf == text
    }

    /// The bit of `segments` for a key's text.
    fn segment_bit(&self, text: &str) -> u64 {
        let segment = segment(text);
        1 << (self.text_hash(segment) & 63)
    }

    /// Manual stores: records the first segment of a key about to be stored or computed (before
    /// it is, so that an invalidation that could see the entry sees the bit).
    fn mark_segment(&self, key: &K) {
        if self.info.prefix.is_none() {
            if let Some(text) = (key as &dyn Any).downcast_ref::<TextKey>() {
                self.segments
                    .fetch_or(self.segment_bit(text), std::sync::atomic::Ordering::SeqCst);
            }
        }
    }

    fn text_hash(&self, text: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(text.as_bytes());
        h.finish()
    }

    /// The hash of an owned key's rendered text.
    fn rendered_hash(&self, key: &K) -> u64 {
        with_render_buf(|buf| {
            buf.clear();
            self.render_key(key, buf);
            self.text_hash(buf)
        })
    }

    /// Takes a place in the cache type for a new entry while holding `shard`. When the cache
    /// type is full and this is its only store, the entry the policy evicts from this shard
    /// hands its place over (no counter moves). `None` when the cache type's general (unlocked)
    /// path must be taken.
    fn reserve_locked(
        &self,
        shard: &mut Shard<K, V>,
        removed: &mut Removed<K, V>,
    ) -> Option<Place> {
        if self.ty.try_reserve() {
            return Some(Place::Fresh);
        }
        if !self.ty.has_single_store() {
            return None;
        }
        let victim = shard.policy.evict(&mut shard.table)?;
        let cause = if victim.is_live(self.now()) {
            Cause::Capacity
        } else {
            Cause::Expired
        };
        self.count_removal_counters(shard, &victim, cause);
        removed.push(victim);
        Some(Place::Inherited)
    }

    /// Takes a place for a new entry, with the shard `i` locked in `guard` (and locked again
    /// if the general path had to release it).
    fn reserve<'a>(
        &'a self,
        i: usize,
        mut guard: ShardWriteGuard<'a, Shard<K, V>>,
        removed: &mut Removed<K, V>,
    ) -> (Place, ShardWriteGuard<'a, Shard<K, V>>) {
        if let Some(place) = self.reserve_locked(&mut guard, removed) {
            return (place, guard);
        }
        drop(guard);
        let place = if self.ty.reserve(self) {
            Place::Fresh
        } else {
            Place::None
        };
        (place, self.lock(i))
    }

    /// Gives back a place that was not used.
    fn give_back(&self, place: Place) {
        match place {
            Place::None => {}
            Place::Fresh => self.ty.release(),
            Place::Inherited => {
                self.len.fetch_sub(1, Ordering::Relaxed);
                self.ty.release();
            }
        }
    }

    /// Ends a computation: stores `value` if there is one and the computation was not fenced
    /// off, and hands it to waiters; otherwise tells waiters to start over.
    pub(crate) fn finish(
        &self,
        hash: u64,
        id: FlightId,
        value: Option<V>,
        load_nanos: Option<u64>,
    ) {
        let i = id.shard as usize;
        let mut guard = self.lock(i);
        let value = match value {
            Some(value) => match self.finish_usual(&mut guard, hash, id, value, load_nanos) {
                Ok(victim) => {
                    drop(guard);
                    // An evicted entry is dropped here, after the lock (user `Drop` code).
                    drop(victim);
                    return;
                }
                Err(value) => Some(value),
            },
            None => None,
        };
        self.finish_general(guard, hash, id, value, load_nanos);
    }

    /// [`finish`](Self::finish)'s usual case, which every miss of a full cache makes: a value
    /// to store, a computation in the shard's first in-flight field (where it goes when no
    /// other computation of the shard is in flight) with nobody waiting for it, a place
    /// taken from the cache type or from the entry this shard's policy evicts for it, and no
    /// index to keep. Stores the value and returns the evicted entry, for dropping after the
    /// lock; anything else is left to [`finish_general`](Self::finish_general) (`Err`, the
    /// shard unchanged).
    ///
    /// Checking these first spares the usual case the general path's bookkeeping (waiters to
    /// copy the value for, a list of removed entries, a place that may go unused): W2's miss
    /// 845 -> 800 instructions, and with [`PendingSet::insert`] inlined 778; 98 -> 85 ns in a
    /// standalone probe (min of 6 interleaved runs).
    #[inline]
    fn finish_usual(
        &self,
        shard: &mut Shard<K, V>,
        hash: u64,
        id: FlightId,
        value: V,
        load_nanos: Option<u64>,
    ) -> Result<Option<Slot<K, V>>, V> {
        let usual = !shard.indexed
            && shard
                .pending
                .get_mut()
                .table
                .solo
                .as_ref()
                .is_some_and(|p| p.hash == hash && p.stamp == id.stamp && p.flight.is_none());
        if !usual {
            return Err(value);
        }
        // `reserve_locked`'s steps, written out: sharing them (the victim returned through an
        // `Option` of a tuple, or a helper for the eviction and its cause) cost 14 to 44
        // instructions and ~5 ns per W2 miss in the probe.
        let (place, victim) = if self.ty.try_reserve() {
            (Place::Fresh, None)
        } else if !self.ty.has_single_store() {
            return Err(value);
        } else {
            let Some(victim) = shard.policy.evict(&mut shard.table) else {
                return Err(value);
            };
            let cause = if victim.is_live(self.now()) {
                Cause::Capacity
            } else {
                Cause::Expired
            };
            Self::count_cause(shard, &victim, cause);
            (Place::Inherited, Some(victim))
        };
        let Some(p) = shard.pending.get_mut().table.solo.take() else {
            unreachable!("checked above, under the same lock");
        };
        Self::count_load(shard, load_nanos);
        let ttl = self.info.ttl.or_else(|| self.ty.default_ttl_nanos());
        self.add_ready(shard, place, hash, p.key, value, ttl);
        Ok(victim)
    }

    /// Counts a finished computation (and its time, if it was timed).
    #[inline]
    fn count_load(shard: &mut Shard<K, V>, load_nanos: Option<u64>) {
        shard.counters.loads += 1;
        if let Some(nanos) = load_nanos {
            shard.counters.timed_loads += 1;
            shard.counters.load_nanos = shard.counters.load_nanos.saturating_add(nanos);
        }
    }

    /// [`finish`](Self::finish) in every case, with shard `id.shard` locked in `guard`.
    #[cold]
    #[inline(never)]
    fn finish_general<'a>(
        &'a self,
        guard: ShardWriteGuard<'a, Shard<K, V>>,
        hash: u64,
        id: FlightId,
        value: Option<V>,
        load_nanos: Option<u64>,
    ) {
        let i = id.shard as usize;
        let mut removed = Removed::new();
        // The value of a computation fenced off, dropped with `removed`: after the lock, since
        // its `Drop` may call into memo.
        let mut discarded = None;
        // Declared after `removed` and `discarded`, so that on unwinding the lock is released
        // before the removed entries and the value are dropped.
        let mut guard = guard;
        // Copy the value for waiters first: `Clone` is user code, and if it panics nothing has
        // changed yet (the leader's guard then abandons the computation, which wakes them).
        // `reserve` below may release the lock; callers that join meanwhile get no copy and are
        // told to start over (they then find the stored value).
        // `None` if the computation was fenced off (its key invalidated or written meanwhile):
        // its value is not stored, so it must not make room either.
        let waiters = waiters(&guard.pending.get_mut().table, hash, id);
        let for_waiters = match &value {
            Some(v) if waiters == Some(true) => Some(v.clone()),
            _ => None,
        };
        let mut place = Place::None;
        if value.is_some() && waiters.is_some() {
            (place, guard) = self.reserve(i, guard, &mut removed);
        }
        let shard = &mut *guard;
        Self::count_load(shard, load_nanos);
        let pending = shard
            .pending
            .get_mut()
            .table
            .remove(hash, |p| p.stamp == id.stamp);
        let mut to_finish = None;
        let mut to_retry = None;
        match (pending, value) {
            (Some(mut p), Some(value)) if place != Place::None => {
                match (p.flight.take(), for_waiters) {
                    (Some(f), Some(v)) => to_finish = Some((f, v)),
                    // Waiters that joined while the lock was released to make room (so after
                    // the copy was made) start over, and find the value stored just below.
                    (Some(f), None) => to_retry = Some(f),
                    (None, _) => {}
                }
                let ttl = self.info.ttl.or_else(|| self.ty.default_ttl_nanos());
                self.add_ready(shard, place, hash, p.key, value, ttl);
            }
            (pending, value) => {
                discarded = value;
                self.give_back(place);
                if let Some(p) = pending {
                    self.forget_pending(shard, &p);
                    removed.pending.push(p);
                }
            }
        }
        drop(guard);
        drop(discarded);
        if let Some((f, v)) = to_finish {
            f.finish(v);
        }
        if let Some(f) = to_retry {
            f.retry();
        }
        // `removed` is dropped here, where it stands: `drop(removed)` would copy it first, and
        // reading it whole right after its fields were written one by one stalls the miss.
    }

    /// Inserts a ready slot into the place reserved for it.
    fn add_ready(
        &self,
        shard: &mut Shard<K, V>,
        place: Place,
        hash: u64,
        key: K,
        value: V,
        ttl: Option<u64>,
    ) {
        let expires = match ttl {
            Some(ttl) => clock::deadline(self.clock.precise_nanos(), ttl),
            None => NEVER,
        };
        let slot = Slot {
            hash,
            meta: Meta::new(),
            expires,
            key,
            value,
        };
        shard.counters.inserts += 1;
        if expires != NEVER {
            shard.timed += 1;
            shard.next_expiry = shard.next_expiry.min(expires);
            crate::housekeeper::ensure_started();
        }
        // With no free bucket left (`growth_left` 0), an insert may rehash the table, which
        // moves its slots to other buckets: the policy's queues are then rebuilt.
        let was_full = shard.table.len() == shard.table.capacity();
        // Queued where it stands in the table: the policy writes the slot's fields one by one,
        // and a slot written so on the stack and then moved would be read back whole before
        // those writes reach the cache (a stall of the whole miss).
        let entry = shard.table.insert_unique(hash, slot, |s| s.hash);
        let bucket = entry.bucket_index();
        let slot = entry.into_mut();
        shard.slots_end =
            std::ptr::from_mut(slot) as usize + (bucket + 1) * size_of::<Slot<K, V>>();
        shard.policy.on_insert(&mut slot.meta, bucket, hash);
        if place == Place::Fresh {
            self.len.fetch_add(1, Ordering::Relaxed);
        }
        if was_full && shard.table.len() < shard.table.capacity() {
            shard.policy.reindex(&shard.table);
        } else if shard.policy.needs_compaction() {
            shard.policy.compact(&shard.table);
        }
    }

    /// The leader went away (panic or cancellation): remove its slot, wake waiters to retry.
    pub(crate) fn abandon(&self, hash: u64, id: FlightId) {
        let mut removed = Removed::new();
        {
            let mut guard = self.lock(id.shard as usize);
            let shard = &mut *guard;
            let flights = &mut shard.pending.get_mut().table;
            if let Some(p) = flights.remove(hash, |p| p.stamp == id.stamp) {
                self.forget_pending(shard, &p);
                removed.pending.push(p);
            }
        }
        drop(removed);
    }

    /// Index bookkeeping for a computation taken out of the pending table.
    fn forget_pending(&self, shard: &Shard<K, V>, p: &Pending<K, V>) {
        if shard.indexed {
            self.index_remove(p.tag, p.hash);
        }
    }

    /// Bookkeeping for a ready slot taken out of the table.
    fn account_removal(&self, shard: &mut Shard<K, V>, slot: &Slot<K, V>, cause: Cause) {
        shard.policy.on_remove(&slot.meta);
        self.count_removal(shard, slot, cause);
    }

    /// Counters, place and index for a ready slot that left the table (the policy already
    /// knows).
    fn count_removal(&self, shard: &mut Shard<K, V>, slot: &Slot<K, V>, cause: Cause) {
        self.count_removal_tagged(shard, slot, cause, None);
    }

    /// [`count_removal`](Self::count_removal) when the caller may know the slot's index tag
    /// (saving a render of the key).
    fn count_removal_tagged(
        &self,
        shard: &mut Shard<K, V>,
        slot: &Slot<K, V>,
        cause: Cause,
        tag: Option<u64>,
    ) {
        Self::count_cause(shard, slot, cause);
        self.len.fetch_sub(1, Ordering::Relaxed);
        self.ty.release();
        // Last: finding the tag may render the key (user `Display` code); should that panic,
        // every count is already right and only a stale index record is left.
        self.unindex(shard, slot, tag);
    }

    /// Counters and index for a ready slot that left the table, keeping its place.
    fn count_removal_counters(&self, shard: &mut Shard<K, V>, slot: &Slot<K, V>, cause: Cause) {
        Self::count_cause(shard, slot, cause);
        self.unindex(shard, slot, None);
    }

    /// `cause`, or [`Cause::Expired`] for a slot whose TTL has run out: an entry removed after
    /// its TTL ran out (but before a sweep did) counts as expired, whatever removed it.
    fn unless_expired(&self, slot: &Slot<K, V>, cause: Cause) -> Cause {
        if slot.is_live(self.now()) {
            cause
        } else {
            Cause::Expired
        }
    }

    fn count_cause(shard: &mut Shard<K, V>, slot: &Slot<K, V>, cause: Cause) {
        if slot.expires != NEVER {
            shard.timed -= 1;
        }
        let c = &mut shard.counters;
        match cause {
            Cause::Capacity => c.evicted += 1,
            Cause::Expired => c.expired += 1,
            Cause::Invalidated => c.invalidated += 1,
            Cause::Replaced => c.replaced += 1,
        }
    }

    fn unindex(&self, shard: &Shard<K, V>, slot: &Slot<K, V>, tag: Option<u64>) {
        if shard.indexed {
            let tag = tag.unwrap_or_else(|| self.index_tag(&slot.key));
            self.index_remove(tag, slot.hash);
        }
    }

    fn index_shard(&self, tag: u64) -> &IndexShard {
        &self.index[(tag >> SHARD_BITS_AT) as usize & (self.index.len() - 1)]
    }

    /// A key's tag in the secondary index: the hash of its rendered text (function stores) or of
    /// its first segment (the manual store).
    fn index_tag(&self, key: &K) -> u64 {
        if self.render.is_some() {
            return self.rendered_hash(key);
        }
        let text = (key as &dyn Any)
            .downcast_ref::<TextKey>()
            .map_or("", TextKey::as_str);
        self.text_hash(segment(text))
    }

    /// Indexes every shard, once per store.
    fn ensure_indexed(&self) {
        if !self.index_ready.load(Ordering::Acquire) {
            // Concurrent first invalidations both walk the shards; indexing one is idempotent.
            for i in 0..self.shards.len() {
                self.index_shard_now(&mut self.lock(i));
            }
            self.index_ready.store(true, Ordering::Release);
        }
    }

    /// The table hashes recorded under `tag`.
    fn hashes_tagged(&self, tag: u64) -> Vec<u64> {
        self.index_shard(tag).lock().hashes(tag)
    }

    fn index_add(&self, tag: u64, hash: u64) {
        self.index_shard(tag).lock().add(tag, hash);
    }

    fn index_remove(&self, tag: u64, hash: u64) {
        self.index_shard(tag).lock().remove(tag, hash);
    }

    /// Puts the keys of a shard into the rendered-key index, once.
    fn index_shard_now(&self, shard: &mut Shard<K, V>) {
        if shard.indexed {
            return;
        }
        // Tags first (rendering is user code: if it panics, nothing is recorded yet).
        let ready: Vec<(u64, u64)> = shard
            .table
            .iter()
            .map(|s| (self.index_tag(&s.key), s.hash))
            .collect();
        let pending: Vec<u64> = shard
            .pending
            .get_mut()
            .table
            .iter()
            .map(|p| self.index_tag(&p.key))
            .collect();
        for (tag, hash) in ready {
            self.index_add(tag, hash);
        }
        for (p, tag) in shard.pending.get_mut().table.iter_mut().zip(pending) {
            p.tag = tag;
            self.index_add(tag, p.hash);
        }
        shard.indexed = true;
    }

    /// Inserts a ready value directly (manual API), replacing any ready value of the key.
    ///
    /// A computation of the key in flight is fenced off: its result will not be stored.
    pub(crate) fn insert<Q: KeyArgs<Owned = K> + ?Sized>(
        &self,
        key: &Q,
        value: V,
        ttl: Option<u64>,
    ) {
        let hash = self.hash(key);
        let owned = key.to_owned_key();
        self.mark_segment(&owned);
        let i = self.shard_of(hash);
        let mut removed = Removed::new();
        let mut guard = self.lock(i);
        // A key already there gives its place to the new value: nothing is evicted for it.
        let (place, mut guard) =
            if let Ok(entry) = guard.table.find_entry(hash, |s| key.eq_key(&s.key)) {
                let (old, _) = entry.remove();
                guard.policy.on_remove(&old.meta);
                let cause = self.unless_expired(&old, Cause::Replaced);
                self.count_removal_counters(&mut guard, &old, cause);
                removed.push(old);
                (Place::Inherited, guard)
            } else {
                self.reserve(i, guard, &mut removed)
            };
        if place != Place::None {
            let shard = &mut *guard;
            if let Ok(entry) = shard.table.find_entry(hash, |s| key.eq_key(&s.key)) {
                let (old, _) = entry.remove();
                let cause = self.unless_expired(&old, Cause::Replaced);
                self.account_removal(shard, &old, cause);
                removed.push(old);
            }
            let flights = &mut shard.pending.get_mut().table;
            if let Some(p) = flights.remove(hash, |p| key.eq_key(&p.key)) {
                self.forget_pending(shard, &p);
                removed.pending.push(p);
            }
            if shard.indexed {
                self.index_add(self.index_tag(&owned), hash);
            }
            let ttl = ttl
                .or(self.info.ttl)
                .or_else(|| self.ty.default_ttl_nanos());
            self.add_ready(shard, place, hash, owned, value, ttl);
        }
        drop(guard);
        drop(removed);
    }

    /// Removes one key (and fences a computation of it in flight); true if a value was removed.
    pub(crate) fn remove<Q: KeyArgs<Owned = K> + ?Sized>(&self, key: &Q) -> bool {
        let hash = self.hash(key);
        let mut removed = Removed::new();
        {
            let mut guard = self.lock(self.shard_of(hash));
            let shard = &mut *guard;
            self.remove_matching(shard, hash, |k| key.eq_key(k), &mut removed, None);
        }
        let n = removed.count();
        drop(removed);
        n > 0
    }

    /// Removes, for invalidation, the ready slot and the computation in flight of `hash` whose
    /// keys satisfy `matches`; `tag` is their index tag when the caller knows it.
    fn remove_matching(
        &self,
        shard: &mut Shard<K, V>,
        hash: u64,
        mut matches: impl FnMut(&K) -> bool,
        removed: &mut Removed<K, V>,
        tag: Option<u64>,
    ) {
        // The full hash is compared first: the table calls the closure for any slot whose few
        // tag bits match, and `matches` may accept every key of the hash.
        while let Ok(entry) = shard
            .table
            .find_entry(hash, |s| s.hash == hash && matches(&s.key))
        {
            let (slot, _) = entry.remove();
            shard.policy.on_remove(&slot.meta);
            let cause = self.unless_expired(&slot, Cause::Invalidated);
            self.count_removal_tagged(shard, &slot, cause, tag);
            removed.push_for(slot, cause);
        }
        while let Some(p) = shard
            .pending
            .get_mut()
            .table
            .remove(hash, |p| p.hash == hash && matches(&p.key))
        {
            self.forget_pending(shard, &p);
            removed.pending.push(p);
        }
    }

    /// Whether the key has a ready, unexpired value (counts nothing).
    pub(crate) fn contains<Q: KeyArgs<Owned = K> + ?Sized>(&self, key: &Q) -> bool {
        let hash = self.hash(key);
        let guard = self.lock(self.shard_of(hash));
        guard
            .table
            .find(hash, |s| key.eq_key(&s.key))
            .is_some_and(|s| s.is_live(self.now()))
    }

    /// The number of ready entries (expired ones not yet swept included).
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Removes the keys whose rendered text is `text` exactly (function stores).
    ///
    /// The index gives the table hashes of the keys with this text. A key is indexed for as long
    /// as it is stored or computed, so when a single key (ready or in flight) has such a hash,
    /// it is the one, and it is removed without rendering it again (rendering costs more than
    /// the rest of the removal). Keys whose `Hash` collides are rendered to tell them apart.
    fn invalidate_exact(&self, text: &str) -> usize {
        let tag = self.text_hash(text);
        self.ensure_indexed();
        // Nearly always one hash: no allocation for the list.
        let (first, rest) = self.index_shard(tag).lock().hashes_split(tag);
        let mut removed = Removed::new();
        for hash in first.into_iter().chain(rest.iter().copied()) {
            let mut guard = self.lock(self.shard_of(hash));
            let shard = &mut *guard;
            if Self::holders_of(shard, hash) == 1 {
                self.remove_matching(shard, hash, |_| true, &mut removed, Some(tag));
            } else {
                with_render_buf(|buf| {
                    self.remove_matching(
                        shard,
                        hash,
                        |k| self.renders_as(k, text, buf),
                        &mut removed,
                        Some(tag),
                    );
                });
            }
        }
        let n = removed.count();
        drop(removed);
        n
    }

    /// How many keys, ready or in flight, have the table hash `hash` (more than one only when
    /// their `Hash` collides).
    fn holders_of(shard: &mut Shard<K, V>, hash: u64) -> usize {
        let ready = shard
            .table
            .iter_hash(hash)
            .filter(|s| s.hash == hash)
            .count();
        ready + shard.pending.get_mut().table.count_hash(hash)
    }

    /// Manual stores: the key is its own text, so it is looked up directly.
    fn invalidate_own_text(&self, text: &str) -> usize {
        if self.segments.load(std::sync::atomic::Ordering::SeqCst) & self.segment_bit(text) == 0 {
            // No key with this first segment was ever here.
            return 0;
        }
        let hash = hash_key(&self.hasher, text);
        {
            // Most stores asked by a global invalidation hold nothing under the key: find that
            // out under the read lock, which costs a fraction of the write lock. A computation
            // that begins after this look began after the invalidation, and may store.
            let shard = self.shards[self.shard_of(hash)].read();
            if shard.table.find(hash, |_| true).is_none()
                && shard.pending.lock().table.find(hash, |_| true).is_none()
            {
                return 0;
            }
        }
        let mut removed = Removed::new();
        {
            let mut guard = self.lock(self.shard_of(hash));
            let mut buf = String::new();
            self.remove_matching(
                &mut guard,
                hash,
                |k| self.renders_as(k, text, &mut buf),
                &mut removed,
                None,
            );
        }
        let n = removed.count();
        drop(removed);
        n
    }

    /// Manual store: removes the keys of one first segment (`user:`) that match, looking only at
    /// that segment's keys.
    fn invalidate_segment(&self, segment: &str, pattern: &Pattern) -> usize {
        self.ensure_indexed();
        let tag = self.text_hash(segment);
        let mut hashes = self.hashes_tagged(tag);
        hashes.sort_unstable_by_key(|&h| (self.shard_of(h), h));
        hashes.dedup();
        let mut removed = Removed::new();
        let mut buf = String::new();
        let mut at = 0;
        while at < hashes.len() {
            let i = self.shard_of(hashes[at]);
            let mut guard = self.lock(i);
            while at < hashes.len() && self.shard_of(hashes[at]) == i {
                self.remove_matching(
                    &mut guard,
                    hashes[at],
                    |k| {
                        buf.clear();
                        self.render_key(k, &mut buf);
                        pattern.matches(&buf)
                    },
                    &mut removed,
                    // A key the pattern matches starts with the segment: it has its tag.
                    Some(tag),
                );
                at += 1;
            }
        }
        let n = removed.count();
        drop(removed);
        n
    }

    /// Removes every key whose rendered text matches.
    fn invalidate_scan(&self, pattern: &Pattern) -> usize {
        let mut count = 0;
        let mut buf = String::new();
        let mut matches = |k: &K| {
            buf.clear();
            self.render_key(k, &mut buf);
            pattern.matches(&buf)
        };
        for i in 0..self.shards.len() {
            let mut removed = Removed::new();
            {
                let mut guard = self.lock(i);
                let shard = &mut *guard;
                // First find the matches (rendering is user code: if it panics, nothing has
                // changed), then remove them.
                let slots: Vec<(u64, u32)> = shard
                    .table
                    .iter()
                    .filter(|s| matches(&s.key))
                    .map(|s| (s.hash, s.meta.stamp))
                    .collect();
                let pending: Vec<(u64, u32)> = shard
                    .pending
                    .get_mut()
                    .table
                    .iter()
                    .filter(|p| matches(&p.key))
                    .map(|p| (p.hash, p.stamp))
                    .collect();
                for (hash, stamp) in slots {
                    if let Ok(e) = shard.table.find_entry(hash, |s| s.meta.stamp == stamp) {
                        let (slot, _) = e.remove();
                        let cause = self.unless_expired(&slot, Cause::Invalidated);
                        self.account_removal(shard, &slot, cause);
                        removed.push_for(slot, cause);
                    }
                }
                for (hash, stamp) in pending {
                    let flights = &mut shard.pending.get_mut().table;
                    if let Some(p) = flights.remove(hash, |p| p.stamp == stamp) {
                        self.forget_pending(shard, &p);
                        removed.pending.push(p);
                    }
                }
            }
            count += removed.count();
            drop(removed);
        }
        count
    }

    /// Removes everything; returns how many ready entries were removed.
    pub(crate) fn clear_all(&self) -> usize {
        let mut count = 0;
        for i in 0..self.shards.len() {
            let mut removed = Removed::new();
            {
                let mut guard = self.lock(i);
                let shard = &mut *guard;
                let slots: Vec<Slot<K, V>> = shard.table.drain().collect();
                let pending: Vec<Pending<K, V>> = shard.pending.get_mut().table.drain();
                for slot in slots {
                    let cause = self.unless_expired(&slot, Cause::Invalidated);
                    self.count_removal(shard, &slot, cause);
                    removed.push_for(slot, cause);
                }
                for p in pending {
                    self.forget_pending(shard, &p);
                    removed.pending.push(p);
                }
                shard.policy.reset();
                shard.next_expiry = NEVER;
                shard.table.shrink_to_fit(|s| s.hash);
            }
            count += removed.count();
            drop(removed);
        }
        count
    }

    /// Evicts one ready entry by the policy, from the next shard that has one.
    pub(crate) fn evict_one(&self) -> bool {
        let n = self.shards.len();
        let start = self.evict_cursor.fetch_add(1, Ordering::Relaxed);
        for k in 0..n {
            let i = (start + k) & (n - 1);
            let victim = {
                let mut guard = self.lock(i);
                let shard = &mut *guard;
                let Some(slot) = shard.policy.evict(&mut shard.table) else {
                    continue;
                };
                let cause = if slot.is_live(self.now()) {
                    Cause::Capacity
                } else {
                    Cause::Expired
                };
                self.count_removal(shard, &slot, cause);
                slot
            };
            drop(victim);
            return true;
        }
        false
    }

    /// Removes expired entries from every shard whose earliest deadline has passed.
    pub(crate) fn sweep(&self) -> usize {
        let mut count = 0;
        for i in 0..self.shards.len() {
            let now = self.now();
            let taken = {
                let mut guard = self.lock(i);
                let shard = &mut *guard;
                if shard.timed == 0 || shard.next_expiry > now {
                    continue;
                }
                let mut next = NEVER;
                let taken: Vec<Slot<K, V>> = shard
                    .table
                    .extract_if(|s| {
                        if s.expires == NEVER {
                            return false;
                        }
                        if s.expires <= now {
                            return true;
                        }
                        next = next.min(s.expires);
                        false
                    })
                    .collect();
                for slot in &taken {
                    self.account_removal(shard, slot, Cause::Expired);
                }
                shard.next_expiry = next;
                if shard.table.len() * 4 < shard.table.capacity() {
                    let len = shard.table.len();
                    shard.table.shrink_to(len * 2, |s| s.hash);
                    // Shrinking moved the slots to other buckets.
                    shard.policy.reindex(&shard.table);
                } else if shard.policy.needs_compaction() {
                    shard.policy.compact(&shard.table);
                }
                taken
            };
            count += taken.len();
        }
        count
    }

    /// Switches every shard to another eviction policy.
    pub(crate) fn set_policy(&self, policy: EvictionPolicy) {
        for i in 0..self.shards.len() {
            let mut guard = self.lock(i);
            let shard = &mut *guard;
            shard.lru = policy == EvictionPolicy::Lru;
            if shard.policy.kind() != policy {
                shard.policy.switch(policy, &mut shard.table);
            }
        }
    }

    /// Counters summed over the shards, with the entries and computations held now.
    pub(crate) fn counters(&self) -> (Counters, usize, usize) {
        let mut total = Counters::default();
        let (mut ready, mut pending) = (0, 0);
        for i in 0..self.shards.len() {
            let mut guard = self.lock(i);
            total.add(&guard.counters);
            let flights = guard.pending.get_mut();
            total.misses += flights.misses;
            total.coalesced += flights.coalesced;
            pending += flights.table.len();
            ready += guard.table.len();
        }
        total.hits += self.hits.sum();
        (total, ready, pending)
    }

    /// The value of a ready key, without counting a lookup.
    #[cfg(test)]
    pub(crate) fn peek<Q: KeyArgs<Owned = K> + ?Sized>(&self, key: &Q) -> Option<V> {
        let hash = self.hash(key);
        let guard = self.lock(self.shard_of(hash));
        guard
            .table
            .find(hash, |s| key.eq_key(&s.key))
            .filter(|s| s.is_live(self.now()))
            .map(|s| s.value.clone())
    }
}

/// Runs `f` with this thread's reusable render buffer, or a fresh one if it is in use (a
/// `Display` impl that itself renders a key finds it borrowed).
fn with_render_buf<R>(mut f: impl FnMut(&mut String) -> R) -> R {
    RENDER_BUF
        .try_with(|b| match b.try_borrow_mut() {
            Ok(mut buf) => f(&mut buf),
            Err(_) => f(&mut String::new()),
        })
        .unwrap_or_else(|_| f(&mut String::new()))
}

/// The first segment of a manual key: up to and including its first `:` (the whole key if it
/// has none).
fn segment(text: &str) -> &str {
    crate::cache_type::first_colon(text.as_bytes()).map_or(text, |i| &text[..=i])
}

/// Whether the computation `id` is still in flight and somebody waits for it.
/// Whether the computation `id` has waiters; `None` if it is no longer pending (fenced off).
fn waiters<K, V>(pending: &PendingSet<K, V>, hash: u64, id: FlightId) -> Option<bool> {
    pending
        .find(hash, |p| p.stamp == id.stamp)
        .map(|p| p.flight.is_some())
}

/// The ready slot of `key` and its bucket, in a table locked for writing.
fn find_bucket<'a, K, V, Q: KeyArgs<Owned = K> + ?Sized>(
    table: &'a mut HashTable<Slot<K, V>>,
    hash: u64,
    key: &Q,
) -> Option<(usize, &'a mut Slot<K, V>)> {
    let entry = table.find_entry(hash, |s| key.eq_key(&s.key)).ok()?;
    let bucket = entry.bucket_index();
    Some((bucket, entry.into_mut()))
}

/// Asks the processor to bring the cache line of `addr` into its nearest cache: a hint, which
/// never faults and reads nothing into the program, whatever the address.
#[inline]
fn prefetch(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` needs SSE, part of every x86-64 target, and accesses no memory
    // the program can observe (an invalid or unmapped address is ignored).
    #[allow(unsafe_code)]
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(addr as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// LRU queues a new item on every hit; drop the stale ones when they pile up.
#[inline]
fn maybe_compact_after_hit<K, V>(shard: &mut Shard<K, V>) {
    if shard.lru && shard.policy.needs_compaction() {
        shard.policy.compact(&shard.table);
    }
}

/// What the registry and cache types need of a store, whatever its key and value types.
pub(crate) trait ErasedStore: Send + Sync + 'static {
    fn info(&self) -> &StoreInfo;
    fn cache_type(&self) -> &'static CacheType;
    fn len(&self) -> usize;
    fn evict_one(&self) -> bool;
    fn invalidate(&self, pattern: &Pattern) -> usize;
    /// Removes the one key whose rendered text is `text`.
    fn invalidate_key(&self, text: &str) -> usize;
    fn clear(&self) -> usize;
    fn sweep(&self) -> usize;
    fn set_policy(&self, policy: EvictionPolicy);
    fn counters(&self) -> (Counters, usize, usize);
}

impl<K, V> ErasedStore for Store<K, V>
where
    K: Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn info(&self) -> &StoreInfo {
        &self.info
    }

    fn cache_type(&self) -> &'static CacheType {
        self.ty
    }

    fn len(&self) -> usize {
        Store::len(self)
    }

    fn evict_one(&self) -> bool {
        Store::evict_one(self)
    }

    fn invalidate(&self, pattern: &Pattern) -> usize {
        if let Some(text) = pattern.exact() {
            return self.invalidate_key(text);
        }
        if let Some(prefix) = self.info.prefix {
            if self.info.zero_arity {
                return if pattern.matches(prefix) {
                    self.clear_all()
                } else {
                    0
                };
            }
            match pattern.match_prefix(&self.info.key_start) {
                PrefixMatch::None => return 0,
                PrefixMatch::All => return self.clear_all(),
                PrefixMatch::Some => {}
            }
        } else {
            // A manual store.
            if !self.info.key_start.is_empty() {
                match pattern.match_prefix(&self.info.key_start) {
                    PrefixMatch::None => return 0,
                    PrefixMatch::All => return self.clear_all(),
                    PrefixMatch::Some => {}
                }
            }
            // A pattern whose literal start has a `:` names one segment.
            let literal = pattern.literal_prefix();
            if let Some(end) = literal.find(':') {
                return self.invalidate_segment(&literal[..=end], pattern);
            }
        }
        self.invalidate_scan(pattern)
    }

    fn invalidate_key(&self, text: &str) -> usize {
        match self.info.prefix {
            // A function without arguments has one key, its prefix.
            Some(prefix) if self.info.zero_arity && text == prefix => self.clear_all(),
            _ if self.info.zero_arity || !text.starts_with(&*self.info.key_start) => 0,
            None => self.invalidate_own_text(text),
            Some(_) => self.invalidate_exact(text),
        }
    }

    fn clear(&self) -> usize {
        self.clear_all()
    }

    fn sweep(&self) -> usize {
        Store::sweep(self)
    }

    fn set_policy(&self, policy: EvictionPolicy) {
        Store::set_policy(self, policy);
    }

    fn counters(&self) -> (Counters, usize, usize) {
        Store::counters(self)
    }
}

/// Approximate bytes of one entry of a store, besides the heap its key and value own.
pub(crate) fn entry_bytes<K, V>(indexed: bool) -> usize {
    let slot = std::mem::size_of::<Slot<K, V>>() + 1; // + hashbrown's control byte
    let queue = crate::policy::ITEM_BYTES; // one policy queue item
    let ghost = 5; // S3-FIFO's ghost: a 4-byte fingerprint per entry, a quarter spare
    // A group of the secondary index: tag, first member and its count, spill pointer.
    let index = if indexed { 33 } else { 0 };
    // Tables run at most 7/8 full.
    (slot + index) * 8 / 7 + queue + ghost
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache_type::CacheType;
    use crate::config::CacheConfig;

    fn ty(capacity: usize) -> &'static CacheType {
        let config = CacheConfig::builder().capacity(capacity).build().unwrap();
        Box::leak(Box::new(CacheType::new("store_test", &config, true)))
    }

    fn store(capacity: usize) -> &'static Store<TextKey, u32> {
        let info = StoreInfo::manual(0, "");
        let ty = ty(capacity);
        let s: &'static Store<TextKey, u32> = Box::leak(Box::new(Store::new(ty, info, None)));
        ty.add_store(s);
        s
    }

    /// Begins a computation of `key` that the caller must lead, and returns its id.
    fn lead(s: &Store<TextKey, u32>, h: u64, key: &str, caller: Caller) -> FlightId {
        let Begin::Lead { stamp, .. } = s.lookup_or_begin(h, key, true, caller) else {
            panic!("expected to lead")
        };
        s.flight_id(h, stamp)
    }

    #[test]
    fn shard_counts_follow_capacity() {
        assert_eq!(shard_count(10), 1);
        assert_eq!(shard_count(1023), 1);
        assert_eq!(shard_count(10_000), 8);
        assert_eq!(shard_count(1_000_000), 256);
        assert_eq!(shard_count(usize::MAX), 256);
    }

    #[test]
    fn insert_lookup_remove_round_trip() {
        let s = store(10);
        s.insert("a", 1, None);
        let h = s.hash("a");
        assert!(matches!(s.lookup(h, "a"), Lookup::Hit(1)));
        assert!(s.contains("a"));
        assert!(s.remove("a"));
        assert!(!s.contains("a"));
        assert!(matches!(s.lookup(h, "a"), Lookup::Miss));
        let (c, live, _) = s.counters();
        assert_eq!(
            (c.hits, c.misses, c.inserts, c.invalidated, live),
            (1, 1, 1, 1, 0)
        );
    }

    /// Several computations in flight in one shard (the first in the shard's field, the others
    /// in its table) are found, fenced and finished each on its own, in any order.
    #[test]
    fn computations_in_flight_in_one_shard_stay_apart() {
        let s = store(10);
        let keys = ["a", "b", "c", "d"];
        let ids: Vec<(u64, FlightId)> = keys
            .iter()
            .map(|k| {
                let h = s.hash(*k);
                (h, lead(s, h, k, Caller::Task))
            })
            .collect();
        // Each key has its own computation to wait for.
        for (k, (h, _)) in keys.iter().zip(&ids) {
            assert!(matches!(
                s.lookup_or_begin(*h, *k, true, Caller::Thread),
                Begin::Wait(_)
            ));
        }
        // Fence "b" (in the table behind the first), finish the rest out of order.
        assert!(!s.remove("b"), "nothing ready to remove");
        let order = [2, 0, 1, 3];
        for (n, &i) in order.iter().enumerate() {
            let (h, id) = ids[i];
            s.finish(h, id, Some(u32::try_from(n).unwrap() + 10), None);
        }
        assert!(matches!(s.lookup(ids[0].0, "a"), Lookup::Hit(11)));
        assert!(!s.contains("b"), "the fenced computation did not store");
        assert!(matches!(s.lookup(ids[2].0, "c"), Lookup::Hit(10)));
        assert!(matches!(s.lookup(ids[3].0, "d"), Lookup::Hit(13)));
        // A new computation takes the field again once it is free.
        let h = s.hash("e");
        let id = lead(s, h, "e", Caller::Thread);
        s.abandon(h, id);
        assert!(matches!(
            s.lookup_or_begin(h, "e", true, Caller::Thread),
            Begin::Lead { .. }
        ));
        let (_, _, in_flight) = s.counters();
        assert_eq!(in_flight, 1);
    }

    #[test]
    fn fenced_leader_does_not_store() {
        let s = store(10);
        let h = s.hash("k");
        let id = lead(s, h, "k", Caller::Thread);
        assert_eq!(s.clear_all(), 0, "in-flight slots are not entries");
        s.finish(h, id, Some(5), None);
        assert!(!s.contains("k"));
        assert_eq!(s.ty.live(), 0);
    }

    /// An exact invalidation by text passes over a manual store only when no key of its first
    /// segment was ever there: a key being computed counts, and so do keys without a `:`.
    #[test]
    fn exact_invalidation_by_text_sees_every_segment_in_use() {
        let s = store(100);
        assert_eq!(s.invalidate_own_text("user:1"), 0, "nothing stored yet");
        let h = s.hash("user:1");
        let id = lead(s, h, "user:1", Caller::Thread);
        // The computation is fenced although no entry of its segment is ready yet.
        assert_eq!(s.invalidate_own_text("user:1"), 0);
        s.finish(h, id, Some(5), None);
        assert!(!s.contains("user:1"), "a fenced computation does not store");
        s.insert("user:2", 2, None);
        s.insert("plain", 3, None);
        assert_eq!(s.invalidate_own_text("user:2"), 1);
        assert_eq!(s.invalidate_own_text("plain"), 1);
        assert_eq!(s.invalidate_own_text("other:2"), 0);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn second_caller_waits_and_gets_the_value() {
        let s = store(10);
        let h = s.hash("k");
        let id = lead(s, h, "k", Caller::Task);
        let Begin::Wait(flight) = s.lookup_or_begin(h, "k", true, Caller::Thread) else {
            panic!("expected to wait")
        };
        s.finish(h, id, Some(9), Some(10));
        assert_eq!(flight.wait(), Some(9));
        assert_eq!(s.peek("k"), Some(9));
    }

    #[test]
    fn a_thread_waiting_for_its_own_computation_is_recursion() {
        let s = store(10);
        let h = s.hash("k");
        let id = lead(s, h, "k", Caller::Thread);
        // Whether the second call is a thread's or a task's polled on this thread.
        for caller in [Caller::Thread, Caller::Task] {
            assert!(matches!(
                s.lookup_or_begin(h, "k", true, caller),
                Begin::Recursion
            ));
        }
        // Another thread waits.
        std::thread::scope(|scope| {
            let other = scope.spawn(|| s.lookup_or_begin(h, "k", true, Caller::Thread));
            assert!(matches!(other.join().unwrap(), Begin::Wait(_)));
        });
        s.finish(h, id, Some(1), None);
    }

    #[test]
    fn abandoned_leader_releases_waiters() {
        let s = store(10);
        let h = s.hash("k");
        let id = lead(s, h, "k", Caller::Task);
        let Begin::Wait(flight) = s.lookup_or_begin(h, "k", true, Caller::Thread) else {
            panic!("expected to wait")
        };
        s.abandon(h, id);
        assert_eq!(flight.wait(), None);
        assert!(matches!(
            s.lookup_or_begin(h, "k", true, Caller::Thread),
            Begin::Lead { .. }
        ));
    }

    #[test]
    fn capacity_is_never_exceeded() {
        let s = store(3);
        for i in 0..10_u32 {
            s.insert(&*i.to_string(), i, None);
            assert!(s.len() <= 3);
        }
        let (c, live, _) = s.counters();
        assert_eq!(live, 3);
        assert_eq!(c.inserts, 10);
        assert_eq!(c.evicted, 7);
    }
}
