//! The synchronisation primitives memo uses, behind one module so that a model checker can
//! replace them.
//!
//! Normally these are `parking_lot`'s locks, memo's own reader-writer lock for store shards
//! ([`ShardLock`], the crate's one `unsafe impl`: `lock_api`'s raw-lock trait), and `std`'s
//! atomics. Built with
//! `RUSTFLAGS="--cfg memo_shuttle"`, they are [shuttle](https://docs.rs/shuttle)'s, wrapped to
//! the same API, so that the model tests (`src/model_tests.rs`) can explore the interleavings of
//! single-flight, fencing, panics and cancellation.

use std::cell::Cell;

#[cfg(not(memo_shuttle))]
pub(crate) use parking_lot::{Condvar, Mutex, RwLock};
#[cfg(not(memo_shuttle))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(memo_shuttle))]
pub(crate) use std::thread_local;

#[cfg(memo_shuttle)]
pub(crate) use model::{Condvar, Mutex, RwLock};
#[cfg(memo_shuttle)]
pub(crate) use shuttle::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(memo_shuttle)]
pub(crate) use shuttle::thread_local;

/// The lock of one store shard: a reader-writer lock whose readers count themselves on a cache
/// line of their own thread's ([`StripedRawLock`]), so that hits on two cores write no cache
/// line in common, and whose writer announces itself with one flag and then waits for the
/// readers already inside to leave. Built on `lock_api`, so guards are the usual ones; no
/// poisoning (no user code runs while a shard is written but key comparisons, and a panic
/// there leaves the shard consistent).
#[cfg(not(memo_shuttle))]
pub(crate) type ShardLock<T> = lock_api::RwLock<StripedRawLock, T>;
#[cfg(not(memo_shuttle))]
pub(crate) type ShardWriteGuard<'a, T> = lock_api::RwLockWriteGuard<'a, StripedRawLock, T>;

/// How many threads at once have a reader stripe of their own in every [`StripedRawLock`]
/// (those whose [`thread_stripe`] is below it); the others share one more stripe.
#[cfg(not(memo_shuttle))]
const LOCK_STRIPES: usize = 8;

/// The raw lock under [`ShardLock`].
///
/// - A reader counts an entry on its thread's stripe, then looks at `writer`: clear, it is in;
///   set, it counts an exit, waits on the gate (which the writer holds) and tries again. It
///   leaves by counting an exit.
/// - A writer takes the gate (writers exclude each other there), sets `writer`, then waits
///   until every stripe shows as many exits as entries; it leaves by clearing `writer` and
///   releasing the gate.
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
/// on the shared stripe atomically. A thread keeps its stripe until it exits, and a guard
/// cannot outlive the thread-local destructor (or function) that took it, so a read lock is
/// released on the stripe it was taken on. crossbeam's `ShardedLock`, used before, cost two
/// atomic read-modify-writes and a lazily initialised thread-local per read, and locking and
/// unlocking eight locks per write; a write here takes the gate, sets one flag and reads nine
/// stripes.
///
/// Writers are preferred: once `writer` is set no new reader gets in, as with `std`'s lock, so
/// a thread must not take a read lock it already holds (memo does not; a cached value whose
/// `Clone` calls its own cached function would, and can deadlock as it could with `std`'s).
#[cfg(not(memo_shuttle))]
pub(crate) struct StripedRawLock {
    /// One stripe per leased thread, then the shared one.
    readers: [crossbeam_utils::CachePadded<ReaderCounts>; LOCK_STRIPES + 1],
    /// The flag, and the gate writers hold.
    writer: crossbeam_utils::CachePadded<(std::sync::atomic::AtomicBool, parking_lot::RawMutex)>,
}

/// The read locks taken and released on one stripe of a [`StripedRawLock`] (wrapping counts).
#[cfg(not(memo_shuttle))]
pub(crate) struct ReaderCounts {
    entries: std::sync::atomic::AtomicUsize,
    exits: std::sync::atomic::AtomicUsize,
}

#[cfg(not(memo_shuttle))]
impl ReaderCounts {
    const fn new() -> Self {
        Self {
            entries: std::sync::atomic::AtomicUsize::new(0),
            exits: std::sync::atomic::AtomicUsize::new(0),
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
        use std::sync::atomic::Ordering::SeqCst;
        let exits = self.exits.load(SeqCst);
        between();
        self.entries.load(SeqCst) == exits
    }
}

#[cfg(not(memo_shuttle))]
impl StripedRawLock {
    /// Whether a writer is in or on its way.
    #[inline]
    fn writer_flag(&self) -> &std::sync::atomic::AtomicBool {
        &self.writer.0
    }

    /// Counts one on this thread's stripe, in the count `which` picks; `order` is the store's
    /// (or the shared stripe's read-modify-write's) ordering.
    #[inline]
    fn count(
        &self,
        which: fn(&ReaderCounts) -> &std::sync::atomic::AtomicUsize,
        order: std::sync::atomic::Ordering,
    ) {
        use std::sync::atomic::Ordering::Relaxed;
        let i = thread_stripe();
        if i < LOCK_STRIPES {
            // This thread is the count's only writer.
            let c = which(&self.readers[i]);
            c.store(c.load(Relaxed).wrapping_add(1), order);
        } else {
            which(&self.readers[LOCK_STRIPES]).fetch_add(1, order);
        }
    }

    /// Counts an entry (sequentially consistent: it must be ordered before the look at
    /// `writer`).
    #[inline]
    fn count_entry(&self) {
        self.count(|c| &c.entries, std::sync::atomic::Ordering::SeqCst);
    }

    /// Counts an exit (release: what the reader read happens before the writer's write).
    #[inline]
    fn count_exit(&self) {
        self.count(|c| &c.exits, std::sync::atomic::Ordering::Release);
    }

    /// [`lock_shared`](lock_api::RawRwLock::lock_shared) after a writer turned it away:
    /// waits for each writer on the gate, which the writer holds, and tries again.
    #[cold]
    #[inline(never)]
    #[allow(unsafe_code)]
    fn lock_shared_slow(&self) {
        use lock_api::{RawMutex as _, RawRwLock as _};
        loop {
            self.writer.1.lock();
            // SAFETY: this thread took the gate on the line above.
            unsafe { self.writer.1.unlock() };
            if self.try_lock_shared() {
                return;
            }
        }
    }

    /// Whether no reader is inside.
    fn no_readers(&self) -> bool {
        self.readers.iter().all(|r| r.settled())
    }
}

// SAFETY: a reader and a writer are never inside together, nor two writers (see the type's
// documentation for the argument); each unlock counts the exit of its lock's entry, on the same
// stripe.
#[cfg(not(memo_shuttle))]
#[allow(unsafe_code)]
unsafe impl lock_api::RawRwLock for StripedRawLock {
    const INIT: Self = Self {
        readers: [const { crossbeam_utils::CachePadded::new(ReaderCounts::new()) };
            LOCK_STRIPES + 1],
        writer: crossbeam_utils::CachePadded::new((
            std::sync::atomic::AtomicBool::new(false),
            <parking_lot::RawMutex as lock_api::RawMutex>::INIT,
        )),
    };

    // `unlock_shared` finds the stripe through the thread it runs on.
    type GuardMarker = lock_api::GuardNoSend;

    #[inline]
    fn lock_shared(&self) {
        if !self.try_lock_shared() {
            self.lock_shared_slow();
        }
    }

    #[inline]
    fn try_lock_shared(&self) -> bool {
        self.count_entry();
        if self.writer_flag().load(std::sync::atomic::Ordering::SeqCst) {
            self.count_exit();
            return false;
        }
        true
    }

    #[inline]
    unsafe fn unlock_shared(&self) {
        self.count_exit();
    }

    fn lock_exclusive(&self) {
        use lock_api::RawMutex as _;
        self.writer.1.lock();
        self.writer_flag()
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let backoff = crossbeam_utils::Backoff::new();
        while !self.no_readers() {
            backoff.snooze();
        }
    }

    fn try_lock_exclusive(&self) -> bool {
        use lock_api::RawMutex as _;
        use std::sync::atomic::Ordering::{Release, SeqCst};
        if !self.writer.1.try_lock() {
            return false;
        }
        self.writer_flag().store(true, SeqCst);
        if self.no_readers() {
            return true;
        }
        self.writer_flag().store(false, Release);
        // SAFETY: this thread took the gate above.
        unsafe { self.writer.1.unlock() };
        false
    }

    unsafe fn unlock_exclusive(&self) {
        use lock_api::RawMutex as _;
        self.writer_flag()
            .store(false, std::sync::atomic::Ordering::Release);
        // SAFETY: the caller holds the lock exclusively, so this thread holds the gate.
        unsafe { self.writer.1.unlock() };
    }
}

#[cfg(memo_shuttle)]
pub(crate) use model::RwLock as ShardLock;
#[cfg(memo_shuttle)]
pub(crate) type ShardWriteGuard<'a, T> = shuttle::sync::RwLockWriteGuard<'a, T>;

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
        use std::sync::atomic::Ordering::Relaxed;
        let i = thread_stripe();
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

/// `STRIPE_INDEX` of a thread that counts on the shared stripe.
const SHARED: usize = usize::MAX;

impl StripeLease {
    fn take() -> Self {
        let mut leases = LEASES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (free, next) = &mut *leases;
        let lease = free.pop().or_else(|| {
            (*next < EXCLUSIVE).then(|| {
                *next += 1;
                *next - 1
            })
        });
        STRIPE_INDEX.with(|i| i.set(lease.map_or(SHARED, |l| l + 1)));
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
    /// This thread's stripe index plus one (0 before its first count, [`SHARED`] without a
    /// stripe of its own): the copy of the lease the counting path reads. No destructor, so it
    /// stays readable while the thread's other thread-locals are destroyed.
    static STRIPE_INDEX: Cell<usize> = const { Cell::new(0) };
}

/// The stripe index this thread holds (below [`EXCLUSIVE`]), or a larger number when it shares
/// the last stripe. One thread-local read without a lazy-initialisation check: the lease is
/// only looked at the first time a thread asks (this is on every hit).
#[inline]
fn thread_stripe() -> usize {
    match STRIPE_INDEX.with(Cell::get) {
        0 => take_stripe(),
        i => i.wrapping_sub(1),
    }
}

/// The first [`thread_stripe`] of a thread: takes its lease, which records the index in
/// `STRIPE_INDEX`. If the lease cannot be taken (the thread is being torn down), the thread
/// shares the last stripe from now on: leaving the index at 0 would come back here for ever.
#[cold]
fn take_stripe() -> usize {
    if STRIPE.try_with(|_| ()).is_err() {
        STRIPE_INDEX.with(|i| i.set(SHARED));
    }
    STRIPE_INDEX.with(Cell::get).wrapping_sub(1)
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
    use super::{EXCLUSIVE, LOCK_STRIPES, ShardLock, Striped, StripedRawLock, thread_stripe};
    use std::sync::{Barrier, mpsc};

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
        use lock_api::RawRwLock as _;
        use std::sync::atomic::Ordering::SeqCst;
        let lock = StripedRawLock::INIT;
        assert!(lock.try_lock_shared());
        // The writer's side, by hand: the flag, then the look at this thread's stripe.
        lock.writer_flag().store(true, SeqCst);
        let stripe = &lock.readers[thread_stripe().min(LOCK_STRIPES)];
        let settled = stripe.settled_with(|| {
            assert!(!lock.try_lock_shared(), "a reader got in past the flag");
        });
        assert!(!settled, "the writer missed a reader inside");
        lock.writer_flag().store(false, SeqCst);
        // SAFETY: the read lock taken above.
        #[allow(unsafe_code)]
        unsafe {
            lock.unlock_shared();
        }
        assert!(stripe.settled());
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
