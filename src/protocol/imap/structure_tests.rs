use super::*;

/// Fixtures are written with LF; stored messages have CRLF.
fn crlf(s: &str) -> Vec<u8> {
    s.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

const NESTED: &str = include_str!("../../../tests/fixtures/imap/nested.eml");

#[test]
fn simple_text_message() {
    let s = summarize(&crlf("From: a@b.c\nSubject: hi\n\nhello\n"));
    let from = r#"((NIL NIL "a" "b.c"))"#;
    assert_eq!(
        s.envelope,
        format!(r#"(NIL "hi" {from} {from} {from} NIL NIL NIL NIL NIL)"#)
    );
    assert_eq!(
        s.body_structure,
        r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 7 1 NIL NIL NIL NIL)"#
    );
    assert_eq!(
        s.body,
        r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 7 1)"#
    );
    assert_eq!((s.header_len, s.size), (28, 35));
}

#[test]
fn nested_message_rfc822_with_attachment() {
    let s = summarize(&crlf(NESTED));
    let alice = r#"(("Alice" NIL "alice" "example.org"))"#;
    let carol = r#"(("Carol" NIL "carol" "example.com"))"#;
    assert_eq!(
        s.envelope,
        format!(
            r#"("Tue, 2 Jan 2024 10:00:00 +0100" "Fwd: report" {alice} {alice} {alice} ((NIL NIL "bob" "example.net")) NIL NIL NIL "<outer@example.org>")"#
        )
    );
    let inner_env = format!(
        r#"("Mon, 1 Jan 2024 09:00:00 +0000" "report" {carol} {carol} {carol} {alice} NIL NIL NIL "<inner@example.com>")"#
    );
    let expected = [
        r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 37 1 NIL NIL NIL NIL)"#,
        r#"("MESSAGE" "RFC822" NIL NIL "forwarded" "7BIT" 394 "#,
        &inner_env,
        r#" (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 27 1 NIL NIL NIL NIL)"#,
        r#"("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 34 1 NIL NIL NIL NIL)"#,
        r#" "ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL) 16 NIL NIL NIL NIL)"#,
        r#"("APPLICATION" "PDF" ("NAME" "q1.pdf") NIL NIL "BASE64" 12 "Q2hlY2sgSW50ZWdyaXR5IQ==""#,
        r#" ("ATTACHMENT" ("FILENAME" "q1.pdf")) ("en" "de") NIL)"#,
        r#" "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)"#,
    ]
    .concat();
    assert_eq!(s.body_structure, expected);
    let expected_body = [
        r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 37 1)"#,
        r#"("MESSAGE" "RFC822" NIL NIL "forwarded" "7BIT" 394 "#,
        &inner_env,
        r#" (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 27 1)"#,
        r#"("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 34 1) "ALTERNATIVE") 16)"#,
        r#"("APPLICATION" "PDF" ("NAME" "q1.pdf") NIL NIL "BASE64" 12) "MIXED")"#,
    ]
    .concat();
    assert_eq!(s.body, expected_body);
    assert_eq!((s.header_len, s.size), (217, 1102));
}

#[test]
fn multipart_alternative_with_ids_and_location() {
    let raw = crlf(concat!(
        "From: \"Doe, Jane\" <jane@x.org>\n",
        "Reply-To: list@x.org\n",
        "Sender:\n",
        "Cc: Team: a@x.org, b@x.org;\n",
        "In-Reply-To: <p@x.org>\n",
        "Content-Type: multipart/alternative; boundary=b1\n",
        "\n",
        "--b1\n",
        "Content-Type: text/plain; charset=UTF-8; format=flowed\n",
        "Content-ID: <c1@x.org>\n",
        "\n",
        "line one\n",
        "line two\n",
        "--b1\n",
        "Content-Type: text/html\n",
        "Content-Location: http://x.org/a.html\n",
        "Content-Disposition: inline\n",
        "\n",
        "<b>hi</b>\n",
        "--b1--\n",
    ));
    let s = summarize(&raw);
    let jane = r#"(("Doe, Jane" NIL "jane" "x.org"))"#;
    assert_eq!(
        s.envelope,
        format!(
            r#"(NIL NIL {jane} {jane} ((NIL NIL "list" "x.org")) NIL ((NIL NIL "Team" NIL)(NIL NIL "a" "x.org")(NIL NIL "b" "x.org")(NIL NIL NIL NIL)) NIL "<p@x.org>" NIL)"#
        )
    );
    assert_eq!(
        s.body_structure,
        concat!(
            r#"(("TEXT" "PLAIN" ("CHARSET" "UTF-8" "FORMAT" "flowed") "<c1@x.org>" NIL "7BIT" 18 2 NIL NIL NIL NIL)"#,
            r#"("TEXT" "HTML" NIL NIL NIL "7BIT" 9 1 NIL ("INLINE" NIL) NIL "http://x.org/a.html")"#,
            r#" "ALTERNATIVE" ("BOUNDARY" "b1") NIL NIL NIL)"#
        )
    );
}

#[test]
fn encoded_words_pass_through_and_specials_become_literals() {
    let raw = crlf(concat!(
        "Subject: =?UTF-8?Q?caf=C3=A9?= \"quoted\"\n",
        "From: =?ISO-8859-1?Q?J=F6rg?= <j@x.de>\n",
        "\n",
        "x",
    ));
    let s = summarize(&raw);
    let from = r#"(("=?ISO-8859-1?Q?J=F6rg?=" NIL "j" "x.de"))"#;
    assert_eq!(
        s.envelope,
        format!(
            "(NIL {{30}}\r\n=?UTF-8?Q?caf=C3=A9?= \"quoted\" {from} {from} {from} NIL NIL NIL NIL NIL)"
        )
    );
    assert_eq!(
        s.body,
        r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1 1)"#
    );
}

#[test]
fn eight_bit_and_folded_headers() {
    let raw = crlf(concat!(
        "Subject: Grüße\n",
        "To: a@x.org,\n",
        "  b@y.org\n",
        "\n",
        "body\n",
    ));
    let s = summarize(&raw);
    assert_eq!(
        s.envelope,
        "(NIL {7}\r\nGrüße NIL NIL NIL ((NIL NIL \"a\" \"x.org\")(NIL NIL \"b\" \"y.org\")) NIL NIL NIL NIL)"
    );
}

#[test]
fn missing_headers_and_empty_body() {
    let s = summarize(b"\r\n");
    assert_eq!(s.envelope, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    assert_eq!(
        s.body_structure,
        r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL)"#
    );
    assert_eq!((s.header_len, s.size), (2, 2));
}

#[test]
fn garbage_and_empty_input_still_summarize() {
    let empty = summarize(b"");
    assert_eq!(empty.envelope, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    assert_eq!(
        empty.body,
        r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0)"#
    );
    assert_eq!((empty.header_len, empty.size), (0, 0));

    let junk: Vec<u8> = (0u8..=255).cycle().take(3000).collect();
    let s = summarize(&junk);
    assert_eq!(s.size, 3000);
    assert!(s.body_structure.starts_with("(\""));
    assert!(s.header_len as u64 <= s.size);

    for raw in [
        &b"\x00\xff\xfe garbage"[..],
        b"Content-Type: multipart/mixed; boundary=z\r\n\r\nno parts here",
        b"Content-Type: message/rfc822\r\n\r\n",
        b"Content-Type: multipart/mixed\r\n\r\n--\r\n--\r\n",
        b"::::\r\n\r\n\r\n",
    ] {
        let s = summarize(raw);
        assert_eq!(s.size, raw.len() as u64);
        assert_eq!(
            s.body_structure.matches('(').count(),
            s.body_structure.matches(')').count()
        );
    }
}

#[test]
fn multipart_without_parts_gets_a_placeholder_body() {
    let s = summarize(b"Content-Type: multipart/mixed; boundary=z\r\n\r\nno parts here");
    assert_eq!(
        s.body,
        r#"(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 13 1) "MIXED")"#
    );
}

#[test]
fn bare_lf_message_counts_raw_octets() {
    let s = summarize(b"Subject: lf\n\nhello\nworld\n");
    assert_eq!(
        s.body,
        r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 12 2)"#
    );
    assert_eq!((s.header_len, s.size), (13, 25));
}

#[test]
fn summary_round_trips_through_postcard() {
    let s = summarize(&crlf(NESTED));
    let bytes = postcard::to_allocvec(&s).unwrap();
    assert_eq!(postcard::from_bytes::<MessageSummary>(&bytes).unwrap(), s);
}
