//! BDAT (RFC 3030 CHUNKING) conversations.

use super::*;

#[test]
fn chunks_then_last() {
    let mut h = Harness::mx();
    h.feed(ENVELOPE)
        .feed(b"BDAT 7\r\nline1\r\nBDAT 0\r\nBDAT 12 LAST\r\n.\r\nQUIT\r\nx\r\nNOOP\r\n");
    assert_eq!(
        h.codes()[4..],
        codes!["250 2.0.0", "250 2.0.0", "250 2.0.0", "250 2.0.0"]
    );
    assert!(h.text().contains("250 2.0.0 Ok: 7 octets received\r\n"));
    assert!(h.text().contains("250 2.0.0 Ok: queued as Q1\r\n"));
    assert!(!h.closed, "QUIT inside a chunk must not run");
    // Dots and QUIT in chunks are data, not syntax.
    assert_eq!(h.spooled[0].body, b"line1\r\n.\r\nQUIT\r\nx\r\n");
}

#[test]
fn bdat_zero_last_spools_empty_message() {
    let mut h = Harness::mx();
    h.feed(ENVELOPE).feed(b"BDAT 0 LAST\r\n");
    assert_eq!(h.codes()[4..], codes!["250 2.0.0"]);
    assert_eq!(h.spooled[0].body, b"");
}

#[test]
fn bdat_without_recipients_still_consumes_the_chunk() {
    let mut h = Harness::mx();
    h.feed(b"EHLO c\r\nBDAT 6\r\nQUIT\r\nMAIL FROM:<>\r\nBDAT 6 LAST\r\nQUIT\r\nNOOP\r\n");
    assert_eq!(
        h.codes()[2..],
        codes!["503 5.5.1", "250 2.1.0", "503 5.5.1", "250 2.0.0"]
    );
    assert!(!h.closed);
    assert!(h.spooled.is_empty());
}

#[test]
fn data_after_bdat_is_refused() {
    let mut h = Harness::mx();
    h.feed(ENVELOPE)
        .feed(b"BDAT 3\r\nab\nDATA\r\nRCPT TO:<alice@example.org>\r\nRSET\r\nNOOP\r\n");
    assert_eq!(
        h.codes()[4..],
        codes![
            "250 2.0.0",
            "503 5.5.1",
            "503 5.5.1",
            "250 2.0.0",
            "250 2.0.0"
        ]
    );
}

#[test]
fn bad_bdat_sizes() {
    let mut h = Harness::mx();
    h.feed(ENVELOPE).feed(
        b"BDAT\r\nBDAT x\r\nBDAT -5\r\nBDAT 99999999999999999999999\r\nBDAT 1 NOTLAST\r\nNOOP\r\n",
    );
    assert_eq!(
        h.codes()[4..],
        codes![
            "501 5.5.4",
            "501 5.5.4",
            "501 5.5.4",
            "501 5.5.4",
            "501 5.5.4",
            "250 2.0.0"
        ]
    );
}

/// RFC 3030 §3: the oversize chunk is read and thrown away, answered 552, and the
/// transaction is aborted at once, so chunks still in the pipeline get 503 (and are read).
#[test]
fn oversize_chunk_is_consumed_then_refused() {
    let mut h = Harness::mx();
    h.feed(ENVELOPE).feed(b"BDAT 6000\r\n");
    h.feed(&[b'a'; 6000]);
    h.feed(b"BDAT 6000\r\n").feed(&[b'b'; 6000]);
    h.feed(b"BDAT 4 LAST\r\nQUITMAIL FROM:<>\r\n");
    assert_eq!(
        h.codes()[4..],
        codes!["250 2.0.0", "552 5.3.4", "503 5.5.1", "250 2.1.0"]
    );
    assert!(h.spooled.is_empty());
    assert!(!h.closed);
}

#[test]
fn huge_bdat_count_swallows_everything_after_it() {
    let mut h = Harness::mx();
    h.feed(ENVELOPE)
        .feed(b"BDAT 18446744073709551615 LAST\r\nQUIT\r\n");
    h.feed(&[b'x'; 100_000]);
    assert_eq!(h.codes().len(), 4);
    assert!(!h.closed);
    assert!(
        h.session.buffered() < 100,
        "chunk octets must not be buffered"
    );
    assert_eq!(h.session.next_action(), Action::Read);
}

#[test]
fn bdat_body_checks() {
    let mut h = Harness::mx();
    h.feed(ENVELOPE).feed(b"BDAT 5 LAST\r\na\nb\r\n");
    h.feed(b"MAIL FROM:<>\r\nRCPT TO:<bob@example.org>\r\nBDAT 1 LAST\r\n\r");
    assert_eq!(
        h.codes()[4..],
        codes!["550 5.6.0", "250 2.1.0", "250 2.1.5", "550 5.6.0"]
    );
    assert!(h.spooled.is_empty());
}
