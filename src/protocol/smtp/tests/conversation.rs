//! Ordinary conversations: every command's reply codes and the transaction handed over.

use super::*;
use crate::protocol::smtp::{CommandEvent, DsnNotify, DsnRet, Route};

#[test]
fn full_mx_transaction() {
    let mut h = Harness::mx();
    h.feed(ENVELOPE)
        .feed(b"DATA\r\nSubject: hi\r\n\r\n..dot\r\nbody\r\n.\r\nQUIT\r\n");
    assert_eq!(
        h.codes(),
        codes![
            "220",
            "250",
            "250 2.1.0",
            "250 2.1.5",
            "354",
            "250 2.0.0",
            "221 2.0.0"
        ]
    );
    assert!(h.text().contains("250 2.0.0 Ok: queued as Q1\r\n"));
    assert!(h.closed);
    let tx = &h.spooled[0];
    assert_eq!(tx.body, b"Subject: hi\r\n\r\n.dot\r\nbody\r\n");
    assert_eq!(tx.helo, "client.example");
    assert_eq!(
        tx.sender.as_ref().map(|a| a.to_string()).as_deref(),
        Some("sender@remote.test")
    );
    assert_eq!(tx.recipients[0].route, Route::Local { user: "bob".into() });
    assert!(tx.esmtp && !tx.tls && !tx.smtputf8 && tx.authenticated_as.is_none());
}

#[test]
fn greeting_and_ehlo_on_mx() {
    let mut h = Harness::mx();
    h.feed(b"EHLO c\r\n");
    assert_eq!(
        h.text(),
        "220 mx.example.org ESMTP Hermod\r\n250-mx.example.org\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE 10000\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250-DSN\r\n250 STARTTLS\r\n"
    );
}

#[test]
fn ehlo_on_submission_offers_auth_only_with_tls() {
    let mut plain = Harness::new(ListenerKind::Submission, false, false);
    plain.feed(b"EHLO c\r\n");
    assert!(plain.text().contains("250 STARTTLS\r\n"));
    assert!(!plain.text().contains("AUTH"));
    let mut tls = Harness::new(ListenerKind::Submissions, true, false);
    tls.feed(b"EHLO c\r\n");
    assert!(tls.text().ends_with("250-DSN\r\n250 AUTH PLAIN LOGIN\r\n"));
    assert!(!tls.text().contains("STARTTLS"));
}

#[test]
fn helo_has_no_extensions() {
    let mut h = Harness::mx();
    h.feed(b"HELO c\r\nMAIL FROM:<>\r\n");
    assert_eq!(
        h.text(),
        "220 mx.example.org ESMTP Hermod\r\n250 mx.example.org\r\n250 2.1.0 Ok\r\n"
    );
}

#[test]
fn sequence_errors() {
    let mut h = Harness::mx();
    h.feed(b"MAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nEHLO c\r\nRCPT TO:<bob@example.org>\r\n");
    h.feed(b"MAIL FROM:<>\r\nMAIL FROM:<>\r\nDATA\r\nAUTH PLAIN\r\n");
    assert_eq!(
        h.codes(),
        codes![
            "220",
            "503 5.5.1",
            "503 5.5.1",
            "503 5.5.1",
            "250",
            "503 5.5.1",
            "250 2.1.0",
            "503 5.5.1",
            "503 5.5.1",
            "503 5.5.1"
        ]
    );
}

#[test]
fn simple_commands() {
    let mut h = Harness::mx();
    h.feed(b"NOOP\r\nRSET\r\nVRFY bob\r\nEXPN list\r\nHELP\r\nFOO\r\nQUIT\r\nNOOP\r\n");
    assert_eq!(
        h.codes(),
        codes![
            "220",
            "250 2.0.0",
            "250 2.0.0",
            "252 2.5.0",
            "502 5.5.1",
            "214 2.0.0",
            "500 5.5.1",
            "221 2.0.0"
        ]
    );
    assert!(h.closed);
}

#[test]
fn rset_clears_the_envelope() {
    let mut h = Harness::mx();
    h.feed(ENVELOPE).feed(b"RSET\r\nDATA\r\nMAIL FROM:<>\r\n");
    assert_eq!(
        h.codes(),
        codes![
            "220",
            "250",
            "250 2.1.0",
            "250 2.1.5",
            "250 2.0.0",
            "503 5.5.1",
            "250 2.1.0"
        ]
    );
}

#[test]
fn starttls_resets_and_discards_injected_commands() {
    let mut h = Harness::mx();
    h.feed(b"EHLO c\r\nMAIL FROM:<>\r\nSTARTTLS\r\nMAIL FROM:<injected@x.test>\r\n");
    assert_eq!(h.codes(), codes!["220", "250", "250 2.1.0", "220 2.0.0"]);
    // After the handshake the client must greet again; the old envelope is gone.
    h.feed(b"MAIL FROM:<>\r\nEHLO c\r\nSTARTTLS\r\nMAIL FROM:<>\r\n");
    assert_eq!(
        h.codes()[4..],
        codes!["503 5.5.1", "250", "503 5.5.1", "250 2.1.0"]
    );
    assert!(!h.text().ends_with("250 STARTTLS\r\n"));
    assert!(!h.text().contains("injected"));
}

#[test]
fn starttls_takes_no_arguments() {
    let mut h = Harness::mx();
    h.feed(b"EHLO c\r\nSTARTTLS now\r\n");
    assert_eq!(h.codes(), codes!["220", "250", "501 5.5.4"]);
}

fn submission() -> Harness {
    let mut h = Harness::new(ListenerKind::Submission, true, false);
    h.feed(b"EHLO c\r\n");
    h
}

#[test]
fn auth_plain_with_initial_response() {
    let mut h = submission();
    // base64("\0alice\0secret")
    h.feed(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert_eq!(h.codes()[2..], codes!["235 2.7.0", "503 5.5.1"]);
    assert_eq!(h.auths, vec![(None, "alice".into(), "secret".into())]);
    assert_eq!(h.session.authenticated_as(), Some("alice"));
}

#[test]
fn auth_plain_without_initial_response_and_authzid() {
    let mut h = submission();
    // base64("admin\0alice\0secret")
    h.feed(b"AUTH PLAIN\r\nYWRtaW4AYWxpY2UAc2VjcmV0\r\n");
    assert!(h.text().contains("\r\n334 \r\n235 2.7.0"));
    assert_eq!(h.auths[0].0.as_deref(), Some("admin"));
}

#[test]
fn auth_plain_empty_initial_response_is_malformed() {
    let mut h = submission();
    h.feed(b"AUTH PLAIN =\r\n");
    assert_eq!(h.codes()[2..], codes!["501 5.5.2"]);
}

#[test]
fn auth_login_both_forms() {
    let mut h = submission();
    h.feed(b"AUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\n");
    assert!(h.text().ends_with(
        "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n"
    ));
    let mut h = submission();
    h.feed(b"AUTH LOGIN YWxpY2U=\r\nc2VjcmV0\r\n");
    assert!(h
        .text()
        .ends_with("334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n"));
}

#[test]
fn auth_cancel_bad_base64_and_unknown_mechanism() {
    let mut h = submission();
    h.feed(b"AUTH LOGIN\r\n*\r\nAUTH PLAIN\r\n!!notbase64!!\r\nAUTH CRAM-MD5\r\nNOOP\r\n");
    assert_eq!(
        h.codes()[2..],
        codes![
            "334",
            "501 5.0.0",
            "334",
            "501 5.5.2",
            "504 5.5.4",
            "250 2.0.0"
        ]
    );
}

#[test]
fn auth_failures_close_the_session() {
    let mut h = submission();
    // base64("\0alice\0wrong"), then base64("\0tmp\0x")
    h.feed(
        b"AUTH PLAIN AHRtcAB4\r\nAUTH PLAIN AGFsaWNlAHdyb25n\r\nAUTH PLAIN AGFsaWNlAHdyb25n\r\n",
    );
    assert!(!h.closed);
    h.feed(b"AUTH PLAIN AGFsaWNlAHdyb25n\r\nNOOP\r\n");
    assert_eq!(
        h.codes()[2..],
        codes![
            "454 4.7.0",
            "535 5.7.8",
            "535 5.7.8",
            "535 5.7.8",
            "421 4.7.0"
        ]
    );
    assert!(h.closed);
}

#[test]
fn auth_policy_by_listener_and_tls() {
    let mut mx = Harness::new(ListenerKind::Mx, true, false);
    mx.feed(b"EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert_eq!(mx.codes()[2..], codes!["503 5.5.1"]);
    let mut plain = Harness::new(ListenerKind::Submission, false, false);
    plain.feed(b"EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert_eq!(plain.codes()[2..], codes!["538 5.7.11"]);
    assert!(plain.auths.is_empty());
}

#[test]
fn submission_requires_auth_then_relays() {
    let mut h = submission();
    h.feed(b"MAIL FROM:<alice@example.org>\r\n");
    h.feed(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL FROM:<alice@example.org>\r\n");
    h.feed(b"RCPT TO:<friend@elsewhere.test>\r\nDATA\r\nhi\r\n.\r\n");
    assert_eq!(
        h.codes()[2..],
        codes![
            "530 5.7.0",
            "235 2.7.0",
            "250 2.1.0",
            "250 2.1.5",
            "354",
            "250 2.0.0"
        ]
    );
    let tx = &h.spooled[0];
    assert_eq!(tx.recipients[0].route, Route::Remote);
    assert_eq!(tx.authenticated_as.as_deref(), Some("alice"));
    assert!(tx.tls);
}

#[test]
fn recipient_verdicts() {
    let mut h = Harness::mx();
    h.feed(b"EHLO c\r\nMAIL FROM:<>\r\n");
    h.feed(b"RCPT TO:<nobody@example.org>\r\nRCPT TO:<x@elsewhere.test>\r\nRCPT TO:<x@tempfail.test>\r\n");
    h.feed(b"RCPT TO:bob@example.org\r\nRCPT TO:<Postmaster>\r\nRCPT TO:<alice@example.org>\r\n");
    assert_eq!(
        h.codes()[3..],
        codes![
            "550 5.1.1",
            "554 5.7.1",
            "451 4.3.0",
            "501 5.1.3",
            "250 2.1.5",
            "250 2.1.5"
        ]
    );
    assert_eq!(h.checked[3].to_string(), "postmaster@mx.example.org");
}

#[test]
fn trusted_peer_may_relay_on_mx() {
    let mut h = Harness::new(ListenerKind::Mx, false, true);
    h.feed(b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<x@elsewhere.test>\r\n");
    assert_eq!(h.codes()[3..], codes!["250 2.1.5"]);
}

#[test]
fn too_many_recipients() {
    let mut h = Harness::mx();
    h.feed(b"EHLO c\r\nMAIL FROM:<>\r\n");
    h.feed(&b"RCPT TO:<bob@example.org>\r\n".repeat(4));
    assert_eq!(
        h.codes()[3..],
        codes!["250 2.1.5", "250 2.1.5", "250 2.1.5", "452 4.5.3"]
    );
}

#[test]
fn mail_parameters() {
    let mut h = Harness::mx();
    h.feed(b"EHLO c\r\nMAIL FROM:<> SIZE=10001\r\nMAIL FROM:<> BODY=BINARYMIME\r\nMAIL FROM:<> XFOO=1\r\n");
    h.feed(b"MAIL FROM:<> SIZE=abc\r\nMAIL FROM:<a@b.test> SIZE=10000 BODY=8BITMIME AUTH=<> RET=FULL ENVID=e+2B1\r\n");
    h.feed(b"RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.org\r\n");
    h.feed(b"RCPT TO:<alice@example.org> FOO=bar\r\nDATA\r\n.\r\n");
    assert_eq!(
        h.codes()[2..],
        codes![
            "552 5.3.4",
            "555 5.5.4",
            "555 5.5.4",
            "501 5.5.4",
            "250 2.1.0",
            "250 2.1.5",
            "555 5.5.4",
            "354",
            "250 2.0.0"
        ]
    );
    let tx = &h.spooled[0];
    assert!(tx.body_8bitmime);
    assert_eq!(tx.dsn_ret, Some(DsnRet::Full));
    assert_eq!(tx.dsn_envid.as_deref(), Some("e+1"));
    assert_eq!(
        tx.recipients[0].notify,
        Some(DsnNotify {
            success: true,
            failure: true,
            delay: false
        })
    );
    assert_eq!(
        tx.recipients[0].orcpt.as_deref(),
        Some("rfc822;bob+40example.org")
    );
}

#[test]
fn smtputf8_addresses() {
    let mut h = Harness::new(ListenerKind::Mx, false, true);
    h.feed(
        "EHLO c\r\nMAIL FROM:<jörg@bücher.test>\r\nMAIL FROM:<jörg@bücher.test> SMTPUTF8\r\n"
            .as_bytes(),
    );
    h.feed("RCPT TO:<用户@例子.test>\r\nDATA\r\nSubject: ü\r\n.\r\n".as_bytes());
    assert_eq!(
        h.codes()[2..],
        codes!["553 5.6.7", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0"]
    );
    let tx = &h.spooled[0];
    assert!(tx.smtputf8);
    assert_eq!(tx.recipients[0].address.to_string(), "用户@例子.test");
    let mut h = Harness::mx();
    h.feed("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<用户@例子.test>\r\n".as_bytes());
    assert_eq!(h.codes()[3..], codes!["553 5.6.7"]);
}

#[test]
fn data_rejections_keep_the_session_usable() {
    let mut h = Harness::mx();
    h.feed(ENVELOPE).feed(b"DATA\r\nbare\nlf\r\n.\r\n");
    h.feed(ENVELOPE)
        .feed(b"DATA\r\n")
        .feed(&[b'x'; 999])
        .feed(b"\r\n.\r\n");
    h.feed(ENVELOPE).feed(b"DATA\r\n");
    for _ in 0..30 {
        h.feed(&[b'y'; 500]).feed(b"\r\n");
    }
    h.feed(b".\r\nDATA\r\n");
    h.feed(ENVELOPE).feed(b"DATA\r\nfine\r\n.\r\n");
    let codes = h.codes();
    assert_eq!(
        codes,
        codes![
            "220",
            "250",
            "250 2.1.0",
            "250 2.1.5",
            "354",
            "550 5.6.0",
            "250",
            "250 2.1.0",
            "250 2.1.5",
            "354",
            "550 5.6.0",
            "250",
            "250 2.1.0",
            "250 2.1.5",
            "354",
            "552 5.3.4",
            "503 5.5.1",
            "250",
            "250 2.1.0",
            "250 2.1.5",
            "354",
            "250 2.0.0"
        ]
    );
    assert!(h.text().contains("550 5.6.0 Bare CR or LF not allowed"));
    assert!(h.text().contains("550 5.6.0 Message line too long"));
    assert_eq!(h.spooled.len(), 1);
    assert_eq!(h.spooled[0].body, b"fine\r\n");
}

#[test]
fn spool_failures() {
    let mut h = Harness::mx();
    h.spool_verdict = SpoolVerdict::TempFail;
    h.feed(ENVELOPE).feed(b"DATA\r\na\r\n.\r\n");
    h.spool_verdict = SpoolVerdict::InsufficientStorage;
    h.feed(b"MAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\na\r\n.\r\nDATA\r\n");
    assert_eq!(
        h.codes()[4..],
        codes![
            "354",
            "451 4.3.0",
            "250 2.1.0",
            "250 2.1.5",
            "354",
            "452 4.3.1",
            "503 5.5.1"
        ]
    );
}

#[test]
fn pipelined_replies_come_in_order_in_one_write() {
    let mut s = Session::new(config(ListenerKind::Mx), false, false);
    s.receive(b"EHLO c\r\nMAIL FROM:<>\r\nNOOP\r\nRSET\r\nNOOP\r\nQUI");
    let Action::Write(bytes) = s.next_action() else {
        panic!("expected Write")
    };
    let codes = replies(&bytes);
    assert_eq!(
        codes,
        codes!["250", "250 2.1.0", "250 2.0.0", "250 2.0.0", "250 2.0.0"]
    );
    assert_eq!(s.next_action(), Action::Read);
    s.receive(b"T\r\n");
    assert!(matches!(s.next_action(), Action::Write(b) if b.starts_with(b"221 2.0.0")));
    assert_eq!(s.next_action(), Action::Close);
    assert_eq!(s.next_action(), Action::Close);
}

#[test]
fn replies_before_a_pause_are_kept_in_order() {
    let mut s = Session::new(config(ListenerKind::Mx), false, false);
    s.receive(b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\nNOOP\r\n");
    let Action::CheckRecipient(a) = s.next_action() else {
        panic!("expected check")
    };
    assert_eq!(a.to_string(), "bob@example.org");
    s.rcpt_verdict(RcptVerdict::NoSuchUser);
    let Action::Write(bytes) = s.next_action() else {
        panic!("expected Write")
    };
    assert_eq!(
        replies(&bytes),
        codes!["250", "250 2.1.0", "550 5.1.1", "250 2.0.0"]
    );
}

#[test]
fn unanswered_pause_is_a_caller_bug_that_closes() {
    let mut s = Session::new(config(ListenerKind::Mx), false, false);
    s.receive(b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\n");
    assert!(matches!(s.next_action(), Action::CheckRecipient(_)));
    let Action::Write(bytes) = s.next_action() else {
        panic!("expected Write")
    };
    assert!(bytes.ends_with(b"421 4.3.0 mx.example.org Error: internal error\r\n"));
    assert_eq!(s.next_action(), Action::Close);
}

#[test]
fn timeout_and_shutdown_replies() {
    let mut s = Session::new(config(ListenerKind::Mx), false, false);
    assert_eq!(
        s.timeout_reply(),
        b"421 4.4.2 mx.example.org Error: timeout exceeded\r\n"
    );
    assert!(s.is_closed());
    assert_eq!(s.next_action(), Action::Close);
    let mut s = Session::new(config(ListenerKind::Mx), false, false);
    assert_eq!(
        s.shutdown_reply(),
        b"421 4.3.0 mx.example.org Service shutting down\r\n"
    );
    s.receive(b"NOOP\r\n");
    assert_eq!(s.next_action(), Action::Close);
}

#[test]
fn events_name_commands_with_outcome() {
    let mut h = Harness::mx();
    h.feed(b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<nobody@example.org>\r\nXYZZY\r\nQUIT\r\n");
    let events = h.session.take_events();
    let expect = [
        ("EHLO", true),
        ("MAIL", true),
        ("RCPT", false),
        ("UNKNOWN", false),
        ("QUIT", true),
    ];
    assert_eq!(
        events,
        expect
            .map(|(command, ok)| CommandEvent { command, ok })
            .to_vec()
    );
    assert!(h.session.take_events().is_empty());
}

#[test]
fn too_many_errors_close() {
    let mut h = Harness::mx();
    h.feed(&b"BOGUS\r\n".repeat(12));
    let codes = h.codes();
    assert_eq!(codes.len(), 12);
    assert_eq!(codes[10], "500 5.5.1");
    assert_eq!(codes[11], "421 4.7.0");
    assert!(h
        .text()
        .ends_with("421 4.7.0 mx.example.org Too many errors\r\n"));
    assert!(h.closed);
}

#[test]
fn bare_lf_ends_a_command_line() {
    let mut h = Harness::mx();
    h.feed(b"EHLO c\nMAIL FROM:<>\nRCPT TO:<bob@example.org>\nDATA\nhi\r\n.\r\n");
    assert_eq!(
        h.codes()[1..],
        codes!["250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0"]
    );
    assert_eq!(h.spooled[0].body, b"hi\r\n");
}

/// One long script exercising most paths, replayed in every chunk size.
#[test]
fn split_input_gives_identical_results() {
    let mut script = Vec::new();
    script.extend_from_slice(ENVELOPE);
    script.extend_from_slice(b"RCPT TO:<nobody@example.org>\r\nDATA\r\nA: b\r\n\r\n..x\r\n.\r\n");
    script.extend_from_slice(
        b"NOOP\r\nBOGUS\r\nMAIL FROM:<> SIZE=5\r\nRCPT TO:<alice@example.org>\r\n",
    );
    script.extend_from_slice(b"BDAT 5\r\nab\r\ncBDAT 3 LAST\r\nd\r\n");
    script.extend_from_slice(&[b'z'; 700]);
    script.extend_from_slice(b"\r\nNO\0OP\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\n");
    script.extend_from_slice(b"DATA\r\nbad\n.\r\nstill\r\n.\r\nQUIT\r\n");
    let mut reference = Harness::mx();
    reference.feed(&script);
    assert_eq!(reference.spooled.len(), 2);
    assert!(reference.closed);
    let mut chunk = 1;
    while chunk <= 512 {
        let mut h = Harness::mx();
        h.feed_chunked(&script, chunk);
        assert_eq!(h.text(), reference.text(), "chunk size {chunk}");
        assert_eq!(h.spooled, reference.spooled, "chunk size {chunk}");
        chunk *= 2;
    }
}
