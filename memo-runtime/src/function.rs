//! The call path of a cached function: the per-function [`Site`] that generated code keeps in
//! a `static`, and the get-or-compute protocol (sync and async side by side).
//!
//! A call hashes its borrowed arguments and looks them up; a hit clones the stored value and
//! returns. A miss makes the owned key, then either joins a computation already running for the
//! key (and waits for its value), or becomes the leader and gets a [`Guard`] to run the body
//! with. The guard stores the result (if its [`Kind`] says so) and hands it to waiters; if it is
//! dropped instead (the body panicked, or the future was dropped), a waiter takes over.

use std::any::TypeId;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::erased::Erased;
use crate::error::CallError;
use crate::flight::{Flight, FlightId, RunningMark, WaitFlight};
use crate::key::{KeyArgs, RenderFn};
use crate::outcome::Kind;
use crate::registry::registry;
use crate::store::{Begin, Caller, NoHit, Store, StoreInfo, entry_bytes};

/// What a cached function declares about itself.
#[derive(Debug, Clone, Copy)]
pub struct SiteMeta {
    /// The name shown in stats: `module::function` or `module::Type::method`.
    pub name: &'static str,
    /// The first segment of the rendered keys.
    pub prefix: &'static str,
    /// The cache type's name (empty for the default type).
    pub cache_type: &'static str,
    /// The function's own TTL, overriding the cache type's default.
    pub ttl: Option<Duration>,
}

/// Names the type of an impl: `core::any::type_name::<Self>`.
pub type Owner = fn() -> &'static str;

/// Identifies the instantiation a call runs in, for a generic function or a method (see
/// [`Site::hit`]): `None` for a function that is neither.
///
/// The `TypeId` of a type generic over the instantiation's types, with lifetimes erased
/// ([`instance_of_val`] of a closure made in the function): unlike a type's name, it tells
/// apart two closures of one function, or two types of one name declared in different blocks.
pub type Instance = Option<TypeId>;

/// The [`Instance`] of the instantiation that the type of `_value` is generic over: given a
/// closure made in a function's body, whose type is generic over every parameter in scope
/// (the function's, and its impl's or trait's), the instantiation the call runs in.
#[allow(clippy::inline_always)] // the hit path: a constant once inlined
#[inline(always)]
#[must_use]
pub fn instance_of_val<T: ?Sized>(_value: &T) -> Instance {
    // `T` need not be `'static`: instantiations that differ only in lifetimes are one.
    Some(typeid::of::<T>())
}

/// The static state of one cached function: its metadata and its store, made on first call.
///
/// A generic function (or a method, whose `Self` may be generic or differ between the types
/// that use a trait's default method) has one store per instantiation: instantiations never
/// share entries, whatever their key and value types. They all show under the function's name
/// in stats.
pub struct Site {
    meta: SiteMeta,
    /// The first store, with its type recorded for a downcast without a virtual call on the
    /// hit path, and the instantiation it serves.
    first: OnceLock<(Erased, Instance)>,
    /// The stores of further instantiations, in the order they were made, looked up without a
    /// lock.
    more: [OnceLock<SiteStore>; MORE_STORES],
    /// Stores beyond those; also the lock under which stores are made.
    overflow: std::sync::Mutex<Vec<SiteStore>>,
}

/// Instantiations of one function whose stores are found without taking a lock.
const MORE_STORES: usize = 7;

/// One store of a site and the instantiation it serves.
#[derive(Clone, Copy)]
struct SiteStore {
    store: Erased,
    instance: Instance,
}

impl SiteStore {
    /// The store, if it has these key and value types and serves `instance`.
    fn get<K, V>(self, instance: Instance) -> Option<&'static Store<K, V>>
    where
        K: Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let store = self.store.get::<Store<K, V>>()?;
        same_instance(self.instance, instance).then_some(store)
    }
}

/// Whether a store made for `own` serves a call in `instance`. `None` is a function that is
/// neither generic nor a method: one instantiation, nothing to compare.
#[allow(clippy::inline_always)] // the hit path: see `Site::hit`
#[inline(always)]
fn same_instance(own: Instance, instance: Instance) -> bool {
    instance.is_none() || own == instance
}

/// What [`Site::hit`] leaves to [`Site::enter`] when it finds no hit: the function's store and
/// the key's hash, and the shard's read lock when the table does not hold the key (so that the
/// miss path registers the computation without looking again); nothing when the store is not
/// made yet. Holds a read lock: pass it to `enter` at once.
pub struct Missed<K, V>(Option<Looked<K, V>>)
where
    K: Send + Sync + 'static,
    V: Clone + Send + Sync + 'static;

/// What [`Site::hit`] looked at: the store, the key's hash and why there was no hit.
struct Looked<K, V>
where
    K: Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    store: &'static Store<K, V>,
    hash: u64,
    no_hit: NoHit<'static, K, V>,
}

/// The result of entering a cached call.
#[derive(Debug)]
pub enum Entry<R, G> {
    /// The value, from the cache or from another caller's computation.
    Hit(R),
    /// This caller computes: run the body with the guard.
    Miss(G),
}

impl Site {
    /// A site for a function (const, for a `static`).
    #[must_use]
    pub const fn new(meta: SiteMeta) -> Self {
        Self {
            meta,
            first: OnceLock::new(),
            more: [const { OnceLock::new() }; MORE_STORES],
            overflow: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The store for these key and value types and this instantiation, registered on first
    /// use.
    #[allow(clippy::inline_always)] // the hit path of async functions: see `Site::hit`
    #[inline(always)]
    fn store<K, V>(
        &'static self,
        render: RenderFn<K>,
        owner: Option<Owner>,
        instance: Instance,
    ) -> &'static Store<K, V>
    where
        K: Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if let Some(s) = self.first_store(instance) {
            return s;
        }
        self.store_slow(render, owner, instance)
    }

    /// The first store made, if it has these key and value types and serves `instance`.
    #[allow(clippy::inline_always)] // the hit path: see `Site::hit`
    #[inline(always)]
    fn first_store<K, V>(&'static self, instance: Instance) -> Option<&'static Store<K, V>>
    where
        K: Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let &(erased, own) = self.first.get()?;
        let store = erased.get::<Store<K, V>>()?;
        if !same_instance(own, instance) {
            return None;
        }
        Some(store)
    }

    #[cold]
    fn store_slow<K, V>(
        &'static self,
        render: RenderFn<K>,
        owner: Option<Owner>,
        instance: Instance,
    ) -> &'static Store<K, V>
    where
        K: Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        // Slots are filled in order, under the lock below.
        for slot in &self.more {
            match slot.get() {
                Some(s) => {
                    if let Some(s) = s.get(instance) {
                        return s;
                    }
                }
                None => break,
            }
        }
        let mut overflow = self
            .overflow
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = self.first_store(instance) {
            return s;
        }
        let existing = (self.more.iter().filter_map(OnceLock::get)).chain(overflow.iter());
        for s in existing {
            if let Some(s) = s.get(instance) {
                return s;
            }
        }
        let type_name = if self.meta.cache_type.is_empty() {
            crate::config::DEFAULT_CACHE_TYPE
        } else {
            self.meta.cache_type
        };
        let ty = registry().cache_type(type_name);
        let info = StoreInfo {
            name: match owner {
                // `module::method` becomes `module::Type::method` (with the type's generics).
                Some(owner) => {
                    let method = self.meta.name.rsplit("::").next().unwrap_or(self.meta.name);
                    format!("{}::{method}", owner())
                }
                None => self.meta.name.to_owned(),
            },
            prefix: Some(self.meta.prefix),
            key_start: format!("{}:", self.meta.prefix).into_boxed_str(),
            zero_arity: std::any::TypeId::of::<K>() == std::any::TypeId::of::<()>(),
            ttl: self.meta.ttl.map(crate::clock::duration_nanos),
            entry_bytes: entry_bytes::<K, V>(true),
        };
        let store: &'static Store<K, V> = Box::leak(Box::new(Store::new(ty, info, Some(render))));
        registry().add_store(store);
        let made = SiteStore {
            store: Erased::new(store),
            instance,
        };
        // Stores are made under `overflow`'s lock: `first` is not set meanwhile.
        if self.first.get().is_none() {
            let _ = self.first.set((made.store, made.instance));
        } else {
            match self.more.iter().find(|slot| slot.get().is_none()) {
                Some(slot) => {
                    let _ = slot.set(made);
                }
                None => overflow.push(made),
            }
        }
        store
    }

    /// Enters a call after [`hit`](Self::hit) found nothing: a hit (another caller's value
    /// arrived meanwhile), a value computed by another caller, or a guard to compute with.
    ///
    /// `owner` names the impl's type for a method (`type_name::<Self>`), so that stats show it
    /// as `module::Type::method`; it is read once, when the function's store is made.
    /// `instance` identifies the instantiation of a generic function or a method (the same for
    /// every call of one instantiation), or is `None` for a function that is neither: each
    /// instantiation has a store of its own.
    ///
    /// # Panics
    ///
    /// With the text of [`CallError::Recursion`] when the call waits for a computation of the
    /// same key that this thread is running.
    // The generated code tries `hit` first (always inlined, calling nothing, and returning
    // the value alone), so that the cached function's hit path needs few registers saved and
    // moves the value little: a `u64` hit 9.0 -> 8.1 ns, a `(&str, u32)` one 40 -> 36 ns
    // (probe, min of 8 runs). A key the table does not hold has its computation registered
    // under the read lock `hit` kept (`Store::begin_absent`); anything else looks again
    // (`Store::get_or_begin`). `#[inline]` rather than out of line: W2's miss 136 -> 131 ns.
    #[inline]
    pub fn enter<A, Kd>(
        &'static self,
        missed: Missed<A::Owned, Kd::Stored>,
        key: &A,
        kind: Kd,
        render: RenderFn<A::Owned>,
        owner: Option<Owner>,
        instance: Instance,
    ) -> Entry<Kd::Output, Guard<A::Owned, Kd>>
    where
        A: KeyArgs + ?Sized,
        Kd: Kind,
    {
        // Each look's outcome is taken apart where it is made, and only the value or the
        // computation's stamp flows on, in registers. An outcome carried out of the `match` as
        // a whole (or handed to a function, or a leader kept for its cleanup path) went through
        // memory, written field by field and read back in wider pieces: loads that cannot be
        // served from the stores still in flight wait for them, and W2's miss did so twice.
        // Together with the smaller `Begin::Lead` and leader: 82.7 -> 66.9 ns per W2 miss (min
        // of 12 interleaved runs of a probe), 2.2x -> 1.75x quick_cache's.
        let (store, hash, looked) = match missed.0 {
            Some(Looked {
                store,
                hash,
                no_hit: NoHit::Absent { shard, i },
            }) => (
                store,
                hash,
                settle(store, hash, key, store.begin_absent(shard, i, hash, key)),
            ),
            Some(Looked { store, hash, .. }) => (
                store,
                hash,
                settle(store, hash, key, store.get_or_begin(hash, key)),
            ),
            None => {
                let store = self.store::<A::Owned, Kd::Stored>(render, owner, instance);
                let hash = store.hash(key);
                (
                    store,
                    hash,
                    settle(store, hash, key, store.get_or_begin(hash, key)),
                )
            }
        };
        match looked {
            Ok(v) => Entry::Hit(kind.join(v)),
            Err((stamp, timed)) => Entry::Miss(Guard::new(store, hash, stamp, timed, kind)),
        }
    }

    /// The hit path of a synchronous cached function: the stored value (a hit, counted).
    ///
    /// Calls nothing out of line (see `Store::hit_inline`): the store not yet made, the
    /// thread's first lock, a writer in the way and LRU's hits are all left to
    /// [`enter`](Self::enter).
    ///
    /// # Errors
    ///
    /// [`Missed`] when there is no hit (nothing counted), to be given to `enter` at once: it
    /// may hold the shard's read lock. `instance` as for [`enter`](Self::enter); only the
    /// first store made is looked at here, later instantiations go through `enter`.
    // Always inlined into the cached function, down to the shard lock. Left to `#[inline]`,
    // it stops being inlined once two cached functions share key and value types (one
    // instance, two callers): a call and a returned value in memory, 1 ns of a 10 ns `u64`
    // hit in W1.
    #[allow(clippy::inline_always)] // see above
    #[inline(always)]
    pub fn hit<A, Kd>(
        &'static self,
        key: &A,
        kind: Kd,
        instance: Instance,
    ) -> Result<Kd::Output, Missed<A::Owned, Kd::Stored>>
    where
        A: KeyArgs + ?Sized,
        Kd: Kind,
    {
        let Some(store) = self.first_store::<A::Owned, Kd::Stored>(instance) else {
            return Err(Missed(None));
        };
        let hash = store.hash(key);
        match store.hit_inline(hash, key) {
            Ok(v) => Ok(kind.join(v)),
            Err(no_hit) => Err(Missed(Some(Looked {
                store,
                hash,
                no_hit,
            }))),
        }
    }

    /// The hit path of an async cached function, taken before any future is made: the stored
    /// value, or `None`, and then [`enter_async`](Self::enter_async) looks again and handles
    /// the miss. LRU's hits are taken here too (under the write lock), so that they make no
    /// future.
    #[allow(clippy::inline_always)] // see `hit`
    #[inline(always)]
    pub fn hit_async<A, Kd>(
        &'static self,
        key: &A,
        kind: Kd,
        render: RenderFn<A::Owned>,
        owner: Option<Owner>,
        instance: Instance,
    ) -> Option<Kd::Output>
    where
        A: KeyArgs + ?Sized,
        Kd: Kind,
    {
        let store = self.store::<A::Owned, Kd::Stored>(render, owner, instance);
        let hash = store.hash(key);
        store.get_hit(hash, key).map(|v| kind.join(v))
    }

    /// [`enter`](Self::enter) for async functions, called when [`hit`](Self::hit) found
    /// nothing: a hit completes on the first poll without awaiting anything; a miss may wait
    /// for another caller's computation.
    ///
    /// # Panics
    ///
    /// As [`enter`](Self::enter).
    pub async fn enter_async<A, Kd>(
        &'static self,
        key: &A,
        kind: Kd,
        render: RenderFn<A::Owned>,
        owner: Option<Owner>,
        instance: Instance,
    ) -> Entry<Kd::Output, Guard<A::Owned, Kd>>
    where
        A: KeyArgs + ?Sized,
        Kd: Kind,
    {
        let store = self.store::<A::Owned, Kd::Stored>(render, owner, instance);
        let hash = store.hash(key);
        // No second look for a ready value before the miss path: it looks under the lock.
        let mut count = true;
        loop {
            // The flight is bound in a statement of its own: the `Result` holding an `Entry`
            // (which may hold a value that is not `Send`) must not live across the `.await`.
            let flight = match resolve(
                store,
                hash,
                key,
                kind,
                store.lookup_or_begin(hash, key, count, Caller::Task),
            ) {
                Ok(entry) => return entry,
                Err(flight) => flight,
            };
            if let Some(v) = (WaitFlight { flight }).await {
                return Entry::Hit(kind.join(v));
            }
            count = false;
        }
    }
}

/// What a synchronous call does after a look: the value, or the stamp of the computation it
/// leads and whether to time it. Waiting is out of line ([`wait_then_look`]).
#[allow(clippy::inline_always)] // see `Site::enter`
#[inline(always)]
fn settle<K, V, A>(
    store: &'static Store<K, V>,
    hash: u64,
    key: &A,
    begin: Begin<V>,
) -> Result<V, (u32, bool)>
where
    K: Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    A: KeyArgs<Owned = K> + ?Sized,
{
    match begin {
        Begin::Hit(v) => Ok(v),
        Begin::Lead { stamp, timed } => Err((stamp, timed)),
        Begin::Wait(flight) => wait_then_look(store, hash, key, flight),
        Begin::Recursion => recursion(store, key),
    }
}

/// Waits for another caller's computation and, told to start over, looks again (the miss was
/// counted already): the value, or the stamp of the computation this call then leads.
#[cold]
#[inline(never)]
fn wait_then_look<K, V, A>(
    store: &'static Store<K, V>,
    hash: u64,
    key: &A,
    flight: Arc<Flight<V>>,
) -> Result<V, (u32, bool)>
where
    K: Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    A: KeyArgs<Owned = K> + ?Sized,
{
    let mut flight = flight;
    loop {
        if let Some(v) = flight.wait() {
            return Ok(v);
        }
        flight = match store.lookup_or_begin(hash, key, false, Caller::Thread) {
            Begin::Hit(v) => return Ok(v),
            Begin::Lead { stamp, timed } => return Err((stamp, timed)),
            Begin::Wait(next) => next,
            Begin::Recursion => recursion(store, key),
        };
    }
}

/// The entry a call returns, or the flight it waits for.
type Resolved<A, Kd> = Result<
    Entry<<Kd as Kind>::Output, Guard<<A as KeyArgs>::Owned, Kd>>,
    Arc<Flight<<Kd as Kind>::Stored>>,
>;

/// What an async call does after a look: the entry to return, or the flight to wait for.
#[inline]
fn resolve<A, Kd>(
    store: &'static Store<A::Owned, Kd::Stored>,
    hash: u64,
    key: &A,
    kind: Kd,
    begin: Begin<Kd::Stored>,
) -> Resolved<A, Kd>
where
    A: KeyArgs + ?Sized,
    Kd: Kind,
{
    match begin {
        Begin::Hit(v) => Ok(Entry::Hit(kind.join(v))),
        Begin::Lead { stamp, timed } => {
            Ok(Entry::Miss(Guard::new(store, hash, stamp, timed, kind)))
        }
        Begin::Wait(flight) => Err(flight),
        Begin::Recursion => recursion(store, key),
    }
}

#[cold]
fn recursion<K, V, A>(store: &Store<K, V>, key: &A) -> !
where
    K: Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    A: KeyArgs<Owned = K> + ?Sized,
{
    let mut text = String::new();
    store.render_key(&key.to_owned_key(), &mut text);
    panic!("memo: {}", CallError::Recursion { key: text })
}

/// The leader's side of a computation: settles the in-flight slot exactly once, by
/// [`finish`](Self::finish) or, if dropped first, by abandoning it.
pub(crate) struct Leader<K, V>
where
    K: Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    store: &'static Store<K, V>,
    hash: u64,
    stamp: u32,
}

impl<K, V> Leader<K, V>
where
    K: Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The leader of the computation that [`Begin::Lead`] gave `stamp`.
    pub(crate) fn new(store: &'static Store<K, V>, hash: u64, stamp: u32) -> Self {
        Self { store, hash, stamp }
    }

    pub(crate) fn id(&self) -> FlightId {
        self.store.flight_id(self.hash, self.stamp)
    }

    /// Settles the computation; `started` is when it began if it was timed (see
    /// [`Loads`](crate::Loads)).
    #[inline]
    pub(crate) fn finish(self, value: Option<V>, started: Option<Instant>) {
        let nanos = started.map(|t| u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX));
        self.store.finish(self.hash, self.id(), value, nanos);
        // Only now: if `finish` panicked (a `Clone` of the value), dropping the leader abandons
        // the computation, which wakes its waiters.
        std::mem::forget(self);
    }
}

impl<K, V> Drop for Leader<K, V>
where
    K: Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    // Inlined, so that the leader (and the guard holding it) is not kept in memory for a
    // cleanup path that needs its address.
    #[inline]
    fn drop(&mut self) {
        self.store.abandon(self.hash, self.id());
    }
}

/// Held by the caller that computes a missing value; run the body with [`run`](Self::run) or
/// [`run_async`](Self::run_async).
///
/// Dropping the guard without running (or while running: a panic, a dropped future) removes
/// the in-flight slot and wakes the waiters, one of which then computes.
pub struct Guard<K, Kd>
where
    K: Send + Sync + 'static,
    Kd: Kind,
{
    leader: Leader<K, Kd::Stored>,
    /// Whether to time the computation (see [`Loads`](crate::Loads)).
    timed: bool,
    kind: Kd,
}

impl<K, Kd> Guard<K, Kd>
where
    K: Send + Sync + 'static,
    Kd: Kind,
{
    fn new(
        store: &'static Store<K, Kd::Stored>,
        hash: u64,
        stamp: u32,
        timed: bool,
        kind: Kd,
    ) -> Self {
        Self {
            leader: Leader::new(store, hash, stamp),
            timed,
            kind,
        }
    }

    /// Runs the body, stores what its kind says to store, and returns its output.
    #[inline]
    pub fn run(self, body: impl FnOnce() -> Kd::Output) -> Kd::Output {
        // No running mark: the computation recorded this thread when it began.
        let started = self.timed.then(Instant::now);
        let out = body();
        self.finish(out, started)
    }

    /// Runs an async body; the computation counts as running on a thread only while it is
    /// polled there, so other tasks on the same thread are never mistaken for recursion.
    pub async fn run_async<F>(self, body: F) -> Kd::Output
    where
        F: Future<Output = Kd::Output>,
    {
        let id = self.leader.id();
        let started = self.timed.then(Instant::now);
        let mut body = std::pin::pin!(body);
        let out = std::future::poll_fn(|cx| {
            let _running = RunningMark::new(id);
            body.as_mut().poll(cx)
        })
        .await;
        self.finish(out, started)
    }

    #[inline]
    fn finish(self, out: Kd::Output, started: Option<Instant>) -> Kd::Output {
        let (out, stored) = self.kind.split(out);
        self.leader.finish(stored, started);
        out
    }
}

impl<K, Kd> std::fmt::Debug for Guard<K, Kd>
where
    K: Send + Sync + 'static,
    Kd: Kind,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").finish_non_exhaustive()
    }
}
