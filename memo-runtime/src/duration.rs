//! Duration strings such as `"250ms"`, `"30s"`, `"5m"` and `"1h30m"`.
//!
//! The syntax is one or more segments, each a whole number followed by a unit, from the largest
//! unit to the smallest and each unit at most once:
//!
//! | Unit | Meaning      |
//! |------|--------------|
//! | `d`  | days (24 h)  |
//! | `h`  | hours        |
//! | `m`  | minutes      |
//! | `s`  | seconds      |
//! | `ms` | milliseconds |
//!
//! It is strict on purpose: no whitespace, no sign, no decimals (`1.5h` is written `1h30m`).
//! [`format_duration`] writes the same syntax back.

use std::fmt::Write as _;
use std::time::Duration;

use crate::error::DurationError;

/// The units, from the largest to the smallest, with their length in nanoseconds.
const UNITS: [(&str, u64); 5] = [
    ("d", 86_400 * NANOS_PER_SEC),
    ("h", 3_600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
];

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Reads a duration such as `"250ms"`, `"30s"`, `"5m"`, `"1h30m"` or `"1d2h3m4s5ms"`.
///
/// Each segment is a whole number followed by one of the units `d`, `h`, `m`, `s`, `ms`; units
/// go from the largest to the smallest, each at most once. `"0s"` is [`Duration::ZERO`]: callers
/// that need a positive duration check for it themselves.
///
/// # Errors
///
/// Returns a [`DurationError`] when `text` is empty, contains anything but digits and units
/// (whitespace, a sign, a decimal point), has a number without a unit or a unit without a
/// number, uses an unknown unit (`ns` and `us` included), repeats a unit or puts a smaller unit
/// before a larger one, or is 2<sup>64</sup> nanoseconds (about 584 years) or more. Positions in
/// the error are byte offsets into `text`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// # use memo_runtime as memo;
/// use memo::parse_duration;
///
/// assert_eq!(parse_duration("250ms")?, Duration::from_millis(250));
/// assert_eq!(parse_duration("1h30m")?, Duration::from_secs(5_400));
/// assert_eq!(parse_duration("1d2h3m4s5ms")?, Duration::from_millis(93_784_005));
///
/// assert!(parse_duration("5").is_err()); // no unit
/// assert!(parse_duration("30m1h").is_err()); // units out of order
/// assert!(parse_duration("1.5h").is_err()); // no decimals
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut total: u64 = 0;
    // Index in `UNITS` of the largest unit still allowed.
    let mut next_unit = 0;
    let mut position = 0;
    while position < text.len() {
        let rest = &text[position..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(DurationError::MissingNumber { position });
        }
        let unit_start = position + digits;
        let unit_len: usize = text[unit_start..]
            .chars()
            .take_while(|c| c.is_alphabetic())
            .map(char::len_utf8)
            .sum();
        if unit_len == 0 {
            return Err(DurationError::MissingUnit {
                position: unit_start,
            });
        }
        let unit = &text[unit_start..unit_start + unit_len];
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(DurationError::UnknownUnit {
                unit: unit.to_owned(),
            });
        };
        if index < next_unit {
            return Err(DurationError::UnitOrder {
                unit: unit.to_owned(),
            });
        }
        next_unit = index + 1;
        // Only ASCII digits, at least one: parsing fails only when the number is too large.
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| DurationError::Overflow)?;
        total = number
            .checked_mul(UNITS[index].1)
            .and_then(|nanos| total.checked_add(nanos))
            .ok_or(DurationError::Overflow)?;
        position = unit_start + unit_len;
    }
    Ok(Duration::from_nanos(total))
}

/// Writes `duration` in the syntax [`parse_duration`] reads, largest unit first, leaving out
/// zero segments: 5,400 s is `"1h30m"`, 250 ms is `"250ms"`, zero is `"0s"`.
///
/// A remainder under a millisecond is written last with the unit `ns` (`"1s500ns"`), so that
/// nothing is hidden; [`parse_duration`] does not accept `ns`, so only durations that are whole
/// milliseconds (every duration `parse_duration` returns) read back unchanged.
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    if duration.is_zero() {
        return "0s".to_owned();
    }
    let secs = duration.as_secs();
    let nanos = duration.subsec_nanos();
    let segments = [
        (secs / 86_400, "d"),
        (secs / 3_600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
        (u64::from(nanos / 1_000_000), "ms"),
        (u64::from(nanos % 1_000_000), "ns"),
    ];
    let mut out = String::new();
    for (count, unit) in segments {
        if count != 0 {
            // Writing to a `String` cannot fail.
            let _ = write!(out, "{count}{unit}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn single_units_parse() {
        assert_eq!(parse_duration("250ms"), Ok(ms(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7_200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
    }

    #[test]
    fn segments_add_up() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("1d2h3m4s5ms"), Ok(ms(93_784_005)));
        assert_eq!(parse_duration("1m500ms"), Ok(ms(60_500)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5_400)));
    }

    #[test]
    fn zero_parses_to_zero() {
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0h0ms"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("007s"), Ok(Duration::from_secs(7)));
    }

    #[test]
    fn empty_is_an_error() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
    }

    #[test]
    fn number_without_unit_is_an_error() {
        assert_eq!(
            parse_duration("5"),
            Err(DurationError::MissingUnit { position: 1 })
        );
        assert_eq!(
            parse_duration("1h30"),
            Err(DurationError::MissingUnit { position: 4 })
        );
        assert_eq!(
            parse_duration("1.5h"),
            Err(DurationError::MissingUnit { position: 1 })
        );
        assert_eq!(
            parse_duration("5 s"),
            Err(DurationError::MissingUnit { position: 1 })
        );
    }

    #[test]
    fn unit_without_number_is_an_error() {
        assert_eq!(
            parse_duration("ms"),
            Err(DurationError::MissingNumber { position: 0 })
        );
        assert_eq!(
            parse_duration("1hm"),
            Err(DurationError::UnknownUnit {
                unit: "hm".to_owned()
            }),
            "letters run together are read as one unit"
        );
        assert_eq!(
            parse_duration("1h.5m"),
            Err(DurationError::MissingNumber { position: 2 })
        );
    }

    #[test]
    fn whitespace_and_signs_are_errors() {
        for (text, position) in [
            (" 5s", 0),
            ("5s ", 2),
            ("-5s", 0),
            ("+5s", 0),
            ("1h 30m", 2),
        ] {
            assert_eq!(
                parse_duration(text),
                Err(DurationError::MissingNumber { position }),
                "{text:?}"
            );
        }
    }

    #[test]
    fn unknown_unit_is_an_error() {
        let unknown = |unit: &str| {
            Err(DurationError::UnknownUnit {
                unit: unit.to_owned(),
            })
        };
        assert_eq!(parse_duration("5x"), unknown("x"));
        assert_eq!(parse_duration("5sec"), unknown("sec"));
        assert_eq!(parse_duration("5ns"), unknown("ns"));
        assert_eq!(parse_duration("5µs"), unknown("µs"));
        assert_eq!(parse_duration("5H"), unknown("H"));
    }

    #[test]
    fn units_out_of_order_or_repeated_are_errors() {
        let order = |unit: &str| {
            Err(DurationError::UnitOrder {
                unit: unit.to_owned(),
            })
        };
        assert_eq!(parse_duration("30m1h"), order("h"));
        assert_eq!(parse_duration("1s1s"), order("s"));
        assert_eq!(parse_duration("5ms1s"), order("s"));
        assert_eq!(parse_duration("1h2m3m"), order("m"));
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        assert_eq!(
            parse_duration("99999999999999999999999s"),
            Err(DurationError::Overflow),
            "the number itself does not fit"
        );
        assert_eq!(
            parse_duration("213504d"),
            Err(DurationError::Overflow),
            "the product does not fit"
        );
        assert_eq!(
            parse_duration("213503d23h59m59s999ms"),
            Err(DurationError::Overflow),
            "the sum does not fit"
        );
        assert_eq!(
            parse_duration("213503d23h34m33s709ms"),
            Ok(ms(u64::MAX / 1_000_000))
        );
    }

    #[test]
    fn format_writes_the_canonical_syntax() {
        assert_eq!(format_duration(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(format_duration(ms(250)), "250ms");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(ms(93_784_005)), "1d2h3m4s5ms");
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
    }

    #[test]
    fn format_shows_sub_millisecond_remainders_in_ns() {
        assert_eq!(
            format_duration(Duration::from_nanos(1_000_000_500)),
            "1s500ns"
        );
        assert_eq!(format_duration(Duration::from_nanos(7)), "7ns");
        assert_eq!(format_duration(Duration::new(0, 1_500_000)), "1ms500000ns");
    }

    #[test]
    fn format_handles_durations_beyond_u64_nanoseconds() {
        assert_eq!(
            format_duration(Duration::MAX),
            "213503982334601d7h15s999ms999999ns"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn whole_milliseconds_round_trip(millis in 0..=u64::MAX / 1_000_000) {
            let duration = ms(millis);
            prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }

        #[test]
        fn small_durations_round_trip(millis in 0u64..10_000_000) {
            let duration = ms(millis);
            prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }

        #[test]
        fn segments_parse_to_their_sum(
            d in prop::option::of(0u64..1_000),
            h in prop::option::of(0u64..1_000),
            m in prop::option::of(0u64..1_000),
            s in prop::option::of(0u64..1_000),
            milli in prop::option::of(0u64..1_000),
        ) {
            let segments = [(d, "d", 86_400_000), (h, "h", 3_600_000), (m, "m", 60_000), (s, "s", 1_000), (milli, "ms", 1)];
            let text: String = segments
                .iter()
                .filter_map(|(count, unit, _)| count.map(|count| format!("{count}{unit}")))
                .collect();
            let expected: u64 = segments.iter().map(|(count, _, scale)| count.unwrap_or(0) * scale).sum();
            if text.is_empty() {
                prop_assert_eq!(parse_duration(&text), Err(DurationError::Empty));
            } else {
                prop_assert_eq!(parse_duration(&text), Ok(ms(expected)));
            }
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = parse_duration(&text);
        }

        #[test]
        fn parse_never_panics_on_near_misses(text in "[0-9dhms .+µ-]{0,12}") {
            if let Ok(duration) = parse_duration(&text) {
                prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
            }
        }
    }
}
