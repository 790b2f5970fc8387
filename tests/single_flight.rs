//! Single-flight through the manual API: one computation per cold key under many threads and
//! under an async executor; panicking and dropped leaders hand over; same-key recursion is an
//! error, not a hang. Ordering comes from channels, barriers and the stats counters, never from
//! sleeping.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll};

use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use memo::{CacheConfig, CallError};

fn cache(name: &str) -> memo::Cache {
    memo::configure(
        name,
        CacheConfig::builder().capacity(10_000).build().unwrap(),
    )
    .unwrap()
}

/// Spins (yielding) until the cache has seen `n` callers wait on a computation.
fn until_waiting(c: memo::Cache, n: u64) {
    while c.stats().activity.coalesced_waits < n {
        std::thread::yield_now();
    }
}

#[test]
fn concurrent_misses_on_one_key_compute_once() {
    let c = cache("sf_threads");
    let runs = AtomicUsize::new(0);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let barrier = Barrier::new(17);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..17)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    c.get_or_insert_with("k", || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        release_rx.lock().unwrap().recv().unwrap();
                        "value".to_owned()
                    })
                })
            })
            .collect();
        until_waiting(c, 16);
        release_tx.send(()).unwrap();
        for h in handles {
            assert_eq!(h.join().unwrap(), "value");
        }
    });
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let a = c.stats().activity;
    assert_eq!(
        (a.misses, a.coalesced_waits, a.loads.count, a.in_flight),
        (17, 16, 1, 0)
    );
}

#[test]
fn misses_on_other_keys_do_not_wait() {
    let c = cache("sf_other_keys");
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    std::thread::scope(move |s| {
        let slow = s.spawn(move || {
            c.get_or_insert_with("slow", || {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                1
            })
        });
        started_rx.recv().unwrap();
        // While "slow" is being computed, another key completes on this thread.
        assert_eq!(c.get_or_insert_with("fast", || 2), 2);
        release_tx.send(()).unwrap();
        assert_eq!(slow.join().unwrap(), 1);
    });
}

#[test]
fn a_panicking_leader_hands_over_to_a_waiter() {
    let c = cache("sf_panic");
    let runs = AtomicUsize::new(0);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    std::thread::scope(|s| {
        let leader = s.spawn(|| {
            c.get_or_insert_with("k", || -> u32 {
                runs.fetch_add(1, Ordering::SeqCst);
                release_rx.lock().unwrap().recv().unwrap();
                panic!("leader fails");
            })
        });
        while c.stats().activity.in_flight == 0 {
            std::thread::yield_now();
        }
        let waiters: Vec<_> = (0..16)
            .map(|_| {
                s.spawn(|| {
                    c.get_or_insert_with("k", || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        7_u32
                    })
                })
            })
            .collect();
        until_waiting(c, 16);
        release_tx.send(()).unwrap();
        assert!(leader.join().is_err(), "only the leader sees its panic");
        for w in waiters {
            assert_eq!(w.join().unwrap(), 7);
        }
    });
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "the panicking run and one takeover"
    );
    assert_eq!(c.stats().activity.in_flight, 0);
    assert_eq!(
        c.get_or_insert_with("k", || 0_u32),
        7,
        "later calls are not poisoned"
    );
}

#[test]
fn many_panicking_leaders_in_a_row_leave_no_state() {
    let c = cache("sf_panic_row");
    for i in 0..1_000 {
        let r = std::panic::catch_unwind(|| c.get_or_insert_with("k", || -> u32 { panic!("{i}") }));
        assert!(r.is_err());
    }
    let a = c.stats().activity;
    assert_eq!((a.in_flight, a.size), (0, 0));
    assert_eq!(c.get_or_insert_with("k", || 5_u32), 5);
}

#[test]
fn same_key_recursion_is_an_error_not_a_hang() {
    let c = cache("sf_recursion");
    let inner = c.get_or_insert_with("r", || c.try_get_or_insert_with("r", || 1_u32));
    assert_eq!(
        inner,
        Err(CallError::Recursion {
            key: "r".to_owned()
        })
    );
    // Recursion on other keys is fine.
    let v = c.get_or_insert_with("outer", || c.get_or_insert_with("inner", || 2_u32) + 1);
    assert_eq!(v, 3);
}

#[test]
#[should_panic(expected = "recursive call on key `p`")]
fn same_key_recursion_panics_with_a_clear_message() {
    let c = cache("sf_recursion_panic");
    c.get_or_insert_with("p", || c.get_or_insert_with("p", || 1_u32));
}

#[test]
fn async_misses_on_one_key_compute_once() {
    let c = cache("sf_async");
    let runs = Arc::new(AtomicUsize::new(0));
    let (release_tx, release_rx) = futures::channel::oneshot::channel::<()>();
    let release_rx = Arc::new(std::sync::Mutex::new(Some(release_rx)));
    let results = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut pool = LocalPool::new();
    for _ in 0..64 {
        let (runs, release_rx, results) = (runs.clone(), release_rx.clone(), results.clone());
        pool.spawner()
            .spawn_local(async move {
                let v = c
                    .get_or_insert_with_async("k", || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        let rx = release_rx.lock().unwrap().take().unwrap();
                        rx.await.unwrap();
                        11_u32
                    })
                    .await
                    .unwrap();
                results.lock().unwrap().push(v);
            })
            .unwrap();
    }
    pool.run_until_stalled();
    // Every task is parked: one computing, 63 waiting, all on one thread.
    assert_eq!(c.stats().activity.coalesced_waits, 63);
    release_tx.send(()).unwrap();
    pool.run();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(*results.lock().unwrap(), vec![11; 64]);
}

/// A future that is pending once, then ready.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

/// Polls a future once with a waker that does nothing.
fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    let waker = futures::task::noop_waker();
    f.poll(&mut Context::from_waker(&waker))
}

#[test]
fn a_dropped_async_leader_hands_over() {
    let c = cache("sf_async_drop");
    let mut leader = Box::pin(c.get_or_insert_with_async("k", futures::future::pending::<u32>));
    assert!(poll_once(leader.as_mut()).is_pending());
    let mut waiter = Box::pin(c.get_or_insert_with_async("k", || async { 3_u32 }));
    assert!(
        poll_once(waiter.as_mut()).is_pending(),
        "waits for the leader"
    );
    drop(leader);
    assert_eq!(poll_once(waiter.as_mut()), Poll::Ready(Ok(3)), "takes over");
    assert_eq!(c.stats().activity.in_flight, 0);
}

#[test]
fn a_dropped_async_waiter_leaves_no_state() {
    let c = cache("sf_async_waiter_drop");
    let mut leader = Box::pin(c.get_or_insert_with_async("k", || async {
        yield_once().await;
        4_u32
    }));
    assert!(poll_once(leader.as_mut()).is_pending());
    let mut waiter = Box::pin(c.get_or_insert_with_async("k", || async { 0_u32 }));
    assert!(poll_once(waiter.as_mut()).is_pending());
    drop(waiter);
    assert_eq!(poll_once(leader.as_mut()), Poll::Ready(Ok(4)));
    assert_eq!(c.get::<u32>("k"), Some(4));
    assert_eq!(c.stats().activity.in_flight, 0);
}

#[test]
fn async_tasks_on_one_thread_are_not_mistaken_for_recursion() {
    let c = cache("sf_async_not_recursion");
    let mut a = Box::pin(c.get_or_insert_with_async("k", || async {
        yield_once().await;
        1_u32
    }));
    assert!(poll_once(a.as_mut()).is_pending());
    // Same thread, another task: it must wait, not fail.
    let mut b = Box::pin(c.get_or_insert_with_async("k", || async { 2_u32 }));
    assert!(poll_once(b.as_mut()).is_pending());
    assert_eq!(poll_once(a.as_mut()), Poll::Ready(Ok(1)));
    assert_eq!(poll_once(b.as_mut()), Poll::Ready(Ok(1)));
}

#[test]
fn async_same_key_recursion_is_an_error() {
    let c = cache("sf_async_recursion");
    let out = futures::executor::block_on(c.get_or_insert_with_async("r", || async {
        c.get_or_insert_with_async("r", || async { 1_u32 }).await
    }))
    .unwrap();
    assert!(matches!(out, Err(CallError::Recursion { .. })));
}

/// The closure that makes an async computation's future is part of the computation: a call it
/// makes for the same key, before the future is first polled, is recursion too (it waited for
/// ever on its own computation).
#[test]
fn async_recursion_from_the_closure_itself_is_an_error() {
    let c = cache("sf_async_recursion_in_closure");
    let out = futures::executor::block_on(c.get_or_insert_with_async("r", || {
        let inner = c.try_get_or_insert_with("r", || 1_u32);
        async move { inner }
    }))
    .unwrap();
    assert!(matches!(out, Err(CallError::Recursion { .. })), "{out:?}");
}
