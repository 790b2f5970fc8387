//! Single-flight: the waiting side of a computation in progress, for threads (blocking) and
//! tasks (async) side by side, and what turns a call that would wait for itself into an error:
//! a computation a thread leads records the thread's number ([`this_thread`]) in its in-flight
//! record; a task's marks itself running on a thread while it is polled there
//! ([`RunningMark`]).
//!
//! A flight is created lazily, by the first caller that finds a key being computed, so an
//! uncontended miss allocates none. Whoever removes the in-flight slot from its shard settles
//! the flight: the leader with its value ([`Flight::finish`]), or anyone else (a panicking or
//! dropped leader, an invalidation) by telling waiters to try again ([`Flight::retry`]). A
//! waiter told to retry starts over, so one of them becomes the new leader.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use crate::sync::{Condvar, Mutex, thread_local};

enum State<V> {
    Running(Vec<Waker>),
    Done(V),
    Retry,
}

/// The shared state of one computation that others wait for.
pub(crate) struct Flight<V> {
    state: Mutex<State<V>>,
    done: Condvar,
}

impl<V> Flight<V> {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State::Running(Vec::new())),
            done: Condvar::new(),
        }
    }

    /// Hands the value to every waiter.
    pub(crate) fn finish(&self, value: V) {
        self.settle(State::Done(value));
    }

    /// Tells every waiter to start over.
    pub(crate) fn retry(&self) {
        self.settle(State::Retry);
    }

    fn settle(&self, outcome: State<V>) {
        let wakers = {
            let mut state = self.state.lock();
            match std::mem::replace(&mut *state, outcome) {
                State::Running(wakers) => wakers,
                // Settled twice: keep the first outcome.
                previous => {
                    *state = previous;
                    Vec::new()
                }
            }
        };
        self.done.notify_all();
        for w in wakers {
            w.wake();
        }
    }
}

impl<V: Clone> Flight<V> {
    /// Blocks until the flight settles: `Some(value)`, or `None` to start over.
    pub(crate) fn wait(&self) -> Option<V> {
        let mut state = self.state.lock();
        loop {
            match &*state {
                State::Running(_) => self.done.wait(&mut state),
                State::Done(v) => return Some(v.clone()),
                State::Retry => return None,
            }
        }
    }

    /// Polls the flight from a task.
    fn poll_wait(&self, cx: &mut Context<'_>) -> Poll<Option<V>> {
        let mut state = self.state.lock();
        match &mut *state {
            State::Running(wakers) => {
                if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
            State::Done(v) => Poll::Ready(Some(v.clone())),
            State::Retry => Poll::Ready(None),
        }
    }
}

/// Waits for a flight from a task; dropping it simply stops waiting.
pub(crate) struct WaitFlight<V> {
    pub(crate) flight: std::sync::Arc<Flight<V>>,
}

impl<V: Clone> Future for WaitFlight<V> {
    type Output = Option<V>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<V>> {
        self.flight.poll_wait(cx)
    }
}

/// Identifies an in-flight slot: the store's address, the shard, and the slot's stamp there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FlightId {
    pub(crate) store: usize,
    pub(crate) shard: u32,
    pub(crate) stamp: u32,
}

thread_local! {
    /// The tasks' computations being polled on this thread right now.
    static RUNNING: RefCell<Vec<FlightId>> = const { RefCell::new(Vec::new()) };
}

thread_local! {
    /// This thread's number for [`this_thread`] (0: not drawn yet).
    static THREAD: Cell<u64> = const { Cell::new(0) };
}

/// The next thread number to draw.
static NEXT_THREAD: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A number for the current thread that no other thread of the process has (never 0). Reading
/// it costs a thread-local load, so the computation a thread leads records it instead of
/// marking itself running ([`RunningMark`]), and a call on the same thread that would wait
/// for that computation is told it is recursion.
#[inline]
pub(crate) fn this_thread() -> u64 {
    THREAD.with(|t| {
        let n = t.get();
        if n != 0 {
            return n;
        }
        let n = NEXT_THREAD.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        t.set(n);
        n
    })
}

/// Whether the current thread (or the task it is polling) is computing `id`.
pub(crate) fn is_running_here(id: FlightId) -> bool {
    RUNNING.with(|r| r.borrow().contains(&id))
}

/// Marks `id` as running on this thread until the marker is dropped (also on unwind).
pub(crate) struct RunningMark {
    id: FlightId,
}

impl RunningMark {
    pub(crate) fn new(id: FlightId) -> Self {
        RUNNING.with(|r| r.borrow_mut().push(id));
        Self { id }
    }
}

impl Drop for RunningMark {
    fn drop(&mut self) {
        // `try_with`: during thread teardown the list may already be gone.
        let _ = RUNNING.try_with(|r| {
            let mut r = r.borrow_mut();
            if let Some(i) = r.iter().rposition(|x| *x == self.id) {
                r.remove(i);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[test]
    fn waiters_get_the_finished_value() {
        let f = Arc::new(Flight::new());
        let barrier = Arc::new(Barrier::new(5));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let f = Arc::clone(&f);
                let b = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    b.wait();
                    f.wait()
                })
            })
            .collect();
        barrier.wait();
        f.finish(41_u32);
        for h in handles {
            assert_eq!(h.join().unwrap(), Some(41));
        }
    }

    #[test]
    fn retry_wakes_waiters_with_none_and_first_outcome_wins() {
        let f = Flight::<u8>::new();
        f.retry();
        f.finish(3);
        assert_eq!(f.wait(), None);
    }

    #[test]
    fn async_waiter_is_woken() {
        let f = Arc::new(Flight::new());
        let mut w = WaitFlight {
            flight: Arc::clone(&f),
        };
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Pin::new(&mut w).poll(&mut cx).is_pending());
        f.finish("v");
        assert_eq!(Pin::new(&mut w).poll(&mut cx), Poll::Ready(Some("v")));
    }

    #[test]
    fn running_marks_nest_and_unwind() {
        let a = FlightId {
            store: 1,
            shard: 0,
            stamp: 1,
        };
        let b = FlightId { stamp: 2, ..a };
        let ma = RunningMark::new(a);
        {
            let _mb = RunningMark::new(b);
            assert!(is_running_here(a) && is_running_here(b));
        }
        assert!(!is_running_here(b));
        let r = std::panic::catch_unwind(|| {
            let _m = RunningMark::new(b);
            panic!("boom");
        });
        assert!(r.is_err());
        assert!(!is_running_here(b));
        drop(ma);
        assert!(!is_running_here(a));
    }
}
