//! The error types of memo, one enum per concern.
//!
//! Every enum is `#[non_exhaustive]` and its `Display` text is a lowercase sentence that says
//! what was wrong and how to fix it.

use std::fmt;

/// A pattern given to [`invalidate`](crate::invalidate), [`Pattern::new`](crate::Pattern::new)
/// or `#[invalidates]` does not follow the pattern grammar.
///
/// The grammar is the one of Redis `MATCH`: `*` matches any run of characters, `?` one
/// character, `[abc]`, `[a-z]` and `[^a]` a character class, and `\` escapes the next character.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatternError {
    /// The pattern is the empty string, which would match only an empty key.
    Empty,
    /// A `[` opens a character class that no `]` closes.
    UnclosedClass {
        /// Byte offset of the `[`.
        position: usize,
    },
    /// A character class with nothing in it, such as `[]` or `[^]`, which can match nothing.
    EmptyClass {
        /// Byte offset of the `[`.
        position: usize,
    },
    /// The pattern ends with a lone `\`, which escapes nothing.
    TrailingEscape {
        /// Byte offset of the `\`.
        position: usize,
    },
    /// The pattern is longer than memo accepts.
    TooLong {
        /// Length of the pattern in bytes.
        len: usize,
        /// The longest pattern accepted, in bytes.
        max: usize,
    },
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => {
                f.write_str("empty pattern: write the key to invalidate, or `*` to match every key")
            }
            Self::UnclosedClass { position } => write!(
                f,
                "unclosed character class: the `[` at byte {position} needs a closing `]` (write `\\[` for a literal `[`)"
            ),
            Self::EmptyClass { position } => write!(
                f,
                "empty character class at byte {position}: put at least one character between `[` and `]`"
            ),
            Self::TrailingEscape { position } => write!(
                f,
                "trailing escape: the `\\` at byte {position} escapes nothing (write `\\\\` for a literal backslash)"
            ),
            Self::TooLong { len, max } => write!(
                f,
                "pattern too long: {len} bytes, at most {max} are accepted"
            ),
        }
    }
}

impl std::error::Error for PatternError {}

/// A duration string such as `"250ms"`, `"5m"` or `"1h30m"` could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DurationError {
    /// The string is empty.
    Empty,
    /// A number is not followed by a unit (`ms`, `s`, `m`, `h` or `d`).
    MissingUnit {
        /// Byte offset where the unit was expected.
        position: usize,
    },
    /// A unit that memo does not know.
    UnknownUnit {
        /// The unit as written.
        unit: String,
    },
    /// A unit is not preceded by a number, or a character is neither a digit nor a unit.
    MissingNumber {
        /// Byte offset of the unexpected character.
        position: usize,
    },
    /// Units must go from the largest to the smallest, each at most once (`1h30m`, not `30m1h`).
    UnitOrder {
        /// The unit that came out of order or twice.
        unit: String,
    },
    /// The duration does not fit in a `u64` count of nanoseconds.
    Overflow,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str(
                "empty duration: write a number with a unit, such as \"30s\", \"5m\" or \"1h30m\"",
            ),
            Self::MissingUnit { position } => write!(
                f,
                "missing unit at byte {position}: follow each number with `ms`, `s`, `m`, `h` or `d`"
            ),
            Self::UnknownUnit { unit } => write!(
                f,
                "unknown unit `{unit}`: expected one of `ms`, `s`, `m`, `h`, `d`"
            ),
            Self::MissingNumber { position } => write!(
                f,
                "expected a number at byte {position}: write durations such as \"250ms\" or \"1h30m\""
            ),
            Self::UnitOrder { unit } => write!(
                f,
                "unit `{unit}` is repeated or out of order: write units from largest to smallest, each once (\"1h30m\")"
            ),
            Self::Overflow => f.write_str("duration too large: it must be shorter than 584 years"),
        }
    }
}

impl std::error::Error for DurationError {}

/// A cache type's configuration was rejected by [`CacheConfigBuilder::build`] or
/// [`configure`](crate::configure).
///
/// [`CacheConfigBuilder::build`]: crate::CacheConfigBuilder::build
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The capacity is zero; a cache type must be able to hold at least one entry.
    ZeroCapacity,
    /// The default TTL is zero, which would expire every entry at once.
    ZeroTtl,
    /// The cache type name is empty, longer than 128 bytes, or contains characters other than
    /// ASCII letters, digits, `_`, `-`, `.` and `:`.
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// The cache type was made with another clock, and a cache type's clock never changes
    /// (its entries' deadlines are times of that clock). A configuration without
    /// [`clock`](crate::CacheConfigBuilder::clock) asks for the system clock: to configure a
    /// cache type again, give it the clock it has.
    ClockInUse {
        /// The cache type's name.
        name: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroCapacity => f.write_str(
                "capacity must be at least 1: give the number of entries the cache type may hold",
            ),
            Self::ZeroTtl => f.write_str(
                "default ttl must be longer than zero: leave it unset for entries that never expire",
            ),
            Self::InvalidName { name } if name.len() > 128 => write!(
                f,
                "invalid cache type name {:?}... ({} bytes): a name has at most 128 bytes",
                name.chars().take(32).collect::<String>(),
                name.len()
            ),
            Self::InvalidName { name } => write!(
                f,
                "invalid cache type name {name:?}: use ASCII letters, digits, `_`, `-`, `.` or `:`"
            ),
            Self::ClockInUse { name } => write!(
                f,
                "cache type `{name}` was made with another clock, and its clock cannot change: configure it with the clock it has (a configuration without `.clock(..)` asks for the system clock)"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A call into a cache could not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallError {
    /// The computation of a key asked for the same key again (directly or through other cached
    /// functions on the same thread or task). Waiting would never end, so memo fails fast.
    Recursion {
        /// The rendered key, as stats and patterns show it.
        key: String,
    },
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Recursion { key } => write!(
                f,
                "recursive call on key `{key}`: computing this key calls the function again with the same key, which would wait for itself forever; make the recursion reach a different key"
            ),
        }
    }
}

impl std::error::Error for CallError {}
