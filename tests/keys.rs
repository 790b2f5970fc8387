//! Keys: borrowed arguments, rendering (`prefix:arg1:arg2`, escaped), `_` arguments, key
//! templates, long keys, and functions that never share entries.

use std::sync::atomic::{AtomicUsize, Ordering};

use memo::cached;

fn calls(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Query {
    text: String,
    page: u32,
}

#[test]
fn borrowed_arguments_hit_whatever_owns_the_value() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "keys_borrowed")]
    fn search(word: &str, bytes: &[u8], query: &Query) -> usize {
        CALLS.fetch_add(1, Ordering::SeqCst);
        word.len() + bytes.len() + query.text.len()
    }

    let q = Query {
        text: "rust".into(),
        page: 1,
    };
    assert_eq!(search("ab", &[1, 2], &q), 8);
    let owned_word = String::from("ab");
    let owned_bytes = vec![1_u8, 2];
    let same_query = q.clone();
    assert_eq!(search(&owned_word, &owned_bytes, &same_query), 8);
    assert_eq!(calls(&CALLS), 1);
    let next_page = Query { page: 2, ..q };
    search("ab", &[1, 2], &next_page);
    assert_eq!(calls(&CALLS), 2);
}

#[test]
fn string_keys_short_and_long_hit_and_invalidate_alike() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    // `&str` keys of up to 24 bytes are stored inside the entry, longer ones on the heap: both
    // must hit, stay apart, and render the same way for invalidation.
    #[cached(prefix = "keys_strlen")]
    fn size(name: &str) -> usize {
        CALLS.fetch_add(1, Ordering::SeqCst);
        name.len()
    }

    let names: Vec<String> = [0, 1, 23, 24, 25, 200]
        .iter()
        .map(|&n| "x".repeat(n))
        .collect();
    for name in &names {
        assert_eq!(size(name), name.len());
    }
    assert_eq!(calls(&CALLS), names.len(), "every length is its own key");
    for name in &names {
        // Another allocation holding the same text hits.
        assert_eq!(size(&name.clone()), name.len());
    }
    assert_eq!(calls(&CALLS), names.len(), "every second call hits");
    for name in &names[1..] {
        assert_eq!(
            memo::invalidate(&format!("keys_strlen:{name}")).unwrap(),
            1,
            "the key of {} bytes renders as its text",
            name.len()
        );
    }
    size(&names[3]);
    assert_eq!(calls(&CALLS), names.len() + 1, "an invalidated key misses");
}

#[test]
fn owned_and_borrowed_string_arguments_hit_and_invalidate_as_str_does() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "keys_owned_string")]
    fn owned(name: String) -> usize {
        CALLS.fetch_add(1, Ordering::SeqCst);
        name.len()
    }

    #[allow(clippy::ptr_arg)] // `&String` on purpose: the case under test
    #[cached(prefix = "keys_ref_string")]
    fn by_ref(name: &String) -> usize {
        CALLS.fetch_add(1, Ordering::SeqCst);
        name.len() * 2
    }

    let short = String::from("ada");
    let long = "y".repeat(40);
    for name in [&short, &long] {
        assert_eq!(owned(name.clone()), name.len());
        assert_eq!(owned(name.clone()), name.len());
        assert_eq!(by_ref(name), name.len() * 2);
        assert_eq!(by_ref(&name.clone()), name.len() * 2);
    }
    assert_eq!(calls(&CALLS), 4, "the second call of each hits");
    assert_eq!(memo::invalidate("keys_owned_string:ada").unwrap(), 1);
    assert_eq!(
        memo::invalidate(&format!("keys_ref_string:{long}")).unwrap(),
        1
    );
    owned(short.clone());
    by_ref(&long);
    assert_eq!(calls(&CALLS), 6, "invalidated keys miss");
}

#[test]
fn keys_render_as_prefix_and_arguments() {
    #[derive(Clone, Debug, Hash, PartialEq, Eq)]
    struct OnlyDebug(u8);

    #[derive(Clone, Hash, PartialEq, Eq)]
    struct Neither(u8);

    #[cached(prefix = "keys_render")]
    fn render(id: u64, name: &str, tag: OnlyDebug, opaque: Neither) -> u64 {
        let _ = (name, tag, opaque);
        id
    }

    render(42, "ada", OnlyDebug(7), Neither(1));
    // Display for the first two, Debug for the third, a stable hash for the last: the exact
    // key of the first three parts, then any hash.
    assert_eq!(
        memo::invalidate("keys_render:42:ada:OnlyDebug(7):#*").unwrap(),
        1
    );
}

#[test]
fn separators_in_arguments_are_escaped() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "keys_escape")]
    fn pair(a: &str, b: &str) -> String {
        CALLS.fetch_add(1, Ordering::SeqCst);
        format!("{a}|{b}")
    }

    // Without escaping, both would render as `keys_escape:a:b:c`.
    assert_eq!(pair("a:b", "c"), "a:b|c");
    assert_eq!(pair("a", "b:c"), "a|b:c");
    assert_eq!(calls(&CALLS), 2);
    assert_eq!(memo::invalidate(r"keys_escape:a\\:b:c").unwrap(), 1);
    assert_eq!(memo::invalidate(r"keys_escape:a:b\\:c").unwrap(), 1);
}

#[test]
fn arguments_bound_to_underscore_are_not_in_the_key() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "keys_underscore")]
    fn lookup(id: u64, _: &str) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        id
    }

    lookup(1, "request-1");
    lookup(1, "request-2");
    assert_eq!(
        calls(&CALLS),
        1,
        "calls that differ only in `_` share an entry"
    );
    assert_eq!(memo::invalidate("keys_underscore:1").unwrap(), 1);
}

#[test]
fn a_key_template_chooses_and_orders_the_parts() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "keys_template", key = "{team}:{id}")]
    fn member(id: u64, team: &str, verbose: bool) -> String {
        CALLS.fetch_add(1, Ordering::SeqCst);
        if verbose {
            format!("{team}/{id}!")
        } else {
            format!("{team}/{id}")
        }
    }

    assert_eq!(member(1, "core", false), "core/1");
    assert_eq!(
        member(1, "core", true),
        "core/1",
        "`verbose` is not in the key"
    );
    assert_eq!(calls(&CALLS), 1);
    assert_eq!(memo::invalidate("keys_template:core:1").unwrap(), 1);
}

#[test]
fn a_raw_identifier_is_named_without_its_r_hash() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    // As in a format string, `{type}` names `r#type` (and `{r#type}` still does).
    #[cached(prefix = "keys_raw", key = "{type}:{r#match}")]
    fn kind(r#type: u8, r#match: &str, _unused: bool) -> String {
        CALLS.fetch_add(1, Ordering::SeqCst);
        format!("{type}/{match}")
    }

    #[memo::invalidates("keys_raw:{type}:*")]
    fn retype(r#type: u8) {
        let _ = r#type;
    }

    assert_eq!(kind(7, "a", false), "7/a");
    assert_eq!(kind(7, "a", true), "7/a", "`_unused` is not in the key");
    assert_eq!(calls(&CALLS), 1);
    retype(8);
    assert_eq!(kind(7, "a", false), "7/a", "another type's pattern left it");
    assert_eq!(calls(&CALLS), 1);
    retype(7);
    assert_eq!(kind(7, "a", false), "7/a");
    assert_eq!(
        calls(&CALLS),
        2,
        "`{{type}}` in the pattern was the argument"
    );
}

#[test]
fn functions_with_one_prefix_never_share_entries() {
    static A: AtomicUsize = AtomicUsize::new(0);
    static B: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "keys_shared")]
    fn first(id: u64) -> u64 {
        A.fetch_add(1, Ordering::SeqCst);
        id
    }

    #[cached(prefix = "keys_shared")]
    fn second(id: u64) -> u64 {
        B.fetch_add(1, Ordering::SeqCst);
        id + 1
    }

    assert_eq!(first(1), 1);
    assert_eq!(second(1), 2);
    assert_eq!(first(1), 1);
    assert_eq!(second(1), 2);
    assert_eq!((calls(&A), calls(&B)), (1, 1));
    // One pattern reaches both, as their keys render alike.
    assert_eq!(memo::invalidate("keys_shared:1").unwrap(), 2);
}

#[test]
fn keys_may_have_more_than_eight_parts() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "keys_wide")]
    #[allow(clippy::too_many_arguments, clippy::many_single_char_names)]
    fn wide(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: u8, i: u8, j: &str) -> String {
        CALLS.fetch_add(1, Ordering::SeqCst);
        format!("{a}{b}{c}{d}{e}{f}{g}{h}{i}{j}")
    }

    assert_eq!(wide(1, 2, 3, 4, 5, 6, 7, 8, 9, "x"), "123456789x");
    assert_eq!(wide(1, 2, 3, 4, 5, 6, 7, 8, 9, "x"), "123456789x");
    assert_eq!(wide(1, 2, 3, 4, 5, 6, 7, 8, 9, "y"), "123456789y");
    assert_eq!(calls(&CALLS), 2);
    assert_eq!(
        memo::invalidate("keys_wide:1:2:3:4:5:6:7:8:9:x").unwrap(),
        1
    );
}

#[test]
fn a_function_without_arguments_has_one_entry() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "keys_none")]
    fn settings() -> Vec<String> {
        CALLS.fetch_add(1, Ordering::SeqCst);
        vec!["a".into()]
    }

    settings();
    settings();
    assert_eq!(calls(&CALLS), 1);
    assert_eq!(memo::invalidate("keys_none").unwrap(), 1);
    settings();
    assert_eq!(calls(&CALLS), 2);
}

/// `clippy::pedantic` reports reading an `_x` binding; the key reads it, and that must not be
/// reported as the user's own use (the crate's clippy run denies warnings).
#[deny(clippy::used_underscore_binding)]
mod underscored {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use memo::{cached, invalidates};

    pub(super) static CALLS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "keys_underscored")]
    pub(super) fn load(id: u64, _request_id: u64) -> u64 {
        CALLS.fetch_add(1, Ordering::SeqCst);
        id * 2
    }

    #[invalidates("keys_underscored:{id}:{_request_id}")]
    pub(super) fn forget(id: u64, _request_id: u64) {
        let _ = id;
    }
}

#[test]
fn an_argument_named_with_an_underscore_is_part_of_the_key() {
    assert_eq!(underscored::load(1, 10), 2);
    assert_eq!(underscored::load(1, 11), 2);
    assert_eq!(calls(&underscored::CALLS), 2, "`_request_id` is in the key");
    assert_eq!(underscored::load(1, 10), 2);
    assert_eq!(calls(&underscored::CALLS), 2);
    underscored::forget(1, 10);
    assert_eq!(underscored::load(1, 10), 2);
    assert_eq!(calls(&underscored::CALLS), 3);
}
