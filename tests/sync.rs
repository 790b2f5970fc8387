//! `#[cached]` on plain functions: what is stored, recursion, concurrency and panics.
//!
//! Every test uses functions of its own (their own prefixes), so the tests can run in parallel
//! against the one process-wide registry.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;

use memo::cached;

fn calls(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

#[test]
fn a_result_is_computed_once_per_argument() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached]
    fn square(x: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        x * x
    }

    assert_eq!(square(3), 9);
    assert_eq!(square(3), 9);
    assert_eq!(square(4), 16);
    assert_eq!(square(3), 9);
    assert_eq!(calls(&CALLS), 2);

    let stats = memo::stats();
    let f = stats.function("square").expect("square is registered");
    assert_eq!((f.activity.hits, f.activity.misses), (2, 2));
    assert_eq!(
        f.prefix, "square",
        "the prefix defaults to the function's name"
    );
    assert_eq!(f.cache_type, memo::DEFAULT_CACHE_TYPE);
}

#[test]
fn recursion_goes_through_the_cache() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached]
    fn fib(n: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
    }

    assert_eq!(fib(90), 2_880_067_194_370_816_120);
    assert_eq!(calls(&CALLS), 91, "each of fib(0..=90) computed once");
    assert_eq!(fib(90), 2_880_067_194_370_816_120);
    assert_eq!(calls(&CALLS), 91);
}

#[derive(Clone, Debug, PartialEq)]
struct DbError(&'static str);

/// An alias hides the `Result`: the kind is chosen by type, not by spelling.
type DbResult<T> = Result<T, DbError>;

#[test]
fn only_ok_is_cached_even_through_an_alias() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached]
    fn user(id: u64) -> DbResult<String> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        if id == 0 {
            return Err(DbError("no user 0"));
        }
        Ok(format!("user {id}"))
    }

    assert_eq!(user(0), Err(DbError("no user 0")));
    assert_eq!(user(0), Err(DbError("no user 0")));
    assert_eq!(calls(&CALLS), 2, "errors are not stored");
    assert_eq!(user(1).as_deref(), Ok("user 1"));
    assert_eq!(user(1).as_deref(), Ok("user 1"));
    assert_eq!(calls(&CALLS), 3);
    let stats = memo::stats();
    assert_eq!(stats.function("user").unwrap().activity.size, 1);
}

#[test]
fn only_some_is_cached() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached]
    fn find(id: u64) -> Option<u64> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        (id % 2 == 0).then_some(id / 2)
    }

    assert_eq!(find(3), None);
    assert_eq!(find(3), None);
    assert_eq!(find(4), Some(2));
    assert_eq!(find(4), Some(2));
    assert_eq!(calls(&CALLS), 3);
}

#[test]
fn cache_err_stores_errors_too() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache_err)]
    fn strict(id: u64) -> DbResult<u64> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        if id == 0 {
            Err(DbError("zero"))
        } else {
            Ok(id)
        }
    }

    assert_eq!(strict(0), Err(DbError("zero")));
    assert_eq!(strict(0), Err(DbError("zero")));
    assert_eq!(calls(&CALLS), 1);
}

#[test]
fn cache_none_stores_none_too() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache_none)]
    fn lookup(id: u64) -> Option<String> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        (id > 0).then(|| id.to_string())
    }

    assert_eq!(lookup(0), None);
    assert_eq!(lookup(0), None);
    assert_eq!(calls(&CALLS), 1);
}

#[test]
fn generic_functions_keep_instantiations_apart() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached]
    fn describe<T: std::fmt::Debug + std::hash::Hash + Eq + Clone + Send + Sync + 'static>(
        value: T,
    ) -> String {
        CALLS.fetch_add(1, Ordering::SeqCst);
        format!("{value:?}")
    }

    assert_eq!(describe(1_u8), "1");
    assert_eq!(describe(1_u64), "1");
    assert_eq!(describe("1"), "\"1\"");
    assert_eq!(describe(1_u8), "1");
    assert_eq!(calls(&CALLS), 3);
}

#[test]
fn a_panic_in_the_body_poisons_nothing() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached]
    fn fragile(id: u64) -> u64 {
        assert!(
            CALLS.fetch_add(1, Ordering::SeqCst) > 0,
            "the first call fails"
        );
        id
    }

    let first = catch_unwind(|| fragile(7));
    assert!(first.is_err());
    assert_eq!(fragile(7), 7, "the next call computes again");
    assert_eq!(fragile(7), 7);
    assert_eq!(calls(&CALLS), 2);
}

#[test]
fn waiting_on_its_own_key_is_a_clear_error_not_a_hang() {
    #[cached]
    fn selfish(id: u64) -> u64 {
        selfish(id) + 1
    }

    let err = catch_unwind(AssertUnwindSafe(|| selfish(5))).unwrap_err();
    let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("recursive call on key `selfish:5`"),
        "{message}"
    );
}

#[test]
fn concurrent_misses_on_one_key_run_the_body_once() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    const THREADS: usize = 6;
    // The leader reports it started, then waits until the test lets it finish.
    static STARTED: std::sync::Mutex<Option<mpsc::Sender<()>>> = std::sync::Mutex::new(None);
    static RELEASE: std::sync::Mutex<Option<mpsc::Receiver<()>>> = std::sync::Mutex::new(None);

    #[cached]
    fn slow(id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        STARTED.lock().unwrap().as_ref().unwrap().send(()).unwrap();
        let release = RELEASE
            .lock()
            .unwrap()
            .take()
            .expect("only one computation");
        release.recv().unwrap();
        id * 10
    }

    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    *STARTED.lock().unwrap() = Some(started_tx);
    *RELEASE.lock().unwrap() = Some(release_rx);

    let barrier = Arc::new(Barrier::new(THREADS));
    let leader = thread::spawn(|| slow(1));
    started_rx.recv().unwrap();
    let waiters: Vec<_> = (1..THREADS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                slow(1)
            })
        })
        .collect();
    barrier.wait();
    // Every other caller is now committed to waiting for the leader's value.
    let waiting = || {
        memo::stats()
            .function("slow")
            .unwrap()
            .activity
            .coalesced_waits
    };
    while waiting() < (THREADS - 1) as u64 {
        thread::yield_now();
    }
    release_tx.send(()).unwrap();

    assert_eq!(leader.join().unwrap(), 10);
    for w in waiters {
        assert_eq!(w.join().unwrap(), 10);
    }
    assert_eq!(calls(&CALLS), 1);
    let stats = memo::stats();
    let f = stats.function("slow").unwrap();
    assert_eq!(f.activity.loads.count, 1);
    assert_eq!(f.activity.misses, THREADS as u64);
}

#[test]
fn a_slow_key_does_not_block_other_keys() {
    static GATE: std::sync::Mutex<Option<mpsc::Receiver<()>>> = std::sync::Mutex::new(None);

    #[cached]
    fn gated(id: u64) -> u64 {
        if id == 1 {
            GATE.lock().unwrap().take().unwrap().recv().unwrap();
        }
        id
    }

    let (open, gate) = mpsc::channel();
    *GATE.lock().unwrap() = Some(gate);
    let slow = thread::spawn(|| gated(1));
    while memo::stats()
        .function("gated")
        .is_none_or(|f| f.activity.in_flight == 0)
    {
        thread::yield_now();
    }
    // Key 1 is being computed; key 2 is computed without waiting for it.
    assert_eq!(gated(2), 2);
    open.send(()).unwrap();
    assert_eq!(slow.join().unwrap(), 1);
}
