//! An independent reference for memo's pattern grammar, shared by the fuzz targets and by
//! `tests/reliability_input.rs` (which includes this file with `#[path]`).
//!
//! `redis_match` is a straight port of Redis's `stringmatchlen` (`util.c`), working on Unicode
//! scalar values instead of bytes, as memo documents. `memo_accepts` states memo's documented
//! rejections (an empty pattern, one longer than 4,096 bytes, an unclosed `[`, an empty class
//! `[]`/`[^]`, a trailing lone `\`); on every pattern it accepts, memo must match exactly as
//! Redis does.

/// Why memo rejects a pattern, as a plain label (compared with `memo::PatternError`'s variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Empty,
    TooLong,
    UnclosedClass,
    EmptyClass,
    TrailingEscape,
}

/// The longest pattern memo accepts, in bytes.
pub const MAX_LEN: usize = 4096;

/// Whether memo accepts `pattern`, by its documented rules (the first problem found, scanning
/// left to right, is the one reported).
///
/// # Errors
///
/// The reason memo must reject the pattern.
pub fn memo_accepts(pattern: &str) -> Result<(), Rejection> {
    if pattern.is_empty() {
        return Err(Rejection::Empty);
    }
    if pattern.len() > MAX_LEN {
        return Err(Rejection::TooLong);
    }
    let p: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(Rejection::TrailingEscape);
                }
                i += 2;
            }
            '[' => {
                let mut j = i + 1;
                if p.get(j) == Some(&'^') {
                    j += 1;
                }
                let mut items = 0;
                loop {
                    match p.get(j) {
                        None => return Err(Rejection::UnclosedClass),
                        Some(']') => break,
                        Some('\\') => {
                            if j + 1 >= p.len() {
                                return Err(Rejection::UnclosedClass);
                            }
                            j += 2;
                        }
                        Some(_) if j + 2 < p.len() && p[j + 1] == '-' => j += 3,
                        Some(_) => j += 1,
                    }
                    items += 1;
                }
                if items == 0 {
                    return Err(Rejection::EmptyClass);
                }
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Redis `MATCH` semantics (`stringmatchlen`, case-sensitive) on characters.
///
/// A faithful port, including one corner: Redis's loop runs only while both the pattern and the
/// key are non-empty, so no pattern matches an empty key there (`KEYS *` and `SCAN MATCH *`
/// special-case `*` to match every key, the empty one included); memo lets a pattern of stars
/// match the empty key. Callers compare non-empty keys (rendered keys never are empty).
pub fn redis_match(pattern: &str, key: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = key.chars().collect();
    let mut skip_longer = false;
    stringmatch(&p, &s, &mut skip_longer)
}

fn stringmatch(mut p: &[char], mut s: &[char], skip_longer: &mut bool) -> bool {
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            '*' => {
                while p.len() > 1 && p[1] == '*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if stringmatch(&p[1..], s, skip_longer) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                *skip_longer = true;
                return false;
            }
            '?' => s = &s[1..],
            '[' => {
                let c = s[0];
                p = &p[1..];
                let negated = p.first() == Some(&'^');
                if negated {
                    p = &p[1..];
                }
                let mut found = false;
                loop {
                    if p.len() >= 2 && p[0] == '\\' {
                        p = &p[1..];
                        if p[0] == c {
                            found = true;
                        }
                    } else if p.first() == Some(&']') {
                        break;
                    } else if p.is_empty() {
                        // The end of the pattern closes the class (Redis steps back so that
                        // its outer loop ends there; handled just below).
                        break;
                    } else if p.len() >= 3 && p[1] == '-' {
                        let (lo, hi) = if p[0] <= p[2] {
                            (p[0], p[2])
                        } else {
                            (p[2], p[0])
                        };
                        p = &p[2..];
                        if lo <= c && c <= hi {
                            found = true;
                        }
                    } else if p[0] == c {
                        found = true;
                    }
                    p = &p[1..];
                }
                if found == negated {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // Unclosed class (memo rejects these patterns; kept for completeness).
                    return s.is_empty();
                }
            }
            c => {
                let literal = if c == '\\' && p.len() >= 2 {
                    p = &p[1..];
                    p[0]
                } else {
                    c
                };
                if s[0] != literal {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while p.first() == Some(&'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

/// How `#[cached]` writes one argument's text inside a rendered key: `\` and `:` escaped with
/// `\` (the documented rule that keeps the parts of a key apart).
pub fn key_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\\' || c == ':' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_follow_redis() {
        assert!(redis_match("user:*", "user:42"));
        assert!(redis_match("a?c", "abc"));
        assert!(!redis_match("a?c", "ac"));
        assert!(redis_match("[a-c]x", "bx"));
        assert!(redis_match("[c-a]x", "bx"));
        assert!(redis_match("[^a]x", "bx"));
        assert!(!redis_match("[^a]x", "ax"));
        assert!(redis_match(r"\*", "*"));
        assert!(!redis_match(r"\*", "a"));
        assert!(redis_match("[a-]]", "]"));
        assert!(redis_match("[-a]", "-"));
        assert!(redis_match("é?", "éé"));
        assert_eq!(memo_accepts("[a"), Err(Rejection::UnclosedClass));
        assert_eq!(memo_accepts("[]"), Err(Rejection::EmptyClass));
        assert_eq!(memo_accepts("[^]"), Err(Rejection::EmptyClass));
        assert_eq!(memo_accepts("a\\"), Err(Rejection::TrailingEscape));
        assert_eq!(memo_accepts(""), Err(Rejection::Empty));
        assert_eq!(memo_accepts("[\\]]"), Ok(()));
    }
}
