//! SEARCHRES (RFC 5182): the `$` sequence set, which names the messages saved by the last
//! `SEARCH RETURN (SAVE)`. imap-codec does not know `$`, so each `$` that stands where a
//! sequence set goes is replaced by the saved messages, written as sequence numbers or
//! UIDs as that place wants, before the command is parsed.
//!
//! Where a sequence set goes: the first argument of FETCH, STORE, COPY, MOVE (UID or not)
//! and UID EXPUNGE; in a SEARCH program, wherever a search key goes (`$` is then
//! `sequence-set`, message numbers) and after the `UID` key (UIDs). A `$` elsewhere (a
//! quoted string, a literal, the argument of SUBJECT or KEYWORD) is left alone.

use super::esearch::compress;
use super::machine::{Session, State};

/// How a `$` must be written where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    /// Message sequence numbers.
    Seqs,
    /// UIDs.
    Uids,
}

/// A sequence set that matches no message: no mailbox holds 2^32-1 messages, and no
/// UID can be 2^32-1 (UIDNEXT, a 32-bit number, must stay above every UID).
pub const NOTHING: &str = "4294967295";

/// One token of a command: where it starts and ends in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    /// An atom-like word (`$`, `FLAGS`, `1:*`, `UID`).
    Word(usize, usize),
    /// A quoted string or a literal (never a sequence set).
    Text,
}

/// Cuts `cmd` into tokens; `None` when it is malformed (the parser then says BAD).
fn tokens(cmd: &[u8]) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < cmd.len() {
        match cmd[i] {
            b' ' | b'\r' | b'\n' => i += 1,
            b'(' => {
                out.push(Token::Open);
                i += 1;
            }
            b')' => {
                out.push(Token::Close);
                i += 1;
            }
            b'"' => {
                i += 1;
                loop {
                    match cmd.get(i)? {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                i += 1;
                out.push(Token::Text);
            }
            b'{' | b'~' if cmd[i] == b'{' || cmd.get(i + 1) == Some(&b'{') => {
                // `{n}`, `{n+}`, `~{n}`: CRLF and n octets of data follow (RFC 3516, 7888).
                let open = i + usize::from(cmd[i] == b'~');
                let close = open + cmd[open..].iter().position(|b| *b == b'}')?;
                let digits = cmd.get(open + 1..close)?;
                let digits = digits.strip_suffix(b"+").unwrap_or(digits);
                let n: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
                if cmd.get(close + 1..close + 3)? != b"\r\n" {
                    return None;
                }
                i = (close + 3).checked_add(n)?;
                if i > cmd.len() {
                    return None;
                }
                out.push(Token::Text);
            }
            _ => {
                let start = i;
                while i < cmd.len() && !matches!(cmd[i], b' ' | b'(' | b')' | b'"' | b'\r' | b'\n')
                {
                    // `[` opens a section (BODY[HEADER.FIELDS (A B)]): keep it whole.
                    if cmd[i] == b'[' {
                        i += cmd[i..].iter().position(|b| *b == b']')?;
                    }
                    i += 1;
                }
                out.push(Token::Word(start, i));
            }
        }
    }
    Some(out)
}

/// Search keys followed by this many arguments (RFC 3501 §6.4.4, RFC 7162 MODSEQ aside).
fn key_args(key: &[u8]) -> usize {
    const ONE: [&[u8]; 20] = [
        b"BCC",
        b"BEFORE",
        b"BODY",
        b"CC",
        b"FROM",
        b"KEYWORD",
        b"LARGER",
        b"ON",
        b"SENTBEFORE",
        b"SENTON",
        b"SENTSINCE",
        b"SINCE",
        b"SMALLER",
        b"SUBJECT",
        b"TEXT",
        b"TO",
        b"UNKEYWORD",
        b"OLDER",
        b"YOUNGER",
        b"CHARSET",
    ];
    if key.eq_ignore_ascii_case(b"HEADER") {
        2
    } else if ONE.iter().any(|k| key.eq_ignore_ascii_case(k)) {
        1
    } else {
        0
    }
}

/// The places of the `$` sequence sets in a search program (the tokens after SEARCH).
fn search_dollars(cmd: &[u8], program: &[Token], found: &mut Vec<(usize, SetKind)>) {
    let mut i = 0;
    while i < program.len() {
        let Token::Word(s, e) = program[i] else {
            i += 1;
            continue;
        };
        let word = &cmd[s..e];
        if word == b"$" {
            found.push((s, SetKind::Seqs));
        } else if word.eq_ignore_ascii_case(b"UID") {
            if let Some(Token::Word(s, e)) = program.get(i + 1) {
                if &cmd[*s..*e] == b"$" {
                    found.push((*s, SetKind::Uids));
                }
            }
            i += 1;
        } else if word.eq_ignore_ascii_case(b"MODSEQ") {
            // RFC 7162 §3.1.5: MODSEQ ["entry-name" entry-type] mod-sequence.
            i += if matches!(program.get(i + 1), Some(Token::Text)) {
                3
            } else {
                1
            };
        } else {
            i += key_args(word);
        }
        i += 1;
    }
}

/// Replaces every `$` sequence set in `cmd` (a whole command, literals inline) with
/// `render(kind)`; `None` when the command has none (or cannot be cut into tokens).
pub fn substitute(cmd: &[u8], mut render: impl FnMut(SetKind) -> String) -> Option<Vec<u8>> {
    // Cheap test first: most commands carry no `$` at all.
    if !cmd.contains(&b'$') {
        return None;
    }
    let toks = tokens(cmd)?;
    let word = |t: Option<&Token>| match t {
        Some(Token::Word(s, e)) => Some(&cmd[*s..*e]),
        _ => None,
    };
    // tag [UID] command args...
    let mut at = 1;
    let uid = word(toks.get(at)).is_some_and(|w| w.eq_ignore_ascii_case(b"UID"));
    if uid {
        at += 1;
    }
    let name = word(toks.get(at))?.to_ascii_uppercase();
    let mut found = Vec::new();
    match name.as_slice() {
        b"FETCH" | b"STORE" | b"COPY" | b"MOVE" => {}
        b"EXPUNGE" if uid => {}
        b"SEARCH" => search_dollars(cmd, &toks[at + 1..], &mut found),
        _ => return None,
    }
    if name.as_slice() != b"SEARCH" {
        if let Some(Token::Word(s, e)) = toks.get(at + 1) {
            if &cmd[*s..*e] == b"$" {
                found.push((*s, if uid { SetKind::Uids } else { SetKind::Seqs }));
            }
        }
    }
    if found.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(cmd.len() + 16);
    let mut last = 0;
    for (pos, kind) in found {
        out.extend_from_slice(&cmd[last..pos]);
        out.extend_from_slice(render(kind).as_bytes());
        last = pos + 1;
    }
    out.extend_from_slice(&cmd[last..]);
    Some(out)
}

impl Session {
    /// The command with its `$` sets replaced by the saved messages still in the view
    /// (RFC 5182 §2.1: expunged ones drop out), or `None` to parse it as it is.
    pub(super) fn expand_saved(&self, cmd: &[u8]) -> Option<Vec<u8>> {
        let State::Selected(sel) = &self.state else {
            return None;
        };
        substitute(cmd, |kind| {
            let nums: Vec<u32> = match kind {
                SetKind::Seqs => self.saved.iter().filter_map(|u| sel.seq_of(*u)).collect(),
                SetKind::Uids => self
                    .saved
                    .iter()
                    .copied()
                    .filter(|u| sel.seq_of(*u).is_some())
                    .collect(),
            };
            if nums.is_empty() {
                NOTHING.to_owned()
            } else {
                compress(&nums)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(cmd: &str) -> Option<String> {
        substitute(cmd.as_bytes(), |k| match k {
            SetKind::Seqs => "1:2".to_owned(),
            SetKind::Uids => "7,9".to_owned(),
        })
        .map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn replaces_sequence_set_arguments() {
        assert_eq!(sub("a FETCH $ FLAGS").as_deref(), Some("a FETCH 1:2 FLAGS"));
        assert_eq!(
            sub("a UID FETCH $ (FLAGS)").as_deref(),
            Some("a UID FETCH 7,9 (FLAGS)")
        );
        assert_eq!(
            sub("a uid store $ +FLAGS ($Junk)").as_deref(),
            Some("a uid store 7,9 +FLAGS ($Junk)")
        );
        assert_eq!(
            sub("a COPY $ Archive").as_deref(),
            Some("a COPY 1:2 Archive")
        );
        assert_eq!(
            sub("a UID MOVE $ \"$\"").as_deref(),
            Some("a UID MOVE 7,9 \"$\"")
        );
        assert_eq!(
            sub("a UID EXPUNGE $\r\n").as_deref(),
            Some("a UID EXPUNGE 7,9\r\n")
        );
        assert_eq!(sub("a EXPUNGE $"), None);
        assert_eq!(sub("a FETCH 1 FLAGS"), None);
        assert_eq!(sub("a STORE 1 +FLAGS ($)"), None);
        assert_eq!(sub("a SELECT $"), None);
        assert_eq!(
            sub("a FETCH $ BODY[HEADER.FIELDS ($)]").as_deref(),
            Some("a FETCH 1:2 BODY[HEADER.FIELDS ($)]")
        );
    }

    #[test]
    fn replaces_search_keys_only() {
        assert_eq!(
            sub("a SEARCH $ SMALLER 4096").as_deref(),
            Some("a SEARCH 1:2 SMALLER 4096")
        );
        assert_eq!(
            sub("a UID SEARCH OR $ (UID $) NOT $").as_deref(),
            Some("a UID SEARCH OR 1:2 (UID 7,9) NOT 1:2")
        );
        assert_eq!(
            sub("a SEARCH SUBJECT $ KEYWORD $ HEADER $ $ $").as_deref(),
            Some("a SEARCH SUBJECT $ KEYWORD $ HEADER $ $ 1:2")
        );
        assert_eq!(
            sub("a SEARCH CHARSET UTF-8 MODSEQ \"/flags/$\" all 5 $").as_deref(),
            Some("a SEARCH CHARSET UTF-8 MODSEQ \"/flags/$\" all 5 1:2")
        );
        assert_eq!(
            sub("a SEARCH BODY {1}\r\n$ $").as_deref(),
            Some("a SEARCH BODY {1}\r\n$ 1:2")
        );
        assert_eq!(sub("a SEARCH TEXT {1+}\r\n$"), None);
        assert_eq!(sub("a SEARCH $x"), None);
        assert_eq!(
            sub("a SEARCH NOT $\r\n").as_deref(),
            Some("a SEARCH NOT 1:2\r\n")
        );
    }

    #[test]
    fn hostile_input_is_left_to_the_parser() {
        for cmd in [
            "a SEARCH \"$",
            "a SEARCH {99}\r\n$",
            "a SEARCH {x}\r\n$",
            "a SEARCH {1}$ $",
            "a FETCH $ BODY[",
            "$",
            "a",
            "a UID",
            "a SEARCH {18446744073709551615}\r\n$",
        ] {
            assert_eq!(sub(cmd), None, "{cmd:?}");
        }
        assert_eq!(
            sub("a SEARCH \u{0}\u{ff} $").as_deref(),
            Some("a SEARCH \u{0}\u{ff} 1:2")
        );
    }
}
