//! `#[invalidates]`: after the body succeeds, across modules, with placeholders whose values
//! contain pattern characters, and together with the runtime's `memo::invalidate`.

use std::sync::atomic::{AtomicUsize, Ordering};

use memo::{cached, invalidates};
use proptest::prelude::*;

fn calls(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DbError;

mod users {
    use super::*;

    pub(crate) static LOADS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "inv_user")]
    pub(crate) fn load_user(id: u64) -> Result<String, DbError> {
        LOADS.fetch_add(1, Ordering::SeqCst);
        Ok(format!("user {id}"))
    }
}

mod admin {
    use super::*;

    /// Invalidates the entries of a function in another module, by prefix and argument.
    #[invalidates("inv_user:{id}")]
    pub(crate) fn rename_user(id: u64, name: &str) -> Result<(), DbError> {
        if name.is_empty() {
            Err(DbError)
        } else {
            Ok(())
        }
    }
}

#[test]
fn invalidation_reaches_cached_functions_in_other_modules() {
    let loads = || calls(&users::LOADS);
    users::load_user(1).unwrap();
    users::load_user(2).unwrap();
    assert_eq!(loads(), 2);

    admin::rename_user(1, "ada").unwrap();
    users::load_user(1).unwrap();
    users::load_user(2).unwrap();
    assert_eq!(loads(), 3, "only user 1 was invalidated");

    assert_eq!(admin::rename_user(2, ""), Err(DbError));
    users::load_user(2).unwrap();
    assert_eq!(loads(), 3, "a failed body invalidates nothing");

    assert_eq!(memo::invalidate("inv_user:*").unwrap(), 2);
    users::load_user(2).unwrap();
    assert_eq!(loads(), 4);
}

#[test]
fn functions_without_a_result_always_invalidate() {
    static LOADS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "inv_plain")]
    fn count(id: u64) -> u64 {
        LOADS.fetch_add(1, Ordering::SeqCst);
        id
    }

    #[invalidates("inv_plain:*")]
    fn reset() {}

    #[invalidates("inv_plain:{id}")]
    fn reset_one(id: u64) -> Option<u64> {
        None.filter(|_| id > 0)
    }

    count(1);
    count(2);
    reset();
    count(1);
    assert_eq!(calls(&LOADS), 3);
    reset_one(1);
    count(1);
    count(2);
    assert_eq!(
        calls(&LOADS),
        5,
        "`None` is a success: only `Err` skips invalidation"
    );
}

#[test]
fn several_patterns_are_all_invalidated() {
    static LOADS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "inv_team")]
    fn team(id: u64) -> u64 {
        LOADS.fetch_add(1, Ordering::SeqCst);
        id
    }

    #[cached(prefix = "inv_member")]
    fn member(team: u64, id: u64) -> u64 {
        LOADS.fetch_add(1, Ordering::SeqCst);
        team + id
    }

    #[invalidates("inv_team:{team}", "inv_member:{team}:*")]
    fn move_member(team: u64, id: u64) -> Result<(), DbError> {
        let _ = id;
        Ok(())
    }

    team(1);
    team(2);
    member(1, 10);
    member(1, 11);
    member(2, 10);
    assert_eq!(calls(&LOADS), 5);
    move_member(1, 10).unwrap();
    team(1);
    team(2);
    member(1, 10);
    member(1, 11);
    member(2, 10);
    assert_eq!(
        calls(&LOADS),
        8,
        "team 1 and its two members were invalidated"
    );
}

#[test]
fn placeholder_values_match_only_themselves() {
    static LOADS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "inv_escape")]
    fn page(path: &str) -> String {
        LOADS.fetch_add(1, Ordering::SeqCst);
        path.to_uppercase()
    }

    #[invalidates("inv_escape:{path}")]
    fn edit(path: &str) {
        let _ = path;
    }

    let paths = ["a:b", "a", "a*", "ab", "a:c", "a?", "[a]", r"a\b"];
    for p in paths {
        page(p);
    }
    assert_eq!(calls(&LOADS), paths.len());

    // `:` and `*` in the value are matched literally: only the entry for `a:b`, then only the
    // entry for `a*`, go.
    edit("a:b");
    edit("a*");
    for p in paths {
        page(p);
    }
    assert_eq!(calls(&LOADS), paths.len() + 2);
}

#[tokio::test]
async fn async_invalidation_runs_after_the_body() {
    static LOADS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "inv_async")]
    async fn article(id: u64) -> Option<String> {
        LOADS.fetch_add(1, Ordering::SeqCst);
        Some(format!("article {id}"))
    }

    #[invalidates("inv_async:{id}")]
    async fn publish(id: u64) -> Result<u64, DbError> {
        // The body runs first: the entry is still there while it runs.
        let before = memo::stats().function("article").unwrap().activity.size;
        tokio::task::yield_now().await;
        Ok(before as u64 + id - id)
    }

    article(1).await;
    assert_eq!(publish(1).await, Ok(1));
    assert_eq!(memo::stats().function("article").unwrap().activity.size, 0);
    article(1).await;
    assert_eq!(calls(&LOADS), 2);
}

#[test]
fn an_invalidation_does_not_let_an_earlier_computation_store_its_value() {
    use std::sync::Mutex;
    use std::sync::mpsc;
    static GATE: Mutex<Option<mpsc::Receiver<()>>> = Mutex::new(None);
    static VERSION: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "inv_race")]
    fn versioned(id: u64) -> usize {
        let seen = VERSION.load(Ordering::SeqCst);
        if let Some(gate) = GATE.lock().unwrap().take() {
            gate.recv().unwrap();
        }
        seen + usize::try_from(id).unwrap()
    }

    #[invalidates("inv_race:{id}")]
    fn bump(id: u64) {
        let _ = id;
        VERSION.fetch_add(1, Ordering::SeqCst);
    }

    let (open, gate) = mpsc::channel();
    *GATE.lock().unwrap() = Some(gate);
    let stale = std::thread::spawn(|| versioned(0));
    while memo::stats()
        .function("versioned")
        .is_none_or(|f| f.activity.in_flight == 0)
    {
        std::thread::yield_now();
    }
    // The computation read version 0; the update happens while it runs.
    bump(0);
    open.send(()).unwrap();
    assert_eq!(
        stale.join().unwrap(),
        0,
        "its caller gets the value it computed"
    );
    assert_eq!(versioned(0), 1, "but later calls do not see it");
}

mod prop {
    use super::*;

    #[cached(prefix = "inv_prop")]
    fn echo(a: &str, b: u8) -> String {
        format!("{a}{b}")
    }

    #[invalidates("inv_prop:{a}:{b}")]
    fn forget(a: &str, b: u8) {
        let _ = (a, b);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever characters the arguments hold, the invalidation removes exactly the entry
        /// of these arguments.
        #[test]
        fn an_invalidation_removes_exactly_its_key(
            a in r"[a-c:*?\[\]\\^-]{0,6}",
            other in r"[a-c:*?\[\]\\^-]{0,6}",
            b in 0_u8..3,
        ) {
            echo(&a, b);
            echo(&other, b);
            echo(&a, b.wrapping_add(1));
            let key = format!("inv_prop:{}:{b}", memo::escape_pattern_to_string(&key_part(&a)));
            prop_assert_eq!(memo::invalidate(&key).unwrap(), 1);
            echo(&a, b);
            forget(&a, b);
            prop_assert_eq!(memo::invalidate(&key).unwrap(), 0, "already removed by `forget`");
            if other != a {
                let other_key = format!("inv_prop:{}:{b}", memo::escape_pattern_to_string(&key_part(&other)));
                prop_assert_eq!(memo::invalidate(&other_key).unwrap(), 1, "another key is untouched");
            }
        }
    }

    /// A key part as `#[cached]` renders it: `\` and `:` escaped with `\`.
    fn key_part(s: &str) -> String {
        s.replace('\\', r"\\").replace(':', r"\:")
    }
}

mod long_keys {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use memo::{cached, invalidates};

    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "inv_long")]
    fn measure(text: &str) -> usize {
        RUNS.fetch_add(1, Ordering::SeqCst);
        text.len()
    }

    #[invalidates("inv_long:{text}")]
    fn forget(text: &str) {
        let _ = text;
    }

    /// Regression (found by the escape fuzzer): the pattern `#[invalidates]` builds from a long
    /// argument is longer than `Pattern::MAX_LEN` once escaped, and used to be rejected
    /// silently, leaving the entry in place.
    #[test]
    fn an_argument_longer_than_the_pattern_limit_is_still_invalidated() {
        let text = "a*:[b]\\".repeat(1_000); // 7,000 bytes, more once escaped
        assert!(text.len() > memo::Pattern::MAX_LEN);
        assert_eq!(measure(&text), text.len());
        assert_eq!(measure(&text), text.len());
        assert_eq!(RUNS.load(Ordering::SeqCst), 1);
        forget(&text);
        assert_eq!(measure(&text), text.len());
        assert_eq!(
            RUNS.load(Ordering::SeqCst),
            2,
            "the long key was invalidated"
        );
    }
}

mod routing {
    use super::*;

    pub(crate) static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "rt_config")]
    pub(crate) fn config() -> u64 {
        RUNS.fetch_add(1, Ordering::SeqCst) as u64
    }

    #[cached(prefix = "rt_api:v1")]
    pub(crate) fn api_all() -> u64 {
        RUNS.fetch_add(1, Ordering::SeqCst) as u64
    }

    #[cached(prefix = "rt_api:v2")]
    pub(crate) fn api(id: u64) -> u64 {
        RUNS.fetch_add(1, Ordering::SeqCst) as u64 + id
    }
}

/// Invalidation takes a key or a pattern only to the stores that can hold it, by its first
/// segment: every kind of store must still be reached (functions with and without arguments,
/// prefixes with a colon, manual keys with a segment of their own or none), and only those.
#[test]
fn keys_and_segment_patterns_reach_every_kind_of_store() {
    use routing::{RUNS, api, api_all, config};
    let runs = || RUNS.load(Ordering::SeqCst);
    let c = memo::cache("rt_manual").unwrap();
    for key in [
        "rt_plain",
        "rt_api:v1",
        "rt_api:v2:7",
        "rt_seg:1",
        "rt_seg:22",
    ] {
        c.insert(key, 1_u8);
    }
    let (_, _, _, _) = (config(), api_all(), api(7), api(8));
    assert_eq!(runs(), 4);
    let (_, _, _, _) = (config(), api_all(), api(7), api(8));
    assert_eq!(runs(), 4, "all cached");

    assert_eq!(memo::invalidate("rt_config").unwrap(), 1);
    assert_eq!(
        memo::invalidate("rt_api:v1").unwrap(),
        2,
        "function and manual key"
    );
    assert_eq!(memo::invalidate("rt_plain").unwrap(), 1);
    assert_eq!(
        memo::invalidate("rt_api:v2:7").unwrap(),
        2,
        "function and manual key"
    );
    let (_, _, _, _) = (config(), api_all(), api(7), api(8));
    assert_eq!(runs(), 4 + 3, "config, api_all and api(7) ran again");

    assert_eq!(memo::invalidate("rt_seg:?").unwrap(), 1);
    assert_eq!(
        memo::invalidate("rt_api:v2:*").unwrap(),
        2,
        "api(7), api(8)"
    );
    assert_eq!(memo::invalidate("rt_api:*").unwrap(), 1, "api_all");
    assert_eq!(memo::invalidate("rt_*").unwrap(), 2, "config and rt_seg:22");
    assert!(c.is_empty());
}
