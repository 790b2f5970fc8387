//! The synchronisation primitives memo uses, behind one module so that a model checker can
//! replace them.
//!
//! Normally these are `parking_lot`'s locks, crossbeam's `ShardedLock` for store shards, and
//! `std`'s atomics. Built with
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

/// The lock of one store shard: a reader-writer lock whose readers take a lock of their own
/// thread's (crossbeam's `ShardedLock`), so that hits on two cores write no cache line in
/// common; a writer takes every reader's lock, which makes writes (misses, inserts,
/// invalidations) dearer. Poisoning is ignored: no user code runs while a shard is written but
/// key comparisons, and a panic there leaves the shard consistent.
#[cfg(not(memo_shuttle))]
#[derive(Debug)]
pub(crate) struct ShardLock<T>(crossbeam_utils::sync::ShardedLock<T>);

#[cfg(not(memo_shuttle))]
pub(crate) type ShardReadGuard<'a, T> = crossbeam_utils::sync::ShardedLockReadGuard<'a, T>;
#[cfg(not(memo_shuttle))]
pub(crate) type ShardWriteGuard<'a, T> = crossbeam_utils::sync::ShardedLockWriteGuard<'a, T>;

#[cfg(not(memo_shuttle))]
impl<T> ShardLock<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(crossbeam_utils::sync::ShardedLock::new(value))
    }

    #[inline]
    pub(crate) fn read(&self) -> ShardReadGuard<'_, T> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[inline]
    pub(crate) fn write(&self) -> ShardWriteGuard<'_, T> {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(memo_shuttle)]
pub(crate) use model::RwLock as ShardLock;
#[cfg(memo_shuttle)]
pub(crate) type ShardReadGuard<'a, T> = shuttle::sync::RwLockReadGuard<'a, T>;
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
        // One thread-local read without a lazy-initialisation check: the lease is only looked
        // at the first time a thread counts (this is on every hit).
        let i = STRIPE_INDEX.with(Cell::get).wrapping_sub(1);
        if i < EXCLUSIVE {
            // This thread is the stripe's only writer.
            let c = &self.0[i];
            c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
        } else {
            self.incr_slow();
        }
    }

    /// The first count of a thread (which takes its lease), or one without a stripe of its own.
    #[cold]
    fn incr_slow(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        if STRIPE_INDEX.with(Cell::get) == 0 {
            // Taking the lease records its index in `STRIPE_INDEX`. If it cannot be taken (the
            // thread is being torn down), the thread counts on the shared stripe from now on:
            // leaving the index at 0 would send this call back here for ever.
            if STRIPE.try_with(|_| ()).is_err() {
                STRIPE_INDEX.with(|i| i.set(SHARED));
            }
            if STRIPE_INDEX.with(Cell::get) != SHARED {
                self.incr();
                return;
            }
        }
        // No stripe left, or the thread is exiting.
        self.0[EXCLUSIVE].fetch_add(1, Relaxed);
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
    use super::{EXCLUSIVE, Striped};
    use std::sync::Barrier;

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
}
