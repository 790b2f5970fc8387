//! `memo::stats()` for cached functions: every function listed by name with its counters, the
//! counters adding up, and the JSON document.

use std::sync::atomic::{AtomicUsize, Ordering};

use memo::{cached, invalidates};

#[cached(prefix = "stats_user", cache_type = "stats_users", ttl = 120)]
fn stats_user(id: u64) -> Option<String> {
    (id > 0).then(|| format!("user {id}"))
}

#[cached(prefix = "stats_team", cache_type = "stats_users")]
fn stats_team(id: u64) -> Result<u64, String> {
    if id == 0 {
        Err("no team 0".into())
    } else {
        Ok(id)
    }
}

#[invalidates("stats_user:{id}")]
fn stats_rename(id: u64) {
    let _ = id;
}

#[test]
fn each_function_is_listed_by_name_with_its_counters() {
    stats_user(1);
    stats_user(1);
    stats_user(1);
    stats_user(0);
    assert_eq!(stats_team(1), Ok(1));
    assert!(stats_team(0).is_err());
    stats_rename(1);

    let stats = memo::stats();
    let user = stats.function("stats_user").unwrap();
    assert_eq!(
        user.name, "stats::stats_user",
        "names are `module::function`"
    );
    assert_eq!(user.prefix, "stats_user");
    assert_eq!(user.cache_type, "stats_users");
    assert_eq!(user.ttl_ms, Some(120_000));
    let a = &user.activity;
    assert_eq!((a.hits, a.misses, a.lookups), (2, 2, 4));
    assert_eq!(a.loads.count, 2);
    assert_eq!((a.inserts, a.size), (1, 0));
    assert_eq!(a.evictions.invalidated, 1);
    assert!(a.is_conserved());
    assert!((a.hit_rate - 0.5).abs() < 1e-9);

    let team = stats.function("stats_team").unwrap();
    assert_eq!((team.activity.misses, team.activity.inserts), (2, 1));

    let ty = stats.cache_type("stats_users").unwrap();
    assert!(!ty.configured, "no `configure` named it");
    assert!(ty.activity.lookups >= 6);
}

#[test]
fn the_snapshot_is_a_json_document() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "stats_json", cache_type = "stats_json")]
    fn stats_json(word: &str) -> usize {
        CALLS.fetch_add(1, Ordering::SeqCst);
        word.len()
    }

    stats_json("a");
    stats_json("a");
    stats_json("bb");
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);

    let json = serde_json::to_value(memo::stats()).unwrap();
    let functions = json["functions"].as_array().unwrap();
    let f = functions
        .iter()
        .find(|f| {
            f["name"]
                .as_str()
                .is_some_and(|n| n.ends_with("::stats_json"))
        })
        .unwrap_or_else(|| panic!("stats_json missing from {json:#}"));
    assert_eq!(f["prefix"], "stats_json");
    assert_eq!(f["cache_type"], "stats_json");
    assert_eq!(f["hits"], 1);
    assert_eq!(f["misses"], 2);
    assert_eq!(f["size"], 2);
    let types = json["cache_types"].as_array().unwrap();
    assert!(
        types
            .iter()
            .any(|t| t["name"] == "stats_json" && t["hits"] == 1)
    );
    assert!(json["totals"]["lookups"].as_u64().unwrap() >= 3);
}

#[test]
fn a_function_appears_once_it_has_run() {
    #[cached(prefix = "stats_late")]
    fn stats_late(id: u64) -> u64 {
        id
    }

    assert!(memo::stats().function("stats_late").is_none());
    stats_late(1);
    assert!(memo::stats().function("stats_late").is_some());
}

mod north {
    #[memo::cached(prefix = "stats_north_lookup")]
    pub(crate) fn lookup(id: u64) -> u64 {
        id + 1
    }
}

mod south {
    #[memo::cached(prefix = "stats_south_lookup")]
    pub(crate) fn lookup(id: u64) -> u64 {
        id + 2
    }
}

/// A short name that ends two functions' names finds neither rather than either; their paths
/// find each.
#[test]
fn a_name_shared_by_two_functions_must_be_given_with_its_path() {
    assert_eq!((north::lookup(1), south::lookup(1)), (2, 3));
    let stats = memo::stats();
    assert!(stats.function("lookup").is_none(), "ambiguous");
    let north = stats.function("north::lookup").unwrap();
    assert_eq!(north.prefix, "stats_north_lookup");
    let south = stats.function("stats::south::lookup").unwrap();
    assert_eq!(south.prefix, "stats_south_lookup");
    assert!(
        stats.function("orth::lookup").is_none(),
        "whole segments only"
    );
}

/// A call's first look runs inline and leaves to the miss path whatever needs a call: a
/// thread's first lock, and LRU's hits (requeued under the write lock). Those hits are still
/// counted once, as hits, and LRU still moves the entry to the front.
#[test]
fn hits_the_inline_path_leaves_to_the_miss_path_are_counted_once() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "stats_fresh", cache_type = "stats_fresh")]
    fn stats_fresh(id: u64) -> u64 {
        id * 10
    }

    #[cached(prefix = "stats_lru", cache_type = "stats_lru")]
    fn stats_lru(id: u64) -> u64 {
        RUNS.fetch_add(1, Ordering::Relaxed);
        id * 100
    }

    // A thread new to memo: its first call is a hit found by the miss path.
    assert_eq!(stats_fresh(1), 10);
    let on_new_thread = std::thread::spawn(|| (stats_fresh(1), stats_fresh(2)))
        .join()
        .unwrap();
    assert_eq!(on_new_thread, (10, 20));
    let a = memo::stats().function("stats_fresh").unwrap().activity;
    assert_eq!((a.hits, a.misses, a.lookups), (1, 2, 3));

    memo::configure(
        "stats_lru",
        memo::CacheConfig::builder()
            .capacity(2)
            .policy(memo::EvictionPolicy::Lru)
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stats_lru(1), 100);
    assert_eq!(stats_lru(2), 200);
    assert_eq!(stats_lru(1), 100); // a hit: 1 is now the most recent
    assert_eq!(stats_lru(3), 300); // evicts 2, the least recently used
    assert_eq!(stats_lru(1), 100);
    assert_eq!(RUNS.load(Ordering::Relaxed), 3, "1 stayed cached");
    assert_eq!(stats_lru(2), 200);
    assert_eq!(RUNS.load(Ordering::Relaxed), 4, "2 was evicted");
    let a = memo::stats().function("stats_lru").unwrap().activity;
    assert_eq!((a.hits, a.misses), (2, 4));
    assert!(a.is_conserved());
}

/// A snapshot taken while two threads fill a full cache type never shows more entries than
/// its capacity (its tables are read one after another, so an entry moving from a table read
/// before to one read after would count twice), in the type's stats and in the totals.
#[test]
fn a_snapshot_during_inserts_stays_within_capacity() {
    let c = memo::configure(
        "stats_snapshot_cap",
        memo::CacheConfig::builder().capacity(17).build().unwrap(),
    )
    .unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let started = std::sync::Barrier::new(3);
    std::thread::scope(|s| {
        for t in 0..2_u64 {
            let (c, done, started) = (&c, &done, &started);
            s.spawn(move || {
                started.wait();
                let mut i = 0_u64;
                while !done.load(Ordering::Relaxed) {
                    c.insert(&format!("s{}:{i}", (i + t) % 4), i);
                    i += 1;
                }
            });
        }
        started.wait();
        // Stops the inserting threads however this thread leaves (a failed assertion too).
        let _stop = Stop(&done);
        for _ in 0..2_000 {
            let size = c.stats().activity.size;
            assert!(size <= 17, "cache type snapshot: {size} entries");
            let all = memo::stats();
            let size = all.cache_type("stats_snapshot_cap").unwrap().activity.size;
            assert!(size <= 17, "registry snapshot: {size} entries");
        }
    });
    let a = c.stats().activity;
    assert_eq!(a.size, c.len());
    assert!(a.is_conserved(), "{a:?}");
}

/// Sets its flag when dropped.
struct Stop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// `coalesced_waits` counts joins: a caller whose computation stored nothing (here an `Err`,
/// which is not stored) looks again and joins the next computation, counted again. Four
/// callers of one key: three join the first run, two the second, one the third, and the last
/// runs alone: six joins for four misses.
#[test]
fn a_caller_counts_each_computation_it_joins() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    static GATE: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>> =
        std::sync::Mutex::new(None);

    #[cached(cache_type = "stats_joins")]
    fn stats_flaky(id: u64) -> Result<u64, String> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        let gate = GATE.lock().unwrap();
        gate.as_ref().unwrap().recv().unwrap();
        Err(format!("no {id}"))
    }

    let activity = || memo::stats().function("stats_flaky").map(|f| f.activity);
    let (release, gate) = std::sync::mpsc::channel();
    *GATE.lock().unwrap() = Some(gate);
    std::thread::scope(|s| {
        let callers: Vec<_> = (0..4).map(|_| s.spawn(|| stats_flaky(7))).collect();
        let mut joins = 0;
        for run in 1..=4 {
            joins += 4 - run;
            // Run `run` is under way and every other caller still looking waits for it.
            while RUNS.load(Ordering::SeqCst) < run
                || activity().is_none_or(|a| a.coalesced_waits < joins as u64)
            {
                std::thread::yield_now();
            }
            release.send(()).unwrap();
        }
        for c in callers {
            assert_eq!(c.join().unwrap(), Err("no 7".to_owned()));
        }
    });
    let a = activity().unwrap();
    assert_eq!((a.misses, a.loads.count, a.coalesced_waits), (4, 4, 6));
    assert_eq!(a.hits + a.misses, 4);
}

/// A generic function keeps a table per instantiation (each has its own key and value types),
/// and shows as one function: one row under its name, adding them up.
#[test]
fn a_generic_function_is_one_row_adding_up_its_instantiations() {
    #[cached(cache_type = "stats_generic")]
    fn stats_describe<
        T: std::fmt::Display + std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    >(
        x: T,
    ) -> String {
        format!("<{x}>")
    }

    assert_eq!(stats_describe(1_u64), "<1>");
    assert_eq!(stats_describe(1_u64), "<1>");
    assert_eq!(stats_describe("one".to_owned()), "<one>");
    assert_eq!(stats_describe('1'), "<1>");

    let stats = memo::stats();
    let rows: Vec<_> = stats
        .functions
        .iter()
        .filter(|f| f.name.ends_with("::stats_describe"))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let f = stats.function("stats_describe").unwrap();
    assert_eq!((f.activity.hits, f.activity.misses), (1, 3));
    assert_eq!((f.activity.inserts, f.activity.size), (3, 3));
    let ty = stats.cache_type("stats_generic").unwrap();
    assert_eq!(ty.activity.size, 3);
}

#[test]
fn a_ttl_under_a_millisecond_shows_as_one_not_zero() {
    let config = memo::CacheConfig::builder()
        .ttl(std::time::Duration::from_micros(500))
        .build()
        .expect("valid config");
    memo::configure("stats_sub_ms", config).expect("valid cache type");
    let long = memo::CacheConfig::builder()
        .ttl(std::time::Duration::from_micros(2_500))
        .build()
        .expect("valid config");
    memo::configure("stats_2500us", long).expect("valid cache type");
    let stats = memo::stats();
    let ttl_of = |name: &str| stats.cache_type(name).expect("listed").default_ttl_ms;
    assert_eq!(ttl_of("stats_sub_ms"), Some(1));
    assert_eq!(ttl_of("stats_2500us"), Some(3));
}

mod same_name {
    use memo::cached;

    #[cached(prefix = "stats_same_name_free", cache_type = "stats_same_name")]
    pub(crate) fn load(id: u64) -> u64 {
        id
    }

    pub(crate) struct Repo;

    impl Repo {
        #[cached(prefix = "stats_same_name_assoc", cache_type = "stats_same_name")]
        pub(crate) fn load(id: u64) -> u64 {
            id + 1
        }
    }
}

#[test]
fn functions_of_one_name_and_two_prefixes_have_a_row_each() {
    // A free function and an associated function without `self` are both `module::load`.
    same_name::load(1);
    same_name::load(2);
    same_name::Repo::load(1);
    let stats = memo::stats();
    let rows: Vec<_> = stats
        .functions
        .iter()
        .filter(|f| f.cache_type == "stats_same_name")
        .map(|f| (f.name.as_str(), f.prefix.as_str(), f.activity.misses))
        .collect();
    let name = concat!(module_path!(), "::same_name::load");
    assert_eq!(
        rows,
        vec![
            (name, "stats_same_name_assoc", 1),
            (name, "stats_same_name_free", 2),
        ]
    );
}
