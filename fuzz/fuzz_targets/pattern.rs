//! The pattern parser and matcher against the reference: any bytes, read as a pattern and
//! keys, never panic; memo accepts exactly the patterns the documented grammar accepts; on an
//! accepted pattern it matches every (non-empty) key as Redis `MATCH` does; `memo::invalidate`
//! agrees with `Pattern::new` and removes exactly the manual entries the reference matches.

#![no_main]

use libfuzzer_sys::fuzz_target;
use memo_fuzz::reference;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // The first line is the pattern; the other lines are keys.
    let mut lines = text.split('\n');
    let pattern = lines.next().unwrap_or_default();
    let keys: Vec<&str> = lines.filter(|k| !k.is_empty()).take(16).collect();

    let compiled = memo::Pattern::new(pattern);
    assert_eq!(
        compiled.is_ok(),
        reference::memo_accepts(pattern).is_ok(),
        "accepted or rejected against the grammar: {pattern:?} ({compiled:?})"
    );
    let Ok(compiled) = compiled else {
        assert!(memo::invalidate(pattern).is_err());
        return;
    };
    for key in &keys {
        assert_eq!(
            compiled.matches(key),
            reference::redis_match(pattern, key),
            "{pattern:?} on {key:?}"
        );
        let _ = compiled.match_prefix(key);
    }
    // Through the registry, on manual entries of a cache type of the fuzzer's own.
    let cache = memo::cache("fuzz").expect("a valid name");
    cache.clear();
    let mut distinct = keys.clone();
    distinct.sort_unstable();
    distinct.dedup();
    for key in &distinct {
        cache.insert(key, 0_u8);
    }
    let expected = distinct
        .iter()
        .filter(|k| reference::redis_match(pattern, k))
        .count();
    assert_eq!(
        memo::invalidate(pattern),
        Ok(expected),
        "{pattern:?} on {distinct:?}"
    );
});
