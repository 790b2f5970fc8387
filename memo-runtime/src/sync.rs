//! The synchronisation primitives memo uses, behind one module so that a model checker can
//! replace them.
//!
//! Normally these are `parking_lot`'s locks and `std`'s atomics. Built with
//! `RUSTFLAGS="--cfg memo_shuttle"`, they are [shuttle](https://docs.rs/shuttle)'s, wrapped to
//! the same API, so that the model tests (`src/model_tests.rs`) can explore the interleavings of
//! single-flight, fencing, panics and cancellation.

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

/// How many stripes a [`Striped`] counter has: threads beyond this share stripes (still
/// exact, as every stripe is an atomic).
const STRIPES: usize = 8;

/// A counter that threads add to without sharing a cache line: each thread adds to its own
/// stripe (threads take stripes in turn), and a read sums them.
#[derive(Debug)]
pub(crate) struct Striped(Box<[Padded<AtomicU64>]>);

impl Default for Striped {
    fn default() -> Self {
        Self((0..STRIPES).map(|_| Padded(AtomicU64::new(0))).collect())
    }
}

impl Striped {
    /// Adds one on this thread's stripe.
    #[inline]
    pub(crate) fn incr(&self) {
        self.0[stripe()].fetch_add(1, Ordering::Relaxed);
    }

    /// The sum of the stripes.
    pub(crate) fn sum(&self) -> u64 {
        self.0.iter().map(|s| s.load(Ordering::Relaxed)).sum()
    }
}

/// This thread's stripe.
#[inline]
fn stripe() -> usize {
    // Plain std atomics and thread-locals even under the model checker: which stripe a thread
    // takes changes no outcome.
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    std::thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|s| *s)
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
