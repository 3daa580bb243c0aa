//! DSN tests: the built message is parsed back with mail-parser and its structure and
//! fields are checked; the "no DSN" rules are checked on their own.

use mail_parser::{MessageParser, MimeHeaders, PartType};

use super::*;

const NOW: i64 = 1_700_000_000;
const ORIGINAL: &[u8] =
    b"From: alice@example.org\r\nTo: bob@far.example\r\nSubject: hello\r\n\r\nBody line\r\n";

fn failed_rcpt() -> DsnRecipient<'static> {
    DsnRecipient {
        address: "bob@far.example",
        orcpt: Some("rfc822;Bob+2BTag@far.example"),
        notify: None,
        action: Action::Failed,
        status: "5.1.1",
        remote_mta: Some("mx.far.example"),
        diagnostic: Some("smtp; 550 5.1.1 no such user"),
        last_attempt: Some(NOW - 60),
        will_retry_until: None,
    }
}

fn delayed_rcpt() -> DsnRecipient<'static> {
    DsnRecipient {
        address: "carol@slow.example",
        orcpt: None,
        notify: None,
        action: Action::Delayed,
        status: "4.4.1",
        remote_mta: None,
        diagnostic: Some("smtp; 421 4.4.1 connection timed out"),
        last_attempt: Some(NOW - 30),
        will_retry_until: Some(NOW + 86_400),
    }
}

fn request(recipients: Vec<DsnRecipient<'static>>) -> DsnRequest<'static> {
    DsnRequest {
        reporting_mta: "mail.example.org",
        sender: "alice@example.org",
        envid: Some("QQ314159"),
        ret: None,
        arrival_date: NOW - 3600,
        recipients,
        original: ORIGINAL,
        now: NOW,
        message_id_seed: 0xabcdef,
    }
}

/// The raw bytes of part `i`'s body (after its headers).
fn part_body<'a>(message: &'a mail_parser::Message<'a>, i: u32) -> &'a [u8] {
    let part = message.part(i).unwrap();
    &message.raw_message()[part.offset_body as usize..part.offset_end as usize]
}

#[test]
fn failure_dsn_has_the_rfc3464_structure() {
    let raw = build_dsn(&request(vec![failed_rcpt()])).unwrap();
    let text = String::from_utf8(raw.clone()).unwrap();
    assert!(!text.contains("\r\n\r\n\r\n\r\n"), "no runaway blank lines");
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "CRLF line ends only"
    );
    let m = MessageParser::default().parse(&raw).unwrap();

    assert_eq!(m.subject(), Some("Undelivered Mail Returned to Sender"));
    let from = m.from().unwrap().first().unwrap();
    assert_eq!(from.address(), Some("MAILER-DAEMON@mail.example.org"));
    assert_eq!(from.name(), Some("Mail Delivery System"));
    assert_eq!(
        m.to().unwrap().first().unwrap().address(),
        Some("alice@example.org")
    );
    assert_eq!(
        m.header_raw("Auto-Submitted").map(str::trim),
        Some("auto-replied")
    );
    assert_eq!(
        m.message_id(),
        Some("0000000000abcdef.6553f100.dsn@mail.example.org")
    );
    assert_eq!(m.date().unwrap().to_timestamp(), NOW);

    let ct = m.content_type().unwrap();
    assert_eq!(ct.ctype(), "multipart");
    assert_eq!(ct.subtype(), Some("report"));
    assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
    let PartType::Multipart(children) = &m.part(0).unwrap().body else {
        panic!("not multipart");
    };
    assert_eq!(children.len(), 3);

    let human = m.part(children[0]).unwrap();
    assert_eq!(human.content_type().unwrap().subtype(), Some("plain"));
    let PartType::Text(human_text) = &human.body else {
        panic!("human part is not text");
    };
    assert!(human_text.contains("mail system at host mail.example.org"));
    assert!(human_text.contains("<bob@far.example>: smtp; 550 5.1.1 no such user"));

    let status = m.part(children[1]).unwrap();
    let ct = status.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("message", Some("delivery-status"))
    );
    assert_eq!(ct.attribute("charset"), None);
    let status = std::str::from_utf8(part_body(&m, children[1])).unwrap();
    let expected = format!(
        "Reporting-MTA: dns; mail.example.org\r\n\
         Original-Envelope-Id: QQ314159\r\n\
         Arrival-Date: Tue, 14 Nov 2023 21:13:20 +0000\r\n\
         \r\n\
         Final-Recipient: rfc822; bob@far.example\r\n\
         Original-Recipient: rfc822; Bob+Tag@far.example\r\n\
         Action: failed\r\n\
         Status: 5.1.1\r\n\
         Remote-MTA: dns; mx.far.example\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\
         Last-Attempt-Date: {}\r\n",
        "Tue, 14 Nov 2023 22:12:20 +0000"
    );
    assert_eq!(status, expected);

    let returned = m.part(children[2]).unwrap();
    let ct = returned.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("message", Some("rfc822")));
    let PartType::Message(inner) = &returned.body else {
        panic!("the original is not a nested message");
    };
    assert_eq!(inner.subject(), Some("hello"));
    assert_eq!(part_body(&m, children[2]), ORIGINAL);
}

#[test]
fn delayed_dsn_says_until_when() {
    let raw = build_dsn(&request(vec![delayed_rcpt()])).unwrap();
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(m.subject(), Some("Delayed Mail (still being retried)"));
    let PartType::Multipart(children) = &m.part(0).unwrap().body else {
        panic!("not multipart");
    };
    let status = std::str::from_utf8(part_body(&m, children[1])).unwrap();
    assert!(status.contains("Action: delayed\r\nStatus: 4.4.1\r\n"));
    assert!(status.contains("Will-Retry-Until: Wed, 15 Nov 2023 22:13:20 +0000\r\n"));
    assert!(!status.contains("Remote-MTA"));
    assert!(!status.contains("Original-Recipient"));
}

#[test]
fn failed_and_delayed_share_one_report_and_failure_wins_the_subject() {
    let raw = build_dsn(&request(vec![delayed_rcpt(), failed_rcpt()])).unwrap();
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(m.subject(), Some("Undelivered Mail Returned to Sender"));
    let PartType::Multipart(children) = &m.part(0).unwrap().body else {
        panic!("not multipart");
    };
    let status = std::str::from_utf8(part_body(&m, children[1])).unwrap();
    assert_eq!(status.matches("Final-Recipient:").count(), 2);
    // Will-Retry-Until belongs to delayed recipients only.
    assert_eq!(status.matches("Will-Retry-Until:").count(), 1);
}

#[test]
fn ret_hdrs_returns_the_header_section_only() {
    let mut req = request(vec![failed_rcpt()]);
    req.ret = Some(Ret::Headers);
    let raw = build_dsn(&req).unwrap();
    let m = MessageParser::default().parse(&raw).unwrap();
    let PartType::Multipart(children) = &m.part(0).unwrap().body else {
        panic!("not multipart");
    };
    let returned = m.part(children[2]).unwrap();
    let ct = returned.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("rfc822-headers")));
    let body = part_body(&m, children[2]);
    assert!(body.starts_with(b"From: alice@example.org\r\n"));
    assert!(body.windows(9).all(|w| w != b"Body line"), "no body");
}

#[test]
fn eight_bit_original_is_passed_through_as_8bit() {
    let original = "Subject: caf\u{e9}\r\n\r\nna\u{ef}ve\r\n".as_bytes();
    let mut req = request(vec![failed_rcpt()]);
    req.original = original;
    let raw = build_dsn(&req).unwrap();
    let m = MessageParser::default().parse(&raw).unwrap();
    let PartType::Multipart(children) = &m.part(0).unwrap().body else {
        panic!("not multipart");
    };
    assert_eq!(part_body(&m, children[2]), original);
    let returned = m.part(children[2]).unwrap();
    assert_eq!(
        returned.content_transfer_encoding(),
        Some("8bit"),
        "message/rfc822 is never base64 (RFC 2046 §5.2.1)"
    );
}

#[test]
fn hostile_values_cannot_inject_fields() {
    let mut rcpt = failed_rcpt();
    rcpt.diagnostic = Some("smtp; 550 bad\r\nAction: delivered\r\n\r\nX-Evil: 1");
    rcpt.status = "5.0.0\n";
    let mut req = request(vec![rcpt]);
    req.envid = Some("id\r\nBcc: victim@example.net");
    let raw = build_dsn(&req).unwrap();
    let text = String::from_utf8(raw).unwrap();
    assert!(!text.contains("\r\nAction: delivered"));
    assert!(!text.contains("\r\nX-Evil"));
    assert!(!text.contains("\r\nBcc:"));
    assert!(text.contains("Diagnostic-Code: smtp; 550 bad  Action: delivered    X-Evil: 1\r\n"));
    assert!(text.contains("Status: 5.0.0\r\n"));
}

#[test]
fn no_dsn_to_the_null_sender() {
    for sender in ["", "<>"] {
        let mut req = request(vec![failed_rcpt()]);
        req.sender = sender;
        assert_eq!(build_dsn(&req), None, "sender {sender:?}");
    }
}

#[test]
fn notify_decides_which_events_are_reported() {
    let never = Notify::default();
    let only_failure = Notify {
        failure: true,
        ..Notify::default()
    };
    let only_success = Notify {
        success: true,
        ..Notify::default()
    };
    let with = |mut r: DsnRecipient<'static>, notify| {
        r.notify = notify;
        r
    };
    let delivered = || DsnRecipient {
        action: Action::Delivered,
        status: "2.0.0",
        ..failed_rcpt()
    };
    // NOTIFY=NEVER: nothing, whatever happened.
    assert_eq!(
        build_dsn(&request(vec![with(failed_rcpt(), Some(never))])),
        None
    );
    // Delay not requested.
    assert_eq!(
        build_dsn(&request(vec![with(delayed_rcpt(), Some(only_failure))])),
        None
    );
    // Success is reported only on request; the default is failure and delay.
    assert_eq!(build_dsn(&request(vec![delivered()])), None);
    assert!(build_dsn(&request(vec![with(delivered(), Some(only_success))])).is_some());
    assert!(build_dsn(&request(vec![delayed_rcpt()])).is_some());
    // A recipient that did not ask is left out of a report sent for another one.
    let raw = build_dsn(&request(vec![
        with(delayed_rcpt(), Some(never)),
        failed_rcpt(),
    ]))
    .unwrap();
    let text = String::from_utf8(raw).unwrap();
    assert!(text.contains("Final-Recipient: rfc822; bob@far.example"));
    assert!(!text.contains("carol@slow.example"));
    assert_eq!(build_dsn(&request(Vec::new())), None);
}

#[test]
fn helpers_handle_edge_cases() {
    assert_eq!(header_section(b"A: 1\r\n\r\nbody"), b"A: 1\r\n\r\n");
    assert_eq!(header_section(b"A: 1\n\nbody"), b"A: 1\n\n");
    assert_eq!(header_section(b"A: 1\r\n"), b"A: 1\r\n");
    assert_eq!(xtext_decode("a+2Bb+3D"), Some("a+b=".into()));
    assert_eq!(xtext_decode("bad+2"), None);
    assert_eq!(xtext_decode("bad+ZZ"), None);
    assert_eq!(original_recipient("rfc822;x+ZZ"), "rfc822; x+ZZ");
    assert_eq!(original_recipient("no-type"), "no-type");
    assert_eq!(rfc5322_date(i64::MAX), "Thu, 1 Jan 1970 00:00:00 +0000");
    assert_eq!(identity_encoding(b"abc"), "7bit");
    assert_eq!(identity_encoding(b"\xff"), "8bit");
}
