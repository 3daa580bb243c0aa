//! ESEARCH (RFC 4731): the `RETURN (...)` options of SEARCH and UID SEARCH (with SAVE from
//! SEARCHRES, RFC 5182), cut out of the command before imap-codec (which does not know
//! them) parses the rest, and the `* ESEARCH` response.

use crate::protocol::imap::wire::push_string;

/// The result options of `SEARCH RETURN (...)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReturnOpts {
    /// Lowest match.
    pub min: bool,
    /// Highest match.
    pub max: bool,
    /// Number of matches.
    pub count: bool,
    /// All matches as a sequence set.
    pub all: bool,
    /// RFC 5182: keep the result for `$`.
    pub save: bool,
}

impl ReturnOpts {
    /// `RETURN (ALL)`: the IMAP4rev2 answer to a SEARCH without RETURN (RFC 9051 §6.4.4).
    pub fn all() -> ReturnOpts {
        ReturnOpts {
            all: true,
            ..ReturnOpts::default()
        }
    }

    /// Which of the ascending `hits` `$` keeps (RFC 5182 §2.4: with MIN and/or MAX and
    /// neither ALL nor COUNT, only those; otherwise all of them).
    pub fn saved(&self, hits: &[u32]) -> Vec<u32> {
        if (self.min || self.max) && !(self.all || self.count) {
            let mut kept = Vec::new();
            if let (Some(first), Some(last)) = (hits.first(), hits.last()) {
                if self.min {
                    kept.push(*first);
                }
                if self.max && !(self.min && first == last) {
                    kept.push(*last);
                }
            }
            kept
        } else {
            hits.to_vec()
        }
    }
}

/// What [`split_return`] found in a command.
#[derive(Debug, PartialEq, Eq)]
pub enum Split {
    /// Not a SEARCH with RETURN: parse the command as it is.
    Plain,
    /// The command without its RETURN clause, and the options.
    Return(Vec<u8>, ReturnOpts),
    /// A SEARCH with a malformed RETURN clause or an unknown option.
    Invalid,
}

/// Finds `tag [UID ]SEARCH RETURN (opts) ` at the start of `cmd` (RFC 4731 §3, RFC 4466
/// §2.6 grammar: single spaces) and cuts the RETURN clause out.
pub fn split_return(cmd: &[u8]) -> Split {
    let Some(sp) = cmd.iter().position(|b| *b == b' ') else {
        return Split::Plain;
    };
    let mut at = sp + 1;
    if starts_with_ci(&cmd[at..], b"UID ") {
        at += 4;
    }
    if !starts_with_ci(&cmd[at..], b"SEARCH RETURN ") {
        return Split::Plain;
    }
    let keep = at + "SEARCH ".len();
    let open = keep + "RETURN ".len();
    if cmd.get(open) != Some(&b'(') {
        return Split::Invalid;
    }
    let Some(len) = cmd[open..].iter().position(|b| *b == b')') else {
        return Split::Invalid;
    };
    let close = open + len;
    // The search program must follow after one space.
    if cmd.get(close + 1) != Some(&b' ') {
        return Split::Invalid;
    }
    let mut opts = ReturnOpts::default();
    let inner = &cmd[open + 1..close];
    if inner.is_empty() {
        // RFC 4731 §3.1: an empty list means ALL.
        opts.all = true;
    } else {
        for word in inner.split(|b| *b == b' ') {
            let flag = match word.to_ascii_uppercase().as_slice() {
                b"MIN" => &mut opts.min,
                b"MAX" => &mut opts.max,
                b"COUNT" => &mut opts.count,
                b"ALL" => &mut opts.all,
                b"SAVE" => &mut opts.save,
                _ => return Split::Invalid,
            };
            *flag = true;
        }
    }
    let mut rest = cmd[..keep].to_vec();
    rest.extend_from_slice(&cmd[close + 2..]);
    Split::Return(rest, opts)
}

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The `* ESEARCH` line for ascending `hits` (RFC 4731 §3.1: MIN, MAX and ALL are left
/// out when nothing matched; COUNT is then 0). Nothing for SAVE alone (RFC 5182 §2.4).
pub fn render(tag: &str, uid: bool, opts: ReturnOpts, hits: &[u32]) -> String {
    if !(opts.min || opts.max || opts.count || opts.all) {
        return String::new();
    }
    let mut t = "* ESEARCH (TAG ".to_owned();
    push_string(&mut t, tag);
    t.push(')');
    if uid {
        t.push_str(" UID");
    }
    if let (Some(first), Some(last)) = (hits.first(), hits.last()) {
        if opts.min {
            t.push_str(&format!(" MIN {first}"));
        }
        if opts.max {
            t.push_str(&format!(" MAX {last}"));
        }
    }
    if opts.count {
        t.push_str(&format!(" COUNT {}", hits.len()));
    }
    if opts.all && !hits.is_empty() {
        t.push_str(" ALL ");
        t.push_str(&compress(hits));
    }
    t.push_str("\r\n");
    t
}

/// Ascending numbers as a sequence set of ranges (`1:3,5`).
pub fn compress(nums: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < nums.len() {
        let start = nums[i];
        let mut end = start;
        while i + 1 < nums.len() && end.checked_add(1) == Some(nums[i + 1]) {
            end = nums[i + 1];
            i += 1;
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_return_clause() {
        let all = ReturnOpts {
            all: true,
            ..ReturnOpts::default()
        };
        assert_eq!(split_return(b"a SEARCH ALL"), Split::Plain);
        assert_eq!(split_return(b"a FETCH 1 FLAGS"), Split::Plain);
        assert_eq!(split_return(b"a"), Split::Plain);
        assert_eq!(
            split_return(b"a SEARCH RETURN () ALL"),
            Split::Return(b"a SEARCH ALL".to_vec(), all)
        );
        assert_eq!(
            split_return(b"t uid search return (min Count) SUBJECT {3}\r\nabc"),
            Split::Return(
                b"t uid search SUBJECT {3}\r\nabc".to_vec(),
                ReturnOpts {
                    min: true,
                    count: true,
                    ..ReturnOpts::default()
                }
            )
        );
        assert_eq!(
            split_return(b"a SEARCH RETURN (SAVE min) ALL"),
            Split::Return(
                b"a SEARCH ALL".to_vec(),
                ReturnOpts {
                    save: true,
                    min: true,
                    ..ReturnOpts::default()
                }
            )
        );
        assert_eq!(split_return(b"a SEARCH RETURN (SAVED) ALL"), Split::Invalid);
        assert_eq!(
            split_return(b"a SEARCH RETURN (MIN  MAX) ALL"),
            Split::Invalid
        );
        assert_eq!(split_return(b"a SEARCH RETURN (MIN"), Split::Invalid);
        assert_eq!(split_return(b"a SEARCH RETURN MIN ALL"), Split::Invalid);
        assert_eq!(split_return(b"a SEARCH RETURN (MIN)"), Split::Invalid);
        assert_eq!(
            split_return(b"a SEARCH RETURN (\xff\0) ALL"),
            Split::Invalid
        );
    }

    #[test]
    fn renders_esearch() {
        let every = ReturnOpts {
            min: true,
            max: true,
            count: true,
            all: true,
            save: false,
        };
        assert_eq!(
            render("x", false, every, &[1, 2, 3, 5, 7, 8, u32::MAX]),
            "* ESEARCH (TAG \"x\") MIN 1 MAX 4294967295 COUNT 7 ALL 1:3,5,7:8,4294967295\r\n"
        );
        assert_eq!(
            render("x", true, every, &[]),
            "* ESEARCH (TAG \"x\") UID COUNT 0\r\n"
        );
        let min = ReturnOpts {
            min: true,
            ..ReturnOpts::default()
        };
        assert_eq!(render("y", true, min, &[]), "* ESEARCH (TAG \"y\") UID\r\n");
        let save = ReturnOpts {
            save: true,
            ..ReturnOpts::default()
        };
        assert_eq!(render("z", false, save, &[1, 2]), "");
    }

    #[test]
    fn saves_min_max_or_all() {
        let opts = |min, max, count| ReturnOpts {
            min,
            max,
            count,
            all: false,
            save: true,
        };
        assert_eq!(opts(true, false, false).saved(&[2, 5, 9]), vec![2]);
        assert_eq!(opts(false, true, false).saved(&[2, 5, 9]), vec![9]);
        assert_eq!(opts(true, true, false).saved(&[2, 5, 9]), vec![2, 9]);
        assert_eq!(opts(true, true, false).saved(&[4]), vec![4]);
        assert_eq!(opts(true, true, false).saved(&[]), Vec::<u32>::new());
        assert_eq!(opts(true, false, true).saved(&[2, 5, 9]), vec![2, 5, 9]);
        assert_eq!(opts(false, false, false).saved(&[2, 5]), vec![2, 5]);
    }
}
