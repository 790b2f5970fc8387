//! Reliability, item 7: panics in user types. A key type whose `Hash`, `Eq`, `Clone`, `Drop` or
//! `Display` and a value type whose `Clone` or `Drop` panic on a chosen call: other keys in the
//! same shard keep working, the counters stay conserved, no computation is left in flight,
//! nothing hangs, and the cache type keeps its whole capacity.
//!
//! The engine runs keys' and values' `Hash`/`Eq`/`Clone`/`Display` under a shard lock (whose
//! poisoning the engine ignores); these tests check that a panic there unwinds without
//! leaving the shard half-updated. Each scenario sweeps the panic over the 1st, 2nd, ... call of
//! the chosen operation on the chosen key, so it lands in turn on every place the engine calls
//! that operation during the scenario (lookup, miss, store, hand-over to waiters, invalidation,
//! eviction, rehash).
//!
//! Every cache type here has a capacity below 1,024, hence one shard per store: the target key
//! and its neighbours always share a shard.

mod reliability_support;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use memo::{CacheConfig, cached};
use reliability_support as support;

/// An operation of a user type that can be made to panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    KeyHash,
    KeyEq,
    KeyClone,
    KeyDrop,
    KeyDisplay,
    ValueClone,
    ValueDrop,
}

/// "Panic on the `skip + 1`-th call of `op` on a key (or value) whose id is in `lo..=hi`."
#[derive(Debug)]
struct Trap {
    op: Op,
    lo: u64,
    hi: u64,
    skip: u32,
}

static TRAPS: Mutex<Vec<Trap>> = Mutex::new(Vec::new());
static FIRED: AtomicU64 = AtomicU64::new(0);

fn arm(op: Op, lo: u64, hi: u64, skip: u32) {
    lock_traps().push(Trap { op, lo, hi, skip });
}

/// Removes the traps on `lo..=hi`; whether one was still armed (had not fired).
fn disarm(lo: u64, hi: u64) -> bool {
    let mut traps = lock_traps();
    let before = traps.len();
    traps.retain(|t| t.hi < lo || t.lo > hi);
    traps.len() != before
}

fn lock_traps() -> std::sync::MutexGuard<'static, Vec<Trap>> {
    TRAPS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Called by every trapped operation: panics if a trap says so (the lock is released first).
fn spring(op: Op, id: u64) {
    let fire = {
        let mut traps = lock_traps();
        match traps
            .iter()
            .position(|t| t.op == op && (t.lo..=t.hi).contains(&id))
        {
            Some(i) if traps[i].skip == 0 => {
                traps.remove(i);
                true
            }
            Some(i) => {
                traps[i].skip -= 1;
                false
            }
            None => false,
        }
    };
    if fire {
        if std::env::var("RUP_TRACE").is_ok() {
            eprintln!(
                "TRAP {op:?} {id}\n{}",
                std::backtrace::Backtrace::force_capture()
            );
        }
        FIRED.fetch_add(1, Ordering::Relaxed);
        support::inject(id);
    }
}

/// A key whose operations can panic. Ids are rendered on 8 digits, so that the pattern
/// `prefix:<id>*` matches this id only.
#[derive(Debug)]
struct Touchy(u64);

impl Hash for Touchy {
    fn hash<H: Hasher>(&self, state: &mut H) {
        spring(Op::KeyHash, self.0);
        self.0.hash(state);
    }
}

impl PartialEq for Touchy {
    fn eq(&self, other: &Self) -> bool {
        spring(Op::KeyEq, self.0);
        self.0 == other.0
    }
}

impl Eq for Touchy {}

impl Clone for Touchy {
    fn clone(&self) -> Self {
        spring(Op::KeyClone, self.0);
        Touchy(self.0)
    }
}

impl Drop for Touchy {
    fn drop(&mut self) {
        // Never a second panic while unwinding (that would abort the test process).
        if !std::thread::panicking() {
            spring(Op::KeyDrop, self.0);
        }
    }
}

impl fmt::Display for Touchy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        spring(Op::KeyDisplay, self.0);
        write!(f, "{:08}", self.0)
    }
}

/// A value whose `Clone` and `Drop` can panic; it carries its key's id.
#[derive(Debug, PartialEq, Eq)]
struct Fragile(u64);

impl Clone for Fragile {
    fn clone(&self) -> Self {
        spring(Op::ValueClone, self.0);
        Fragile(self.0)
    }
}

impl Drop for Fragile {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            spring(Op::ValueDrop, self.0);
        }
    }
}

/// The key a computation should hold on until the cached function has seen this many waits (or
/// [`FINISHED`] says the other callers gave up: their own call panicked).
static HOLD: Mutex<Option<(u64, u64)>> = Mutex::new(None);
/// Callers of the held scenario that have returned.
static FINISHED: AtomicU64 = AtomicU64::new(0);

/// The cached functions of one test: each test has its own, in its own cache type.
#[derive(Clone, Copy)]
struct Family {
    name: &'static str,
    prefix: &'static str,
    cache_type: &'static str,
    get: fn(Touchy) -> Fragile,
    drop_one: fn(&Touchy),
}

/// Computations run, by family.
static COMPUTED: Mutex<Vec<(&'static str, u64)>> = Mutex::new(Vec::new());

/// How many computations the family `name` has run.
fn computations(name: &str) -> u64 {
    COMPUTED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, c)| *c)
}

/// What a computation does: count itself, hold if asked to (until enough callers wait), then
/// the value.
fn compute(family: &'static str, k: &Touchy) -> Fragile {
    {
        let mut computed = COMPUTED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match computed.iter_mut().find(|(n, _)| *n == family) {
            Some((_, c)) => *c += 1,
            None => computed.push((family, 1)),
        }
    }
    let hold = *HOLD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((id, waiters)) = hold {
        if id == k.0 {
            // Bounded: if the waiters never come, the scenario's own checks fail instead.
            support::wait_for(Duration::from_secs(5), || {
                support::activity(family).coalesced_waits >= waiters
                    || FINISHED.load(Ordering::SeqCst) >= WAITERS
            });
        }
    }
    Fragile(k.0)
}

macro_rules! family {
    ($module:ident, $prefix:tt, $pattern:tt, $ty:tt) => {
        mod $module {
            use super::*;

            #[cached(prefix = $prefix, cache_type = $ty)]
            pub(super) fn get(k: Touchy) -> Fragile {
                compute(concat!(stringify!($module), "::get"), &k)
            }

            #[memo::invalidates($pattern)]
            pub(super) fn drop_one(k: &Touchy) {
                let _ = k;
            }

            pub(super) const FAMILY: Family = Family {
                name: concat!(stringify!($module), "::get"),
                prefix: $prefix,
                cache_type: $ty,
                get,
                drop_one,
            };
        }
    };
}

family!(fam_key_hash, "rup_kh", "rup_kh:{k}", "rup_kh");
family!(fam_key_eq, "rup_ke", "rup_ke:{k}", "rup_ke");
family!(fam_key_clone, "rup_kc", "rup_kc:{k}", "rup_kc");
family!(fam_key_drop, "rup_kd", "rup_kd:{k}", "rup_kd");
family!(fam_key_display, "rup_kr", "rup_kr:{k}", "rup_kr");
family!(fam_value_clone, "rup_vc", "rup_vc:{k}", "rup_vc");
family!(fam_value_drop, "rup_vd", "rup_vd:{k}", "rup_vd");
family!(fam_grow, "rup_grow", "rup_grow:{k}", "rup_grow");

const CAPACITY: usize = 512;
const NEIGHBOURS: u64 = 12;
const WAITERS: u64 = 3;

fn configure(family: Family) {
    memo::configure(
        family.cache_type,
        CacheConfig::builder().capacity(CAPACITY).build().unwrap(),
    )
    .unwrap();
}

/// Runs `f`, catching an injected panic (any other panic is re-raised).
fn attempt<T>(f: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(p) if support::injected(&*p).is_some() => None,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// One scenario: neighbours stored, then the target key `t` goes through a miss, a hit, a
/// computation that three waiters join, an exact invalidation through `#[invalidates]`, a
/// pattern invalidation, and a final call, with `op` set to panic on its `skip + 1`-th call on
/// `t`. Returns whether the trap fired.
fn scenario(family: Family, op: Op, t: u64, skip: u32) -> bool {
    let get = family.get;
    let neighbours: Vec<u64> = (t + 1..=t + NEIGHBOURS).collect();
    for &n in &neighbours {
        assert_eq!(get(Touchy(n)), Fragile(n));
    }
    arm(op, t, t, skip);
    attempt(|| get(Touchy(t)).0);
    attempt(|| get(Touchy(t)).0);
    // A computation that waiters join.
    let base = support::activity(family.name).coalesced_waits;
    FINISHED.store(0, Ordering::SeqCst);
    *HOLD.lock().unwrap() = Some((t, base + WAITERS));
    std::thread::scope(|s| {
        attempt(|| memo::invalidate(&format!("{}:{t:08}", family.prefix)));
        let callers: Vec<_> = (0..=WAITERS)
            .map(|_| {
                s.spawn(move || {
                    let out = attempt(|| get(Touchy(t)).0);
                    FINISHED.fetch_add(1, Ordering::SeqCst);
                    out
                })
            })
            .collect();
        for c in callers {
            match c.join() {
                Ok(Some(v)) => assert_eq!(v, t, "{op:?}: a wrong value"),
                Ok(None) => {}
                Err(p) => std::panic::resume_unwind(p),
            }
        }
    });
    *HOLD.lock().unwrap() = None;
    attempt(|| (family.drop_one)(&Touchy(t)));
    attempt(|| get(Touchy(t)).0);
    attempt(|| memo::invalidate(&format!("{}:{t:08}*", family.prefix)));
    attempt(|| get(Touchy(t)).0);
    let armed = disarm(t, t);

    // Everything works again, for the target and for its neighbours in the same shard.
    assert_eq!(get(Touchy(t)), Fragile(t), "{op:?} skip {skip}: the key");
    for &n in &neighbours {
        assert_eq!(get(Touchy(n)), Fragile(n), "{op:?} skip {skip}: neighbour");
    }
    let a = support::activity(family.name);
    assert_eq!(a.in_flight, 0, "{op:?} skip {skip}: in flight left: {a:?}");
    assert!(a.is_conserved(), "{op:?} skip {skip}: not conserved: {a:?}");
    !armed
}

/// Sweeps the panic over every call of `op` on the target key until a scenario runs without
/// it firing, then checks that the cache type still holds its whole capacity.
fn sweep(family: Family, op: Op, first_id: u64) {
    support::quiet_injected_panics();
    configure(family);
    let fired = support::within(Duration::from_secs(30), family.name, move || {
        let mut fired = 0_u64;
        for skip in 0..64_u32 {
            let t = first_id + u64::from(skip) * 100;
            if !scenario(family, op, t, skip) {
                break;
            }
            fired += 1;
        }
        fired
    });
    assert!(fired > 0, "{op:?}: the trap never fired");
    full_capacity_is_usable(family, first_id + 1_000_000);
    support::report(
        "user_panics",
        &[
            ("op", &format!("{op:?}")),
            ("panics_injected", &fired),
            ("hangs", &0),
        ],
    );
}

/// No place of the cache type was lost: it still fills to its capacity.
fn full_capacity_is_usable(family: Family, first_id: u64) {
    let get = family.get;
    for i in 0..CAPACITY as u64 * 2 {
        assert_eq!(get(Touchy(first_id + i)), Fragile(first_id + i));
    }
    let stats = memo::stats();
    let t = stats.cache_type(family.cache_type).unwrap();
    assert_eq!(
        t.activity.size, CAPACITY,
        "{}: the cache type no longer fills to its capacity: {:?}",
        family.cache_type, t.activity
    );
    assert!(t.activity.is_conserved(), "{:?}", t.activity);
    assert_eq!(t.activity.in_flight, 0);
}

#[test]
fn a_key_hash_that_panics_leaves_the_shard_working() {
    sweep(fam_key_hash::FAMILY, Op::KeyHash, 10_000_000);
}

#[test]
fn a_key_eq_that_panics_leaves_the_shard_working() {
    sweep(fam_key_eq::FAMILY, Op::KeyEq, 20_000_000);
}

#[test]
fn a_key_clone_that_panics_leaves_the_shard_working() {
    sweep(fam_key_clone::FAMILY, Op::KeyClone, 30_000_000);
}

#[test]
fn a_key_drop_that_panics_leaves_the_shard_working() {
    sweep(fam_key_drop::FAMILY, Op::KeyDrop, 40_000_000);
}

#[test]
fn a_key_display_that_panics_leaves_the_shard_working() {
    sweep(fam_key_display::FAMILY, Op::KeyDisplay, 50_000_000);
}

#[test]
fn a_value_clone_that_panics_leaves_the_shard_working() {
    sweep(fam_value_clone::FAMILY, Op::ValueClone, 60_000_000);
}

#[test]
fn a_value_drop_that_panics_leaves_the_shard_working() {
    sweep(fam_value_drop::FAMILY, Op::ValueDrop, 70_000_000);
}

/// The hash of every key already stored is set to panic while the table grows from 8 to 400
/// entries (a table that rehashes its keys with their `Hash` would run it under the shard lock
/// then), with computations that waiters join along the way: the stored keys stay stored and
/// correct, and the shard stays consistent, whether or not the panic ever fires.
#[test]
fn stored_keys_whose_hash_panics_survive_the_table_growing() {
    support::quiet_injected_panics();
    let family = fam_grow::FAMILY;
    configure(family);
    let get = family.get;
    let residents = 80_000_000..80_000_008_u64;
    let fired = support::within(Duration::from_secs(60), "growth", move || {
        for r in residents.clone() {
            assert_eq!(get(Touchy(r)), Fragile(r));
        }
        let computed = computations(family.name);
        // From now on the residents are never looked up: their hash could only run on a rehash.
        arm(Op::KeyHash, residents.start, residents.end - 1, 0);
        for t in 81_000_000..81_000_400_u64 {
            if t % 50 != 0 {
                attempt(|| get(Touchy(t)).0);
                continue;
            }
            let base = support::activity(family.name).coalesced_waits;
            FINISHED.store(0, Ordering::SeqCst);
            *HOLD.lock().unwrap() = Some((t, base + WAITERS));
            std::thread::scope(|s| {
                let callers: Vec<_> = (0..=WAITERS)
                    .map(|_| {
                        s.spawn(move || {
                            let out = attempt(|| get(Touchy(t)).0);
                            FINISHED.fetch_add(1, Ordering::SeqCst);
                            out
                        })
                    })
                    .collect();
                for c in callers {
                    if let Ok(Some(v)) = c.join() {
                        assert_eq!(v, t);
                    }
                }
            });
            *HOLD.lock().unwrap() = None;
        }
        let fired = !disarm(residents.start, residents.end - 1);
        let a = support::activity(family.name);
        assert_eq!(a.in_flight, 0, "{a:?}");
        assert!(a.is_conserved(), "not conserved: {a:?}");
        let before = computations(family.name);
        for r in residents.clone() {
            assert_eq!(get(Touchy(r)), Fragile(r));
        }
        if !fired {
            assert_eq!(
                computations(family.name),
                before,
                "a resident was lost while the table grew"
            );
        }
        assert!(before >= computed);
        fired
    });
    full_capacity_is_usable(family, 82_000_000);
    support::report(
        "user_panics",
        &[
            ("op", &"KeyHashOnGrowth"),
            ("panics_injected", &u64::from(fired)),
            ("hangs", &0),
        ],
    );
}

family!(fam_handover, "rup_ho", "rup_ho:{k}", "rup_ho");

/// The value's `Clone` panics when the engine copies it for the callers waiting on the
/// computation (the copy made under the shard lock when the value is stored): the waiters must
/// still complete.
#[test]
fn a_value_clone_that_panics_while_handing_over_to_waiters_does_not_strand_them() {
    support::quiet_injected_panics();
    let family = fam_handover::FAMILY;
    configure(family);
    let get = family.get;
    let t = 90_000_000;
    support::within(Duration::from_secs(30), "hand-over", move || {
        let base = support::activity(family.name).coalesced_waits;
        FINISHED.store(0, Ordering::SeqCst);
        *HOLD.lock().unwrap() = Some((t, base + WAITERS));
        // The leader's own copy for its caller is the first clone; the second is the copy for
        // the waiters, made when the value is stored.
        arm(Op::ValueClone, t, t, 1);
        let outcomes: Vec<Option<u64>> = std::thread::scope(|s| {
            let callers: Vec<_> = (0..=WAITERS)
                .map(|_| s.spawn(move || attempt(|| get(Touchy(t)).0)))
                .collect();
            callers.into_iter().map(|c| c.join().unwrap()).collect()
        });
        *HOLD.lock().unwrap() = None;
        assert!(!disarm(t, t), "the trap fired");
        assert_eq!(outcomes.iter().filter(|o| o.is_none()).count(), 1);
        let a = support::activity(family.name);
        assert_eq!(a.in_flight, 0, "{a:?}");
        assert!(a.is_conserved(), "{a:?}");
    });
    full_capacity_is_usable(family, 91_000_000);
}
