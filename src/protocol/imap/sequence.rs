//! IMAP sequence sets (`1:*,3,5:7`, RFC 3501 §9 `sequence-set`) for both message
//! sequence numbers and UIDs.
//!
//! The set keeps `*` symbolic: it means "the largest number in use" and is resolved
//! against the mailbox at evaluation time, so one parsed set serves SEARCH and FETCH.

use thiserror::Error;

/// One end of a range: a number or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqBound {
    /// A literal, non-zero number.
    Num(u32),
    /// `*`: the highest sequence number or UID in the mailbox.
    Star,
}

/// A parsed sequence set, ranges kept as written (possibly reversed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet {
    /// The ranges as written; a single number is a range with equal ends.
    pub ranges: Vec<(SeqBound, SeqBound)>,
}

/// Why a sequence set was rejected (answered with BAD).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SequenceSetError {
    /// Nothing between commas, or an empty set.
    #[error("empty sequence set element")]
    Empty,
    /// `0`, which RFC 3501 `nz-number` forbids.
    #[error("sequence number 0 is not valid")]
    Zero,
    /// A number beyond 2^32-1.
    #[error("sequence number too large")]
    Overflow,
    /// A character that is not a digit, `*`, `:` or `,`.
    #[error("invalid sequence set syntax")]
    Syntax,
}

impl SequenceSet {
    /// Parses `seq-number / seq-range` items separated by commas.
    pub fn parse(input: &str) -> Result<Self, SequenceSetError> {
        if input.is_empty() {
            return Err(SequenceSetError::Empty);
        }
        let mut ranges = Vec::new();
        for item in input.split(',') {
            let range = match item.split_once(':') {
                Some((a, b)) => (parse_bound(a)?, parse_bound(b)?),
                None => {
                    let n = parse_bound(item)?;
                    (n, n)
                }
            };
            ranges.push(range);
        }
        Ok(SequenceSet { ranges })
    }

    /// A set holding the single range `lo:hi`.
    pub fn range(lo: u32, hi: u32) -> Self {
        SequenceSet {
            ranges: vec![(SeqBound::Num(lo), SeqBound::Num(hi))],
        }
    }

    /// True when `n` is in the set, `*` standing for `max`.
    pub fn contains(&self, n: u32, max: u32) -> bool {
        self.resolved(max).any(|(lo, hi)| lo <= n && n <= hi)
    }

    /// Ascending, merged inclusive ranges with `*` resolved to `max`.
    ///
    /// Numbers above `max` stay in (UIDs that no longer exist are simply not found);
    /// RFC 3501 §6.4.8: `n:*` always includes `max`, even when `n > max`.
    pub fn to_ranges(&self, max: u32) -> Vec<(u32, u32)> {
        let mut v: Vec<(u32, u32)> = self.resolved(max).collect();
        v.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        merged
    }

    /// The members from 1 to `max`, ascending and without duplicates.
    pub fn iter(&self, max: u32) -> impl Iterator<Item = u32> {
        self.to_ranges(max)
            .into_iter()
            .filter(move |(lo, _)| *lo <= max)
            .flat_map(move |(lo, hi)| lo.max(1)..=hi.min(max))
    }

    fn resolved(&self, max: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.ranges.iter().map(move |(a, b)| {
            let a = resolve(*a, max);
            let b = resolve(*b, max);
            // RFC 3501 §9 seq-range: `4:2` is the same as `2:4`.
            (a.min(b), a.max(b))
        })
    }
}

fn resolve(b: SeqBound, max: u32) -> u32 {
    match b {
        SeqBound::Num(n) => n,
        SeqBound::Star => max,
    }
}

fn parse_bound(s: &str) -> Result<SeqBound, SequenceSetError> {
    if s.is_empty() {
        return Err(SequenceSetError::Empty);
    }
    if s == "*" {
        return Ok(SeqBound::Star);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SequenceSetError::Syntax);
    }
    let n: u32 = s.parse().map_err(|_| SequenceSetError::Overflow)?;
    if n == 0 {
        return Err(SequenceSetError::Zero);
    }
    Ok(SeqBound::Num(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(s: &str, max: u32) -> Vec<u32> {
        SequenceSet::parse(s).unwrap().iter(max).collect()
    }

    #[test]
    fn ranges_star_and_reversal() {
        assert_eq!(members("1:*", 4), vec![1, 2, 3, 4]);
        assert_eq!(members("3,5:7", 10), vec![3, 5, 6, 7]);
        assert_eq!(members("7:5,3", 10), vec![3, 5, 6, 7]);
        assert_eq!(members("*:2", 3), vec![2, 3]);
        assert_eq!(members("1:*,3,5:7", 6), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(members("2,2,1:2", 9), vec![1, 2]);
        assert_eq!(members("*", 0), Vec::<u32>::new());
        assert_eq!(members("5:9", 3), Vec::<u32>::new());
    }

    #[test]
    fn uid_star_includes_max_even_when_below_start() {
        let set = SequenceSet::parse("559:*").unwrap();
        assert!(set.contains(500, 500));
        assert!(!set.contains(499, 500));
        assert_eq!(set.to_ranges(500), vec![(500, 559)]);
    }

    #[test]
    fn merges_adjacent_ranges() {
        let set = SequenceSet::parse("1:3,4,6:8,8:9").unwrap();
        assert_eq!(set.to_ranges(100), vec![(1, 4), (6, 9)]);
        let set = SequenceSet::parse("4294967295,1:4294967295").unwrap();
        assert_eq!(set.to_ranges(5), vec![(1, 4294967295)]);
    }

    #[test]
    fn hostile_input() {
        use SequenceSetError::*;
        for (input, err) in [
            ("", Empty),
            (",", Empty),
            ("1,", Empty),
            ("1:", Empty),
            (":5", Empty),
            ("::", Empty),
            ("0", Zero),
            ("0:5", Zero),
            ("4294967296", Overflow),
            ("99999999999999999999", Overflow),
            ("1:2:3", Syntax),
            ("-1", Syntax),
            ("+1", Syntax),
            (" 1", Syntax),
            ("1 ", Syntax),
            ("1\0", Syntax),
            ("*1", Syntax),
            ("\u{ff}", Syntax),
        ] {
            assert_eq!(SequenceSet::parse(input), Err(err), "input {input:?}");
        }
    }

    #[test]
    fn huge_range_is_not_materialised() {
        let set = SequenceSet::parse("1:4294967295").unwrap();
        assert!(set.contains(4_000_000_000, 7));
        assert_eq!(set.iter(3).collect::<Vec<_>>(), vec![1, 2, 3]);
    }
}
