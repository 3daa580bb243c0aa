//! The argument and result types of the IMAP mailbox operations of [`Store`](super::Store)
//! (STORE, APPEND, COPY/MOVE, LIST, RENAME) and the pure rules both backends share: flag
//! arithmetic, INBOX naming, which mailboxes a RENAME moves, compact expunge records.

use bytes::Bytes;

use super::types::MailboxInfo;

/// The IMAP hierarchy separator the store assumes when RENAME moves inferior mailboxes.
pub const HIERARCHY_SEPARATOR: char = '/';

/// How [`Store::store_flags`](super::Store::store_flags) combines the given flags with the
/// message's (RFC 3501 §6.4.6: `FLAGS`, `+FLAGS`, `-FLAGS`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FlagOp {
    /// Replace the flags with the given ones.
    Set,
    /// Add the given flags.
    Add,
    /// Remove the given flags.
    Remove,
}

/// A message's flags after a STORE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagChange {
    /// The message.
    pub uid: u32,
    /// Its flags now.
    pub flags: Vec<String>,
    /// Its mod-sequence now (the mailbox's new HIGHESTMODSEQ if `changed`).
    pub modseq: u64,
    /// Whether this STORE changed the flags (an untouched message keeps its modseq).
    pub changed: bool,
}

/// Result of [`Store::store_flags`](super::Store::store_flags).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlagsUpdate {
    /// Every existing requested message that passed the UNCHANGEDSINCE test, in UID order.
    pub updated: Vec<FlagChange>,
    /// UIDs that failed UNCHANGEDSINCE (RFC 7162 §3.1.3: the `MODIFIED` response code).
    pub modified: Vec<u32>,
}

/// A message for [`Store::append`](super::Store::append) (IMAP APPEND).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendMessage {
    /// The message (headers and body).
    pub body: Bytes,
    /// Initial flags (`\Recent` is dropped: it is per session, RFC 3501 §2.3.2).
    pub flags: Vec<String>,
    /// Internal date, unix seconds.
    pub internal_date: i64,
    /// The IMAP layer's cached summary (ENVELOPE, BODYSTRUCTURE...), stored opaquely.
    pub summary: Option<Vec<u8>>,
}

/// Result of [`Store::copy`](super::Store::copy) and
/// [`Store::move_messages`](super::Store::move_messages): the COPYUID data (RFC 4315 §3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyUids {
    /// UIDVALIDITY of the destination mailbox.
    pub uidvalidity: u32,
    /// `(source UID, destination UID)` in source UID order; unknown UIDs are absent.
    pub pairs: Vec<(u32, u32)>,
}

/// One mailbox as listed by [`Store::list_mailboxes`](super::Store::list_mailboxes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxEntry {
    /// The mailbox name as stored.
    pub name: String,
    /// Its counters.
    pub info: MailboxInfo,
    /// Its SPECIAL-USE attribute (RFC 6154, e.g. `\Sent`), if any.
    pub special_use: Option<String>,
}

/// Whether `name` is the INBOX (RFC 3501 §5.1: the name is case-insensitive).
pub fn is_inbox(name: &str) -> bool {
    name.eq_ignore_ascii_case("INBOX")
}

/// Whether a message with `flags` is marked `\Deleted`.
pub(crate) fn is_deleted(flags: &[String]) -> bool {
    flags.iter().any(|f| f.eq_ignore_ascii_case("\\Deleted"))
}

/// `current` combined with `given` by `op`; `None` if the result is the same set.
///
/// Flags compare case-insensitively (RFC 3501 §2.3.2 system flags, and keywords in every
/// server we interoperate with); the first spelling seen is kept. `\Recent` is never stored.
pub(crate) fn apply_flags(current: &[String], op: FlagOp, given: &[String]) -> Option<Vec<String>> {
    let given: Vec<&String> = given
        .iter()
        .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
        .collect();
    let contains = |set: &[String], f: &str| set.iter().any(|s| s.eq_ignore_ascii_case(f));
    let next = match op {
        FlagOp::Set => {
            let mut out: Vec<String> = Vec::with_capacity(given.len());
            for f in given {
                if !contains(&out, f) {
                    out.push(f.clone());
                }
            }
            out
        }
        FlagOp::Add => {
            let mut out = current.to_vec();
            for f in given {
                if !contains(&out, f) {
                    out.push(f.clone());
                }
            }
            out
        }
        FlagOp::Remove => current
            .iter()
            .filter(|f| !given.iter().any(|g| g.eq_ignore_ascii_case(f)))
            .cloned()
            .collect(),
    };
    let same = next.len() == current.len() && next.iter().all(|f| contains(current, f));
    (!same).then_some(next)
}

/// The `(old, new)` names a RENAME of `from` to `to` moves, given every existing name.
///
/// RFC 3501 §6.3.5: inferior names move with their parent (`from/x` becomes `to/x`), except
/// for INBOX, whose inferiors are unaffected by its rename.
pub(crate) fn rename_pairs<'a>(
    existing: impl IntoIterator<Item = &'a str>,
    from: &str,
    to: &str,
) -> Vec<(String, String)> {
    let mut pairs = vec![(from.to_owned(), to.to_owned())];
    if is_inbox(from) {
        return pairs;
    }
    let prefix = format!("{from}{HIERARCHY_SEPARATOR}");
    for name in existing {
        if let Some(rest) = name.strip_prefix(&prefix) {
            pairs.push((name.to_owned(), format!("{to}{HIERARCHY_SEPARATOR}{rest}")));
        }
    }
    pairs
}

/// Whether `to` lies under `from` (a mailbox cannot be renamed into its own subtree).
pub(crate) fn is_inferior(from: &str, to: &str) -> bool {
    to.strip_prefix(from)
        .is_some_and(|rest| rest.starts_with(HIERARCHY_SEPARATOR))
}

/// Sorted, deduplicated UIDs as inclusive ranges: an expunge record stays a few bytes even
/// when a whole mailbox is expunged.
pub(crate) fn uid_ranges(sorted: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &uid in sorted {
        match out.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(uid) => *end = uid,
            Some((_, end)) if *end == uid => {}
            _ => out.push((uid, uid)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flag_arithmetic() {
        let cur = flags(&["\\Seen", "$Work"]);
        assert_eq!(
            apply_flags(&cur, FlagOp::Add, &flags(&["\\seen", "\\Flagged"])),
            Some(flags(&["\\Seen", "$Work", "\\Flagged"]))
        );
        assert_eq!(apply_flags(&cur, FlagOp::Add, &flags(&["\\SEEN"])), None);
        assert_eq!(
            apply_flags(&cur, FlagOp::Remove, &flags(&["$work", "\\Draft"])),
            Some(flags(&["\\Seen"]))
        );
        assert_eq!(
            apply_flags(&cur, FlagOp::Remove, &flags(&["\\Draft"])),
            None
        );
        assert_eq!(
            apply_flags(&cur, FlagOp::Set, &flags(&["$Work", "\\Seen", "\\seen"])),
            None
        );
        assert_eq!(
            apply_flags(&cur, FlagOp::Set, &flags(&["\\Recent", "\\Answered"])),
            Some(flags(&["\\Answered"]))
        );
        assert_eq!(apply_flags(&cur, FlagOp::Set, &[]), Some(Vec::new()));
        assert!(is_deleted(&flags(&["\\DELETED"])));
        assert!(!is_deleted(&cur));
    }

    #[test]
    fn rename_moves_inferiors_except_for_inbox() {
        let names = ["a", "a/b", "a/b/c", "ab", "INBOX", "INBOX/x"];
        assert_eq!(
            rename_pairs(names, "a", "z"),
            vec![
                ("a".to_owned(), "z".to_owned()),
                ("a/b".to_owned(), "z/b".to_owned()),
                ("a/b/c".to_owned(), "z/b/c".to_owned()),
            ]
        );
        assert_eq!(
            rename_pairs(names, "inbox", "Old"),
            vec![("inbox".to_owned(), "Old".to_owned())]
        );
        assert!(is_inferior("a", "a/b"));
        assert!(!is_inferior("a", "ab"));
        assert!(!is_inferior("a", "a"));
    }

    #[test]
    fn ranges_are_compact() {
        assert_eq!(uid_ranges(&[]), Vec::new());
        assert_eq!(
            uid_ranges(&[1, 2, 3, 5, 5, 7, 8]),
            vec![(1, 3), (5, 5), (7, 8)]
        );
        assert_eq!(
            uid_ranges(&[u32::MAX - 1, u32::MAX]),
            vec![(u32::MAX - 1, u32::MAX)]
        );
    }
}
