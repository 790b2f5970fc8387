//! Reliability, item 4 (continued): `memo::clear_all()` during a computation. It empties every
//! cache type of the process, so it lives in a test binary of its own. Each repetition: a
//! computation reads version 1 and is held; the source moves to version 2 and `clear_all`
//! returns; a call that starts then gets version 2 without waiting for the held computation;
//! the held computation finishes; later calls still get version 2. 1,000 repetitions (10,000
//! with `MEMO_SOAK=1`).

mod reliability_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use memo::cached;
use reliability_support as support;

static SOURCE: AtomicU64 = AtomicU64::new(1);
/// The key to hold, how to say it started, and what releases it.
type Hold = (u64, mpsc::Sender<()>, mpsc::Receiver<()>);

static HOLD: std::sync::Mutex<Option<Hold>> = std::sync::Mutex::new(None);

#[cached(prefix = "rca", cache_type = "rca")]
fn read(key: u64) -> u64 {
    let v = SOURCE.load(Ordering::SeqCst);
    let hold = HOLD.lock().unwrap().take_if(|(k, _, _)| *k == key);
    if let Some((_, started, release)) = hold {
        started.send(()).unwrap();
        release.recv().unwrap();
    }
    v
}

#[test]
fn clear_all_fences_a_held_computation() {
    let repetitions = support::count(1_000, 10_000) as u64;
    let checked = support::within(Duration::from_secs(600), "clear_all", move || {
        let mut checked = 0_u64;
        for key in 1..=repetitions {
            let (started_tx, started_rx) = mpsc::channel();
            let (release_tx, release_rx) = mpsc::channel();
            *HOLD.lock().unwrap() = Some((key, started_tx, release_rx));
            std::thread::scope(|s| {
                let held = s.spawn(move || read(key));
                started_rx.recv().unwrap();
                let v1 = SOURCE.load(Ordering::SeqCst);
                let v2 = SOURCE.fetch_add(1, Ordering::SeqCst) + 1;
                memo::clear_all();
                let after = s.spawn(move || read(key));
                let waited = !support::wait_for(Duration::from_secs(10), || after.is_finished());
                release_tx.send(()).unwrap();
                assert_eq!(held.join().unwrap(), v1);
                let after = after.join().unwrap();
                assert!(
                    !waited,
                    "key {key}: a call waited for the fenced computation"
                );
                assert_eq!(after, v2, "key {key}: stale value after clear_all");
                assert_eq!(read(key), v2, "key {key}: stale value stored");
                checked += 2;
            });
        }
        checked
    });
    let a = support::activity("read");
    assert_eq!(a.in_flight, 0, "{a:?}");
    assert!(a.is_conserved(), "{a:?}");
    support::report(
        "fencing",
        &[
            ("test", &"held_computation"),
            ("kind", &"clear_all"),
            ("repetitions", &repetitions),
            ("reads_checked", &checked),
            ("stale", &0),
            ("waited_on_fenced", &0),
        ],
    );
}
