//! Maps imap-codec's syntax tree (imap-types) to the crate's own types: raw mailbox names,
//! sequence sets, flags, search keys and FETCH sections.

use chrono::NaiveDate;
use imap_codec::imap_types::{
    core::AString,
    fetch::{Part, Section as WireSection},
    flag::Flag,
    mailbox::{ListMailbox, Mailbox},
    search::SearchKey as WireKey,
    sequence::{SeqOrUid, Sequence, SequenceSet as WireSet},
};

use crate::protocol::imap::search::SearchKey;
use crate::protocol::imap::section::{Section, SectionKind};
use crate::protocol::imap::sequence::{SeqBound, SequenceSet};

/// The mailbox name as sent (`INBOX` in upper case), still in the session's wire
/// spelling: [`super::names::NameCodec::decode`] makes it a stored name.
pub fn mailbox_raw(m: &Mailbox<'_>) -> Vec<u8> {
    match m {
        Mailbox::Inbox => b"INBOX".to_vec(),
        Mailbox::Other(o) => o.as_ref().to_vec(),
    }
}

/// A LIST pattern as sent, still in the session's wire spelling.
pub fn list_pattern(m: &ListMailbox<'_>) -> Vec<u8> {
    match m {
        ListMailbox::Token(t) => t.as_ref().to_vec(),
        ListMailbox::String(s) => s.as_ref().to_vec(),
    }
}

/// An `astring` as text.
pub fn astring(s: &AString<'_>) -> String {
    lossy(s.as_ref())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A sequence set in our representation.
pub fn sequence_set(set: &WireSet) -> SequenceSet {
    let bound = |b: &SeqOrUid| match b {
        SeqOrUid::Value(n) => SeqBound::Num(n.get()),
        SeqOrUid::Asterisk => SeqBound::Star,
    };
    SequenceSet {
        ranges: set
            .0
            .as_ref()
            .iter()
            .map(|s| match s {
                Sequence::Single(a) => (bound(a), bound(a)),
                Sequence::Range(a, b) => (bound(a), bound(b)),
            })
            .collect(),
    }
}

/// A flag as its wire text (`\Seen`, `$Junk`).
pub fn flag(f: &Flag<'_>) -> String {
    f.to_string()
}

fn date(d: &imap_codec::imap_types::datetime::NaiveDate) -> NaiveDate {
    *d.as_ref()
}

/// A search key in our representation.
pub fn search_key(k: &WireKey<'_>) -> SearchKey {
    use SearchKey as S;
    match k {
        WireKey::And(keys) => S::And(keys.as_ref().iter().map(search_key).collect()),
        WireKey::SequenceSet(s) => S::SequenceSet(sequence_set(s)),
        WireKey::All => S::All,
        WireKey::Answered => S::Answered,
        WireKey::Bcc(s) => S::Bcc(astring(s)),
        WireKey::Before(d) => S::Before(date(d)),
        WireKey::Body(s) => S::Body(astring(s)),
        WireKey::Cc(s) => S::Cc(astring(s)),
        WireKey::Deleted => S::Deleted,
        WireKey::Draft => S::Draft,
        WireKey::Flagged => S::Flagged,
        WireKey::From(s) => S::From(astring(s)),
        WireKey::Header(n, v) => S::Header(astring(n), astring(v)),
        WireKey::Keyword(a) => S::Keyword(a.inner().to_owned()),
        WireKey::Larger(n) => S::Larger(u64::from(*n)),
        WireKey::New => S::New,
        WireKey::Not(k) => S::Not(Box::new(search_key(k))),
        WireKey::Old => S::Old,
        WireKey::On(d) => S::On(date(d)),
        WireKey::Or(a, b) => S::Or(Box::new(search_key(a)), Box::new(search_key(b))),
        WireKey::Recent => S::Recent,
        WireKey::Seen => S::Seen,
        WireKey::SentBefore(d) => S::SentBefore(date(d)),
        WireKey::SentOn(d) => S::SentOn(date(d)),
        WireKey::SentSince(d) => S::SentSince(date(d)),
        WireKey::Since(d) => S::Since(date(d)),
        WireKey::Smaller(n) => S::Smaller(u64::from(*n)),
        WireKey::Subject(s) => S::Subject(astring(s)),
        WireKey::Text(s) => S::Text(astring(s)),
        WireKey::To(s) => S::To(astring(s)),
        WireKey::Uid(s) => S::Uid(sequence_set(s)),
        WireKey::Unanswered => S::Unanswered,
        WireKey::Undeleted => S::Undeleted,
        WireKey::Undraft => S::Undraft,
        WireKey::Unflagged => S::Unflagged,
        WireKey::Unkeyword(a) => S::Unkeyword(a.inner().to_owned()),
        WireKey::Unseen => S::Unseen,
        WireKey::ModSequence { modseq, .. } => S::ModSeq(*modseq),
    }
}

fn path(p: &Option<Part>) -> Vec<u32> {
    p.as_ref()
        .map(|p| p.0.as_ref().iter().map(|n| n.get()).collect())
        .unwrap_or_default()
}

/// A FETCH section in our representation (`None` is `BODY[]`).
pub fn section(s: &Option<WireSection<'_>>) -> Section {
    let names = |v: &imap_codec::imap_types::core::Vec1<AString<'_>>| {
        v.as_ref().iter().map(astring).collect::<Vec<_>>()
    };
    match s {
        None => Section::full(),
        Some(WireSection::Part(p)) => Section::part(path(&Some(p.clone())), SectionKind::Body),
        Some(WireSection::Header(p)) => Section::part(path(p), SectionKind::Header),
        Some(WireSection::HeaderFields(p, v)) => Section::part(
            path(p),
            SectionKind::HeaderFields {
                names: names(v),
                not: false,
            },
        ),
        Some(WireSection::HeaderFieldsNot(p, v)) => Section::part(
            path(p),
            SectionKind::HeaderFields {
                names: names(v),
                not: true,
            },
        ),
        Some(WireSection::Text(p)) => Section::part(path(p), SectionKind::Text),
        Some(WireSection::Mime(p)) => Section::part(path(&Some(p.clone())), SectionKind::Mime),
    }
}

/// The section specifier as echoed in the FETCH response (`HEADER.FIELDS (A B)`).
pub fn section_text(s: &Section) -> String {
    let mut out: String = s
        .path
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(".");
    let kind = match &s.kind {
        SectionKind::Body => String::new(),
        SectionKind::Header => "HEADER".to_owned(),
        SectionKind::Text => "TEXT".to_owned(),
        SectionKind::Mime => "MIME".to_owned(),
        SectionKind::HeaderFields { names, not } => {
            let mut t = if *not {
                "HEADER.FIELDS.NOT (".to_owned()
            } else {
                "HEADER.FIELDS (".to_owned()
            };
            for (i, n) in names.iter().enumerate() {
                if i > 0 {
                    t.push(' ');
                }
                crate::protocol::imap::wire::push_string(&mut t, &n.to_ascii_uppercase());
            }
            t.push(')');
            t
        }
    };
    if !out.is_empty() && !kind.is_empty() {
        out.push('.');
    }
    out.push_str(&kind);
    out
}
