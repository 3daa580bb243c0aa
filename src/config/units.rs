//! Human-readable sizes (`"25MiB"`) and durations (`"30s"`), parsed at the config's edge.
//!
//! Both parse from strings into exact integers: no floating point, every multiplication
//! is checked, and anything unexpected (empty, negative, fractional, unknown unit,
//! overflow) is a [`UnitError`] that names the offending text.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Why a size or duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Nothing (or only blanks) was given.
    #[error("empty value")]
    Empty,
    /// The text does not start with a whole, non-negative number.
    #[error("'{0}' does not start with a whole non-negative number")]
    NotANumber(String),
    /// The unit after the number is not one we know.
    #[error("unknown unit '{unit}' in '{text}' (expected one of {expected})")]
    UnknownUnit {
        /// The full text given.
        text: String,
        /// The unrecognised unit.
        unit: String,
        /// The units that are accepted.
        expected: &'static str,
    },
    /// A duration was given without a unit, which would be ambiguous.
    #[error("'{0}' has no unit (expected one of ms, s, m, h, d)")]
    MissingUnit(String),
    /// The value does not fit in 64 bits.
    #[error("'{0}' is too large")]
    Overflow(String),
}

const SIZE_UNITS: &str = "B, KB, KiB, MB, MiB, GB, GiB";
const DURATION_UNITS: &str = "ms, s, m, h, d";

/// The user's text, trimmed and with control characters escaped, for error messages.
fn shown(text: &str) -> String {
    text.trim().escape_debug().to_string()
}

/// Splits `text` into its leading decimal digits and the (trimmed) unit after them.
fn split_number(text: &str) -> Result<(u64, &str), UnitError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(UnitError::Empty);
    }
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if digits_end == 0 {
        return Err(UnitError::NotANumber(shown(text)));
    }
    let number = text[..digits_end]
        .parse::<u64>()
        .map_err(|_| UnitError::Overflow(shown(text)))?;
    let unit = text[digits_end..].trim_start();
    // A fraction ("1.5GiB") would otherwise surface as the odd unit ".5GiB".
    if unit.starts_with(['.', ',']) {
        return Err(UnitError::NotANumber(shown(text)));
    }
    Ok((number, unit))
}

/// A number of bytes, written as `"1024"`, `"512KiB"`, `"10MB"`, `"25MiB"`, `"1GiB"`.
///
/// Units are case-insensitive; `KB`/`MB`/`GB` are decimal (10³ⁿ), `KiB`/`MiB`/`GiB` binary
/// (2¹⁰ⁿ), as in IEC 80000-13. A bare TOML integer is also accepted as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (number, unit) = split_number(text)?;
        let factor: u64 = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1_000,
            "kib" => 1 << 10,
            "mb" => 1_000_000,
            "mib" => 1 << 20,
            "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            _ => {
                return Err(UnitError::UnknownUnit {
                    text: shown(text),
                    unit: shown(unit),
                    expected: SIZE_UNITS,
                })
            }
        };
        number
            .checked_mul(factor)
            .map(ByteSize)
            .ok_or_else(|| UnitError::Overflow(shown(text)))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
            if n != 0 && n % (1 << shift) == 0 {
                return write!(f, "{}{unit}", n >> shift);
            }
        }
        write!(f, "{n}B")
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;

        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a size such as \"25MiB\" (units {SIZE_UNITS}) or a byte count"
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom(format!("size must not be negative (got {v})")))
            }
        }

        deserializer.deserialize_any(SizeVisitor)
    }
}

/// A span of time, written as `"250ms"`, `"30s"`, `"5m"`, `"2h"` or `"5d"`.
///
/// A unit is required: a bare `"30"` could mean seconds or milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (number, unit) = split_number(text)?;
        let overflow = || UnitError::Overflow(shown(text));
        let duration = match unit.to_ascii_lowercase().as_str() {
            "" => return Err(UnitError::MissingUnit(shown(text))),
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.checked_mul(60).ok_or_else(overflow)?),
            "h" => Duration::from_secs(number.checked_mul(3_600).ok_or_else(overflow)?),
            "d" => Duration::from_secs(number.checked_mul(86_400).ok_or_else(overflow)?),
            _ => {
                return Err(UnitError::UnknownUnit {
                    text: shown(text),
                    unit: shown(unit),
                    expected: DURATION_UNITS,
                })
            }
        };
        Ok(HumanDuration(duration))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() != 0 || d.is_zero() {
            return write!(f, "{}ms", d.as_millis());
        }
        let secs = d.as_secs();
        for (unit_secs, unit) in [(86_400, "d"), (3_600, "h"), (60, "m")] {
            if secs % unit_secs == 0 {
                return write!(f, "{}{unit}", secs / unit_secs);
            }
        }
        write!(f, "{secs}s")
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = HumanDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "a duration string such as \"30s\" (units {DURATION_UNITS})"
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                v.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(DurationVisitor)
    }
}

/// `deserialize_with` adapter: a [`ByteSize`] stored as plain bytes.
pub(crate) fn de_bytes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    ByteSize::deserialize(deserializer).map(|size| size.0)
}

/// `deserialize_with` adapter: a [`HumanDuration`] stored as a [`Duration`].
pub(crate) fn de_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    HumanDuration::deserialize(deserializer).map(|d| d.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(text: &str) -> Result<u64, UnitError> {
        text.parse::<ByteSize>().map(|s| s.0)
    }

    fn dur(text: &str) -> Result<Duration, UnitError> {
        text.parse::<HumanDuration>().map(|d| d.0)
    }

    #[test]
    fn sizes_in_every_unit() {
        assert_eq!(size("1024"), Ok(1024));
        assert_eq!(size("0"), Ok(0));
        assert_eq!(size("7B"), Ok(7));
        assert_eq!(size("10KB"), Ok(10_000));
        assert_eq!(size("512KiB"), Ok(512 * 1024));
        assert_eq!(size("10MB"), Ok(10_000_000));
        assert_eq!(size("25MiB"), Ok(25 * 1024 * 1024));
        assert_eq!(size("2GB"), Ok(2_000_000_000));
        assert_eq!(size("1GiB"), Ok(1 << 30));
    }

    #[test]
    fn size_units_are_case_insensitive_and_may_be_spaced() {
        assert_eq!(size("25mib"), Ok(25 << 20));
        assert_eq!(size("25MIB"), Ok(25 << 20));
        assert_eq!(size("10mb"), Ok(10_000_000));
        assert_eq!(size(" 25 MiB "), Ok(25 << 20));
        assert_eq!(size("3b"), Ok(3));
    }

    #[test]
    fn hostile_sizes_are_rejected() {
        assert_eq!(size(""), Err(UnitError::Empty));
        assert_eq!(size("   "), Err(UnitError::Empty));
        assert_eq!(size("-5MiB"), Err(UnitError::NotANumber("-5MiB".into())));
        assert_eq!(size("+5MiB"), Err(UnitError::NotANumber("+5MiB".into())));
        assert_eq!(size("MiB"), Err(UnitError::NotANumber("MiB".into())));
        assert_eq!(size("1.5GiB"), Err(UnitError::NotANumber("1.5GiB".into())));
        assert_eq!(
            size("5TB"),
            Err(UnitError::UnknownUnit {
                text: "5TB".into(),
                unit: "TB".into(),
                expected: SIZE_UNITS
            })
        );
        assert!(matches!(size("5 M"), Err(UnitError::UnknownUnit { .. })));
        assert!(matches!(size("5MiB5"), Err(UnitError::UnknownUnit { .. })));
        assert!(matches!(size("5\0MiB"), Err(UnitError::UnknownUnit { .. })));
        assert!(matches!(size("٣MiB"), Err(UnitError::NotANumber(_))));
        // u64::MAX itself fits; one more digit or a multiplier does not.
        assert_eq!(size("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            size("18446744073709551616"),
            Err(UnitError::Overflow("18446744073709551616".into()))
        );
        assert_eq!(
            size("17179869184GiB"),
            Err(UnitError::Overflow("17179869184GiB".into()))
        );
        assert!(matches!(
            size(&"9".repeat(10_000)),
            Err(UnitError::Overflow(_))
        ));
    }

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(dur("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(dur("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(dur("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(dur("2h"), Ok(Duration::from_secs(7_200)));
        assert_eq!(dur("5d"), Ok(Duration::from_secs(432_000)));
        assert_eq!(dur("0s"), Ok(Duration::ZERO));
        assert_eq!(dur("5M"), Ok(Duration::from_secs(300)));
        assert_eq!(dur(" 10 s "), Ok(Duration::from_secs(10)));
    }

    #[test]
    fn hostile_durations_are_rejected() {
        assert_eq!(dur(""), Err(UnitError::Empty));
        assert_eq!(dur("30"), Err(UnitError::MissingUnit("30".into())));
        assert_eq!(dur("-5m"), Err(UnitError::NotANumber("-5m".into())));
        assert_eq!(dur("1.5h"), Err(UnitError::NotANumber("1.5h".into())));
        assert_eq!(dur("s"), Err(UnitError::NotANumber("s".into())));
        assert_eq!(
            dur("5w"),
            Err(UnitError::UnknownUnit {
                text: "5w".into(),
                unit: "w".into(),
                expected: DURATION_UNITS
            })
        );
        assert!(matches!(
            dur("5 minutes"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(dur("5m30s"), Err(UnitError::UnknownUnit { .. })));
        assert_eq!(
            dur("18446744073709551615d"),
            Err(UnitError::Overflow("18446744073709551615d".into()))
        );
        assert_eq!(
            dur("99999999999999999999s"),
            Err(UnitError::Overflow("99999999999999999999s".into()))
        );
        // The largest whole-day count that still fits is accepted.
        assert!(dur(&format!("{}d", u64::MAX / 86_400)).is_ok());
    }

    #[test]
    fn display_round_trips() {
        for text in ["25MiB", "512KiB", "1GiB", "1000B", "0B"] {
            assert_eq!(text.parse::<ByteSize>().unwrap().to_string(), text);
        }
        for text in ["250ms", "30s", "5m", "2h", "5d", "0ms", "90s"] {
            assert_eq!(text.parse::<HumanDuration>().unwrap().to_string(), text);
        }
    }

    #[derive(Debug, Deserialize)]
    struct Holder {
        size: Option<ByteSize>,
        wait: Option<HumanDuration>,
    }

    fn holder(text: &str) -> Result<Holder, String> {
        toml::from_str(text).map_err(|e| e.message().to_owned())
    }

    #[test]
    fn deserialize_from_toml() {
        let h = holder("size = \"25MiB\"\nwait = \"30s\"").unwrap();
        assert_eq!(h.size, Some(ByteSize(25 << 20)));
        assert_eq!(h.wait, Some(HumanDuration(Duration::from_secs(30))));
        assert_eq!(holder("size = 4096").unwrap().size, Some(ByteSize(4096)));
    }

    #[test]
    fn deserialize_rejects_wrong_types() {
        assert_eq!(
            holder("size = -1").unwrap_err(),
            "size must not be negative (got -1)"
        );
        assert!(holder("size = 1.5").unwrap_err().contains("a size such as"));
        assert!(holder("size = true")
            .unwrap_err()
            .contains("a size such as"));
        assert!(holder("wait = 30")
            .unwrap_err()
            .contains("a duration string"));
        assert_eq!(
            holder("wait = \"30\"").unwrap_err(),
            "'30' has no unit (expected one of ms, s, m, h, d)"
        );
    }
}
