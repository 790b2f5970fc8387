//! `memo::clear_all` empties every cache type in the process, so its tests live in their own
//! test binary (a process of their own) instead of racing the other tests' caches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use memo::CacheConfig;

#[test]
fn clear_all_empties_every_type_and_fences_computations() {
    let a = memo::configure(
        "clear_all_a",
        CacheConfig::builder().capacity(10).build().unwrap(),
    )
    .unwrap();
    let b = memo::cache("clear_all_b").unwrap();
    a.insert("x", 1);
    b.insert("y", 2);
    let source = AtomicU64::new(1);
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    std::thread::scope(|s| {
        let leader = s.spawn(|| {
            a.get_or_insert_with("z", || {
                let v = source.load(Ordering::SeqCst);
                started_tx.send(()).unwrap();
                release_rx.lock().unwrap().recv().unwrap();
                v
            })
        });
        started_rx.recv().unwrap();
        assert_eq!(
            memo::clear_all(),
            2,
            "in-flight computations are not entries"
        );
        source.store(2, Ordering::SeqCst);
        release_tx.send(()).unwrap();
        assert_eq!(leader.join().unwrap(), 1);
    });
    assert!(!a.contains("x") && !b.contains("y"));
    assert_eq!(
        a.get_or_insert_with("z", || source.load(Ordering::SeqCst)),
        2
    );
}
