//! Reliability, item 10: hash floods and look-alike functions. A key type whose `Hash` is a
//! constant (every key collides) but whose equality is real: thousands of keys, read again and
//! again from several threads, exact invalidations among them; every call returns its own key's
//! value. Functions with identical signatures and identical prefixes (in one module, in two
//! modules with the same function name, with borrowed arguments), and manual-API entries whose
//! text equals their rendered keys, never see each other's entries.

mod reliability_support;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use memo::{CacheConfig, cached, invalidates};
use reliability_support as support;

/// Every key hashes alike; equality compares the id.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Collide(u64);

impl Hash for Collide {
    fn hash<H: Hasher>(&self, state: &mut H) {
        0x00C0_FFEE_u64.hash(state);
    }
}

impl fmt::Display for Collide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

static COLLIDE_RUNS: AtomicU64 = AtomicU64::new(0);

// An owned key on purpose: the owned-argument path is the one under test.
#[allow(clippy::needless_pass_by_value)]
#[cached(prefix = "rcol", cache_type = "rcol")]
fn collide(k: Collide) -> u64 {
    COLLIDE_RUNS.fetch_add(1, Ordering::SeqCst);
    k.0 * 3 + 1
}

#[invalidates("rcol:{k}")]
fn forget(k: &Collide) {
    let _ = k;
}

#[test]
fn a_constant_hash_still_returns_each_keys_own_value() {
    memo::configure(
        "rcol",
        CacheConfig::builder().capacity(100_000).build().unwrap(),
    )
    .unwrap();
    let keys = support::count(2_000, 5_000) as u64;
    let checks = support::within(Duration::from_secs(600), "hash flood", move || {
        let mut checks = 0_u64;
        for k in 0..keys {
            assert_eq!(collide(Collide(k)), k * 3 + 1);
            checks += 1;
        }
        assert_eq!(COLLIDE_RUNS.load(Ordering::SeqCst), keys);
        for k in 0..keys {
            assert_eq!(
                collide(Collide(k)),
                k * 3 + 1,
                "key {k}: another key's value"
            );
            checks += 1;
        }
        assert_eq!(
            COLLIDE_RUNS.load(Ordering::SeqCst),
            keys,
            "every second call hits"
        );
        // Exact invalidation of one key in ten: only those are computed again.
        for k in (0..keys).step_by(10) {
            forget(&Collide(k));
        }
        for k in 0..keys {
            assert_eq!(collide(Collide(k)), k * 3 + 1);
            checks += 1;
        }
        assert_eq!(
            COLLIDE_RUNS.load(Ordering::SeqCst),
            keys + keys.div_ceil(10)
        );
        // Four threads read random keys at once.
        let per_thread = keys * 2;
        std::thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    let mut rng = support::Rng::new(t + 10);
                    for _ in 0..per_thread {
                        let k = rng.below(keys);
                        assert_eq!(
                            collide(Collide(k)),
                            k * 3 + 1,
                            "key {k}: another key's value"
                        );
                    }
                });
            }
        });
        checks + 4 * per_thread
    });
    let a = support::activity("collide");
    assert_eq!(a.size as u64, keys);
    assert!(a.is_conserved(), "{a:?}");
    support::report(
        "collisions",
        &[
            ("test", &"constant_hash"),
            ("keys", &keys),
            ("checks", &checks),
            ("wrong_key", &0),
        ],
    );
}

static TWIN_RUNS: AtomicU64 = AtomicU64::new(0);

#[cached(prefix = "rcol_twin", cache_type = "rcol_twin")]
fn twin_a(id: u64) -> u64 {
    TWIN_RUNS.fetch_add(1, Ordering::SeqCst);
    id * 2
}

#[cached(prefix = "rcol_twin", cache_type = "rcol_twin")]
fn twin_b(id: u64) -> u64 {
    TWIN_RUNS.fetch_add(1, Ordering::SeqCst);
    id * 2 + 1
}

#[cached(prefix = "rcol_name", cache_type = "rcol_twin")]
fn name_a(name: &str) -> String {
    format!("a:{name}")
}

#[cached(prefix = "rcol_name", cache_type = "rcol_twin")]
fn name_b(name: &str) -> String {
    format!("b:{name}")
}

mod first {
    #[memo::cached(prefix = "rcol_mod", cache_type = "rcol_twin")]
    pub(crate) fn get(id: u64) -> u64 {
        id + 1_000_000
    }
}

mod second {
    #[memo::cached(prefix = "rcol_mod", cache_type = "rcol_twin")]
    pub(crate) fn get(id: u64) -> u64 {
        id + 2_000_000
    }
}

/// Twins called from four threads on the same keys, in random order, with manual-API entries
/// of the same cache type whose text is their rendered key: each call gets its own function's
/// value.
#[test]
fn functions_with_identical_signatures_and_prefixes_never_share_entries() {
    memo::configure(
        "rcol_twin",
        CacheConfig::builder().capacity(100_000).build().unwrap(),
    )
    .unwrap();
    let manual = memo::cache("rcol_twin").unwrap();
    let ids = support::count(500, 5_000) as u64;
    for id in 0..ids {
        // Same text as the functions' keys, another store: never a function's entry.
        manual.insert(&format!("rcol_twin:{id}"), u64::MAX);
        manual.insert(&format!("rcol_mod:{id}"), u64::MAX);
        manual.insert(&format!("rcol_name:n{id}"), String::from("manual"));
    }
    let calls = support::count(20_000, 400_000) as u64;
    let checks = support::within(Duration::from_secs(600), "twins", move || {
        std::thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    let mut rng = support::Rng::new(t + 100);
                    for _ in 0..calls / 4 {
                        let id = rng.below(ids);
                        match rng.below(6) {
                            0 => assert_eq!(twin_a(id), id * 2),
                            1 => assert_eq!(twin_b(id), id * 2 + 1),
                            2 => assert_eq!(first::get(id), id + 1_000_000),
                            3 => assert_eq!(second::get(id), id + 2_000_000),
                            4 => assert_eq!(name_a(&format!("n{id}")), format!("a:n{id}")),
                            _ => assert_eq!(name_b(&format!("n{id}")), format!("b:n{id}")),
                        }
                    }
                });
            }
        });
        calls / 4 * 4
    });
    // The manual entries are untouched, and each function holds only its own entries.
    for id in (0..ids).step_by(7) {
        assert_eq!(
            manual.get::<u64>(&format!("rcol_twin:{id}")),
            Some(u64::MAX)
        );
    }
    let stats = memo::stats();
    for f in stats
        .functions
        .iter()
        .filter(|f| f.cache_type == "rcol_twin")
    {
        assert!(
            f.activity.size as u64 <= ids,
            "{}: {:?}",
            f.name,
            f.activity
        );
        assert!(f.activity.is_conserved(), "{}: {:?}", f.name, f.activity);
    }
    // One exact pattern reaches both twins and the manual entry: their keys render alike.
    twin_a(ids + 1);
    twin_b(ids + 1);
    manual.insert(&format!("rcol_twin:{}", ids + 1), 0_u64);
    assert_eq!(
        memo::invalidate(&format!("rcol_twin:{}", ids + 1)).unwrap(),
        3
    );
    support::report(
        "collisions",
        &[
            ("test", &"twin_functions"),
            ("functions", &6),
            ("checks", &checks),
            ("wrong_key", &0),
        ],
    );
}
