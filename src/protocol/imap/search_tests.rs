use chrono::TimeZone;

use super::*;
use crate::protocol::imap::sequence::SequenceSet as Set;

fn crlf(s: &str) -> Vec<u8> {
    s.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

const NESTED: &str = include_str!("../../../tests/fixtures/imap/nested.eml");

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn ctx<'a>(raw: Option<&'a [u8]>, flags: &'a [String]) -> SearchContext<'a> {
    SearchContext {
        seq: 3,
        max_seq: 10,
        uid: 42,
        max_uid: 99,
        flags,
        recent: true,
        // 23:30 at -05:00 is already the next day in UTC: the local day must count.
        internal_date: FixedOffset::west_opt(5 * 3600)
            .unwrap()
            .with_ymd_and_hms(2024, 3, 9, 23, 30, 0)
            .unwrap(),
        size: 1000,
        modseq: 7,
        raw,
    }
}

fn s(v: &str) -> String {
    v.to_string()
}

#[test]
fn flag_keys() {
    use SearchKey::*;
    let flags = vec![s("\\Seen"), s("\\flagged"), s("$Forwarded")];
    let c = ctx(None, &flags);
    for (key, want) in [
        (All, true),
        (Seen, true),
        (Unseen, false),
        (Flagged, true),
        (Unflagged, false),
        (Answered, false),
        (Unanswered, true),
        (Deleted, false),
        (Undeleted, true),
        (Draft, false),
        (Undraft, true),
        (Keyword(s("$forwarded")), true),
        (Unkeyword(s("$Forwarded")), false),
        (Keyword(s("$Junk")), false),
        (Recent, true),
        (Old, false),
        (New, false),
    ] {
        assert_eq!(matches(&key, &c), want, "{key:?}");
    }
    let none: Vec<String> = Vec::new();
    assert!(matches(&New, &ctx(None, &none)));
}

#[test]
fn size_date_set_and_modseq_keys() {
    use SearchKey::*;
    let c = ctx(None, &[]);
    for (key, want) in [
        (Larger(999), true),
        (Larger(1000), false),
        (Smaller(1001), true),
        (Smaller(1000), false),
        (On(day(2024, 3, 9)), true),
        (On(day(2024, 3, 10)), false),
        (Before(day(2024, 3, 9)), false),
        (Before(day(2024, 3, 10)), true),
        (Since(day(2024, 3, 9)), true),
        (Since(day(2024, 3, 10)), false),
        (ModSeq(7), true),
        (ModSeq(8), false),
        (Uid(Set::parse("40:*").unwrap()), true),
        (Uid(Set::parse("1:41,43").unwrap()), false),
        (SearchKey::SequenceSet(Set::parse("3").unwrap()), true),
        (SearchKey::SequenceSet(Set::parse("*").unwrap()), false),
        (Not(Box::new(Seen)), true),
        (Or(Box::new(Seen), Box::new(Larger(10))), true),
        (Or(Box::new(Seen), Box::new(Larger(5000))), false),
        (And(vec![Recent, Larger(10), Unseen]), true),
        (And(vec![Recent, Seen]), false),
        (And(vec![]), true),
    ] {
        assert_eq!(matches(&key, &c), want, "{key:?}");
        assert!(!needs_raw(&key), "{key:?}");
    }
}

#[test]
fn header_keys_on_decoded_text() {
    use SearchKey::*;
    let raw = crlf(concat!(
        "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>\n",
        "To: Team: a@x.org, B Person <b@x.org>;\n",
        "Cc: cc@x.org\n",
        "Subject: =?UTF-8?B?R3LDvMOfZQ==?= from Berlin\n",
        "Date: Fri, 8 Mar 2024 22:00:00 -0800\n",
        "X-Mailer: Hermod Test 1.0\n",
        "\n",
        "Body text with a Needle in it.\n",
    ));
    let c = ctx(Some(&raw), &[]);
    for (key, want) in [
        (From(s("müller")), true),
        (From(s("JOERG@EXAMPLE")), true),
        (From(s("=?ISO-8859-1?Q?J=F6rg")), true),
        (From(s("nobody")), false),
        (To(s("b person")), true),
        (To(s("a@x.org")), true),
        (Cc(s("CC@")), true),
        (Bcc(s("")), false),
        (Subject(s("grüße")), true),
        (Subject(s("GRÜSSE")), false),
        (Subject(s("berlin")), true),
        (Header(s("x-mailer"), s("hermod")), true),
        (Header(s("X-Mailer"), s("")), true),
        (Header(s("X-Absent"), s("")), false),
        (Body(s("needle")), true),
        (Body(s("subject")), false),
        (Text(s("needle")), true),
        (Text(s("berlin")), true),
        (Text(s("x-mailer")), true),
        (Text(s("haystack")), false),
        // Date header's own day, regardless of timezone.
        (SentOn(day(2024, 3, 8)), true),
        (SentBefore(day(2024, 3, 8)), false),
        (SentBefore(day(2024, 3, 9)), true),
        (SentSince(day(2024, 3, 8)), true),
        (SentSince(day(2024, 3, 9)), false),
    ] {
        assert!(needs_raw(&key), "{key:?}");
        assert_eq!(matches(&key, &c), want, "{key:?}");
    }
}

#[test]
fn body_search_decodes_transfer_encodings_and_nested_messages() {
    use SearchKey::*;
    let raw = crlf(NESTED);
    let c = ctx(Some(&raw), &[]);
    // Quoted-printable "caf=C3=A9" decodes to "café".
    assert!(matches(&Body(s("CAFÉ")), &c));
    assert!(!matches(&Body(s("caf=C3")), &c));
    assert!(matches(&Body(s("quarterly numbers")), &c));
    // Headers of a forwarded message are body text of the outer one.
    assert!(matches(&Body(s("carol@example.com")), &c));
    assert!(!matches(&From(s("carol")), &c));
    assert!(matches(&From(s("alice")), &c));
}

#[test]
fn content_keys_without_raw_or_on_garbage_do_not_match() {
    use SearchKey::*;
    let c = ctx(None, &[]);
    assert!(!matches(&Body(s("x")), &c));
    assert!(matches(&Not(Box::new(Subject(s("x")))), &c));
    assert!(needs_raw(&Or(
        Box::new(All),
        Box::new(Not(Box::new(Text(s("x")))))
    )));

    let junk: Vec<u8> = (0u8..=255).cycle().take(4000).collect();
    let c = ctx(Some(&junk), &[]);
    for key in [
        Body(s("abc")),
        Text(s("\u{fffd}")),
        Subject(s("")),
        SentOn(day(2024, 3, 9)),
    ] {
        let _ = matches(&key, &c);
    }
    assert!(!matches(&Header(s("Subject"), s("")), &ctx(Some(b""), &[])));
}

#[test]
fn missing_date_header_falls_back_to_internal_date() {
    let raw = crlf("Subject: undated\n\nx\n");
    let c = ctx(Some(&raw), &[]);
    assert!(matches(&SearchKey::SentOn(day(2024, 3, 9)), &c));
}

#[test]
fn lf_and_crlf_messages_search_alike() {
    use SearchKey::*;
    let lf = NESTED.as_bytes();
    let crlf_raw = crlf(NESTED);
    for key in [
        Body(s("café")),
        Subject(s("fwd")),
        Text(s("q1.pdf")),
        Header(s("message-id"), s("outer@")),
        SentOn(day(2024, 1, 2)),
    ] {
        assert!(matches(&key, &ctx(Some(lf), &[])), "{key:?}");
        assert!(matches(&key, &ctx(Some(&crlf_raw), &[])), "{key:?}");
    }
}
