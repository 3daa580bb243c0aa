//! LIST/LSUB name matching (RFC 3501 §6.3.8): `*` matches anything, `%` anything but the
//! hierarchy separator `/`; INBOX matches case-insensitively.

use crate::protocol::imap::wire::push_string;
use crate::storage::{is_inbox, MailboxEntry, HIERARCHY_SEPARATOR};

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

/// The untagged `LIST`/`LSUB` responses for `pattern` over `entries` (sorted by name).
/// `only` restricts to these names (LSUB: the subscriptions).
pub fn render(
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
    // Limit the work a hostile pattern of many wildcards can cause.
    if full.bytes().filter(|b| matches!(b, b'*' | b'%')).count() > 8 {
        return out;
    }
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
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
        let children = names.iter().any(|n| n.starts_with(&prefix));
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
        push_string(&mut out, name);
        out.push_str("\r\n");
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
