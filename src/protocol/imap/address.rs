//! RFC 5322 address lists rendered as IMAP envelope address structures (RFC 3501 §7.4.2).
//!
//! This works on the raw (unfolded) header value rather than on mail-parser's decoded
//! addresses because IMAP sends display names exactly as they appear in the header,
//! RFC 2047 encoded-words included.

use super::wire::push_nstring;

/// One `addr-spec` with its display name and obsolete source route.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mailbox {
    /// Display name (phrase), encoded-words left as they are.
    pub name: Option<String>,
    /// Obsolete source route (`@a,@b`), RFC 5322 §4.4.
    pub adl: Option<String>,
    /// Local part.
    pub mailbox: String,
    /// Domain; empty when the address had none.
    pub host: String,
}

/// A top-level member of an address list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressItem {
    /// A plain mailbox.
    Mailbox(Mailbox),
    /// `name: member, member;` (RFC 5322 §3.4).
    Group {
        /// The group's display name.
        name: String,
        /// Its members, possibly none.
        members: Vec<Mailbox>,
    },
}

/// A word of a phrase: its decoded text and its raw form (quotes kept).
struct Word {
    text: String,
    raw: String,
}

/// Parses a raw address-list header value; never fails, skipping what it cannot read.
pub fn parse_address_list(value: &str) -> Vec<AddressItem> {
    let mut items = Vec::new();
    let mut group: Option<(String, Vec<Mailbox>)> = None;
    let mut words: Vec<Word> = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars().peekable();

    let flush = |current: &mut String, words: &mut Vec<Word>| {
        if !current.is_empty() {
            let w = std::mem::take(current);
            words.push(Word {
                text: w.clone(),
                raw: w,
            });
        }
    };
    let push =
        |mb: Mailbox, group: &mut Option<(String, Vec<Mailbox>)>, items: &mut Vec<_>| match group {
            Some((_, members)) => members.push(mb),
            None => items.push(AddressItem::Mailbox(mb)),
        };

    while let Some(c) = chars.next() {
        match c {
            '"' => {
                flush(&mut current, &mut words);
                let mut text = String::new();
                let mut raw = String::from('"');
                while let Some(q) = chars.next() {
                    raw.push(q);
                    match q {
                        '\\' => {
                            if let Some(e) = chars.next() {
                                raw.push(e);
                                text.push(e);
                            }
                        }
                        '"' => break,
                        _ => text.push(q),
                    }
                }
                words.push(Word { text, raw });
            }
            '(' => {
                flush(&mut current, &mut words);
                skip_comment(&mut chars);
            }
            '<' => {
                flush(&mut current, &mut words);
                let mut inner = String::new();
                for a in chars.by_ref() {
                    if a == '>' {
                        break;
                    }
                    inner.push(a);
                }
                let mut mb = parse_angle(&inner);
                mb.name = phrase(&words);
                words.clear();
                push(mb, &mut group, &mut items);
            }
            ':' if group.is_none() => {
                flush(&mut current, &mut words);
                let name = phrase(&words).unwrap_or_default();
                words.clear();
                group = Some((name, Vec::new()));
            }
            ',' | ';' => {
                flush(&mut current, &mut words);
                if let Some(mb) = bare_addr(&words) {
                    push(mb, &mut group, &mut items);
                }
                words.clear();
                if c == ';' {
                    if let Some((name, members)) = group.take() {
                        items.push(AddressItem::Group { name, members });
                    }
                }
            }
            c if c.is_whitespace() => flush(&mut current, &mut words),
            c => current.push(c),
        }
    }
    flush(&mut current, &mut words);
    if let Some(mb) = bare_addr(&words) {
        push(mb, &mut group, &mut items);
    }
    // An unterminated group still counts: headers in the wild forget the `;`.
    if let Some((name, members)) = group {
        items.push(AddressItem::Group { name, members });
    }
    items
}

/// Appends the IMAP form of an address-list header (`NIL` when absent or empty).
pub fn push_address_list(out: &mut String, value: Option<&str>) {
    let items = value.map(parse_address_list).unwrap_or_default();
    if items.is_empty() {
        out.push_str("NIL");
        return;
    }
    out.push('(');
    for item in &items {
        match item {
            AddressItem::Mailbox(mb) => push_mailbox(out, mb),
            AddressItem::Group { name, members } => {
                // RFC 3501 §7.4.2: group start has NIL host and the name as mailbox,
                // group end has NIL mailbox and NIL host.
                out.push_str("(NIL NIL ");
                push_nstring(out, Some(name));
                out.push_str(" NIL)");
                for mb in members {
                    push_mailbox(out, mb);
                }
                out.push_str("(NIL NIL NIL NIL)");
            }
        }
    }
    out.push(')');
}

fn push_mailbox(out: &mut String, mb: &Mailbox) {
    out.push('(');
    push_nstring(out, mb.name.as_deref());
    out.push(' ');
    push_nstring(out, mb.adl.as_deref());
    out.push(' ');
    push_nstring(out, Some(&mb.mailbox));
    out.push(' ');
    push_nstring(out, Some(&mb.host));
    out.push(')');
}

fn skip_comment(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    let mut depth = 1usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

fn phrase(words: &[Word]) -> Option<String> {
    let name = words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

fn bare_addr(words: &[Word]) -> Option<Mailbox> {
    // obs-local-part and friends allow whitespace around dots; IMAP wants it removed.
    let spec: String = words.iter().map(|w| w.raw.as_str()).collect();
    (!spec.is_empty()).then(|| split_spec(&spec))
}

fn parse_angle(inner: &str) -> Mailbox {
    let inner: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
    match inner.strip_prefix('@').and(inner.split_once(':')) {
        Some((route, spec)) => Mailbox {
            adl: Some(route.to_string()),
            ..split_spec(spec)
        },
        None => split_spec(&inner),
    }
}

fn split_spec(spec: &str) -> Mailbox {
    let (mailbox, host) = spec.rsplit_once('@').unwrap_or((spec, ""));
    Mailbox {
        name: None,
        adl: None,
        mailbox: mailbox.to_string(),
        host: host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(v: &str) -> String {
        let mut out = String::new();
        push_address_list(&mut out, Some(v));
        out
    }

    #[test]
    fn plain_and_named() {
        assert_eq!(render("a@b.c"), r#"((NIL NIL "a" "b.c"))"#);
        assert_eq!(
            render("Terry Gray <gray@cac.washington.edu>, \"Doe, John\" <jd@x.org>"),
            r#"(("Terry Gray" NIL "gray" "cac.washington.edu")("Doe, John" NIL "jd" "x.org"))"#
        );
    }

    #[test]
    fn encoded_word_name_stays_raw() {
        assert_eq!(
            render("=?UTF-8?B?SsO2cmc=?= <j@x.de>"),
            r#"(("=?UTF-8?B?SsO2cmc=?=" NIL "j" "x.de"))"#
        );
    }

    #[test]
    fn groups() {
        assert_eq!(
            render("undisclosed-recipients:;"),
            r#"((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))"#
        );
        assert_eq!(
            render("Team: a@x.org, Bob <b@x.org>; c@y.org"),
            concat!(
                r#"((NIL NIL "Team" NIL)(NIL NIL "a" "x.org")("Bob" NIL "b" "x.org")"#,
                r#"(NIL NIL NIL NIL)(NIL NIL "c" "y.org"))"#
            )
        );
    }

    #[test]
    fn comments_routes_and_oddities() {
        assert_eq!(render("a@b.c (Alice Example)"), r#"((NIL NIL "a" "b.c"))"#);
        assert_eq!(
            render("<@r1.org,@r2.org:u@h.org>"),
            r#"((NIL "@r1.org,@r2.org" "u" "h.org"))"#
        );
        assert_eq!(render("localonly"), r#"((NIL NIL "localonly" ""))"#);
        assert_eq!(render(""), "NIL");
        assert_eq!(render(" , ,"), "NIL");
        assert_eq!(
            render("\"unterminated <x@y"),
            "((NIL NIL {16}\r\n\"unterminated <x \"y\"))"
        );
    }

    #[test]
    fn eight_bit_name_is_literal() {
        assert_eq!(
            render("Jörg <j@x.de>"),
            "(({5}\r\nJörg NIL \"j\" \"x.de\"))"
        );
    }
}
