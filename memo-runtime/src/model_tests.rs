//! Model-checked interleavings of the in-flight slot and insert fencing, with shuttle.
//!
//! Run with `RUSTFLAGS="--cfg memo_shuttle" cargo test -p memo-runtime --lib model_tests`
//! (a separate target directory keeps the normal build intact:
//! `CARGO_TARGET_DIR=target/shuttle`). `MEMO_MODEL_ITERATIONS` sets the schedules tried per test
//! (default 2,000 random and 2,000 PCT schedules). With `-- --nocapture`, every test prints a
//! `RELIABILITY family=model ...` line: the schedules it explored, and in how many of them the
//! interleaving it is about actually happened (each test also asserts that it did at least
//! once, so that no model passes vacuously).
//!
//! What is modelled, with two to four threads: the shard lock (readers on stripes of their own
//! and on the shared one, against a writer); single-flight; get-or-compute against exact
//! (through a function store's rendered-key index and through the manual store), pattern and
//! clear invalidation; a waiter that joined a computation before an invalidation; an insert
//! over a computation in flight; a leader that panics, or is dropped (a cancelled future), with
//! two waiters and against an invalidation; an async waiter (`WaitFlight`) woken by a finish
//! and by a retry.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use shuttle::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use shuttle::thread;

use crate::cache_type::CacheType;
use crate::config::CacheConfig;
use crate::flight::WaitFlight;
use crate::function::Leader;
use crate::key::{KeyArgs, KeyWriter, TextKey};
use crate::pattern::Pattern;
use crate::store::{Begin, Caller, ErasedStore, Lookup, NoHit, Store, StoreInfo};
use crate::sync::ShardLock;

/// The manual API's kind of store: string keys that are their own text.
type TestStore = Store<TextKey, u64>;
/// A cached function's kind of store: argument tuples, rendered as `m:<arg>`.
type FnStore = Store<(u64,), u64>;

fn iterations() -> usize {
    std::env::var("MEMO_MODEL_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Runs a model under random and PCT schedules. The model returns whether the schedule
/// produced the interleaving the test is about; prints the counts and asserts it happened.
fn check(name: &str, f: impl Fn() -> bool + Send + Sync + 'static) {
    // Plain std atomics: counters about the exploration, not part of the model.
    use std::sync::atomic::{AtomicU64 as Count, Ordering as CountOrdering};
    let schedules = Arc::new(Count::new(0));
    let targeted = Arc::new(Count::new(0));
    let run = {
        let (schedules, targeted) = (Arc::clone(&schedules), Arc::clone(&targeted));
        Arc::new(move || {
            schedules.fetch_add(1, CountOrdering::Relaxed);
            if f() {
                targeted.fetch_add(1, CountOrdering::Relaxed);
            }
        })
    };
    let (a, b) = (Arc::clone(&run), run);
    shuttle::check_random(move || a(), iterations());
    shuttle::check_pct(move || b(), iterations(), 3);
    let (schedules, targeted) = (
        schedules.load(CountOrdering::Relaxed),
        targeted.load(CountOrdering::Relaxed),
    );
    println!(
        "RELIABILITY family=model test={name} schedules={schedules} targeted={targeted} failures=0"
    );
    assert!(
        targeted > 0,
        "{name}: no schedule produced the interleaving under test"
    );
}

fn new_type() -> &'static CacheType {
    let config = CacheConfig::builder().capacity(16).build().unwrap();
    Box::leak(Box::new(CacheType::new("model", &config, true)))
}

fn new_store() -> &'static TestStore {
    let ty = new_type();
    let info = StoreInfo::manual(0, "");
    let store: &'static TestStore = Box::leak(Box::new(Store::new(ty, info, None)));
    ty.add_store(store);
    store
}

#[allow(clippy::trivially_copy_pass_by_ref)] // the signature every store's render function has
fn render(key: &(u64,), out: &mut KeyWriter<'_>) {
    out.display(&key.0);
}

/// A store as `#[cached(prefix = "m")] fn m(arg: u64)` has: exact invalidations go through its
/// rendered-key index.
fn new_fn_store() -> &'static FnStore {
    let ty = new_type();
    let info = StoreInfo {
        name: "model::m".to_owned(),
        prefix: Some("m"),
        zero_arity: false,
        key_start: Box::from("m:"),
        ttl: None,
        entry_bytes: 0,
    };
    let store: &'static FnStore = Box::leak(Box::new(Store::new(ty, info, Some(render))));
    ty.add_store(store);
    store
}

/// What one get-or-compute call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Call {
    value: Option<u64>,
    /// It waited for another caller's computation at least once.
    waited: bool,
    /// A computation it waited for told it to start over (invalidated, panicked, dropped).
    restarted: bool,
    /// It ran the computation.
    computed: bool,
}

/// Gets `key` or computes it with `compute` (`None`: the computation fails and stores
/// nothing), as generated code does.
fn get_or_compute<K, Q>(
    store: &'static Store<K, u64>,
    key: &Q,
    compute: impl FnOnce() -> Option<u64>,
) -> Call
where
    K: Send + Sync + 'static,
    Q: KeyArgs<Owned = K> + ?Sized,
{
    let hash = store.hash(key);
    let mut compute = Some(compute);
    let mut call = Call {
        value: None,
        waited: false,
        restarted: false,
        computed: false,
    };
    // The first look as a synchronous cached function's: the inline hit path, then the miss
    // path under the read lock it kept (or looking again).
    let mut begin = match store.hit_inline(hash, key) {
        Ok(v) => {
            call.value = Some(v);
            return call;
        }
        Err(NoHit::Absent { shard, i }) => store.begin_absent(shard, i, hash, key),
        Err(NoHit::LookAgain) => store.get_or_begin(hash, key),
    };
    loop {
        match begin {
            Begin::Hit(v) => {
                call.value = Some(v);
                return call;
            }
            Begin::Wait(flight) => {
                call.waited = true;
                if let Some(v) = flight.wait() {
                    call.value = Some(v);
                    return call;
                }
                call.restarted = true;
            }
            Begin::Recursion => panic!("no recursion in these models"),
            Begin::Lead { stamp, .. } => {
                let leader = Leader::new(store, hash, stamp);
                call.computed = true;
                call.value = (compute.take().expect("computes once"))();
                leader.finish(call.value, None);
                return call;
            }
        }
        begin = store.lookup_or_begin(hash, key, false, Caller::Thread);
    }
}

fn peek<K, Q>(store: &'static Store<K, u64>, key: &Q) -> Option<u64>
where
    K: Send + Sync + 'static,
    Q: KeyArgs<Owned = K> + ?Sized,
{
    match store.lookup(store.hash(key), key) {
        Lookup::Hit(v) => Some(v),
        Lookup::Miss => None,
    }
}

fn in_flight<K: Send + Sync + 'static>(store: &'static Store<K, u64>) -> usize {
    store.counters().2
}

/// The shard lock itself, the same code as in the normal build over shuttle's atomics. A
/// writer changes two fields one after the other, yielding in between, while three readers
/// read them twice, yielding while they hold the lock. The main thread and the writer have
/// stripes of their own and the two other readers share one (the model build has two
/// stripes), so readers on the shared stripe come and go while another is inside. No reader
/// sees the fields differ or change under it, and no write is lost. Targeted: a reader was
/// turned away by the writer.
#[test]
fn shard_lock_excludes_readers_from_writes() {
    check("shard_lock_excludes_readers_from_writes", || {
        let lock = Arc::new(ShardLock::new((0_u32, 0_u32)));
        let turned_away = Arc::new(AtomicBool::new(false));
        let read = {
            let (lock, turned_away) = (Arc::clone(&lock), Arc::clone(&turned_away));
            move || {
                for _ in 0..2 {
                    let g = lock.try_read().unwrap_or_else(|| {
                        turned_away.store(true, Ordering::SeqCst);
                        lock.read()
                    });
                    let seen = *g;
                    thread::yield_now();
                    assert_eq!(*g, seen, "the fields changed under a reader");
                    assert_eq!(seen.0, seen.1, "a reader saw a write half done");
                }
            }
        };
        let writer = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                for _ in 0..2 {
                    let mut g = lock.write();
                    g.0 += 1;
                    thread::yield_now();
                    g.1 += 1;
                }
            })
        };
        let readers: Vec<_> = (0..2).map(|_| thread::spawn(read.clone())).collect();
        read();
        writer.join().unwrap();
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(*lock.read(), (2, 2), "a write was lost");
        turned_away.load(Ordering::SeqCst)
    });
}

/// A reader inside whose thread tries to enter again while a writer waits (turned away: an
/// entry and an exit counted on its stripe meanwhile) still keeps the writer out: the writer
/// reads a stripe's exits before its entries. Targeted: a second entry was turned away.
#[test]
fn shard_lock_keeps_a_writer_out_while_the_readers_thread_comes_and_goes() {
    check("shard_lock_reentry_turned_away", || {
        let lock = Arc::new(ShardLock::new(0_u32));
        let writer = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || *lock.write() += 1)
        };
        let mut turned_away = false;
        {
            let g = lock.read();
            let seen = *g;
            for _ in 0..3 {
                match lock.try_read() {
                    Some(again) => drop(again),
                    None => turned_away = true,
                }
                thread::yield_now();
            }
            assert_eq!(*g, seen, "a writer got in while a reader was inside");
        }
        writer.join().unwrap();
        assert_eq!(*lock.read(), 1);
        turned_away
    });
}

#[test]
fn concurrent_misses_compute_once_and_share() {
    check("concurrent_misses_compute_once", || {
        let store = new_store();
        let runs = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let runs = Arc::clone(&runs);
                thread::spawn(move || {
                    get_or_compute(store, "k", || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        Some(7)
                    })
                })
            })
            .collect();
        let calls: Vec<Call> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(calls.iter().all(|c| c.value == Some(7)));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let (c, size, pending) = store.counters();
        assert_eq!((size, pending, c.inserts, c.loads), (1, 0, 1, 1));
        calls.iter().any(|c| c.waited)
    });
}

/// A reader computes from a source; the writer moves the source to 2, invalidates, and marks
/// the invalidation done. Any call that starts after that sees 2; nothing stale is stored.
/// With `second_reader`, a second reader races too (and may join the first's computation).
fn fenced_by<K>(
    name: &str,
    new: fn() -> &'static Store<K, u64>,
    key: fn() -> &'static K::Borrowed,
    invalidate: fn(&'static Store<K, u64>),
    second_reader: bool,
) where
    K: Borrowing,
{
    check(name, move || {
        let store = new();
        let source = Arc::new(AtomicU64::new(1));
        let invalidated = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..if second_reader { 2 } else { 1 })
            .map(|_| {
                let (source, invalidated) = (Arc::clone(&source), Arc::clone(&invalidated));
                thread::spawn(move || {
                    let started_after = invalidated.load(Ordering::SeqCst);
                    let call = get_or_compute(store, key(), || Some(source.load(Ordering::SeqCst)));
                    if started_after {
                        assert_eq!(call.value, Some(2), "a call after the invalidation saw 1");
                    }
                    call
                })
            })
            .collect();
        source.store(2, Ordering::SeqCst);
        invalidate(store);
        invalidated.store(true, Ordering::SeqCst);
        if let Some(v) = peek(store, key()) {
            assert_eq!(v, 2, "stale value visible after the invalidation returned");
        }
        let calls: Vec<Call> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        if let Some(v) = peek(store, key()) {
            assert_eq!(v, 2, "stale value stored after the invalidation returned");
        }
        assert_eq!(in_flight(store), 0, "no computation left in flight");
        // The interesting schedules: a computation that read 1 finished after the
        // invalidation, or a waiter had to start over.
        calls.iter().any(|c| c.restarted) || calls.iter().any(|c| c.value == Some(1))
    });
}

/// Borrowed key forms for the two kinds of store.
trait Borrowing: Send + Sync + 'static {
    type Borrowed: KeyArgs<Owned = Self> + ?Sized + 'static;
}

impl Borrowing for TextKey {
    type Borrowed = str;
}

impl Borrowing for (u64,) {
    type Borrowed = (&'static u64,);
}

fn manual_key() -> &'static str {
    "m:5"
}

fn fn_key() -> &'static (&'static u64,) {
    &(&5,)
}

#[test]
fn exact_invalidation_fences_computations_in_flight() {
    fenced_by(
        "exact_fences_manual",
        new_store,
        manual_key,
        |s| {
            s.invalidate(&Pattern::new("m:5").unwrap());
        },
        false,
    );
}

#[test]
fn exact_invalidation_through_the_key_index_fences_computations_in_flight() {
    fenced_by(
        "exact_fences_indexed",
        new_fn_store,
        fn_key,
        |s| {
            s.invalidate(&Pattern::new("m:5").unwrap());
        },
        true,
    );
}

#[test]
fn pattern_invalidation_fences_computations_in_flight() {
    fenced_by(
        "pattern_fences_manual",
        new_store,
        manual_key,
        |s| {
            s.invalidate(&Pattern::new("m:*").unwrap());
        },
        true,
    );
}

#[test]
fn scanning_pattern_invalidation_fences_function_computations() {
    fenced_by(
        "pattern_fences_scan",
        new_fn_store,
        fn_key,
        |s| {
            s.invalidate(&Pattern::new("m:[0-9]").unwrap());
        },
        true,
    );
}

#[test]
fn clear_fences_computations_in_flight() {
    fenced_by(
        "clear_fences",
        new_store,
        manual_key,
        |s| {
            s.clear_all();
        },
        true,
    );
}

/// A computation reads 1 and finishes at some point; a waiter joins it; a writer moves the
/// source to 2 and invalidates. When the invalidation comes while the waiter waits, the waiter
/// starts over and computes 2 (it never takes the fenced computation's 1); a waiter that
/// starts after the invalidation gets 2; nothing stale is stored.
#[test]
fn a_waiter_that_joined_before_an_invalidation_starts_over() {
    check("joined_waiter_starts_over", || {
        let store = new_fn_store();
        let source = Arc::new(AtomicU64::new(1));
        let invalidated = Arc::new(AtomicBool::new(false));
        let hash = store.hash(fn_key());
        let Begin::Lead { stamp, .. } = store.lookup_or_begin(hash, fn_key(), true, Caller::Thread)
        else {
            panic!("the first call leads");
        };
        let leader = Leader::new(store, hash, stamp);
        let read = source.load(Ordering::SeqCst);
        let waiter = {
            let (source, invalidated) = (Arc::clone(&source), Arc::clone(&invalidated));
            thread::spawn(move || {
                let after = invalidated.load(Ordering::SeqCst);
                let call = get_or_compute(store, fn_key(), || Some(source.load(Ordering::SeqCst)));
                if after || call.restarted {
                    assert_eq!(call.value, Some(2), "the waiter took a fenced value");
                }
                call
            })
        };
        let writer = {
            let (source, invalidated) = (Arc::clone(&source), Arc::clone(&invalidated));
            thread::spawn(move || {
                source.store(2, Ordering::SeqCst);
                store.invalidate(&Pattern::new("m:5").unwrap());
                invalidated.store(true, Ordering::SeqCst);
            })
        };
        thread::yield_now();
        leader.finish(Some(read), None);
        writer.join().unwrap();
        let call = waiter.join().unwrap();
        if let Some(v) = peek(store, fn_key()) {
            assert_eq!(v, 2, "a fenced value was stored");
        }
        assert_eq!(in_flight(store), 0);
        call.restarted
    });
}

/// An insert over a computation in flight wins: whatever the order, the stored value is the
/// inserted one, and a caller that waited gets the computed or the inserted value.
#[test]
fn an_insert_over_a_computation_in_flight_wins() {
    check("insert_over_in_flight", || {
        let store = new_store();
        let inserted = Arc::new(AtomicBool::new(false));
        let leader = thread::spawn(move || get_or_compute(store, "k", || Some(1)));
        let waiter = {
            let inserted = Arc::clone(&inserted);
            thread::spawn(move || {
                let after = inserted.load(Ordering::SeqCst);
                let call = get_or_compute(store, "k", || Some(3));
                if after {
                    assert_eq!(call.value, Some(9), "a call after the insert sees it");
                }
                call
            })
        };
        store.insert("k", 9, None);
        inserted.store(true, Ordering::SeqCst);
        assert_eq!(peek(store, "k"), Some(9), "the insert is visible at once");
        let lead = leader.join().unwrap();
        let wait = waiter.join().unwrap();
        assert!(matches!(lead.value, Some(1 | 3 | 9)));
        assert!(matches!(wait.value, Some(1 | 3 | 9)));
        assert_eq!(
            peek(store, "k"),
            Some(9),
            "no computation overwrote the insert"
        );
        assert_eq!(in_flight(store), 0);
        let (c, size, _) = store.counters();
        assert_eq!(size, 1);
        assert_eq!(
            c.inserts,
            size as u64 + c.replaced + c.invalidated + c.evicted + c.expired
        );
        // Interesting: the insert came while a computation was in flight.
        lead.computed && lead.value == Some(1) && c.inserts == 1
    });
}

/// A panicking leader with two waiters: exactly one panic, both waiters get the value of one
/// takeover.
#[test]
fn a_panicking_leader_hands_over_to_one_of_two_waiters() {
    check("panic_two_waiters", || {
        let store = new_store();
        let runs = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..3)
            .map(|i| {
                let runs = Arc::clone(&runs);
                thread::spawn(move || {
                    std::panic::catch_unwind(AssertUnwindSafe(|| {
                        get_or_compute(store, "k", || {
                            // The first computation panics, whoever runs it.
                            assert!(runs.fetch_add(1, Ordering::SeqCst) != 0, "leader {i} fails");
                            Some(5)
                        })
                    }))
                    .ok()
                })
            })
            .collect();
        let calls: Vec<Option<Call>> = callers.into_iter().map(|c| c.join().unwrap()).collect();
        assert_eq!(calls.iter().filter(|c| c.is_none()).count(), 1, "one panic");
        assert!(calls.iter().flatten().all(|c| c.value == Some(5)));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(in_flight(store), 0);
        assert_eq!(peek(store, "k"), Some(5));
        calls.iter().flatten().any(|c| c.restarted)
    });
}

/// A leader that goes away without finishing (a cancelled future), with two waiters.
#[test]
fn a_dropped_leader_hands_over_to_one_of_two_waiters() {
    check("dropped_leader_two_waiters", || {
        let store = new_store();
        let hash = store.hash("k");
        let canceller = thread::spawn(move || {
            if let Begin::Lead { stamp, .. } =
                store.lookup_or_begin(hash, "k", true, Caller::Thread)
            {
                thread::yield_now();
                drop(Leader::new(store, hash, stamp));
                true
            } else {
                false
            }
        });
        let waiters: Vec<_> = (0..2)
            .map(|_| thread::spawn(move || get_or_compute(store, "k", || Some(9))))
            .collect();
        let led = canceller.join().unwrap();
        let calls: Vec<Call> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
        assert!(calls.iter().all(|c| c.value == Some(9)));
        assert_eq!(calls.iter().filter(|c| c.computed).count(), 1);
        assert_eq!(in_flight(store), 0);
        led && calls.iter().any(|c| c.restarted)
    });
}

/// A panicking leader, a waiter and an invalidation race: nothing stays in flight, the
/// waiter gets a value, and a call after the invalidation sees the new source.
#[test]
fn a_panicking_leader_against_an_invalidation() {
    check("panic_against_invalidate", || {
        let store = new_fn_store();
        let source = Arc::new(AtomicU64::new(1));
        let invalidated = Arc::new(AtomicBool::new(false));
        let runs = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..2)
            .map(|_| {
                let (source, invalidated, runs) = (
                    Arc::clone(&source),
                    Arc::clone(&invalidated),
                    Arc::clone(&runs),
                );
                thread::spawn(move || {
                    let after = invalidated.load(Ordering::SeqCst);
                    let call = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        get_or_compute(store, fn_key(), || {
                            let v = source.load(Ordering::SeqCst);
                            assert!(
                                runs.fetch_add(1, Ordering::SeqCst) != 0,
                                "first computation fails"
                            );
                            Some(v)
                        })
                    }))
                    .ok();
                    if let (true, Some(c)) = (after, call) {
                        assert_eq!(c.value, Some(2));
                    }
                    call
                })
            })
            .collect();
        source.store(2, Ordering::SeqCst);
        store.invalidate(&Pattern::new("m:5").unwrap());
        invalidated.store(true, Ordering::SeqCst);
        let calls: Vec<Option<Call>> = callers.into_iter().map(|c| c.join().unwrap()).collect();
        assert_eq!(calls.iter().filter(|c| c.is_none()).count(), 1);
        if let Some(v) = peek(store, fn_key()) {
            assert_eq!(v, 2);
        }
        assert_eq!(in_flight(store), 0);
        calls.iter().flatten().any(|c| c.restarted)
    });
}

/// A dropped leader, a waiter and an invalidation race.
#[test]
fn a_dropped_leader_against_an_invalidation() {
    check("cancel_against_invalidate", || {
        let store = new_fn_store();
        let source = Arc::new(AtomicU64::new(1));
        let invalidated = Arc::new(AtomicBool::new(false));
        let hash = store.hash(fn_key());
        let canceller = thread::spawn(move || {
            if let Begin::Lead { stamp, .. } =
                store.lookup_or_begin(hash, fn_key(), true, Caller::Thread)
            {
                thread::yield_now();
                drop(Leader::new(store, hash, stamp));
            }
        });
        let waiter = {
            let (source, invalidated) = (Arc::clone(&source), Arc::clone(&invalidated));
            thread::spawn(move || {
                let after = invalidated.load(Ordering::SeqCst);
                let call = get_or_compute(store, fn_key(), || Some(source.load(Ordering::SeqCst)));
                if after {
                    assert_eq!(call.value, Some(2));
                }
                call
            })
        };
        source.store(2, Ordering::SeqCst);
        store.invalidate(&Pattern::new("m:5").unwrap());
        invalidated.store(true, Ordering::SeqCst);
        canceller.join().unwrap();
        let call = waiter.join().unwrap();
        assert!(call.value.is_some());
        if let Some(v) = peek(store, fn_key()) {
            assert_eq!(v, 2);
        }
        assert_eq!(in_flight(store), 0);
        call.restarted
    });
}

/// Storing a value in a full cache type shared by two stores evicts from the other store, with
/// the computing key's shard unlocked meanwhile: a caller that joins the computation then must
/// still get the value (regression: such a waiter was once left waiting forever).
#[test]
fn a_waiter_joining_while_the_leader_makes_room_gets_the_value() {
    check("waiter_joins_during_eviction", || {
        let config = CacheConfig::builder().capacity(1).build().unwrap();
        let ty: &'static CacheType = Box::leak(Box::new(CacheType::new("model", &config, true)));
        let mut stores = (0..2).map(|_| {
            let store: &'static TestStore =
                Box::leak(Box::new(Store::new(ty, StoreInfo::manual(0, ""), None)));
            ty.add_store(store);
            store
        });
        let (store, other) = (stores.next().unwrap(), stores.next().unwrap());
        // The type is full with the other store's entry: storing "k" must evict it.
        other.insert("x", 1, None);
        let hash = store.hash("k");
        let Begin::Lead { stamp, .. } = store.lookup_or_begin(hash, "k", true, Caller::Thread)
        else {
            panic!("the first call leads");
        };
        let leader = Leader::new(store, hash, stamp);
        let waiter = thread::spawn(move || get_or_compute(store, "k", || Some(9)));
        let finisher = thread::spawn(move || leader.finish(Some(5), None));
        finisher.join().unwrap();
        let call = waiter.join().unwrap();
        assert!(matches!(call.value, Some(5 | 9)));
        assert_eq!(in_flight(store), 0);
        assert_eq!(peek(other, "x"), None, "evicted to make room");
        call.waited
    });
}

#[test]
fn a_failed_computation_lets_waiters_compute() {
    check("failed_computation", || {
        let store = new_store();
        let failing = thread::spawn(move || get_or_compute(store, "k", || None));
        let other = thread::spawn(move || get_or_compute(store, "k", || Some(3)));
        let a = failing.join().unwrap();
        assert!(a.value.is_none() || a.value == Some(3));
        let b = other.join().unwrap();
        assert_eq!(b.value, Some(3));
        let (c, size, pending) = store.counters();
        assert_eq!((size, pending), (1, 0));
        assert_eq!(c.inserts, 1);
        b.restarted
    });
}

/// An async waiter (`WaitFlight`, polled by shuttle's executor) is woken by a leader that
/// finishes, or by one that is dropped (then it computes itself); it never waits forever.
fn async_waiter(name: &str, drop_leader: bool) {
    check(name, move || {
        let store = new_store();
        let hash = store.hash("k");
        let Begin::Lead { stamp, .. } = store.lookup_or_begin(hash, "k", true, Caller::Thread)
        else {
            panic!("the first call leads");
        };
        let leader = Leader::new(store, hash, stamp);
        let waiter = thread::spawn(move || {
            shuttle::future::block_on(async move {
                let mut count = true;
                let mut waited = false;
                loop {
                    match store.lookup_or_begin(hash, "k", count, Caller::Thread) {
                        Begin::Hit(v) => return (Some(v), waited),
                        Begin::Wait(flight) => {
                            waited = true;
                            if let Some(v) = (WaitFlight { flight }).await {
                                return (Some(v), waited);
                            }
                        }
                        Begin::Lead { stamp, .. } => {
                            Leader::new(store, hash, stamp).finish(Some(8), None);
                            return (Some(8), waited);
                        }
                        Begin::Recursion => panic!("no recursion"),
                    }
                    count = false;
                }
            })
        });
        let settler = thread::spawn(move || {
            thread::yield_now();
            if drop_leader {
                drop(leader);
            } else {
                leader.finish(Some(4), None);
            }
        });
        settler.join().unwrap();
        let (got, joined) = waiter.join().unwrap();
        assert_eq!(got, Some(if drop_leader { 8 } else { 4 }));
        assert_eq!(peek(store, "k"), got);
        assert_eq!(in_flight(store), 0);
        joined
    });
}

#[test]
fn an_async_waiter_is_woken_by_a_finish() {
    async_waiter("async_waiter_woken_by_finish", false);
}

#[test]
fn an_async_waiter_is_woken_by_a_dropped_leader_and_takes_over() {
    async_waiter("async_waiter_takes_over", true);
}
