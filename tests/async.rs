//! `#[cached]` on `async fn`: under tokio and under `futures::executor`, concurrent tasks,
//! dropped futures, `?` in async bodies.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::FutureExt as _;
use memo::cached;

fn calls(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

#[tokio::test]
async fn async_functions_are_cached_under_tokio() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(ttl = "5m")]
    async fn profile(id: u64, locale: &str) -> Option<String> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        Some(format!("{id}@{locale}"))
    }

    assert_eq!(profile(1, "fr").await.as_deref(), Some("1@fr"));
    assert_eq!(profile(1, "fr").await.as_deref(), Some("1@fr"));
    assert_eq!(profile(1, "de").await.as_deref(), Some("1@de"));
    assert_eq!(calls(&CALLS), 2);
    let stats = memo::stats();
    let f = stats.function("profile").unwrap();
    assert_eq!((f.activity.hits, f.activity.misses), (1, 2));
    assert_eq!(f.ttl_ms, Some(300_000));
}

#[test]
fn async_functions_are_cached_under_futures_executor() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached]
    async fn tags(id: u64) -> Vec<String> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        futures::future::ready(()).await;
        vec![format!("t{id}")]
    }

    futures::executor::block_on(async {
        assert_eq!(tags(1).await, ["t1"]);
        assert_eq!(tags(1).await, ["t1"]);
    });
    assert_eq!(calls(&CALLS), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn futures_are_send_and_run_on_spawned_tasks() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached]
    async fn owned_args(id: u64, name: String) -> String {
        CALLS.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        format!("{name}#{id}")
    }

    let first = tokio::spawn(owned_args(1, "a".to_owned())).await.unwrap();
    let second = tokio::spawn(owned_args(1, "a".to_owned())).await.unwrap();
    assert_eq!((first.as_str(), second.as_str()), ("a#1", "a#1"));
    assert_eq!(calls(&CALLS), 1);
}

/// The future is `Send` when the body's is, even if the returned value is not `Send`
/// (`Box<dyn Error>` is not): the value only exists once the future has finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn futures_are_send_even_when_the_return_type_is_not() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached]
    async fn parsed(text: String) -> Result<u64, Box<dyn std::error::Error>> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        Ok(text.parse::<u64>()?)
    }

    let spawn = |text: &str| {
        let text = text.to_owned();
        tokio::spawn(async move { parsed(text).await.map_err(|e| e.to_string()) })
    };
    assert_eq!(spawn("42").await.unwrap(), Ok(42));
    assert_eq!(spawn("42").await.unwrap(), Ok(42));
    assert!(spawn("x").await.unwrap().is_err());
    assert_eq!(calls(&CALLS), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_on_one_key_compute_once() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static RELEASE: Mutex<Option<tokio::sync::oneshot::Receiver<()>>> = Mutex::new(None);
    const TASKS: usize = 8;

    #[cached]
    async fn report(id: u64) -> String {
        CALLS.fetch_add(1, Ordering::SeqCst);
        let release = RELEASE
            .lock()
            .unwrap()
            .take()
            .expect("one computation only");
        release.await.unwrap();
        format!("report {id}")
    }

    let (release, gate) = tokio::sync::oneshot::channel();
    *RELEASE.lock().unwrap() = Some(gate);
    let tasks: Vec<_> = (0..TASKS).map(|_| tokio::spawn(report(9))).collect();
    // Wait until one task computes and every other one waits for it.
    loop {
        let stats = memo::stats();
        if let Some(f) = stats.function("report") {
            if f.activity.in_flight == 1 && f.activity.coalesced_waits == (TASKS - 1) as u64 {
                break;
            }
        }
        tokio::task::yield_now().await;
    }
    release.send(()).unwrap();
    for t in tasks {
        assert_eq!(t.await.unwrap(), "report 9");
    }
    assert_eq!(calls(&CALLS), 1);
}

#[test]
fn a_dropped_leader_hands_over_to_a_waiter() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached]
    async fn handover(id: u64) -> u64 {
        if CALLS.fetch_add(1, Ordering::SeqCst) == 0 {
            // The first computation never finishes: its caller gives up on it.
            futures::future::pending::<()>().await;
        }
        id
    }

    let mut leader = Box::pin(handover(3));
    assert!(
        (&mut leader).now_or_never().is_none(),
        "the leader is computing"
    );
    let mut waiter = Box::pin(handover(3));
    assert!(
        (&mut waiter).now_or_never().is_none(),
        "the waiter waits for it"
    );
    drop(leader);
    assert_eq!(futures::executor::block_on(waiter), 3);
    assert_eq!(calls(&CALLS), 2);
    assert_eq!(futures::executor::block_on(handover(3)), 3);
    assert_eq!(calls(&CALLS), 2, "the waiter's value was stored");
}

#[derive(Clone, Debug, PartialEq)]
struct ParseError;

#[tokio::test]
async fn question_mark_and_return_work_in_async_bodies() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn parse(s: &str) -> Result<u64, ParseError> {
        s.parse().map_err(|_| ParseError)
    }

    #[cached]
    async fn total(a: &str, b: &str) -> Result<u64, ParseError> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        if a == b {
            return Ok(0);
        }
        Ok(parse(a)? + parse(b)?)
    }

    assert_eq!(total("x", "1").await, Err(ParseError));
    assert_eq!(total("x", "1").await, Err(ParseError));
    assert_eq!(total("2", "2").await, Ok(0));
    assert_eq!(total("2", "3").await, Ok(5));
    assert_eq!(total("2", "3").await, Ok(5));
    assert_eq!(
        calls(&CALLS),
        4,
        "errors are computed again, values are not"
    );
}

#[test]
fn async_recursion_goes_through_the_cache() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached]
    async fn async_fib(n: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        if n < 2 {
            return n;
        }
        Box::pin(async_fib(n - 1)).await + Box::pin(async_fib(n - 2)).await
    }

    assert_eq!(
        futures::executor::block_on(async_fib(60)),
        1_548_008_755_920
    );
    assert_eq!(calls(&CALLS), 61);
}

/// The function's future holds its arguments and a pointer, not the body's future: a body
/// that keeps 4 KiB across an await still gives a small future, and both the miss (which
/// boxes the body) and the hit complete.
#[test]
fn the_future_of_an_async_function_does_not_hold_its_body() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache_type = "async_future_size")]
    async fn checksum(seed: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        let buf = [seed as u8; 4096];
        futures::future::ready(()).await;
        buf.iter().map(|&b| u64::from(b)).sum()
    }

    let miss = checksum(3);
    assert!(
        std::mem::size_of_val(&miss) < 128,
        "future of {} bytes",
        std::mem::size_of_val(&miss)
    );
    assert_eq!(futures::executor::block_on(miss), 3 * 4096);
    assert_eq!(futures::executor::block_on(checksum(3)), 3 * 4096);
    assert_eq!(calls(&CALLS), 1);
}
