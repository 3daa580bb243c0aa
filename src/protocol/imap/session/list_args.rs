//! LIST-EXTENDED (RFC 5258) and LIST-STATUS (RFC 5819) arguments: the selection options,
//! the pattern list and the `RETURN (...)` options are cut out of a LIST command before
//! imap-codec (which knows only the RFC 3501 form) parses the rest, as [`super::esearch`]
//! does for SEARCH RETURN.
//!
//! The command is walked token by token (quoted strings, literals and atoms), so text
//! inside a mailbox name is never taken for an option. What is left for imap-codec is
//! `tag LIST reference first-pattern`; further patterns are kept raw and decoded one by
//! one with [`decode_pattern`], so every name still goes through imap-codec's grammar.

use imap_codec::decode::Decoder;
use imap_codec::imap_types::command::CommandBody;
use imap_codec::CommandCodec;

use super::convert::list_pattern;

/// Patterns accepted in one `LIST ref (p1 p2 ...)` (each one is matched against every
/// mailbox, so the work is bounded by this times the mailbox count).
pub const MAX_PATTERNS: usize = 32;

/// RFC 5258 §3 selection options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SelectOpts {
    /// `SUBSCRIBED`: subscribed names only, existing or not.
    pub subscribed: bool,
    /// `REMOTE`: also remote mailboxes (there are none here; accepted and ignored).
    pub remote: bool,
    /// `RECURSIVEMATCH`: also parents whose descendants match, with CHILDINFO.
    pub recursive: bool,
    /// RFC 6154 §5.1 `SPECIAL-USE`: only mailboxes with a special-use attribute.
    pub special_use: bool,
}

/// RFC 5258 §4 return options, with RFC 5819 STATUS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnOpts {
    /// `SUBSCRIBED`: the `\Subscribed` attribute.
    pub subscribed: bool,
    /// `CHILDREN`: `\HasChildren` / `\HasNoChildren` (always sent here anyway).
    pub children: bool,
    /// RFC 6154 `SPECIAL-USE`: the special-use attributes (always sent here anyway).
    pub special_use: bool,
    /// RFC 5819 `STATUS (...)`: the status items, in the order asked.
    pub status: Vec<&'static str>,
}

/// Everything a LIST-EXTENDED command adds to the RFC 3501 form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListArgs {
    /// Selection options.
    pub select: SelectOpts,
    /// Return options (with what the selection options imply already added).
    pub ret: ReturnOpts,
    /// The raw tokens of the patterns after the first one.
    pub more_patterns: Vec<Vec<u8>>,
}

/// What [`split_list`] found in a command.
#[derive(Debug, PartialEq, Eq)]
pub enum ListSplit {
    /// Not an extended LIST: parse the command as it is.
    Plain,
    /// `tag LIST reference first-pattern CRLF`, and the extended arguments.
    Extended(Vec<u8>, ListArgs),
    /// An extended LIST with bad syntax or an unknown option (answered with BAD).
    Invalid,
}

/// Finds the RFC 5258 §6 extended syntax in a `LIST` command and cuts it out:
/// `LIST [SP "(" select-opts ")"] SP mailbox SP (list-mailbox / "(" patterns ")")
/// [SP "RETURN" SP "(" return-opts ")"]`.
pub fn split_list(cmd: &[u8]) -> ListSplit {
    let Some(sp) = cmd.iter().position(|b| *b == b' ') else {
        return ListSplit::Plain;
    };
    let mut at = sp + 1;
    if !starts_with_ci(&cmd[at..], b"LIST ") {
        return ListSplit::Plain;
    }
    at += "LIST ".len();
    let mut extended = false;
    // Past this point a syntax error is BAD only once the command is known to be
    // extended; otherwise imap-codec gets the command and reports it.
    let fail = |extended: bool| {
        if extended {
            ListSplit::Invalid
        } else {
            ListSplit::Plain
        }
    };
    let mut args = ListArgs::default();
    if cmd.get(at) == Some(&b'(') {
        extended = true;
        let Some((words, end)) = words_in_parens(cmd, at) else {
            return ListSplit::Invalid;
        };
        match select_opts(&words) {
            Some(s) => args.select = s,
            None => return ListSplit::Invalid,
        }
        if cmd.get(end) != Some(&b' ') {
            return ListSplit::Invalid;
        }
        at = end + 1;
    }
    let Some(ref_end) = token_end(cmd, at) else {
        return fail(extended);
    };
    let reference = &cmd[at..ref_end];
    if cmd.get(ref_end) != Some(&b' ') {
        return fail(extended);
    }
    at = ref_end + 1;
    let mut patterns: Vec<&[u8]> = Vec::new();
    if cmd.get(at) == Some(&b'(') {
        extended = true;
        at += 1;
        loop {
            let Some(end) = token_end(cmd, at) else {
                return ListSplit::Invalid;
            };
            patterns.push(&cmd[at..end]);
            at = end + 1;
            match cmd.get(end) {
                Some(b' ') => continue,
                Some(b')') => break,
                _ => return ListSplit::Invalid,
            }
        }
        if patterns.len() > MAX_PATTERNS {
            return ListSplit::Invalid;
        }
    } else {
        let Some(end) = token_end(cmd, at) else {
            return fail(extended);
        };
        patterns.push(&cmd[at..end]);
        at = end;
    }
    if starts_with_ci(&cmd[at..], b" RETURN ") {
        extended = true;
        at += " RETURN ".len();
        let Some((ret, end)) = return_opts(cmd, at) else {
            return ListSplit::Invalid;
        };
        args.ret = ret;
        at = end;
    }
    if &cmd[at..] != b"\r\n" {
        return fail(extended);
    }
    if !extended {
        return ListSplit::Plain;
    }
    // RFC 5258 §3: SUBSCRIBED selection implies the SUBSCRIBED return option; RFC 6154
    // §5.1: likewise for SPECIAL-USE.
    args.ret.subscribed |= args.select.subscribed;
    args.ret.special_use |= args.select.special_use;
    let mut rest = cmd[..=sp].to_vec();
    rest.extend_from_slice(b"LIST ");
    rest.extend_from_slice(reference);
    rest.push(b' ');
    rest.extend_from_slice(patterns[0]);
    rest.extend_from_slice(b"\r\n");
    args.more_patterns = patterns[1..].iter().map(|p| p.to_vec()).collect();
    ListSplit::Extended(rest, args)
}

/// Decodes one raw pattern token (quoted, literal or atom) with imap-codec's
/// `list-mailbox` grammar, to the pattern's octets; `None` if it is not one.
pub fn decode_pattern(raw: &[u8]) -> Option<Vec<u8>> {
    let mut cmd = b"x LIST \"\" ".to_vec();
    cmd.extend_from_slice(raw);
    cmd.extend_from_slice(b"\r\n");
    match CommandCodec::default().decode(&cmd) {
        Ok((
            b"",
            imap_codec::imap_types::command::Command {
                body: CommandBody::List {
                    mailbox_wildcard, ..
                },
                ..
            },
        )) => Some(list_pattern(&mailbox_wildcard)),
        _ => None,
    }
}

fn select_opts(words: &[&[u8]]) -> Option<SelectOpts> {
    let mut s = SelectOpts::default();
    for w in words {
        let flag = match w.to_ascii_uppercase().as_slice() {
            b"SUBSCRIBED" => &mut s.subscribed,
            b"REMOTE" => &mut s.remote,
            b"RECURSIVEMATCH" => &mut s.recursive,
            b"SPECIAL-USE" => &mut s.special_use,
            _ => return None,
        };
        *flag = true;
    }
    // RFC 5258 §3: RECURSIVEMATCH alone (or with REMOTE only) is a BAD command.
    if s.recursive && !s.subscribed && !s.special_use {
        return None;
    }
    Some(s)
}

/// Parses `"(" [opt *(SP opt)] ")"` at `at`, where an option is a word or
/// `STATUS (att *(SP att))`; returns the options and the index after `)`.
fn return_opts(cmd: &[u8], at: usize) -> Option<(ReturnOpts, usize)> {
    if cmd.get(at) != Some(&b'(') {
        return None;
    }
    let mut r = ReturnOpts::default();
    let mut i = at + 1;
    if cmd.get(i) == Some(&b')') {
        return Some((r, i + 1));
    }
    loop {
        let end = i + cmd[i..]
            .iter()
            .position(|b| matches!(b, b' ' | b')' | b'(' | b'\r' | b'\n'))?;
        let word = cmd[i..end].to_ascii_uppercase();
        i = end;
        match word.as_slice() {
            b"SUBSCRIBED" => r.subscribed = true,
            b"CHILDREN" => r.children = true,
            b"SPECIAL-USE" => r.special_use = true,
            // RFC 5819 §2: "STATUS" SP "(" status-att *(SP status-att) ")", once.
            b"STATUS" if r.status.is_empty() && cmd.get(i) == Some(&b' ') => {
                let (atts, after) = words_in_parens(cmd, i + 1)?;
                if atts.is_empty() {
                    return None;
                }
                for a in atts {
                    let att = status_att(a)?;
                    if !r.status.contains(&att) {
                        r.status.push(att);
                    }
                }
                i = after;
            }
            _ => return None,
        }
        match cmd.get(i) {
            Some(b' ') => i += 1,
            Some(b')') => return Some((r, i + 1)),
            _ => return None,
        }
    }
}

/// A STATUS item name (RFC 3501 §6.3.10, RFC 7162 HIGHESTMODSEQ, RFC 9051 §6.3.11 SIZE
/// and DELETED).
pub fn status_att(word: &[u8]) -> Option<&'static str> {
    Some(match word.to_ascii_uppercase().as_slice() {
        b"MESSAGES" => "MESSAGES",
        b"RECENT" => "RECENT",
        b"UIDNEXT" => "UIDNEXT",
        b"UIDVALIDITY" => "UIDVALIDITY",
        b"UNSEEN" => "UNSEEN",
        b"HIGHESTMODSEQ" => "HIGHESTMODSEQ",
        b"SIZE" => "SIZE",
        b"DELETED" => "DELETED",
        _ => return None,
    })
}

/// Parses `"(" [word *(SP word)] ")"` of plain words at `at` (single spaces, RFC 4466
/// §2.1); returns the words and the index after `)`.
fn words_in_parens(cmd: &[u8], at: usize) -> Option<(Vec<&[u8]>, usize)> {
    if cmd.get(at) != Some(&b'(') {
        return None;
    }
    let close = at + cmd[at..].iter().position(|b| *b == b')')?;
    let inner = &cmd[at + 1..close];
    if inner.is_empty() {
        return Some((Vec::new(), close + 1));
    }
    let words: Vec<&[u8]> = inner.split(|b| *b == b' ').collect();
    let atom = |w: &&[u8]| {
        !w.is_empty()
            && w.iter()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'(' | b'"' | b'{' | b'\\'))
    };
    if !words.iter().all(atom) {
        return None;
    }
    Some((words, close + 1))
}

/// The end of the astring / list-mailbox token starting at `at`: a quoted string, a
/// literal (`{n}` or `{n+}`, CRLF, n octets), or an atom of printable characters.
fn token_end(cmd: &[u8], at: usize) -> Option<usize> {
    match cmd.get(at)? {
        b'"' => {
            let mut i = at + 1;
            loop {
                match cmd.get(i)? {
                    b'\\' => i += 2,
                    b'"' => return Some(i + 1),
                    b'\r' | b'\n' => return None,
                    _ => i += 1,
                }
            }
        }
        b'{' => {
            let close = at + cmd[at..].iter().position(|b| *b == b'}')?;
            let digits = &cmd[at + 1..close];
            let digits = digits.strip_suffix(b"+").unwrap_or(digits);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let n: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
            if cmd.get(close + 1..close + 3)? != b"\r\n" {
                return None;
            }
            let end = (close + 3).checked_add(n)?;
            (end <= cmd.len()).then_some(end)
        }
        _ => {
            let len = cmd[at..]
                .iter()
                .position(|b| !b.is_ascii_graphic() || matches!(b, b'(' | b')' | b'"'))
                .unwrap_or(cmd.len() - at);
            (len > 0).then_some(at + len)
        }
    }
}

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(cmd: &[u8]) -> (String, ListArgs) {
        match split_list(cmd) {
            ListSplit::Extended(rest, args) => (String::from_utf8(rest).unwrap(), args),
            other => panic!("{other:?} for {:?}", String::from_utf8_lossy(cmd)),
        }
    }

    #[test]
    fn plain_commands_pass_through() {
        for cmd in [
            &b"a LIST \"\" *\r\n"[..],
            b"a LIST \"\" \"%\"\r\n",
            b"a LSUB \"\" (\r\n",
            b"a FETCH 1 (FLAGS)\r\n",
            b"a LIST\r\n",
            b"a",
            b"a LIST \"unterminated\r\n",
            b"a LIST {3}\r\nabc {2}\r\nxy\r\n",
        ] {
            assert_eq!(split_list(cmd), ListSplit::Plain, "{cmd:?}");
        }
    }

    #[test]
    fn selection_patterns_and_return() {
        let (rest, args) = ext(
            b"t1 list (subscribed RECURSIVEMATCH remote) \"\" (\"INBOX\" Sent* {3}\r\na b) return (children STATUS (messages UNSEEN))\r\n",
        );
        assert_eq!(rest, "t1 LIST \"\" \"INBOX\"\r\n");
        assert!(args.select.subscribed && args.select.recursive && args.select.remote);
        assert!(args.ret.subscribed && args.ret.children && !args.ret.special_use);
        assert_eq!(args.ret.status, vec!["MESSAGES", "UNSEEN"]);
        assert_eq!(
            args.more_patterns,
            vec![b"Sent*".to_vec(), b"{3}\r\na b".to_vec()]
        );
        let (rest, args) = ext(b"t2 LIST () {1+}\r\nx \"a)\" RETURN ()\r\n");
        assert_eq!(rest, "t2 LIST {1+}\r\nx \"a)\"\r\n");
        assert_eq!(args, ListArgs::default());
        let (_, args) = ext(b"t3 LIST (SPECIAL-USE) \"\" *\r\n");
        assert!(args.select.special_use && args.ret.special_use);
        let (rest, args) = ext(b"t4 LIST \"\" \"%\" RETURN (SPECIAL-USE SUBSCRIBED)\r\n");
        assert_eq!(rest, "t4 LIST \"\" \"%\"\r\n");
        assert!(args.ret.special_use && args.ret.subscribed);
    }

    #[test]
    fn hostile_extended_syntax_is_invalid() {
        for cmd in [
            &b"a LIST (SUBSCRIBED \"\" *\r\n"[..],
            b"a LIST (SUBSCRIBED)\"\" *\r\n",
            b"a LIST (BOGUS) \"\" *\r\n",
            b"a LIST (RECURSIVEMATCH) \"\" *\r\n",
            b"a LIST (RECURSIVEMATCH REMOTE) \"\" *\r\n",
            b"a LIST (SUBSCRIBED  REMOTE) \"\" *\r\n",
            b"a LIST \"\" (\"INBOX\" \r\n",
            b"a LIST \"\" ()\r\n",
            b"a LIST \"\" (a b\r\n",
            b"a LIST \"\" * RETURN (BOGUS)\r\n",
            b"a LIST \"\" * RETURN (CHILDREN\r\n",
            b"a LIST \"\" * RETURN CHILDREN\r\n",
            b"a LIST \"\" * RETURN (STATUS ())\r\n",
            b"a LIST \"\" * RETURN (STATUS (DELETED-STORAGE))\r\n",
            b"a LIST \"\" * RETURN (STATUS (MESSAGES) STATUS (UNSEEN))\r\n",
            b"a LIST \"\" * RETURN (STATUS MESSAGES)\r\n",
            b"a LIST \"\" * RETURN (CHILDREN) junk\r\n",
            b"a LIST \"\" * RETURN (CHILDREN)\n",
            b"a LIST () \"\" *\n",
            b"a LIST (\xff\0) \"\" *\r\n",
            b"a LIST \"\" * RETURN (\xff)\r\n",
            b"a LIST \"\" ({99}\r\nab)\r\n",
        ] {
            assert_eq!(split_list(cmd), ListSplit::Invalid, "{cmd:?}");
        }
        let many = format!(
            "a LIST \"\" ({})\r\n",
            vec!["x"; MAX_PATTERNS + 1].join(" ")
        );
        assert_eq!(split_list(many.as_bytes()), ListSplit::Invalid);
    }

    #[test]
    fn patterns_decode_through_imap_codec() {
        assert_eq!(
            decode_pattern(b"Sent*").as_deref(),
            Some("Sent*".as_bytes())
        );
        assert_eq!(
            decode_pattern(b"\"a b%\"").as_deref(),
            Some("a b%".as_bytes())
        );
        assert_eq!(
            decode_pattern(b"{3}\r\na b").as_deref(),
            Some("a b".as_bytes())
        );
        assert_eq!(
            decode_pattern(b"\"\\\"q\"").as_deref(),
            Some("\"q".as_bytes())
        );
        assert_eq!(decode_pattern(b"a\"b"), None);
        assert_eq!(decode_pattern(b"\xff"), None);
    }
}
