//! The one pattern grammar of memo, with the meaning of Redis `MATCH`.
//!
//! Patterns select rendered keys such as `user:42` or `product:abc:7`. The same grammar is used
//! by `#[invalidates]`, by the runtime's invalidation API and (later) by the remote tier:
//!
//! | Pattern   | Matches                                                              |
//! |-----------|----------------------------------------------------------------------|
//! | `*`       | any run of characters, including the empty run and including `:`    |
//! | `?`       | exactly one character (a Unicode scalar value, not a byte)           |
//! | `[abc]`   | one of the listed characters                                         |
//! | `[^abc]`  | one character that is not listed (`^` only; `[!a]` lists `!` and `a`) |
//! | `[a-z]`   | one character in the range; a reversed range `[z-a]` means `[a-z]`   |
//! | `\x`      | the character `x` itself, outside and inside classes                 |
//! | other     | the character itself (`]`, `^` and `-` outside a class included)     |
//!
//! A pattern matches a key only if it matches the whole key. Inside a class, as in Redis, the
//! ends of a range are taken as written: `[a-]]` is the range from `a` to `]`, and `\` does not
//! escape the end of a range. Write `\-` (or put `-` first) for a literal `-`, and `\]` for a
//! literal `]`.
//!
//! Unlike Redis, memo rejects patterns that Redis would read in a surprising way: an empty
//! pattern, a `[` that no `]` closes, an empty class (`[]`, `[^]`), a trailing lone `\`, and
//! patterns longer than [`Pattern::MAX_LEN`] bytes. Matching never recurses and costs at most
//! O(pattern length × key length), whatever the pattern.

use std::fmt;
use std::str::{CharIndices, FromStr};

use crate::error::PatternError;

/// A compiled key pattern (Redis `MATCH` grammar).
///
/// Build one with [`Pattern::new`] (or [`str::parse`]); test keys with [`Pattern::matches`].
/// Two patterns are equal when their source texts are equal.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pattern {
    /// The pattern as written.
    source: Box<str>,
    /// The compiled pattern, consecutive stars merged.
    tokens: Box<[Token]>,
    /// The unescaped literal text of the leading [`Token::Literal`]s.
    prefix: Box<str>,
    /// How many leading tokens `prefix` stands for.
    prefix_tokens: usize,
}

/// One step of a compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Token {
    /// Exactly this character.
    Literal(char),
    /// Any one character (`?`).
    Any,
    /// Any run of characters (`*`).
    Star,
    /// One character that is (or, when negated, is not) in one of the items.
    Class {
        negated: bool,
        items: Box<[ClassItem]>,
    },
}

/// One member of a character class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ClassItem {
    /// This character.
    Char(char),
    /// Every character from the first to the second, both included (`first <= second`).
    Range(char, char),
}

/// How the keys that start with a given prefix relate to a pattern; see
/// [`Pattern::match_prefix`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrefixMatch {
    /// No key that starts with the prefix matches the pattern.
    None,
    /// Some keys that start with the prefix may match the pattern, others not.
    Some,
    /// Every key that starts with the prefix (the prefix itself included) matches the pattern.
    All,
}

impl Pattern {
    /// The longest pattern accepted, in bytes.
    pub const MAX_LEN: usize = 4096;

    /// Compiles `text` into a pattern.
    ///
    /// # Errors
    ///
    /// Returns a [`PatternError`] when `text` is empty, has a `[` that no `]` closes, has an
    /// empty class (`[]` or `[^]`), ends with a lone `\`, or is longer than
    /// [`Pattern::MAX_LEN`] bytes. Positions in the error are byte offsets into `text`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use memo_runtime as memo;
    /// use memo::Pattern;
    ///
    /// let pattern = Pattern::new("user:4?")?;
    /// assert!(pattern.matches("user:42"));
    /// assert!(!pattern.matches("user:420"));
    ///
    /// let tagged = Pattern::new("product:[a-c]*")?;
    /// assert!(tagged.matches("product:b:7"));
    /// assert!(!tagged.matches("product:d:7"));
    ///
    /// assert!(Pattern::new("user:[0-9").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(text: &str) -> Result<Pattern, PatternError> {
        if text.len() > Self::MAX_LEN {
            return Err(PatternError::TooLong {
                len: text.len(),
                max: Self::MAX_LEN,
            });
        }
        Self::new_unbounded(text)
    }

    /// [`Pattern::new`] without the length limit, for patterns memo builds itself from a
    /// checked literal and escaped arguments (`#[invalidates]`), whose length follows the keys'.
    pub(crate) fn new_unbounded(text: &str) -> Result<Pattern, PatternError> {
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        let tokens = compile(text)?;
        let prefix: String = tokens
            .iter()
            .map_while(|token| match token {
                Token::Literal(c) => Some(*c),
                _ => None,
            })
            .collect();
        let prefix_tokens = prefix.chars().count();
        Ok(Pattern {
            source: text.into(),
            tokens: tokens.into_boxed_slice(),
            prefix: prefix.into_boxed_str(),
            prefix_tokens,
        })
    }

    /// The pattern as it was written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches the whole of `key`.
    ///
    /// Runs in O(pattern length × key length) at worst, without recursion.
    #[must_use]
    pub fn matches(&self, key: &str) -> bool {
        key.strip_prefix(&*self.prefix)
            .is_some_and(|rest| match_tokens(&self.tokens[self.prefix_tokens..], rest))
    }

    /// The one key this pattern matches, when it has no `*`, `?` or class.
    ///
    /// Escapes are resolved: the pattern `a\*b` gives `Some("a*b")`. Costs nothing; the key is
    /// computed when the pattern is compiled.
    #[must_use]
    pub fn exact(&self) -> Option<&str> {
        (self.prefix_tokens == self.tokens.len()).then_some(&*self.prefix)
    }

    /// The literal text every matching key starts with: the pattern up to its first `*`, `?`
    /// or class, escapes resolved. The whole key for an [`exact`](Pattern::exact) pattern; empty
    /// when the pattern starts with a wildcard.
    #[must_use]
    pub fn literal_prefix(&self) -> &str {
        &self.prefix
    }

    /// Tells whether the keys that start with `prefix` match the pattern: none, all, or maybe
    /// some.
    ///
    /// [`PrefixMatch::None`] and [`PrefixMatch::All`] are exact: `None` is answered only when no
    /// key starting with `prefix` matches, and `All` only when every such key (`prefix` itself
    /// included) matches. [`PrefixMatch::Some`] means some may match; for rare patterns (such as
    /// a class that lists every character) it is answered where a finer analysis would say
    /// `All` or `None`. For literal patterns and for a literal followed by `*` the answer is
    /// always the precise one.
    ///
    /// To ask about the keys of a store whose keys are `user:…`, pass `"user:"` with its `:`:
    /// the keys starting with `user` include `username`, which `user:*` does not match.
    ///
    /// # Examples
    ///
    /// ```
    /// # use memo_runtime as memo;
    /// use memo::{Pattern, PrefixMatch};
    ///
    /// assert_eq!(Pattern::new("user:*")?.match_prefix("user:"), PrefixMatch::All);
    /// assert_eq!(Pattern::new("product:*")?.match_prefix("user:"), PrefixMatch::None);
    /// assert_eq!(Pattern::new("user:4*")?.match_prefix("user:"), PrefixMatch::Some);
    /// assert_eq!(Pattern::new("*")?.match_prefix("anything"), PrefixMatch::All);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn match_prefix(&self, prefix: &str) -> PrefixMatch {
        // The leading literals are compared as text: either `prefix` ends inside them (then the
        // keys that continue them match, or may match), or it must start with all of them.
        let Some(rest) = prefix.strip_prefix(&*self.prefix) else {
            return if self.prefix.starts_with(prefix) {
                PrefixMatch::Some
            } else {
                PrefixMatch::None
            };
        };
        let tokens = &self.tokens[self.prefix_tokens..];
        if tokens == [Token::Star] {
            return PrefixMatch::All;
        }
        // Simulate the pattern as a set of positions (the next token to match) over `rest`.
        let mut current = vec![false; tokens.len() + 1];
        let mut next = vec![false; tokens.len() + 1];
        current[0] = true;
        close_over_stars(tokens, &mut current);
        for c in rest.chars() {
            next.fill(false);
            for (position, token) in tokens.iter().enumerate() {
                if !current[position] {
                    continue;
                }
                match token {
                    Token::Star => next[position] = true,
                    token if token.matches_char(c) => next[position + 1] = true,
                    _ => {}
                }
            }
            close_over_stars(tokens, &mut next);
            std::mem::swap(&mut current, &mut next);
            if !current.contains(&true) {
                return PrefixMatch::None;
            }
        }
        // Stars are merged, so only a final star can leave "only stars" to match.
        match tokens.len().checked_sub(1) {
            Some(last) if tokens[last] == Token::Star && current[last] => PrefixMatch::All,
            _ => PrefixMatch::Some,
        }
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Pattern::new(text)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Appends `text` to `out` with every `*`, `?`, `[`, `]` and `\` preceded by `\`, so that the
/// result is a pattern that matches `text` and nothing else.
///
/// Use it to build a pattern from a piece of a key that may contain pattern characters, such as
/// a user-supplied name.
///
/// # Examples
///
/// ```
/// # use memo_runtime as memo;
/// use memo::{escape_pattern, Pattern};
///
/// let mut text = String::from("report:");
/// escape_pattern("Q3 [draft]*", &mut text);
/// assert_eq!(text, r"report:Q3 \[draft\]\*");
///
/// let pattern = Pattern::new(&text)?;
/// assert!(pattern.matches("report:Q3 [draft]*"));
/// assert!(!pattern.matches("report:Q3 d*"));
/// assert_eq!(pattern.exact(), Some("report:Q3 [draft]*"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn escape(text: &str, out: &mut String) {
    out.reserve(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Returns `text` escaped as by [`escape`]: a pattern that matches `text` and nothing else
/// (once non-empty; an empty `text` gives the empty string, which is not a valid pattern).
#[must_use]
pub fn escape_to_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape(text, &mut out);
    out
}

/// Compiles a non-empty pattern into tokens, merging consecutive stars.
fn compile(text: &str) -> Result<Vec<Token>, PatternError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices();
    while let Some((position, c)) = chars.next() {
        let token = match c {
            '*' if tokens.last() == Some(&Token::Star) => continue,
            '*' => Token::Star,
            '?' => Token::Any,
            '\\' => match chars.next() {
                Some((_, escaped)) => Token::Literal(escaped),
                None => return Err(PatternError::TrailingEscape { position }),
            },
            '[' => compile_class(position, &mut chars)?,
            _ => Token::Literal(c),
        };
        tokens.push(token);
    }
    Ok(tokens)
}

/// Compiles the class whose `[` is at byte `open`; `chars` is just past the `[` and is left
/// just past the closing `]`.
///
/// Follows Redis: `^` right after `[` negates, `\x` is `x`, `a-b` is a range whatever `b` is
/// (even `]` or `\`), and the first unescaped `]` closes the class.
fn compile_class(open: usize, chars: &mut CharIndices<'_>) -> Result<Token, PatternError> {
    let unclosed = PatternError::UnclosedClass { position: open };
    let mut ahead = chars.clone();
    let negated = matches!(ahead.next(), Some((_, '^')));
    if negated {
        *chars = ahead;
    }
    let mut items = Vec::new();
    loop {
        let Some((_, c)) = chars.next() else {
            return Err(unclosed);
        };
        let item = match c {
            ']' => break,
            '\\' => match chars.next() {
                Some((_, escaped)) => ClassItem::Char(escaped),
                None => return Err(unclosed),
            },
            _ => {
                let mut ahead = chars.clone();
                match (ahead.next(), ahead.next()) {
                    (Some((_, '-')), Some((_, end))) => {
                        *chars = ahead;
                        ClassItem::Range(c.min(end), c.max(end))
                    }
                    _ => ClassItem::Char(c),
                }
            }
        };
        items.push(item);
    }
    if items.is_empty() {
        return Err(PatternError::EmptyClass { position: open });
    }
    Ok(Token::Class {
        negated,
        items: items.into_boxed_slice(),
    })
}

impl Token {
    /// Whether this single-character token accepts `c` (never true for [`Token::Star`]).
    fn matches_char(&self, c: char) -> bool {
        match self {
            Token::Literal(literal) => *literal == c,
            Token::Any => true,
            Token::Star => false,
            Token::Class { negated, items } => {
                items.iter().any(|item| item.contains(c)) != *negated
            }
        }
    }
}

impl ClassItem {
    fn contains(self, c: char) -> bool {
        match self {
            ClassItem::Char(item) => item == c,
            ClassItem::Range(first, last) => (first..=last).contains(&c),
        }
    }
}

/// Whether `tokens` match the whole of `key`.
///
/// The classic wildcard algorithm with a single backtrack point: every token but `*` consumes
/// exactly one character, so when a mismatch happens only the most recent `*` needs to swallow
/// one more character; earlier stars never need to be revisited. O(tokens × chars) at worst.
fn match_tokens(tokens: &[Token], key: &str) -> bool {
    let mut token = 0;
    let mut at = 0;
    // (token after the most recent star, byte where the star's run currently ends)
    let mut backtrack: Option<(usize, usize)> = None;
    while let Some(c) = key[at..].chars().next() {
        match tokens.get(token) {
            Some(Token::Star) => {
                token += 1;
                if token == tokens.len() {
                    return true;
                }
                backtrack = Some((token, at));
                continue;
            }
            Some(single) if single.matches_char(c) => {
                token += 1;
                at += c.len_utf8();
                continue;
            }
            _ => {}
        }
        let Some((after_star, run_end)) = backtrack else {
            return false;
        };
        // `run_end <= at < key.len()`, so there is a character to swallow.
        let swallowed = key[run_end..].chars().next().map_or(1, char::len_utf8);
        token = after_star;
        at = run_end + swallowed;
        backtrack = Some((after_star, at));
    }
    tokens[token..].iter().all(|t| *t == Token::Star)
}

/// Adds to `states` every position reachable by letting a star match the empty run.
fn close_over_stars(tokens: &[Token], states: &mut [bool]) {
    for (position, token) in tokens.iter().enumerate() {
        if states[position] && *token == Token::Star {
            states[position + 1] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pattern(text: &str) -> Pattern {
        Pattern::new(text).unwrap_or_else(|e| panic!("{text:?} should compile: {e}"))
    }

    fn matches(text: &str, key: &str) -> bool {
        pattern(text).matches(key)
    }

    // ---- constructs ------------------------------------------------------------------------

    #[test]
    fn literal_matches_only_itself() {
        assert!(matches("user:42", "user:42"));
        assert!(!matches("user:42", "user:4"));
        assert!(!matches("user:42", "user:420"));
        assert!(!matches("user:42", "User:42"));
    }

    #[test]
    fn star_matches_colons() {
        assert!(matches("user:*", "user:42:profile"));
        assert!(matches("*:42", "team:user:42"));
        assert!(matches("a*b", "a:::b"));
    }

    #[test]
    fn star_matches_the_empty_run() {
        assert!(matches("user:*", "user:"));
        assert!(matches("a*b", "ab"));
        assert!(matches("*", ""));
        assert!(matches("**", ""));
        assert!(!matches("?*", ""));
    }

    #[test]
    fn star_needs_the_rest_to_match_at_the_end() {
        assert!(matches("*:7", "product:abc:7"));
        assert!(!matches("*:7", "product:abc:70"));
        assert!(matches("*a*b", "xaxxab"));
        assert!(!matches("*a*b", "xaxxa"));
    }

    #[test]
    fn consecutive_stars_are_merged() {
        assert_eq!(pattern("a***b").tokens, pattern("a*b").tokens);
        assert_eq!(pattern("***").tokens.len(), 1);
        // An escaped star is not merged with a real one.
        assert_eq!(pattern(r"\**").tokens.len(), 2);
    }

    #[test]
    fn question_mark_matches_one_char_not_one_byte() {
        assert!(matches("caf?", "café"));
        assert!(!matches("caf??", "café"));
        assert!(matches("?", "€"));
        assert!(!matches("?", ""));
        assert!(!matches("?", "ab"));
    }

    #[test]
    fn class_matches_one_listed_char() {
        assert!(matches("user:[123]", "user:2"));
        assert!(!matches("user:[123]", "user:4"));
        assert!(!matches("user:[123]", "user:12"));
        assert!(matches("[é]", "é"));
    }

    #[test]
    fn negated_class_matches_one_unlisted_char() {
        assert!(matches("[^a]", "b"));
        assert!(!matches("[^a]", "a"));
        assert!(!matches("[^a]", ""));
        assert!(matches("[^a]", "é"));
        assert!(!matches("[^a-c]", "b"));
    }

    #[test]
    fn bang_does_not_negate_like_redis() {
        assert!(matches("[!a]", "!"));
        assert!(matches("[!a]", "a"));
        assert!(!matches("[!a]", "b"));
    }

    #[test]
    fn caret_after_the_start_of_a_class_is_literal() {
        assert!(matches("[a^]", "^"));
        assert!(matches("[^^]", "a"));
        assert!(!matches("[^^]", "^"));
        assert!(matches("^a", "^a"));
    }

    #[test]
    fn range_matches_inclusive_ends() {
        assert!(matches("[a-c]", "a"));
        assert!(matches("[a-c]", "b"));
        assert!(matches("[a-c]", "c"));
        assert!(!matches("[a-c]", "d"));
        assert!(matches("[0-9a-f]", "e"));
    }

    #[test]
    fn reversed_range_matches_as_if_swapped() {
        assert!(matches("[z-a]", "m"));
        assert!(matches("[9-0]", "0"));
        assert!(!matches("[z-a]", "A"));
    }

    #[test]
    fn dash_at_the_start_of_a_class_is_literal() {
        assert!(matches("[-a]", "-"));
        assert!(matches("[^-a]", "b"));
        assert!(!matches("[^-a]", "-"));
        assert!(
            matches("[a-c-]", "-"),
            "a dash right after a range is literal"
        );
        assert!(matches("[a-c-]", "b"));
    }

    #[test]
    fn dash_before_the_closing_bracket_ranges_up_to_it_like_redis() {
        // `[a-]]` is the range `]`..=`a`, closed by the second `]`.
        assert!(matches("[a-]]", "_"));
        assert!(matches("[a-]]", "]"));
        assert!(!matches("[a-]]", "-"));
        assert_eq!(
            Pattern::new("[a-]"),
            Err(PatternError::UnclosedClass { position: 0 })
        );
        assert!(matches(r"[a\-]", "-"));
    }

    #[test]
    fn escape_outside_class_is_literal() {
        assert!(matches(r"a\*b", "a*b"));
        assert!(!matches(r"a\*b", "axb"));
        assert!(matches(r"\?", "?"));
        assert!(!matches(r"\?", "x"));
        assert!(matches(r"\[a]", "[a]"));
        assert!(matches(r"\\", "\\"));
        assert!(matches(r"\a", "a"));
    }

    #[test]
    fn escape_inside_class_is_literal() {
        assert!(matches(r"[\]]", "]"));
        assert!(matches(r"[\^a]", "^"));
        assert!(matches(r"[\\]", "\\"));
        assert!(matches(r"[^\]]", "a"));
        assert!(!matches(r"[^\]]", "]"));
    }

    #[test]
    fn closing_bracket_outside_a_class_is_literal() {
        assert!(matches("a]", "a]"));
        assert!(matches("]", "]"));
    }

    #[test]
    fn matching_is_of_the_whole_key() {
        assert!(!matches("user", "user:1"));
        assert!(!matches("ser:1", "user:1"));
        assert!(!matches("user:?", "user:12"));
    }

    // ---- errors ----------------------------------------------------------------------------

    #[test]
    fn empty_pattern_is_an_error() {
        assert_eq!(Pattern::new(""), Err(PatternError::Empty));
    }

    #[test]
    fn unclosed_class_is_an_error() {
        let unclosed = |position| Err(PatternError::UnclosedClass { position });
        assert_eq!(Pattern::new("["), unclosed(0));
        assert_eq!(Pattern::new("user:[0-9"), unclosed(5));
        assert_eq!(Pattern::new("[^"), unclosed(0));
        assert_eq!(Pattern::new(r"[\]"), unclosed(0));
        assert_eq!(Pattern::new(r"[a\"), unclosed(0));
        assert_eq!(Pattern::new("é[ab"), unclosed(2), "positions are bytes");
        assert_eq!(Pattern::new("[a]b[c"), unclosed(4));
    }

    #[test]
    fn empty_class_is_an_error() {
        let empty = |position| Err(PatternError::EmptyClass { position });
        assert_eq!(Pattern::new("[]"), empty(0));
        assert_eq!(Pattern::new("[^]"), empty(0));
        assert_eq!(Pattern::new("user:[]x]"), empty(5));
        assert_eq!(Pattern::new("€[]"), empty(3));
    }

    #[test]
    fn trailing_escape_is_an_error() {
        assert_eq!(
            Pattern::new("\\"),
            Err(PatternError::TrailingEscape { position: 0 })
        );
        assert_eq!(
            Pattern::new("user:\\"),
            Err(PatternError::TrailingEscape { position: 5 })
        );
        assert_eq!(
            Pattern::new("é*\\"),
            Err(PatternError::TrailingEscape { position: 3 })
        );
        // An escaped backslash at the end is fine.
        assert!(matches("a\\\\", "a\\"));
    }

    #[test]
    fn too_long_pattern_is_an_error() {
        let longest = "a".repeat(Pattern::MAX_LEN);
        assert!(Pattern::new(&longest).is_ok());
        let too_long = "a".repeat(Pattern::MAX_LEN + 1);
        assert_eq!(
            Pattern::new(&too_long),
            Err(PatternError::TooLong {
                len: Pattern::MAX_LEN + 1,
                max: Pattern::MAX_LEN
            })
        );
    }

    #[test]
    fn errors_say_how_to_fix() {
        let message = Pattern::new("user:[0-9").unwrap_err().to_string();
        assert!(message.contains("byte 5"), "{message}");
    }

    // ---- accessors -------------------------------------------------------------------------

    #[test]
    fn exact_resolves_escapes() {
        assert_eq!(pattern("user:42").exact(), Some("user:42"));
        assert_eq!(pattern(r"a\*b\\").exact(), Some("a*b\\"));
        assert_eq!(pattern("user:*").exact(), None);
        assert_eq!(pattern("user:?").exact(), None);
        assert_eq!(pattern("user:[1]").exact(), None);
    }

    #[test]
    fn literal_prefix_stops_at_the_first_wildcard() {
        assert_eq!(pattern("user:4*").literal_prefix(), "user:4");
        assert_eq!(pattern(r"a\?b?c").literal_prefix(), "a?b");
        assert_eq!(pattern("ab[cd]e").literal_prefix(), "ab");
        assert_eq!(pattern("*user").literal_prefix(), "");
        assert_eq!(pattern("user:42").literal_prefix(), "user:42");
    }

    #[test]
    fn source_text_is_kept() {
        let p: Pattern = r"user:\*[a-c]*".parse().unwrap();
        assert_eq!(p.as_str(), r"user:\*[a-c]*");
        assert_eq!(p.to_string(), r"user:\*[a-c]*");
        assert_eq!(
            "[".parse::<Pattern>(),
            Err(PatternError::UnclosedClass { position: 0 })
        );
    }

    #[test]
    fn escape_escapes_only_pattern_characters() {
        assert_eq!(
            escape_to_string(r"a*b?c[d]e\f^g-h:é"),
            r"a\*b\?c\[d\]e\\f^g-h:é"
        );
        let mut out = String::from("x:");
        escape("*", &mut out);
        assert_eq!(out, r"x:\*");
        assert_eq!(escape_to_string(""), "");
    }

    // ---- match_prefix ----------------------------------------------------------------------

    #[test]
    fn match_prefix_of_literal_then_star_is_precise() {
        let p = pattern("user:*");
        assert_eq!(p.match_prefix("user:"), PrefixMatch::All);
        assert_eq!(p.match_prefix("user:4"), PrefixMatch::All);
        assert_eq!(p.match_prefix("user"), PrefixMatch::Some);
        assert_eq!(p.match_prefix(""), PrefixMatch::Some);
        assert_eq!(p.match_prefix("product:"), PrefixMatch::None);
        assert_eq!(p.match_prefix("users"), PrefixMatch::None);
    }

    #[test]
    fn match_prefix_of_a_literal_is_precise() {
        let p = pattern("user:42");
        assert_eq!(p.match_prefix("user:"), PrefixMatch::Some);
        assert_eq!(p.match_prefix("user:42"), PrefixMatch::Some);
        assert_eq!(p.match_prefix("user:421"), PrefixMatch::None);
        assert_eq!(p.match_prefix("user:5"), PrefixMatch::None);
        assert_eq!(p.match_prefix(""), PrefixMatch::Some);
    }

    #[test]
    fn match_prefix_of_a_lone_star_is_all() {
        assert_eq!(pattern("*").match_prefix(""), PrefixMatch::All);
        assert_eq!(
            pattern("*").match_prefix("anything:at:all"),
            PrefixMatch::All
        );
    }

    #[test]
    fn match_prefix_follows_wildcards() {
        assert_eq!(pattern("user:4*").match_prefix("user:"), PrefixMatch::Some);
        assert_eq!(pattern("*:42").match_prefix("user:"), PrefixMatch::Some);
        assert_eq!(pattern("*:*").match_prefix("user:"), PrefixMatch::All);
        assert_eq!(pattern("*:*").match_prefix("user"), PrefixMatch::Some);
        assert_eq!(pattern("?ser:*").match_prefix("user:"), PrefixMatch::All);
        assert_eq!(
            pattern("[tu]ser:*").match_prefix("user:1"),
            PrefixMatch::All
        );
        assert_eq!(
            pattern("[^u]ser:*").match_prefix("user:"),
            PrefixMatch::None
        );
        assert_eq!(pattern("u?").match_prefix("user"), PrefixMatch::None);
        assert_eq!(pattern("*a*").match_prefix("xxa"), PrefixMatch::All);
    }

    // ---- adversarial inputs ----------------------------------------------------------------

    #[test]
    fn many_stars_do_not_blow_up() {
        // Exponential for a naive recursive matcher; quadratic at worst here.
        let key = "a".repeat(5_000);
        assert!(!matches("*a*a*a*a*a*a*a*a*a*a*a*a*b", &key));
        assert!(matches("*a*a*a*a*a*a*a*a*a*a*a*a", &key));
        let long = "*a".repeat(Pattern::MAX_LEN / 2);
        assert!(!matches(&long, &"b".repeat(2_000)));
        assert!(matches(&long, &"a".repeat(2_048)));
    }

    #[test]
    fn deep_patterns_do_not_overflow_the_stack() {
        let classes = "[a]".repeat(Pattern::MAX_LEN / 3);
        let p = pattern(&classes);
        assert!(p.matches(&"a".repeat(Pattern::MAX_LEN / 3)));
        assert_eq!(p.match_prefix(&"a".repeat(100)), PrefixMatch::Some);
    }

    // ---- reference implementation ----------------------------------------------------------

    /// A straightforward port of Redis's `stringmatchlen` (`src/util.c`, case-sensitive), on
    /// chars instead of bytes, recursive, with Redis's `skipLongerMatches` shortcut (which keeps
    /// the meaning and keeps the tests fast) but without its nesting limit.
    ///
    /// One deliberate difference: Redis never enters its loop for an empty string, so it says
    /// that `*` does not match `""`; here, as in every glob, a pattern of stars matches `""`.
    fn redis_match(pattern: &str, key: &str) -> bool {
        let pattern: Vec<char> = pattern.chars().collect();
        let key: Vec<char> = key.chars().collect();
        if key.is_empty() {
            return pattern.iter().all(|c| *c == '*');
        }
        redis_match_impl(&pattern, &key, &mut false)
    }

    fn redis_match_impl(pattern: &[char], string: &[char], skip_longer: &mut bool) -> bool {
        let (mut p, mut s) = (0, 0);
        let at = |i: usize| pattern.get(i).copied().unwrap_or('\0');
        while p < pattern.len() && s < string.len() {
            match pattern[p] {
                '*' => {
                    while p < pattern.len() && at(p + 1) == '*' {
                        p += 1;
                    }
                    if pattern.len() - p == 1 {
                        return true;
                    }
                    while s < string.len() {
                        if redis_match_impl(&pattern[p + 1..], &string[s..], skip_longer) {
                            return true;
                        }
                        if *skip_longer {
                            return false;
                        }
                        s += 1;
                    }
                    *skip_longer = true;
                    return false;
                }
                '?' => s += 1,
                '[' => {
                    p += 1;
                    let not = at(p) == '^';
                    if not {
                        p += 1;
                    }
                    let mut matched = false;
                    loop {
                        if at(p) == '\\' && pattern.len() - p >= 2 {
                            p += 1;
                            if pattern[p] == string[s] {
                                matched = true;
                            }
                        } else if at(p) == ']' {
                            break;
                        } else if p == pattern.len() {
                            p -= 1;
                            break;
                        } else if pattern.len() - p >= 3 && pattern[p + 1] == '-' {
                            let (mut start, mut end) = (pattern[p], pattern[p + 2]);
                            if start > end {
                                std::mem::swap(&mut start, &mut end);
                            }
                            p += 2;
                            if start <= string[s] && string[s] <= end {
                                matched = true;
                            }
                        } else if pattern[p] == string[s] {
                            matched = true;
                        }
                        p += 1;
                    }
                    if not {
                        matched = !matched;
                    }
                    if !matched {
                        return false;
                    }
                    s += 1;
                }
                c => {
                    let c = if c == '\\' && pattern.len() - p >= 2 {
                        p += 1;
                        pattern[p]
                    } else {
                        c
                    };
                    if c != string[s] {
                        return false;
                    }
                    s += 1;
                }
            }
            p += 1;
            if s == string.len() {
                while at(p) == '*' {
                    p += 1;
                }
                break;
            }
        }
        p >= pattern.len() && s == string.len()
    }

    #[test]
    fn reference_agrees_on_examples() {
        for (p, k, expected) in [
            ("user:*", "user:42", true),
            ("*a*b", "xaxxab", true),
            ("[a-]]", "_", true),
            ("[^a]", "a", false),
            ("caf?", "café", true),
            (r"a\*", "a*", true),
            ("*", "", true),
            ("a*", "a", true),
        ] {
            assert_eq!(redis_match(p, k), expected, "{p:?} on {k:?}");
            assert_eq!(matches(p, k), expected, "{p:?} on {k:?}");
        }
    }

    // ---- properties ------------------------------------------------------------------------

    /// Patterns drawn from the characters that matter to the grammar.
    fn raw_pattern() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                'a', 'b', ':', '*', '?', '[', ']', '^', '-', '\\', 'é', '!',
            ]),
            1..14,
        )
        .prop_map(String::from_iter)
    }

    /// Patterns built from well-formed pieces, so that most of them compile.
    fn piece_pattern() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "a", "b", ":", "é", "*", "**", "?", "[ab]", "[^a]", "[a-b]", "[b-a]", "[-a]",
                "[a-]]", r"[\]]", r"[\\a]", "[^^]", r"\*", r"\?", r"\[", r"\\", "]", "^", "-",
                "[é-ê]", "[:]", r"[\a-b]", r"[a-\]", r"[\--a]",
            ]),
            1..8,
        )
        .prop_map(|pieces| pieces.concat())
    }

    fn key() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                'a', 'b', ':', '[', ']', '\\', '-', '^', '*', '?', 'é', 'ê', '_',
            ]),
            0..12,
        )
        .prop_map(String::from_iter)
    }

    fn literal() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(vec!['a', 'b', ':', 'é']), 0..6)
            .prop_map(String::from_iter)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn raw_patterns_agree_with_redis(text in raw_pattern(), keys in prop::collection::vec(key(), 1..6)) {
            if let Ok(p) = Pattern::new(&text) {
                for key in &keys {
                    prop_assert_eq!(p.matches(key), redis_match(&text, key), "pattern {:?} key {:?}", text, key);
                }
            }
        }

        #[test]
        fn piece_patterns_agree_with_redis(text in piece_pattern(), keys in prop::collection::vec(key(), 1..6)) {
            let p = Pattern::new(&text);
            prop_assert!(p.is_ok(), "{:?} should compile: {:?}", text, p);
            let p = p.unwrap();
            for key in &keys {
                prop_assert_eq!(p.matches(key), redis_match(&text, key), "pattern {:?} key {:?}", text, key);
            }
        }

        #[test]
        fn matching_keys_start_with_the_literal_prefix(text in piece_pattern(), key in key()) {
            let p = Pattern::new(&text).unwrap();
            if p.matches(&key) {
                prop_assert!(key.starts_with(p.literal_prefix()));
            }
            if let Some(exact) = p.exact() {
                prop_assert_eq!(p.matches(&key), key == exact);
                prop_assert!(p.matches(exact));
            }
        }

        #[test]
        fn new_never_panics(text in any::<String>()) {
            let _ = Pattern::new(&text);
        }

        #[test]
        fn matching_never_panics_on_arbitrary_keys(text in raw_pattern(), key in any::<String>()) {
            if let Ok(p) = Pattern::new(&text) {
                let _ = p.matches(&key);
                let _ = p.match_prefix(&key);
            }
        }

        #[test]
        fn escape_round_trips(text in any::<String>(), other in key()) {
            let escaped = escape_to_string(&text);
            if text.is_empty() {
                prop_assert!(escaped.is_empty());
            } else if escaped.len() <= Pattern::MAX_LEN {
                let p = Pattern::new(&escaped);
                prop_assert!(p.is_ok(), "{:?}", p);
                let p = p.unwrap();
                prop_assert!(p.matches(&text));
                prop_assert_eq!(p.exact(), Some(text.as_str()));
                prop_assert_eq!(p.matches(&other), other == text);
            }
        }

        #[test]
        fn escape_round_trips_grammar_characters(text in key(), other in key()) {
            prop_assume!(!text.is_empty());
            let p = Pattern::new(&escape_to_string(&text)).unwrap();
            prop_assert!(p.matches(&text));
            prop_assert_eq!(p.exact(), Some(text.as_str()));
            prop_assert_eq!(p.matches(&other), other == text);
        }

        #[test]
        fn match_prefix_is_sound(
            text in prop_oneof![piece_pattern(), raw_pattern()],
            prefix in key(),
            suffixes in prop::collection::vec(key(), 1..8),
        ) {
            if let Ok(p) = Pattern::new(&text) {
                let answer = p.match_prefix(&prefix);
                for suffix in &suffixes {
                    let key = format!("{prefix}{suffix}");
                    match answer {
                        PrefixMatch::All => prop_assert!(p.matches(&key), "{:?} All for {:?} but not {:?}", text, prefix, key),
                        PrefixMatch::None => prop_assert!(!p.matches(&key), "{:?} None for {:?} but {:?}", text, prefix, key),
                        PrefixMatch::Some => {}
                    }
                }
                // The prefix itself is one of the keys that start with it.
                match answer {
                    PrefixMatch::All => prop_assert!(p.matches(&prefix)),
                    PrefixMatch::None => prop_assert!(!p.matches(&prefix)),
                    PrefixMatch::Some => {}
                }
            }
        }

        #[test]
        fn match_prefix_is_precise_for_literals(lit in literal(), prefix in literal()) {
            prop_assume!(!lit.is_empty());
            let exact = Pattern::new(&lit).unwrap();
            let expected = if lit.starts_with(&prefix) { PrefixMatch::Some } else { PrefixMatch::None };
            prop_assert_eq!(exact.match_prefix(&prefix), expected);

            let star = Pattern::new(&format!("{lit}*")).unwrap();
            let expected = if prefix.starts_with(&lit) {
                PrefixMatch::All
            } else if lit.starts_with(&prefix) {
                PrefixMatch::Some
            } else {
                PrefixMatch::None
            };
            prop_assert_eq!(star.match_prefix(&prefix), expected);
        }
    }
}
