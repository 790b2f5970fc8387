//! The escaping round trips: `memo::escape_pattern(text)` is a pattern matching `text` and
//! nothing else; a key rendered by `#[cached]` from arguments with `:`, `\` and pattern
//! characters is removed by `#[invalidates]` with the same arguments, and by its documented
//! rendering escaped for a pattern, and by nothing built from other arguments.

#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use memo_fuzz::reference;

static RUNS: AtomicU64 = AtomicU64::new(0);

#[memo::cached(prefix = "fz")]
fn pair(a: &str, b: &str) -> usize {
    RUNS.fetch_add(1, Ordering::Relaxed);
    a.len() + b.len()
}

#[memo::invalidates("fz:{a}:{b}")]
fn drop_pair(a: &str, b: &str) {
    let _ = (a, b);
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (a, rest) = text.split_once('\u{0}').unwrap_or((&text, ""));
    let (b, other) = rest.split_once('\u{0}').unwrap_or((rest, ""));

    // escape_pattern: matches itself only.
    let escaped = memo::escape_pattern_to_string(&text);
    match memo::Pattern::new(&escaped) {
        Ok(p) => {
            assert!(p.matches(&text));
            assert_eq!(p.exact(), Some(&*text));
            assert_eq!(p.matches(other), other == text);
        }
        Err(_) => assert!(text.is_empty() || escaped.len() > memo::Pattern::MAX_LEN),
    }

    // Rendered keys: (a, b) and a look-alike (a + ":" + b's head, b's tail) stay apart.
    memo::invalidate("fz:*").unwrap();
    let (c, d) = match b.char_indices().nth(1) {
        Some((i, _)) => (format!("{a}:{}", &b[..i]), b[i..].to_owned()),
        None => (format!("{a}:"), b.to_owned()),
    };
    let start = RUNS.load(Ordering::Relaxed);
    pair(a, b);
    pair(&c, &d);
    let distinct = (a, b) != (c.as_str(), d.as_str());
    drop_pair(a, b);
    pair(a, b);
    pair(&c, &d);
    assert_eq!(
        RUNS.load(Ordering::Relaxed) - start,
        if distinct { 3 } else { 2 },
        "{a:?}/{b:?} against {c:?}/{d:?}"
    );
    // The documented rendering rule, escaped: exactly one entry.
    let rendered = format!("fz:{}:{}", reference::key_part(a), reference::key_part(b));
    let pattern = memo::escape_pattern_to_string(&rendered);
    if pattern.len() <= memo::Pattern::MAX_LEN {
        assert_eq!(memo::invalidate(&pattern), Ok(1), "{rendered:?}");
    }
});
