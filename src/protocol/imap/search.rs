//! SEARCH key evaluation over one message (RFC 3501 §6.4.4, RFC 7162 MODSEQ).
//!
//! Flag, size, date and set keys need only the stored metadata; header and body keys
//! need the raw message, parsed at most once per message and only when a key asks.
//! Text matching is a case-insensitive substring test on decoded text (CHARSET UTF-8):
//! mail-parser undoes RFC 2047 encoded-words and transfer encodings.

use std::cell::OnceCell;

use chrono::{DateTime, FixedOffset, NaiveDate};
use mail_parser::{Address, HeaderValue, Message, MessageParser, PartType};

use super::sequence::SequenceSet;

/// One search key; a list of keys at the top level is [`SearchKey::And`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// Every message.
    All,
    /// `\Answered` set.
    Answered,
    /// Bcc header contains the string.
    Bcc(String),
    /// Internal date earlier than the day.
    Before(NaiveDate),
    /// Body text contains the string.
    Body(String),
    /// Cc header contains the string.
    Cc(String),
    /// `\Deleted` set.
    Deleted,
    /// `\Draft` set.
    Draft,
    /// `\Flagged` set.
    Flagged,
    /// From header contains the string.
    From(String),
    /// The named header contains the string (empty string: the header exists).
    Header(String, String),
    /// The keyword flag is set.
    Keyword(String),
    /// RFC822.SIZE larger than n.
    Larger(u64),
    /// `\Recent` and not `\Seen`.
    New,
    /// Negation.
    Not(Box<SearchKey>),
    /// Not `\Recent`.
    Old,
    /// Internal date on the day.
    On(NaiveDate),
    /// Either key.
    Or(Box<SearchKey>, Box<SearchKey>),
    /// `\Recent` set.
    Recent,
    /// `\Seen` set.
    Seen,
    /// Date header earlier than the day.
    SentBefore(NaiveDate),
    /// Date header on the day.
    SentOn(NaiveDate),
    /// Date header on or after the day.
    SentSince(NaiveDate),
    /// Internal date on or after the day.
    Since(NaiveDate),
    /// RFC822.SIZE smaller than n.
    Smaller(u64),
    /// Subject header contains the string.
    Subject(String),
    /// Header or body contains the string.
    Text(String),
    /// To header contains the string.
    To(String),
    /// UID in the set.
    Uid(SequenceSet),
    /// `\Answered` not set.
    Unanswered,
    /// `\Deleted` not set.
    Undeleted,
    /// `\Draft` not set.
    Undraft,
    /// `\Flagged` not set.
    Unflagged,
    /// The keyword flag is not set.
    Unkeyword(String),
    /// `\Seen` not set.
    Unseen,
    /// Sequence number in the set.
    SequenceSet(SequenceSet),
    /// All keys (the implicit AND of a key list and of parenthesised keys).
    And(Vec<SearchKey>),
    /// RFC 7162 §3.1.5: mod-sequence at least n.
    ModSeq(u64),
}

/// What a search sees of one message.
pub struct SearchContext<'a> {
    /// Message sequence number.
    pub seq: u32,
    /// Highest sequence number in the mailbox (`*` in sequence sets).
    pub max_seq: u32,
    /// UID.
    pub uid: u32,
    /// Highest UID in the mailbox (`*` in UID sets).
    pub max_uid: u32,
    /// Stored flags and keywords (`\Seen`, `$Forwarded`, ...), matched case-insensitively.
    pub flags: &'a [String],
    /// `\Recent` for this session (not stored, RFC 3501 §2.3.2).
    pub recent: bool,
    /// INTERNALDATE, in the zone it was recorded in.
    pub internal_date: DateTime<FixedOffset>,
    /// RFC822.SIZE.
    pub size: u64,
    /// CONDSTORE mod-sequence.
    pub modseq: u64,
    /// The raw message, when loaded; load it when [`needs_raw`] says so.
    pub raw: Option<&'a [u8]>,
}

/// True when evaluating `key` reads headers or body, i.e. the raw message must be loaded.
pub fn needs_raw(key: &SearchKey) -> bool {
    use SearchKey::*;
    match key {
        Bcc(_) | Body(_) | Cc(_) | From(_) | Header(..) | SentBefore(_) | SentOn(_)
        | SentSince(_) | Subject(_) | Text(_) | To(_) => true,
        Not(k) => needs_raw(k),
        Or(a, b) => needs_raw(a) || needs_raw(b),
        And(keys) => keys.iter().any(needs_raw),
        _ => false,
    }
}

/// Evaluates `key` against one message. Content keys are false when `raw` is `None`.
pub fn matches(key: &SearchKey, msg: &SearchContext<'_>) -> bool {
    let eval = Evaluator {
        ctx: msg,
        parsed: OnceCell::new(),
    };
    eval.matches(key)
}

struct Evaluator<'a, 'c> {
    ctx: &'c SearchContext<'a>,
    parsed: OnceCell<Option<Message<'a>>>,
}

impl<'a> Evaluator<'a, '_> {
    fn message(&self) -> Option<&Message<'a>> {
        self.parsed
            .get_or_init(|| self.ctx.raw.and_then(|r| MessageParser::default().parse(r)))
            .as_ref()
    }

    fn has_flag(&self, flag: &str) -> bool {
        self.ctx.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
    }

    fn matches(&self, key: &SearchKey) -> bool {
        use SearchKey::*;
        let c = self.ctx;
        let day = c.internal_date.date_naive();
        match key {
            All => true,
            Answered => self.has_flag("\\Answered"),
            Deleted => self.has_flag("\\Deleted"),
            Draft => self.has_flag("\\Draft"),
            Flagged => self.has_flag("\\Flagged"),
            Seen => self.has_flag("\\Seen"),
            Unanswered => !self.has_flag("\\Answered"),
            Undeleted => !self.has_flag("\\Deleted"),
            Undraft => !self.has_flag("\\Draft"),
            Unflagged => !self.has_flag("\\Flagged"),
            Unseen => !self.has_flag("\\Seen"),
            Keyword(k) => self.has_flag(k),
            Unkeyword(k) => !self.has_flag(k),
            Recent => c.recent,
            Old => !c.recent,
            New => c.recent && !self.has_flag("\\Seen"),
            // RFC 3501 §6.4.4: date keys disregard time and timezone.
            Before(d) => day < *d,
            On(d) => day == *d,
            Since(d) => day >= *d,
            SentBefore(d) => self.sent_date().is_some_and(|s| s < *d),
            SentOn(d) => self.sent_date().is_some_and(|s| s == *d),
            SentSince(d) => self.sent_date().is_some_and(|s| s >= *d),
            Larger(n) => c.size > *n,
            Smaller(n) => c.size < *n,
            ModSeq(n) => c.modseq >= *n,
            Uid(set) => set.contains(c.uid, c.max_uid),
            SequenceSet(set) => set.contains(c.seq, c.max_seq),
            Not(k) => !self.matches(k),
            Or(a, b) => self.matches(a) || self.matches(b),
            And(keys) => keys.iter().all(|k| self.matches(k)),
            Bcc(s) => self.header_contains("Bcc", s),
            Cc(s) => self.header_contains("Cc", s),
            From(s) => self.header_contains("From", s),
            To(s) => self.header_contains("To", s),
            Subject(s) => self.header_contains("Subject", s),
            Header(name, s) => self.header_contains(name, s),
            Body(s) => self.body_contains(s),
            Text(s) => self.text_contains(s),
        }
    }

    /// The Date header's calendar day; a message without one falls back to its internal
    /// date, as Dovecot and Cyrus do.
    fn sent_date(&self) -> Option<NaiveDate> {
        let msg = self.message()?;
        match msg.date() {
            Some(d) => NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into()),
            None => Some(self.ctx.internal_date.date_naive()),
        }
    }

    fn header_contains(&self, name: &str, needle: &str) -> bool {
        let Some(msg) = self.message() else {
            return false;
        };
        let needle = needle.to_lowercase();
        let raw = msg.raw_message();
        msg.root_part()
            .headers
            .iter()
            .filter(|h| h.name.as_str().eq_ignore_ascii_case(name))
            .any(|h| {
                // RFC 3501 §6.4.4 HEADER: an empty string matches any message with the field.
                needle.is_empty() || header_text(raw, h).to_lowercase().contains(&needle)
            })
    }

    fn body_contains(&self, needle: &str) -> bool {
        let Some(msg) = self.message() else {
            return false;
        };
        let needle = needle.to_lowercase();
        body_contains(msg, &needle, 0)
    }

    fn text_contains(&self, needle: &str) -> bool {
        let Some(msg) = self.message() else {
            return false;
        };
        let lower = needle.to_lowercase();
        let raw = msg.raw_message();
        msg.root_part().headers.iter().any(|h| {
            h.name.as_str().to_lowercase().contains(&lower)
                || header_text(raw, h).to_lowercase().contains(&lower)
        }) || body_contains(msg, &lower, 0)
    }
}

/// The raw value of a header plus its decoded form, so either may match.
fn header_text(raw: &[u8], h: &mail_parser::Header<'_>) -> String {
    let mut text = raw
        .get(h.offset_start as usize..h.offset_end as usize)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    text.push('\n');
    match &h.value {
        HeaderValue::Text(t) => text.push_str(t),
        HeaderValue::TextList(list) => {
            for t in list {
                text.push_str(t);
                text.push('\n');
            }
        }
        HeaderValue::Address(addr) => {
            let mut push_addr = |a: &mail_parser::Addr<'_>| {
                for part in [&a.name, &a.address].into_iter().flatten() {
                    text.push_str(part);
                    text.push('\n');
                }
            };
            match addr {
                Address::List(list) => list.iter().for_each(&mut push_addr),
                Address::Group(groups) => {
                    for g in groups {
                        g.addresses.iter().for_each(&mut push_addr);
                    }
                }
            }
        }
        _ => {}
    }
    text
}

const MAX_DEPTH: usize = 64;

/// Searches every textual part, nested messages included, in decoded form.
fn body_contains(msg: &Message<'_>, needle: &str, depth: usize) -> bool {
    let raw = msg.raw_message();
    // MIME headers of the parts (file names, descriptions) are body text too.
    let in_mime_headers = msg.parts.iter().skip(1).any(|part| {
        part.headers
            .iter()
            .any(|h| header_text(raw, h).to_lowercase().contains(needle))
    });
    in_mime_headers
        || msg.parts.iter().any(|part| match &part.body {
            PartType::Text(t) | PartType::Html(t) => t.to_lowercase().contains(needle),
            PartType::Message(inner) if depth < MAX_DEPTH => {
                // The nested message's header is part of the outer body.
                inner.root_part().headers.iter().any(|h| {
                    header_text(inner.raw_message(), h)
                        .to_lowercase()
                        .contains(needle)
                }) || body_contains(inner, needle, depth + 1)
            }
            _ => false,
        })
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
