//! Hostile input: smuggling endings, oversize lines, NUL, 8-bit garbage, random bytes.

use proptest::prelude::*;

use super::*;

/// A message whose body hides a second transaction behind a non-CRLF end marker.
fn smuggle(ending: &[u8]) -> Harness {
    let mut h = Harness::mx();
    let mut script = ENVELOPE.to_vec();
    script.extend_from_slice(b"DATA\r\nSubject: first\r\n\r\nbody");
    script.extend_from_slice(ending);
    script.extend_from_slice(
        b"MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nsmuggled\r\n.\r\nNOOP\r\n",
    );
    h.feed(&script);
    h
}

fn assert_not_smuggled(h: &Harness) {
    assert!(h.spooled.is_empty(), "a message was spooled");
    assert!(h.checked.len() == 1, "the smuggled RCPT ran");
    assert_eq!(h.codes()[4..], codes!["354", "550 5.6.0", "250 2.0.0"]);
}

#[test]
fn smuggling_lf_dot_lf() {
    assert_not_smuggled(&smuggle(b"\n.\n"));
}

#[test]
fn smuggling_cr_dot_lf() {
    assert_not_smuggled(&smuggle(b"\r.\n"));
}

#[test]
fn smuggling_lf_dot_crlf() {
    assert_not_smuggled(&smuggle(b"\n.\r\n"));
}

#[test]
fn smuggling_crlf_dot_lf() {
    assert_not_smuggled(&smuggle(b"\r\n.\n"));
}

#[test]
fn smuggling_cr_dot_cr() {
    assert_not_smuggled(&smuggle(b"\r.\r"));
}

#[test]
fn smuggling_crlf_dot_cr_lf_split() {
    // CRLF . CR followed by a non-LF: not an end.
    assert_not_smuggled(&smuggle(b"\r\n.\rX\r\n"));
}

#[test]
fn overlong_command_line_is_refused_and_session_continues() {
    let mut h = Harness::mx();
    let mut line = vec![b'N'; 511];
    line.extend_from_slice(b"\r\n");
    h.feed(&line).feed(b"NOOP\r\n");
    // Exactly 512 octets including CRLF is allowed (and unknown).
    let mut ok = b"NOOP ".to_vec();
    ok.extend_from_slice(&[b'x'; 505]);
    ok.extend_from_slice(b"\r\n");
    assert_eq!(ok.len(), 512);
    h.feed(&ok);
    assert_eq!(
        h.codes()[1..],
        codes!["500 5.5.2", "250 2.0.0", "250 2.0.0"]
    );
}

#[test]
fn hundred_kilobyte_line_without_lf_is_not_buffered() {
    let mut h = Harness::mx();
    for _ in 0..100 {
        h.feed(&[b'A'; 1024]);
        assert!(h.session.buffered() <= 1024);
    }
    assert_eq!(h.codes(), codes!["220"]);
    h.feed(b"\r\nNOOP\r\n");
    assert_eq!(h.codes()[1..], codes!["500 5.5.2", "250 2.0.0"]);
}

#[test]
fn long_auth_line_allows_rfc4954_length() {
    let mut h = Harness::new(ListenerKind::Submissions, true, false);
    let mut line = b"EHLO c\r\nAUTH PLAIN ".to_vec();
    line.extend_from_slice(&[b'A'; 4000]);
    line.extend_from_slice(b"\r\n");
    h.feed(&line);
    // Long but well-formed base64 that decodes to garbage: a SASL error, not a line error.
    assert_eq!(h.codes()[2..], codes!["501 5.5.2"]);
}

#[test]
fn nul_in_command_line() {
    let mut h = Harness::mx();
    h.feed(b"EHLO c\0\r\nNOOP\r\n");
    assert_eq!(h.codes()[1..], codes!["500 5.5.2", "250 2.0.0"]);
}

#[test]
fn eight_bit_garbage_in_command_line() {
    let mut h = Harness::mx();
    h.feed(b"\xff\xfe\xfd\x80\r\nMAIL FROM:<\xc3\x28@x>\r\nEHLO c\r\n");
    assert_eq!(h.codes()[1..], codes!["500 5.5.2", "500 5.5.2", "250"]);
}

#[test]
fn bare_cr_inside_command_line() {
    let mut h = Harness::mx();
    h.feed(b"NOOP\rQUIT\r\n");
    assert_eq!(h.codes()[1..], codes!["500 5.5.2"]);
    assert!(!h.closed);
}

#[test]
fn base64_garbage_in_auth() {
    let mut h = Harness::new(ListenerKind::Submissions, true, false);
    h.feed(b"EHLO c\r\nAUTH PLAIN\r\n\xff\xff\r\nAUTH LOGIN\r\n====\r\nAUTH PLAIN AAAA\r\n");
    assert_eq!(
        h.codes()[2..],
        codes!["334", "500 5.5.2", "334", "501 5.5.2", "501 5.5.2"]
    );
    assert!(h.auths.is_empty());
}

#[test]
fn large_data_is_scanned_linearly() {
    let mut s = Session::new(
        Arc::new(SessionConfig {
            max_message_size: 30 << 20,
            ..(*config(ListenerKind::Mx)).clone()
        }),
        false,
        false,
    );
    s.receive(b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n");
    let mut line = [b'x'; 1000];
    line[998] = b'\r';
    line[999] = b'\n';
    let block = line.repeat(64);
    let mut spooled = 0;
    let mut feed = |s: &mut Session, bytes: &[u8]| {
        s.receive(bytes);
        loop {
            match s.next_action() {
                Action::Read | Action::Close => break,
                Action::CheckRecipient(_) => {
                    s.rcpt_verdict(RcptVerdict::Local { user: "b".into() })
                }
                Action::Spool(tx) => {
                    spooled = tx.body.len();
                    s.spool_verdict(SpoolVerdict::Queued { id: "Q".into() });
                }
                _ => {}
            }
        }
    };
    // 25 MB in 64 KB reads: a quadratic rescan would take minutes here.
    for _ in 0..400 {
        feed(&mut s, &block);
        assert!(s.buffered() == 0);
    }
    feed(&mut s, b".\r\n");
    assert_eq!(spooled, 400 * 64_000);
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

proptest! {
    #[test]
    fn random_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..20)) {
        let mut h = Harness::mx();
        for chunk in &chunks {
            h.feed(chunk);
        }
        let input: Vec<u8> = chunks.concat();
        prop_assert!(h.spooled.len() <= count(&input, b"\r\n.\r\n"));
    }

    #[test]
    fn token_soup_never_spools_more_than_end_markers(
        tokens in proptest::collection::vec(prop::sample::select(vec![
            &b"."[..], b"\r", b"\n", b"\r\n", b"DATA", b"MAIL FROM:<a@b.test>",
            b"RCPT TO:<bob@example.org>", b"x", b"\0", b"\xff", b"EHLO c", b" ", b"..",
        ]), 0..120),
        chunk in 1usize..64,
    ) {
        let mut input = ENVELOPE.to_vec();
        input.extend_from_slice(b"DATA\r\n");
        for t in &tokens {
            input.extend_from_slice(t);
        }
        let mut h = Harness::mx();
        h.feed_chunked(&input, chunk);
        prop_assert!(h.spooled.len() <= count(&input, b"\r\n.\r\n"));
        let mut whole = Harness::mx();
        whole.feed(&input);
        prop_assert_eq!(h.text(), whole.text());
    }
}
