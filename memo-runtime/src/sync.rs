//! The synchronisation primitives memo uses, behind one module so that a model checker can
//! replace them.
//!
//! Normally these are `parking_lot`'s locks, memo's own reader-writer lock for store shards
//! ([`ShardLock`]: an `UnsafeCell` behind a lock of memo's design, the crate's unsafe code
//! besides `Erased`), and `std`'s atomics. Built with
//! `RUSTFLAGS="--cfg memo_shuttle"`, they are [shuttle](https://docs.rs/shuttle)'s, wrapped to
//! the same API (the shard lock is the same code over shuttle's atomics), so that the model
//! tests (`src/model_tests.rs`) can explore the interleavings of the shard lock, single-flight,
//! fencing, panics and cancellation.

use std::cell::Cell;

#[cfg(not(memo_shuttle))]
pub(crate) use parking_lot::{Condvar, Mutex, RwLock};
#[cfg(not(memo_shuttle))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(memo_shuttle))]
pub(crate) use std::thread_local;

#[cfg(memo_shuttle)]
pub(crate) use model::{Condvar, Mutex, Mutex as SpinMutex, RwLock};
#[cfg(memo_shuttle)]
pub(crate) use shuttle::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(memo_shuttle)]
pub(crate) use shuttle::thread_local;

/// The lock of one store shard: a reader-writer lock whose readers count themselves on a cache
/// line of their own thread's ([`StripedRawLock`]), so that hits on two cores write no cache
/// line in common, and whose writer announces itself with one flag and then waits for the
/// readers already inside to leave. No poisoning (no user code runs while a shard is written
/// but key comparisons, and a panic there leaves the shard consistent).
///
/// The same code runs in the model build, over shuttle's atomics, so the model tests explore
/// this lock's interleavings too (with [`LOCK_STRIPES`] small enough that their threads also
/// share a stripe).
pub(crate) struct ShardLock<T> {
    raw: StripedRawLock,
    data: std::cell::UnsafeCell<T>,
}

// SAFETY: as for `std`'s `RwLock`: the lock hands `&mut T` to one thread at a time (so `T`
// moves between threads: `Send`) and `&T` to several threads at once (`Sync`); see
// `StripedRawLock` for why a reader and a writer are never inside together.
#[allow(unsafe_code)]
unsafe impl<T: Send> Send for ShardLock<T> {}
// SAFETY: see above.
#[allow(unsafe_code)]
unsafe impl<T: Send + Sync> Sync for ShardLock<T> {}

impl<T> ShardLock<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            raw: StripedRawLock::new(),
            data: std::cell::UnsafeCell::new(value),
        }
    }

    /// The guard of a reader counted in on `stripe`.
    #[inline]
    fn entered(&self, stripe: usize) -> ShardReadGuard<'_, T> {
        ShardReadGuard {
            lock: self,
            stripe,
            not_send: std::marker::PhantomData,
        }
    }

    /// Locks for reading, waiting for a writer inside or on its way.
    #[inline]
    pub(crate) fn read(&self) -> ShardReadGuard<'_, T> {
        let stripe = lock_stripe();
        if !self.raw.try_enter(stripe) {
            self.raw.enter_slow(stripe);
        }
        self.entered(stripe)
    }

    /// Locks for reading if no writer is inside or on its way and this thread already has its
    /// stripe, without calling out of line (so that the hit path that takes it needs no
    /// registers saved across calls); else `None`, and [`read`](Self::read) does the rest.
    #[inline]
    pub(crate) fn try_read_inline(&self) -> Option<ShardReadGuard<'_, T>> {
        let stripe = known_lock_stripe();
        // One comparison on the way of a thread with its own stripe: `UNSET` is beyond them.
        if stripe >= LOCK_STRIPES && stripe == UNSET {
            return None;
        }
        // `then`, not `then_some`: a guard made and dropped would count an exit.
        self.raw.try_enter(stripe).then(|| self.entered(stripe))
    }

    /// Locks for reading if no writer is inside or on its way.
    #[cfg(test)]
    pub(crate) fn try_read(&self) -> Option<ShardReadGuard<'_, T>> {
        let stripe = lock_stripe();
        // `then`, not `then_some`: a guard made and dropped would count an exit.
        self.raw.try_enter(stripe).then(|| self.entered(stripe))
    }

    /// Locks for writing, waiting for the readers inside and any other writer.
    pub(crate) fn write(&self) -> ShardWriteGuard<'_, T> {
        self.raw.lock_exclusive();
        ShardWriteGuard {
            lock: self,
            not_send: std::marker::PhantomData,
        }
    }

    /// Locks for writing if nobody is inside.
    #[cfg(all(test, not(memo_shuttle)))]
    pub(crate) fn try_write(&self) -> Option<ShardWriteGuard<'_, T>> {
        // `then`, not `then_some`: a guard made and dropped would unlock.
        self.raw.try_lock_exclusive().then(|| ShardWriteGuard {
            lock: self,
            not_send: std::marker::PhantomData,
        })
    }
}

/// A read lock on a [`ShardLock`]. It carries the stripe it was counted on, so that leaving
/// counts there without looking the thread's stripe up again, and so that the hit counters can
/// count on the same stripe ([`Striped::incr_at`]). Not `Send`: it must be released by the
/// thread whose stripe it counted on.
pub(crate) struct ShardReadGuard<'a, T> {
    lock: &'a ShardLock<T>,
    stripe: usize,
    not_send: std::marker::PhantomData<*const ()>,
}

impl<T> ShardReadGuard<'_, T> {
    /// This thread's stripe index (see [`thread_stripe`]).
    #[inline]
    pub(crate) fn stripe(&self) -> usize {
        self.stripe
    }
}

impl<T> std::ops::Deref for ShardReadGuard<'_, T> {
    type Target = T;
    #[inline]
    #[allow(unsafe_code)]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock for reading, so no writer is inside and no `&mut T`
        // exists while the returned reference (tied to the guard) lives.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> Drop for ShardReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw.exit(self.stripe);
    }
}

/// A write lock on a [`ShardLock`]. Not `Send`, like the read guard: it is released by the
/// thread that took it.
pub(crate) struct ShardWriteGuard<'a, T> {
    lock: &'a ShardLock<T>,
    not_send: std::marker::PhantomData<*const ()>,
}

impl<T> std::ops::Deref for ShardWriteGuard<'_, T> {
    type Target = T;
    #[inline]
    #[allow(unsafe_code)]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock for writing: nobody else is inside.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> std::ops::DerefMut for ShardWriteGuard<'_, T> {
    #[inline]
    #[allow(unsafe_code)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock for writing: nobody else is inside, and the
        // returned reference borrows the guard mutably, so it is the only one.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for ShardWriteGuard<'_, T> {
    #[inline]
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: the guard's lock was taken for writing on this thread (the guard is not
        // `Send`) and is released once, here.
        unsafe { self.lock.raw.unlock_exclusive() };
    }
}

/// How many threads at once have a reader stripe of their own in every [`StripedRawLock`]
/// (those whose stripe index is below it); the others share one more stripe. Two in the model
/// build, whose tests run three or four threads.
#[cfg(not(memo_shuttle))]
const LOCK_STRIPES: usize = 8;
#[cfg(memo_shuttle)]
const LOCK_STRIPES: usize = 2;

/// The stripe index a read lock counts on: the thread's lease ([`thread_stripe`]); in the model
/// build, where all model threads run on one OS thread, the model thread's number.
#[cfg(not(memo_shuttle))]
#[inline]
fn lock_stripe() -> usize {
    thread_stripe()
}
#[cfg(memo_shuttle)]
fn lock_stripe() -> usize {
    usize::from(shuttle::thread::current().id())
}

/// [`lock_stripe`] as far as known without a call: the thread's stripe, a number of
/// [`LOCK_STRIPES`] or more if it shares the last one, or [`UNSET`] before it has taken its
/// stripe. One thread-local read.
#[cfg(not(memo_shuttle))]
#[inline]
fn known_lock_stripe() -> usize {
    STRIPE_INDEX.with(Cell::get)
}
#[cfg(memo_shuttle)]
fn known_lock_stripe() -> usize {
    lock_stripe()
}

/// The raw lock under [`ShardLock`].
///
/// - A reader counts an entry on its thread's stripe, then looks at `writer`: clear, it is in;
///   set, it counts an exit, waits until the flag is clear ([`wait_while`]) and tries again.
///   It leaves by counting an exit.
/// - A writer sets `writer` with a compare-exchange (writers exclude each other there: one
///   waits while another holds it), then waits until every stripe shows as many exits as
///   entries; it leaves by clearing `writer` with a release store.
///
/// Both sides write their own location and then read the other's, all sequentially
/// consistent: of a reader's entry and the writer's flag, whichever comes first in the single
/// total order is seen by the other side's read, so a reader and a writer are never inside
/// together. The writer reads a stripe's exits before its entries: every exit it sees is that
/// of an entry made before (so one it also sees), while the entry of a reader still inside,
/// made before the flag, is seen and its exit is not, so the two differ for as long as any
/// reader is in (even one that entered twice, or whose thread meanwhile entered again and was
/// turned away). A reader counts an exit with a release store, which the writer's load
/// synchronises with; a writer leaves with a release store of `writer`, which a later
/// reader's load of it synchronises with.
///
/// A thread with a stripe of its own (the lease of [`thread_stripe`], the same one the
/// [`Striped`] counters use) is the only writer of its two counts, so it counts with a load
/// and a store: entering costs one sequentially consistent store (the one fence a reader
/// needs) and leaving a plain release store. Entries and exits are two counts rather than one
/// count of readers inside so that each is written once per read lock: back-to-back hits do
/// not wait for one another's increment and decrement of the same word. Other threads count
/// on the shared stripe atomically. The read guard carries the stripe index it counted on;
/// a thread keeps its lease until it exits, and a guard, which is not `Send`, cannot outlive
/// the thread-local destructor (or function) that took it, so no other thread can hold that
/// index meanwhile. crossbeam's `ShardedLock`, used before, cost two atomic read-modify-writes
/// and a lazily initialised thread-local per read, and locking and unlocking eight locks per
/// write; a write here sets one flag (one locked instruction) and reads the leased stripes,
/// and leaves with a plain store. Before, writers also took a `parking_lot` mutex (a gate
/// that turned-away readers parked on): two more locked instructions per write, which wait
/// for the stores the core has not yet written to its cache (W2's miss, in-process A/B
/// against `quick_cache`: about 0.05x).
///
/// Nobody parks: a thread waiting for a writer spins, then yields, then sleeps in slices of
/// up to a millisecond ([`wait_while`]). A writer holds a shard only for table work (and the
/// key and value code the README lists), so waits are short; a long one costs a sleeper at
/// most a millisecond of lateness and never a busy core.
///
/// Writers are preferred: once `writer` is set no new reader gets in, as with `std`'s lock, so
/// a thread must not take a read lock it already holds (memo does not; a cached value whose
/// `Clone` calls its own cached function would, and can deadlock as it could with `std`'s).
pub(crate) struct StripedRawLock {
    /// One stripe per leased thread, then the shared one.
    readers: [crossbeam_utils::CachePadded<ReaderCounts>; LOCK_STRIPES + 1],
    /// Set while a writer is in or on its way.
    writer: crossbeam_utils::CachePadded<AtomicBool>,
}

/// The read locks taken and released on one stripe of a [`StripedRawLock`] (wrapping counts).
pub(crate) struct ReaderCounts {
    entries: AtomicUsize,
    exits: AtomicUsize,
}

impl ReaderCounts {
    fn new() -> Self {
        Self {
            entries: AtomicUsize::new(0),
            exits: AtomicUsize::new(0),
        }
    }

    /// Whether every entry counted has its exit: the exits are read first (see
    /// [`StripedRawLock`]).
    fn settled(&self) -> bool {
        self.settled_with(|| ())
    }

    /// [`settled`](Self::settled), running `between` between its two reads (so that a test
    /// can count in there).
    #[inline]
    fn settled_with(&self, between: impl FnOnce()) -> bool {
        let exits = self.exits.load(Ordering::SeqCst);
        between();
        self.entries.load(Ordering::SeqCst) == exits
    }
}

impl StripedRawLock {
    fn new() -> Self {
        Self {
            readers: std::array::from_fn(
                |_| crossbeam_utils::CachePadded::new(ReaderCounts::new()),
            ),
            writer: crossbeam_utils::CachePadded::new(AtomicBool::new(false)),
        }
    }

    /// Whether a writer is in or on its way.
    #[inline]
    fn writer_flag(&self) -> &AtomicBool {
        &self.writer
    }

    /// Counts one on `stripe`, in the count `which` picks; `order` is the store's (or the
    /// shared stripe's read-modify-write's) ordering.
    #[inline]
    fn count(&self, stripe: usize, which: fn(&ReaderCounts) -> &AtomicUsize, order: Ordering) {
        if stripe < LOCK_STRIPES {
            // This thread is the count's only writer.
            let c = which(&self.readers[stripe]);
            c.store(c.load(Ordering::Relaxed).wrapping_add(1), order);
        } else {
            which(&self.readers[LOCK_STRIPES]).fetch_add(1, order);
        }
    }

    /// Counts an entry on `stripe` and looks at the writer flag: whether the reader is in
    /// (if not, its exit is counted too). The entry is sequentially consistent: it must be
    /// ordered before the look at the flag.
    #[inline]
    fn try_enter(&self, stripe: usize) -> bool {
        self.count(stripe, |c| &c.entries, Ordering::SeqCst);
        if self.writer_flag().load(Ordering::SeqCst) {
            self.exit(stripe);
            return false;
        }
        true
    }

    /// Counts an exit on `stripe` (release: what the reader read happens before the writer's
    /// write).
    #[inline]
    fn exit(&self, stripe: usize) {
        self.count(stripe, |c| &c.exits, Ordering::Release);
    }

    /// Entering after a writer turned the reader away: waits until no writer is in, and tries
    /// again.
    #[cold]
    #[inline(never)]
    fn enter_slow(&self, stripe: usize) {
        loop {
            wait_while(|| self.writer_flag().load(Ordering::Relaxed));
            if self.try_enter(stripe) {
                return;
            }
        }
    }

    /// Sets the writer flag if it is clear: whether this thread is now the writer.
    #[inline]
    fn try_flag(&self) -> bool {
        self.writer_flag()
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
    }

    /// Whether no reader is inside. Only the stripes ever leased can have readers besides the
    /// shared one (see [`leased_lock_stripes`]): a process whose few threads read leaves the
    /// writer most stripes, and their cache lines, to skip.
    fn no_readers(&self) -> bool {
        self.readers[..leased_lock_stripes()]
            .iter()
            .all(|r| r.settled())
            && self.readers[LOCK_STRIPES].settled()
    }

    fn lock_exclusive(&self) {
        while !self.try_flag() {
            wait_while(|| self.writer_flag().load(Ordering::Relaxed));
        }
        let backoff = crossbeam_utils::Backoff::new();
        while !self.no_readers() {
            snooze(&backoff);
        }
    }

    #[cfg(all(test, not(memo_shuttle)))]
    fn try_lock_exclusive(&self) -> bool {
        if !self.try_flag() {
            return false;
        }
        if self.no_readers() {
            return true;
        }
        self.writer_flag().store(false, Ordering::Release);
        false
    }

    /// # Safety
    ///
    /// This thread holds the lock for writing.
    #[allow(unsafe_code)]
    #[inline]
    unsafe fn unlock_exclusive(&self) {
        self.writer_flag().store(false, Ordering::Release);
    }
}

/// Waits while `busy` says so: spins, then yields the core, then sleeps in slices that grow
/// to a millisecond; in the model build, yields to the scheduler.
#[cold]
#[inline(never)]
fn wait_while(busy: impl Fn() -> bool) {
    let backoff = crossbeam_utils::Backoff::new();
    #[cfg(not(memo_shuttle))]
    let mut nap = std::time::Duration::from_micros(20);
    while busy() {
        #[cfg(not(memo_shuttle))]
        if backoff.is_completed() {
            std::thread::sleep(nap);
            nap = (nap * 2).min(std::time::Duration::from_millis(1));
            continue;
        }
        snooze(&backoff);
    }
}

/// One wait of a writer for the readers inside: spin, then yield the core; in the model
/// build, yield to the scheduler.
#[inline]
pub(crate) fn snooze(backoff: &crossbeam_utils::Backoff) {
    #[cfg(not(memo_shuttle))]
    backoff.snooze();
    #[cfg(memo_shuttle)]
    {
        let _ = backoff;
        shuttle::thread::yield_now();
    }
}

/// How many threads at once have a stripe of their own in every [`Striped`] counter; threads
/// beyond them share one more stripe (still exact: that one is added to atomically).
const EXCLUSIVE: usize = 32;

/// A counter that threads add to without sharing a cache line and without an atomic
/// read-modify-write: each thread leases a stripe index of its own for its lifetime, so a
/// stripe has one writer, which adds with a plain load and store; a read sums the stripes.
///
/// Plain std atomics even under the model checker: nothing waits on them, and a model
/// thread must not be switched out between the load and the store.
#[derive(Debug)]
pub(crate) struct Striped([Padded<std::sync::atomic::AtomicU64>; EXCLUSIVE + 1]);

impl Default for Striped {
    fn default() -> Self {
        Self(std::array::from_fn(|_| {
            Padded(std::sync::atomic::AtomicU64::new(0))
        }))
    }
}

impl Striped {
    /// Adds one.
    #[inline]
    pub(crate) fn incr(&self) {
        self.incr_at(thread_stripe());
    }

    /// Adds one on the stripe `i`, which is this thread's [`thread_stripe`] (a read guard's
    /// [`stripe`](ShardReadGuard::stripe), to save looking it up again).
    #[inline]
    pub(crate) fn incr_at(&self, i: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        if i < EXCLUSIVE {
            // This thread is the stripe's only writer.
            let c = &self.0[i];
            c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
        } else {
            // No stripe left, or the thread is exiting.
            self.0[EXCLUSIVE].fetch_add(1, Relaxed);
        }
    }

    /// The sum of the stripes.
    pub(crate) fn sum(&self) -> u64 {
        self.0
            .iter()
            .map(|s| s.load(std::sync::atomic::Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

/// The stripe index a thread holds, given back when the thread exits. The lease passes through
/// a mutex, so the next holder sees every count its predecessor wrote.
struct StripeLease(Option<usize>);

/// Stripe indexes given back, and the next never handed out.
static LEASES: std::sync::Mutex<(Vec<usize>, usize)> = std::sync::Mutex::new((Vec::new(), 0));

/// How many stripe indexes were ever handed out (the second half of `LEASES`, which only
/// grows), readable without the mutex.
static LEASED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many of a [`StripedRawLock`]'s own stripes (from the first) a reader may have counted
/// on: those of the indexes ever leased. A thread stores the new count (sequentially
/// consistent) when it takes a new index, before its first read lock's entry; a writer loads
/// it after setting its flag. If the load misses a thread's index, the store came after it in
/// the single total order, so that thread's entry, and its look at the flag after it, come
/// later still: it sees the flag and stays out. In the model build every stripe is looked at
/// (model threads take no leases there).
#[cfg(not(memo_shuttle))]
#[inline]
fn leased_lock_stripes() -> usize {
    LEASED
        .load(std::sync::atomic::Ordering::SeqCst)
        .min(LOCK_STRIPES)
}
#[cfg(memo_shuttle)]
fn leased_lock_stripes() -> usize {
    LOCK_STRIPES
}

/// `STRIPE_INDEX` of a thread that counts on the shared stripe.
const SHARED: usize = usize::MAX - 1;

/// `STRIPE_INDEX` of a thread that has not counted yet.
const UNSET: usize = usize::MAX;

impl StripeLease {
    fn take() -> Self {
        let mut leases = LEASES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (free, next) = &mut *leases;
        let lease = free.pop().or_else(|| {
            (*next < EXCLUSIVE).then(|| {
                *next += 1;
                // Before this thread's first read lock counts on the stripe: see
                // `leased_lock_stripes`.
                LEASED.store(*next, std::sync::atomic::Ordering::SeqCst);
                *next - 1
            })
        });
        STRIPE_INDEX.with(|i| i.set(lease.unwrap_or(SHARED)));
        Self(lease)
    }
}

impl Drop for StripeLease {
    fn drop(&mut self) {
        // Counts made after this (from other thread-local destructors) go to the shared stripe:
        // the index may be leased to another thread from now on.
        STRIPE_INDEX.with(|i| i.set(SHARED));
        if let Some(i) = self.0 {
            LEASES
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0
                .push(i);
        }
    }
}

std::thread_local! {
    /// The lease itself, made on a thread's first count and given back when the thread exits.
    static STRIPE: StripeLease = StripeLease::take();
    /// This thread's stripe index ([`UNSET`] before its first count, [`SHARED`] without a
    /// stripe of its own): the copy of the lease the counting path reads. No destructor, so it
    /// stays readable while the thread's other thread-locals are destroyed.
    static STRIPE_INDEX: Cell<usize> = const { Cell::new(UNSET) };
}

/// The stripe index this thread holds (below [`EXCLUSIVE`]), or a larger number when it shares
/// the last stripe. One thread-local read without a lazy-initialisation check: the lease is
/// only looked at the first time a thread asks (this is on every hit).
#[inline]
fn thread_stripe() -> usize {
    match STRIPE_INDEX.with(Cell::get) {
        UNSET => take_stripe(),
        i => i,
    }
}

/// The first [`thread_stripe`] of a thread: takes its lease, which records the index in
/// `STRIPE_INDEX`. If the lease cannot be taken (the thread is being torn down), the thread
/// shares the last stripe from now on: leaving the index unset would come back here for ever.
#[cold]
fn take_stripe() -> usize {
    if STRIPE.try_with(|_| ()).is_err() {
        STRIPE_INDEX.with(|i| i.set(SHARED));
    }
    STRIPE_INDEX.with(Cell::get)
}

/// A mutex for short critical sections (a shard's in-flight records: registering or finding a
/// computation, which may run a key's `Clone` or `Display`): a flag taken with a
/// compare-exchange and released with a plain release store. `parking_lot`'s mutex
/// releases with a compare-exchange (it must see whether anybody sleeps), a locked instruction
/// that waits for every store the core has not yet written to its cache; on a miss, those
/// include the writes to lines the miss fetches. Waiters spin, yield the core, then sleep
/// ([`wait_while`]).
#[cfg(not(memo_shuttle))]
pub(crate) struct SpinMutex<T> {
    locked: AtomicBool,
    data: std::cell::UnsafeCell<T>,
}

// SAFETY: the data is reached only through a guard, which the flag makes exclusive, or
// through `&mut self`.
#[cfg(not(memo_shuttle))]
#[allow(unsafe_code)]
unsafe impl<T: Send> Send for SpinMutex<T> {}
// SAFETY: as above: one thread at a time reaches the data.
#[cfg(not(memo_shuttle))]
#[allow(unsafe_code)]
unsafe impl<T: Send> Sync for SpinMutex<T> {}

#[cfg(not(memo_shuttle))]
impl<T> SpinMutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            data: std::cell::UnsafeCell::new(value),
        }
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinMutexGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        SpinMutexGuard { lock: self }
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self) {
        loop {
            // The holder may be running a key's `Clone` or `Display`: after spinning and
            // yielding, sleep rather than keep a core busy.
            wait_while(|| self.locked.load(Ordering::Relaxed));
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// The guard of a [`SpinMutex`]: the data, until it is dropped.
#[cfg(not(memo_shuttle))]
pub(crate) struct SpinMutexGuard<'a, T> {
    lock: &'a SpinMutex<T>,
}

#[cfg(not(memo_shuttle))]
impl<T> std::ops::Deref for SpinMutexGuard<'_, T> {
    type Target = T;
    #[allow(unsafe_code)]
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the flag.
        unsafe { &*self.lock.data.get() }
    }
}

#[cfg(not(memo_shuttle))]
impl<T> std::ops::DerefMut for SpinMutexGuard<'_, T> {
    #[allow(unsafe_code)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the flag.
        unsafe { &mut *self.lock.data.get() }
    }
}

#[cfg(not(memo_shuttle))]
impl<T> Drop for SpinMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

/// Aligns a value to its own cache lines so that two shards never share one.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// shuttle's std-like primitives behind `parking_lot`'s API (no poisoning, guards returned
/// directly, `Condvar::wait` on `&mut guard`).
#[cfg(memo_shuttle)]
mod model {
    use std::ops::{Deref, DerefMut};

    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(shuttle::sync::Mutex<T>);

    pub(crate) struct MutexGuard<'a, T>(Option<shuttle::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(shuttle::sync::Mutex::new(value))
        }

        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(
                self.0
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            ))
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_deref().expect("guard present")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_deref_mut().expect("guard present")
        }
    }

    #[derive(Debug, Default)]
    pub(crate) struct Condvar(shuttle::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Self(shuttle::sync::Condvar::new())
        }

        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let inner = guard.0.take().expect("guard present");
            guard.0 = Some(
                self.0
                    .wait(inner)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    #[derive(Debug, Default)]
    pub(crate) struct RwLock<T>(shuttle::sync::RwLock<T>);

    impl<T> RwLock<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(shuttle::sync::RwLock::new(value))
        }

        pub(crate) fn read(&self) -> shuttle::sync::RwLockReadGuard<'_, T> {
            self.0
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }

        pub(crate) fn write(&self) -> shuttle::sync::RwLockWriteGuard<'_, T> {
            self.0
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }
}

#[cfg(all(test, not(memo_shuttle)))]
mod tests {
    use super::{
        EXCLUSIVE, LOCK_STRIPES, ShardLock, SpinMutex, Striped, StripedRawLock, thread_stripe,
    };
    use std::sync::{Barrier, mpsc};

    /// Threads changing two fields one after the other under a spin mutex never see them
    /// differ, and no change is lost; a thread that finds it held waits until it is released.
    #[test]
    fn spin_mutex_excludes_and_waits() {
        const ROUNDS: u64 = 20_000;
        let m = SpinMutex::new((0_u64, 0_u64));
        let threads = 3;
        let barrier = Barrier::new(threads);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    barrier.wait();
                    for _ in 0..ROUNDS {
                        let mut g = m.lock();
                        assert_eq!(g.0, g.1, "two holders at once");
                        g.0 += 1;
                        std::hint::black_box(&mut *g);
                        g.1 += 1;
                    }
                });
            }
        });
        assert_eq!(*m.lock(), (3 * ROUNDS, 3 * ROUNDS));

        let (held_tx, held_rx) = mpsc::channel();
        let g = m.lock();
        std::thread::scope(|s| {
            let m = &m;
            let waiter = s.spawn(move || {
                held_tx.send(()).expect("send");
                m.lock().0
            });
            held_rx.recv().expect("recv");
            let mut g = g;
            g.0 = 7;
            drop(g);
            assert_eq!(waiter.join().expect("waiter"), 7, "the waiter got in first");
        });
    }

    /// More threads at once than there are stripes of their own, then as many again after those
    /// exit (reusing their leases): not one count is lost.
    #[test]
    fn striped_counts_are_exact_beyond_the_exclusive_stripes() {
        let counter = Striped::default();
        let threads = EXCLUSIVE + 8;
        for _round in 0..2 {
            let barrier = Barrier::new(threads);
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        // Every thread holds its lease while the others take theirs.
                        barrier.wait();
                        for _ in 0..1000 {
                            counter.incr();
                        }
                        barrier.wait();
                    });
                }
            });
        }
        assert_eq!(counter.sum(), 2 * threads as u64 * 1000);
    }

    /// A thread counting from a thread-local destructor, after it may have given its stripe
    /// back, counts on the shared stripe: no count is lost, and no stripe gets two writers.
    #[test]
    fn counts_from_thread_local_destructors_are_kept() {
        struct CountOnExit(&'static Striped);
        impl Drop for CountOnExit {
            fn drop(&mut self) {
                for _ in 0..100 {
                    self.0.incr();
                }
            }
        }
        std::thread_local! {
            static ON_EXIT: std::cell::RefCell<Option<CountOnExit>> =
                const { std::cell::RefCell::new(None) };
        }
        let counter: &'static Striped = Box::leak(Box::default());
        // Thread-local destructors run in reverse order of first use: half of the threads
        // count on exit before giving their stripe back, half after.
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    if t % 2 == 0 {
                        counter.incr();
                    }
                    ON_EXIT.with(|c| *c.borrow_mut() = Some(CountOnExit(counter)));
                    if t % 2 == 1 {
                        counter.incr();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(counter.sum(), 4 * 101);
    }

    /// Writers keep two fields equal by changing them one after the other; readers on more
    /// threads than there are counters of their own (so on the shared counter too) never see
    /// them differ, and no write is lost.
    #[test]
    fn shard_lock_excludes_readers_from_writes() {
        const WRITES: u64 = 2_000;
        let lock = ShardLock::new((0_u64, 0_u64));
        let (writers, readers) = (2, LOCK_STRIPES + 4);
        let barrier = Barrier::new(writers + readers);
        std::thread::scope(|s| {
            for _ in 0..writers {
                s.spawn(|| {
                    barrier.wait();
                    for _ in 0..WRITES {
                        let mut g = lock.write();
                        g.0 += 1;
                        std::hint::black_box(&mut *g);
                        g.1 += 1;
                    }
                });
            }
            for _ in 0..readers {
                s.spawn(|| {
                    barrier.wait();
                    let mut last = 0;
                    for _ in 0..WRITES {
                        let g = lock.read();
                        assert_eq!(g.0, g.1, "a reader saw a write half done");
                        assert!(g.0 >= last, "a reader saw writes undone");
                        last = g.0;
                    }
                });
            }
        });
        assert_eq!(*lock.read(), (2 * WRITES, 2 * WRITES));
    }

    /// A writer that looks at a stripe while a reader is inside there, and meanwhile the same
    /// thread enters again and is turned away (an entry and an exit counted between the
    /// writer's two reads), still finds the reader inside: it reads the exits before the
    /// entries.
    #[test]
    fn shard_lock_writer_sees_a_reader_that_entered_again_meanwhile() {
        use std::sync::atomic::Ordering::SeqCst;
        let lock = StripedRawLock::new();
        let stripe = thread_stripe();
        assert!(lock.try_enter(stripe));
        // The writer's side, by hand: the flag, then the look at this thread's stripe.
        lock.writer_flag().store(true, SeqCst);
        let counts = &lock.readers[stripe.min(LOCK_STRIPES)];
        let settled = counts.settled_with(|| {
            assert!(!lock.try_enter(stripe), "a reader got in past the flag");
        });
        assert!(!settled, "the writer missed a reader inside");
        lock.writer_flag().store(false, SeqCst);
        lock.exit(stripe);
        assert!(counts.settled());
    }

    /// A writer waits for a reader on another thread, and a reader for a writer.
    #[test]
    fn shard_lock_writer_and_reader_wait_for_each_other() {
        let lock = ShardLock::new(0_u32);
        let (held_tx, held_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let lock = &lock;
        std::thread::scope(|s| {
            let held = held_tx.clone();
            s.spawn(move || {
                let g = lock.read();
                held.send(()).expect("send");
                release_rx.recv().expect("recv");
                drop(g);
            });
            held_rx.recv().expect("recv");
            assert!(
                lock.try_write().is_none(),
                "written while read on another thread"
            );
            assert!(lock.try_read().is_some(), "a second reader is let in");
            release_tx.send(()).expect("send");
            // Blocks until the reader has left.
            *lock.write() += 1;

            let g = lock.write();
            s.spawn(move || {
                assert!(lock.try_read().is_none(), "read while written");
                held_tx.send(()).expect("send");
                assert_eq!(*lock.read(), 2, "the reader waited for the write");
            });
            held_rx.recv().expect("recv");
            let mut g = g;
            *g += 1;
        });
        assert!(lock.try_write().is_some());
    }

    /// Read locks taken by many short-lived threads (more than there are counters, and reusing
    /// the leases of those that exited), some of them from thread-local destructors after the
    /// thread gave its stripe back, are all released: a writer gets in afterwards.
    #[test]
    fn shard_lock_read_locks_are_released_on_the_counter_they_took() {
        struct ReadOnExit(&'static ShardLock<u32>);
        impl Drop for ReadOnExit {
            fn drop(&mut self) {
                assert_eq!(*self.0.read(), 7);
            }
        }
        std::thread_local! {
            static ON_EXIT: std::cell::RefCell<Option<ReadOnExit>> =
                const { std::cell::RefCell::new(None) };
        }
        let lock: &'static ShardLock<u32> = Box::leak(Box::new(ShardLock::new(7)));
        for round in 0..3 {
            let threads: Vec<_> = (0..EXCLUSIVE + 4)
                .map(|t| {
                    std::thread::spawn(move || {
                        if (t + round) % 2 == 0 {
                            drop(lock.read());
                        }
                        ON_EXIT.with(|c| *c.borrow_mut() = Some(ReadOnExit(lock)));
                        drop(lock.read());
                    })
                })
                .collect();
            for t in threads {
                t.join().expect("thread");
            }
            assert!(lock.try_write().is_some(), "a read lock was left behind");
        }
    }
}
