//! Durations (`500ms`, `30s`, `10m`, `1h`, bare seconds) and sizes (`2048`, `10k`,
//! `10KiB`, `1MiB`) as the command line and scenario files write them.

use std::time::Duration;

/// Parses a duration; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("bad duration {text:?} (use e.g. 500ms, 30s, 10m)"))?;
    let secs = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown duration unit {other:?} in {text:?}")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("bad duration {text:?}: {e}"))
}

/// Parses a size in octets; `k`/`KiB` and `m`/`MiB` are powers of 1024.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: usize = number
        .parse()
        .map_err(|_| format!("bad size {text:?} (use e.g. 2048, 10KiB, 1MiB)"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        other => return Err(format!("unknown size unit {other:?} in {text:?}")),
    };
    value
        .checked_mul(factor)
        .ok_or_else(|| format!("size {text:?} too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "s", "10x", "-1s", "1e400s", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2048"), Ok(2048));
        assert_eq!(parse_size("10k"), Ok(10240));
        assert_eq!(parse_size("10KiB"), Ok(10240));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        for bad in ["", "k", "1.5k", "10GiB", "99999999999999999999999m"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
