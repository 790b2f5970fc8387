//! Reliability, item 11: bad input, as property tests against the public API (the fuzz targets
//! in `fuzz/` do the same at scale; see `RELIABILITY.md`).
//!
//! - `memo::invalidate` never panics, whatever the string (any Unicode, grammar characters,
//!   longer than the limit), and accepts exactly the patterns memo's documented grammar accepts.
//! - On every accepted pattern, `Pattern::matches` and `memo::invalidate` (on manual entries)
//!   agree with an independent port of Redis's `stringmatchlen` (`fuzz/src/reference.rs`).
//! - Arguments containing `:`, `\`, `*`, `?`, `[`, `]` are rendered and escaped so that
//!   `#[invalidates("p:{arg}")]` (and `"p:{a}:{b}"`) removes exactly its own entry, and the
//!   documented rendering rule, escaped with `memo::escape_pattern`, names exactly one key.
//!
//! 256 cases per property in `cargo test`, 20,000 with `MEMO_SOAK=1` (or `PROPTEST_CASES`).
//! `memo::invalidate` reaches every cache type of the process, so the tests of this binary take
//! turns (a lock) and leave nothing behind.

mod reliability_support;

#[path = "../fuzz/src/reference.rs"]
#[allow(dead_code, unreachable_pub)]
mod reference;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use memo::{CacheConfig, PatternError, cached, invalidates};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reference::Rejection;
use reliability_support as support;

/// The tests of this binary take turns: `memo::invalidate` reaches every cache type.
static TURN: Mutex<()> = Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(support::count(256, 20_000) as u32)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// The characters that mean something to the grammar, and a few that do not.
const GRAMMAR: &[char] = &[
    'a', 'b', 'c', ':', '*', '?', '[', ']', '^', '-', '\\', 'é', '!',
];
const KEY_CHARS: &[char] = &[
    'a', 'b', 'c', ':', '-', '^', ']', '[', '\\', '*', '?', 'é', '!',
];

fn text_of(chars: &'static [char], len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(chars), len).prop_map(|v| v.into_iter().collect())
}

/// Strings of every kind: arbitrary Unicode, grammar soup, and over-long ones.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        4 => text_of(GRAMMAR, 0..16),
        1 => text_of(GRAMMAR, 4_090..4_100),
        1 => (prop::sample::select(GRAMMAR), 4_097..5_000_usize)
            .prop_map(|(c, n)| std::iter::repeat_n(c, n).collect()),
    ]
}

fn rejection(e: &PatternError) -> Rejection {
    match e {
        PatternError::Empty => Rejection::Empty,
        PatternError::UnclosedClass { .. } => Rejection::UnclosedClass,
        PatternError::EmptyClass { .. } => Rejection::EmptyClass,
        PatternError::TrailingEscape { .. } => Rejection::TrailingEscape,
        PatternError::TooLong { .. } => Rejection::TooLong,
        other => panic!("an error this test does not know: {other:?}"),
    }
}

#[test]
fn invalidate_never_panics_and_accepts_exactly_the_grammar() {
    let _turn = turn();
    let tried = AtomicU64::new(0);
    runner()
        .run(&any_text(), |text| {
            tried.fetch_add(1, Ordering::Relaxed);
            let expected = reference::memo_accepts(&text);
            let got = memo::invalidate(&text);
            match (&got, expected) {
                (Ok(_), Ok(())) => {}
                (Err(e), Err(want)) => {
                    prop_assert_eq!(rejection(e), want, "{:?}: {}", text, e);
                    let message = e.to_string();
                    prop_assert!(
                        !message.is_empty() && message.chars().next().unwrap().is_lowercase()
                    );
                }
                _ => prop_assert!(
                    false,
                    "{:?}: memo says {:?}, the grammar says {:?}",
                    text,
                    got,
                    expected
                ),
            }
            prop_assert_eq!(memo::Pattern::new(&text).is_ok(), got.is_ok());
            Ok(())
        })
        .unwrap();
    support::report(
        "input",
        &[
            ("test", &"invalidate_any_string"),
            ("cases", &tried.into_inner()),
            ("panics", &0),
        ],
    );
}

#[test]
fn accepted_patterns_match_as_redis_does() {
    let _turn = turn();
    let cache = memo::configure(
        "ri_match",
        CacheConfig::builder().capacity(10_000).build().unwrap(),
    )
    .unwrap();
    let tried = AtomicU64::new(0);
    let strategy = (
        text_of(GRAMMAR, 1..12),
        prop::collection::vec(text_of(KEY_CHARS, 1..10), 1..8),
    );
    runner()
        .run(&strategy, |(pattern, keys)| {
            let Ok(compiled) = memo::Pattern::new(&pattern) else {
                return Ok(());
            };
            tried.fetch_add(1, Ordering::Relaxed);
            cache.clear();
            let mut distinct = keys.clone();
            distinct.sort();
            distinct.dedup();
            for k in &distinct {
                cache.insert(k, 1_u8);
            }
            let mut expected = 0;
            for k in &distinct {
                let want = reference::redis_match(&pattern, k);
                prop_assert_eq!(compiled.matches(k), want, "{:?} on {:?}", pattern, k);
                expected += usize::from(want);
            }
            let removed = memo::invalidate(&pattern).unwrap();
            prop_assert_eq!(removed, expected, "{:?} on {:?}", pattern, distinct);
            for k in &distinct {
                prop_assert_eq!(cache.contains(k), !reference::redis_match(&pattern, k));
            }
            Ok(())
        })
        .unwrap();
    cache.clear();
    support::report(
        "input",
        &[
            ("test", &"redis_agreement"),
            ("cases", &tried.into_inner()),
            ("disagreements", &0),
        ],
    );
}

/// Runs per argument text, by function.
static RUNS: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);

fn record(id: String) {
    *RUNS
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .entry(id)
        .or_insert(0) += 1;
}

fn runs(id: &str) -> u64 {
    RUNS.lock()
        .unwrap()
        .as_ref()
        .and_then(|r| r.get(id).copied())
        .unwrap_or(0)
}

#[cached(prefix = "ri_esc", cache_type = "ri_esc")]
fn one(arg: &str) -> usize {
    record(format!("1|{arg}"));
    arg.len()
}

#[invalidates("ri_esc:{arg}")]
fn drop_one(arg: &str) {
    let _ = arg;
}

#[cached(prefix = "ri_esc2", cache_type = "ri_esc")]
fn two(a: &str, b: &str) -> usize {
    record(format!("2|{a}|{b}"));
    a.len() + b.len()
}

#[invalidates("ri_esc2:{a}:{b}")]
fn drop_two(a: &str, b: &str) {
    let _ = (a, b);
}

#[test]
fn invalidating_an_argument_with_grammar_characters_hits_only_its_own_entry() {
    let _turn = turn();
    memo::configure(
        "ri_esc",
        CacheConfig::builder().capacity(100_000).build().unwrap(),
    )
    .unwrap();
    let tried = AtomicU64::new(0);
    let strategy = (
        prop::collection::vec(text_of(KEY_CHARS, 0..6), 2..6),
        any::<prop::sample::Index>(),
    );
    runner()
        .run(&strategy, |(args, pick)| {
            tried.fetch_add(1, Ordering::Relaxed);
            memo::invalidate("ri_esc:*").unwrap();
            memo::invalidate("ri_esc2:*").unwrap();
            let mut args = args;
            args.sort();
            args.dedup();
            let target = pick.get(&args).clone();
            let before: Vec<u64> = args.iter().map(|a| runs(&format!("1|{a}"))).collect();
            for a in &args {
                one(a);
            }
            // `#[invalidates("ri_esc:{arg}")]` removes the target only.
            drop_one(&target);
            for a in &args {
                one(a);
            }
            for (a, b) in args.iter().zip(&before) {
                let extra = u64::from(*a == target);
                prop_assert_eq!(
                    runs(&format!("1|{a}")),
                    b + 1 + extra,
                    "arg {:?}, target {:?}",
                    a,
                    target
                );
            }
            // The documented rendering, escaped for a pattern, names exactly one entry.
            let rendered = format!("ri_esc:{}", reference::key_part(&target));
            prop_assert_eq!(
                memo::invalidate(&memo::escape_pattern_to_string(&rendered)).unwrap(),
                1
            );

            // Two parts: ("a:b", "c") and ("a", "b:c") must stay apart.
            let pairs: Vec<(String, String)> = args
                .iter()
                .flat_map(|a| args.iter().map(move |b| (a.clone(), b.clone())))
                .take(12)
                .collect();
            let (ta, tb) = pairs[pairs.len() / 2].clone();
            let before: Vec<u64> = pairs
                .iter()
                .map(|(a, b)| runs(&format!("2|{a}|{b}")))
                .collect();
            for (a, b) in &pairs {
                two(a, b);
            }
            drop_two(&ta, &tb);
            for (a, b) in &pairs {
                two(a, b);
            }
            for ((a, b), n) in pairs.iter().zip(&before) {
                let extra = u64::from(*a == ta && *b == tb);
                prop_assert_eq!(
                    runs(&format!("2|{a}|{b}")),
                    n + 1 + extra,
                    "({:?}, {:?})",
                    a,
                    b
                );
            }
            Ok(())
        })
        .unwrap();
    memo::invalidate("ri_esc:*").unwrap();
    memo::invalidate("ri_esc2:*").unwrap();
    support::report(
        "input",
        &[
            ("test", &"escaped_arguments"),
            ("cases", &tried.into_inner()),
            ("wrong_entries", &0),
        ],
    );
}

/// The escaping round trip itself: `escape_pattern(text)` matches `text` and nothing else.
#[test]
fn escaped_text_matches_itself_only() {
    let tried = AtomicU64::new(0);
    runner()
        .run(&(any_text(), text_of(KEY_CHARS, 1..8)), |(text, other)| {
            tried.fetch_add(1, Ordering::Relaxed);
            let escaped = memo::escape_pattern_to_string(&text);
            match memo::Pattern::new(&escaped) {
                Ok(p) => {
                    prop_assert!(p.matches(&text));
                    prop_assert_eq!(p.exact(), Some(text.as_str()));
                    prop_assert_eq!(p.matches(&other), other == text);
                }
                Err(e) => prop_assert!(
                    text.is_empty() || escaped.len() > memo::Pattern::MAX_LEN,
                    "{:?}: {}",
                    text,
                    e
                ),
            }
            Ok(())
        })
        .unwrap();
    support::report(
        "input",
        &[
            ("test", &"escape_round_trip"),
            ("cases", &tried.into_inner()),
            ("failures", &0),
        ],
    );
}
