//! LIST/LSUB name matching (RFC 3501 §6.3.8): `*` matches anything, `%` anything but the
//! hierarchy separator `/`; INBOX matches case-insensitively. Also the LIST-EXTENDED
//! selection (RFC 5258 §3: SUBSCRIBED, RECURSIVEMATCH with CHILDINFO, `\NonExistent`;
//! RFC 6154 §5.1 SPECIAL-USE) over several patterns.

use std::collections::{BTreeMap, BTreeSet};

use super::list_args::{ReturnOpts, SelectOpts};
use super::names::NameCodec;
use crate::storage::{is_inbox, MailboxEntry, MailboxInfo, HIERARCHY_SEPARATOR};

/// Wildcards allowed in one pattern: bounds the backtracking a hostile pattern causes.
const MAX_WILDCARDS: usize = 8;

/// Whether `name` matches the LIST `pattern` (reference already prefixed).
pub fn matches(pattern: &str, name: &str) -> bool {
    // RFC 3501 §5.1: INBOX is case-insensitive, so compare it in its canonical spelling.
    let name = if is_inbox(name) { "INBOX" } else { name };
    let canon;
    let pattern = match pattern.get(..5) {
        Some(head) if is_inbox(head) && name == "INBOX" => {
            canon = format!("INBOX{}", &pattern[5..]);
            canon.as_str()
        }
        _ => pattern,
    };
    glob(pattern.as_bytes(), name.as_bytes())
}

fn glob(p: &[u8], n: &[u8]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some(b'*') => (0..=n.len()).any(|i| glob(&p[1..], &n[i..])),
        Some(b'%') => {
            let stop = n
                .iter()
                .position(|b| *b == HIERARCHY_SEPARATOR as u8)
                .unwrap_or(n.len());
            (0..=stop).any(|i| glob(&p[1..], &n[i..]))
        }
        Some(c) => n.first() == Some(c) && glob(&p[1..], &n[1..]),
    }
}

/// The untagged `LIST`/`LSUB` responses for `pattern` over `entries` (sorted by name),
/// names spelled by `names`. `only` restricts to these names (LSUB: the subscriptions).
pub fn render(
    names: NameCodec,
    command: &str,
    reference: &str,
    pattern: &str,
    entries: &[MailboxEntry],
    only: Option<&[String]>,
) -> String {
    let mut out = String::new();
    if pattern.is_empty() {
        // RFC 3501 §6.3.8: an empty pattern asks for the separator and root.
        out.push_str(&format!("* {command} (\\Noselect) \"/\" \"\"\r\n"));
        return out;
    }
    let full = format!("{reference}{pattern}");
    if too_wild(&full) {
        return out;
    }
    let all: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    for e in entries {
        if !matches(&full, &e.name) {
            continue;
        }
        if let Some(only) = only {
            if !only
                .iter()
                .any(|s| s == &e.name || (is_inbox(s) && is_inbox(&e.name)))
            {
                continue;
            }
        }
        let prefix = format!("{}{}", e.name, HIERARCHY_SEPARATOR);
        let children = all.iter().any(|n| n.starts_with(&prefix));
        let mut attrs = vec![if children {
            "\\HasChildren"
        } else {
            "\\HasNoChildren"
        }];
        if let Some(su) = &e.special_use {
            attrs.push(su.as_str());
        }
        let name = if is_inbox(&e.name) { "INBOX" } else { &e.name };
        out.push_str(&format!("* {command} ({}) \"/\" ", attrs.join(" ")));
        names.push(&mut out, name);
        out.push_str("\r\n");
    }
    out
}

fn too_wild(pattern: &str) -> bool {
    pattern.bytes().filter(|b| matches!(b, b'*' | b'%')).count() > MAX_WILDCARDS
}

/// One mailbox name an extended LIST returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The name (`INBOX` canonical).
    pub name: String,
    /// The `* LIST` line, CRLF included.
    pub line: String,
    /// Counters when the mailbox exists (it can then be given a LIST-STATUS line).
    pub info: Option<MailboxInfo>,
}

/// The names an extended LIST returns, in name order, each with its `* LIST` line
/// (RFC 5258 §3). `subs` are the subscriptions (needed when either option names
/// SUBSCRIBED); an empty pattern gives the root line of RFC 3501 §6.3.8. Names are
/// matched as stored and spelled by `names` in the lines.
pub fn list_extended(
    names: NameCodec,
    reference: &str,
    patterns: &[String],
    select: SelectOpts,
    ret: &ReturnOpts,
    entries: &[MailboxEntry],
    subs: &[String],
) -> Vec<Listed> {
    let canon = |n: &str| {
        if is_inbox(n) {
            "INBOX".to_owned()
        } else {
            n.to_owned()
        }
    };
    let existing: BTreeMap<String, &MailboxEntry> =
        entries.iter().map(|e| (canon(&e.name), e)).collect();
    let subscribed: BTreeSet<String> = subs.iter().map(|s| canon(s)).collect();
    // The names meeting the selection criteria: RFC 5258 §3 SUBSCRIBED includes
    // subscribed names that do not exist; several options must all hold.
    let mut universe: BTreeSet<String> = existing.keys().cloned().collect();
    if select.subscribed {
        universe.extend(subscribed.iter().cloned());
    }
    let meets: BTreeSet<String> = universe
        .into_iter()
        .filter(|n| !select.subscribed || subscribed.contains(n))
        .filter(|n| !select.special_use || existing.get(n).is_some_and(|e| e.special_use.is_some()))
        .collect();
    let has_meeting_child = |name: &str| {
        let prefix = format!("{name}{HIERARCHY_SEPARATOR}");
        meets.iter().any(|m| m.starts_with(&prefix))
    };
    let mut candidates = meets.clone();
    if select.recursive {
        // RFC 5258 §3 RECURSIVEMATCH: parents of matching names are candidates too.
        for m in &meets {
            let mut at = 0;
            while let Some(i) = m[at..].find(HIERARCHY_SEPARATOR) {
                candidates.insert(m[..at + i].to_owned());
                at += i + 1;
            }
        }
    }
    let fulls: Vec<String> = patterns
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| format!("{reference}{p}"))
        .filter(|p| !too_wild(p))
        .collect();
    let mut out = Vec::new();
    if patterns.iter().any(String::is_empty) {
        out.push(Listed {
            name: String::new(),
            line: "* LIST (\\Noselect) \"/\" \"\"\r\n".to_owned(),
            info: None,
        });
    }
    for name in candidates {
        if !fulls.iter().any(|p| matches(p, &name)) {
            continue;
        }
        let childinfo = select.recursive && has_meeting_child(&name);
        if !meets.contains(&name) && !childinfo {
            continue;
        }
        let entry = existing.get(&name);
        let mut attrs: Vec<&str> = Vec::new();
        let prefix = format!("{name}{HIERARCHY_SEPARATOR}");
        if entry.is_none() {
            // RFC 5258 §3.4: children attributes describe existing mailboxes only.
            attrs.push("\\NonExistent");
        } else if existing.keys().any(|n| n.starts_with(&prefix)) {
            attrs.push("\\HasChildren");
        } else {
            attrs.push("\\HasNoChildren");
        }
        if let Some(su) = entry.and_then(|e| e.special_use.as_deref()) {
            attrs.push(su);
        }
        if ret.subscribed && subscribed.contains(&name) {
            attrs.push("\\Subscribed");
        }
        let mut line = format!("* LIST ({}) \"/\" ", attrs.join(" "));
        names.push(&mut line, &name);
        if childinfo {
            // RFC 5258 §3.5: CHILDINFO names the criteria a descendant meets.
            let base: Vec<&str> = [
                (select.subscribed, "\"SUBSCRIBED\""),
                (select.special_use, "\"SPECIAL-USE\""),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, w)| *w)
            .collect();
            line.push_str(&format!(" (\"CHILDINFO\" ({}))", base.join(" ")));
        }
        line.push_str("\r\n");
        out.push(Listed {
            info: entry.map(|e| e.info),
            name,
            line,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("*", "a/b/c"));
        assert!(matches("%", "a"));
        assert!(!matches("%", "a/b"));
        assert!(matches("a/%", "a/b"));
        assert!(!matches("a/%", "a/b/c"));
        assert!(matches("a/*", "a/b/c"));
        assert!(matches("inbox", "INBOX"));
        assert!(matches("InBoX", "inbox"));
        assert!(matches("I*", "INBOX"));
        assert!(!matches("inbox", "Inbox2"));
        assert!(!matches("x%", "y"));
    }
}
