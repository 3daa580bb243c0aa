use super::*;

fn crlf(s: &str) -> Vec<u8> {
    s.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

const NESTED: &str = include_str!("../../../tests/fixtures/imap/nested.eml");

fn get(raw: &[u8], path: &[u32], kind: SectionKind) -> String {
    let section = Section::part(path.to_vec(), kind);
    String::from_utf8(extract(raw, &section, None)).unwrap()
}

fn fields(names: &[&str], not: bool) -> SectionKind {
    SectionKind::HeaderFields {
        names: names.iter().map(|n| n.to_string()).collect(),
        not,
    }
}

const SIMPLE: &str = "From: a@b.c\nSubject: hi\nX-Folded: one\n two\n\nhello\nworld\n";

#[test]
fn top_level_sections_of_a_simple_message() {
    let raw = crlf(SIMPLE);
    assert_eq!(extract(&raw, &Section::full(), None), raw);
    assert_eq!(
        get(&raw, &[], SectionKind::Header),
        "From: a@b.c\r\nSubject: hi\r\nX-Folded: one\r\n two\r\n\r\n"
    );
    assert_eq!(get(&raw, &[], SectionKind::Text), "hello\r\nworld\r\n");
    // RFC 3501 §6.4.5: a non-multipart message's body is part 1.
    assert_eq!(get(&raw, &[1], SectionKind::Body), "hello\r\nworld\r\n");
    assert_eq!(get(&raw, &[2], SectionKind::Body), "");
    assert_eq!(get(&raw, &[1, 1], SectionKind::Body), "");
    assert_eq!(get(&raw, &[], SectionKind::Mime), "");
}

#[test]
fn header_fields_and_not() {
    let raw = crlf(SIMPLE);
    assert_eq!(
        get(&raw, &[], fields(&["SUBJECT", "x-folded"], false)),
        "Subject: hi\r\nX-Folded: one\r\n two\r\n\r\n"
    );
    assert_eq!(
        get(&raw, &[], fields(&["subject"], true)),
        "From: a@b.c\r\nX-Folded: one\r\n two\r\n\r\n"
    );
    // No match still returns the blank line.
    assert_eq!(get(&raw, &[], fields(&["Cc"], false)), "\r\n");
    // Header order in the message is kept, not the order asked for.
    assert_eq!(
        get(&raw, &[], fields(&["Subject", "From"], false)),
        "From: a@b.c\r\nSubject: hi\r\n\r\n"
    );
}

#[test]
fn nested_parts() {
    let raw = crlf(NESTED);
    assert_eq!(
        get(&raw, &[1], SectionKind::Body),
        "See the forwarded message, caf=C3=A9."
    );
    assert_eq!(
        get(&raw, &[1], SectionKind::Mime),
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    );
    assert_eq!(
        get(&raw, &[2], SectionKind::Mime),
        "Content-Type: message/rfc822\r\nContent-Description: forwarded\r\n\r\n"
    );
    let inner = get(&raw, &[2], SectionKind::Body);
    assert!(inner.starts_with("From: Carol <carol@example.com>\r\n"));
    assert!(inner.ends_with("</p>\r\n--inner--\r\n"));
    assert_eq!(inner.len(), 394);
    assert_eq!(
        get(&raw, &[2], fields(&["subject", "from"], false)),
        "From: Carol <carol@example.com>\r\nSubject: report\r\n\r\n"
    );
    let inner_header = get(&raw, &[2], SectionKind::Header);
    assert!(inner_header.starts_with("From: Carol"));
    assert!(inner_header.ends_with("boundary=\"inner\"\r\n\r\n"));
    assert_eq!(
        get(&raw, &[2], SectionKind::Text),
        concat!(
            "--inner\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
            "Quarterly numbers attached.\r\n--inner\r\n",
            "Content-Type: text/html; charset=us-ascii\r\n\r\n",
            "<p>Quarterly numbers attached.</p>\r\n--inner--\r\n",
        )
    );
    assert_eq!(
        get(&raw, &[2, 1], SectionKind::Body),
        "Quarterly numbers attached."
    );
    assert_eq!(
        get(&raw, &[2, 2], SectionKind::Body),
        "<p>Quarterly numbers attached.</p>"
    );
    assert_eq!(
        get(&raw, &[2, 2], SectionKind::Mime),
        "Content-Type: text/html; charset=us-ascii\r\n\r\n"
    );
    assert_eq!(get(&raw, &[3], SectionKind::Body), "JVBERi0xLjQK");
    // HEADER and TEXT only apply to message/rfc822 parts.
    assert_eq!(get(&raw, &[3], SectionKind::Header), "");
    assert_eq!(get(&raw, &[1], SectionKind::Text), "");
    for missing in [&[0][..], &[4], &[2, 3], &[2, 1, 1], &[3, 1], &[u32::MAX]] {
        assert_eq!(get(&raw, missing, SectionKind::Body), "", "{missing:?}");
        assert_eq!(get(&raw, missing, SectionKind::Mime), "", "{missing:?}");
    }
}

#[test]
fn nested_non_multipart_message_body_is_part_one() {
    let raw = crlf(concat!(
        "Content-Type: multipart/mixed; boundary=o\n\n",
        "--o\nContent-Type: message/rfc822\n\n",
        "Subject: in\n\ninner body\n",
        "--o--\n",
    ));
    // The CRLF before `--o--` belongs to the delimiter (RFC 2046 §5.1.1).
    assert_eq!(get(&raw, &[1, 1], SectionKind::Body), "inner body");
    assert_eq!(get(&raw, &[1, 2], SectionKind::Body), "");
    assert_eq!(get(&raw, &[1], SectionKind::Header), "Subject: in\r\n\r\n");
}

#[test]
fn partial_ranges() {
    let raw = crlf(SIMPLE);
    let text = Section::top(SectionKind::Text);
    assert_eq!(extract(&raw, &text, Some((0, 5))), b"hello");
    assert_eq!(extract(&raw, &text, Some((7, 100))), b"world\r\n");
    assert_eq!(extract(&raw, &text, Some((14, 1))), b"");
    assert_eq!(extract(&raw, &text, Some((1000, 5))), b"");
    assert_eq!(extract(&raw, &text, Some((2, 0))), b"");
    assert_eq!(extract(&raw, &text, Some((u32::MAX, u32::MAX))), b"");
    assert_eq!(
        extract(&raw, &text, Some((3, u32::MAX))),
        b"lo\r\nworld\r\n"
    );
}

#[test]
fn bare_lf_and_garbage() {
    let raw = b"Subject: x\nFrom: y\n\nbody\n";
    assert_eq!(
        get(raw, &[], SectionKind::Header),
        "Subject: x\nFrom: y\n\n"
    );
    assert_eq!(get(raw, &[], fields(&["from"], false)), "From: y\n\r\n");
    assert_eq!(get(raw, &[], SectionKind::Text), "body\n");

    assert_eq!(extract(b"", &Section::top(SectionKind::Header), None), b"");
    assert_eq!(extract(b"", &Section::full(), None), b"");
    let junk: Vec<u8> = (0u8..=255).cycle().take(2000).collect();
    for kind in [
        SectionKind::Header,
        SectionKind::Text,
        SectionKind::Body,
        fields(&["a"], true),
    ] {
        let header = extract(&junk, &Section::top(kind.clone()), None);
        let text = extract(&junk, &Section::top(SectionKind::Text), None);
        assert!(header.len() + text.len() <= junk.len() + 2);
        let _ = extract(&junk, &Section::part(vec![1, 2, 3], kind), Some((1, 2)));
    }
}

#[test]
fn header_without_body() {
    let raw = b"Subject: only headers\r\n";
    assert_eq!(
        get(raw, &[], fields(&["subject"], false)),
        "Subject: only headers\r\n\r\n"
    );
    assert_eq!(get(raw, &[], SectionKind::Text), "");
}

const BINARY_MSG: &str = "From: a@b\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n\
--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
caf=C3=A9 =3D ok  \r\nsoft=\r\nbreak\r\n\
--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: BASE64\r\n\r\n\
AAEC\r\n//8=\r\n\
--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n\
--XX\r\nContent-Type: text/plain\r\n\r\nplain\r\n--XX--\r\n";

#[test]
fn binary_decodes_transfer_encodings() {
    let raw = BINARY_MSG.as_bytes();
    assert_eq!(
        extract_binary(raw, &[1], None).unwrap(),
        "café = ok\r\nsoftbreak".as_bytes()
    );
    assert_eq!(
        extract_binary(raw, &[2], None).unwrap(),
        [0, 1, 2, 255, 255]
    );
    assert_eq!(
        extract_binary(raw, &[2], Some((3, 10))).unwrap(),
        [255, 255]
    );
    assert_eq!(extract_binary(raw, &[2], Some((9, 1))).unwrap(), b"");
    assert_eq!(
        extract_binary(raw, &[3], None),
        Err(BinaryError::UnknownCte("x-uuencode".into()))
    );
    assert_eq!(extract_binary(raw, &[4], None).unwrap(), b"plain");
    assert_eq!(extract_binary(raw, &[9], None).unwrap(), b"");
    assert_eq!(extract_binary(raw, &[], Some((0, 4))).unwrap(), b"From");
    // A nested message part is returned as stored.
    let nested = crlf(NESTED);
    assert_eq!(
        extract_binary(&nested, &[2], None).unwrap(),
        extract(&nested, &Section::part(vec![2], SectionKind::Body), None)
    );
}

#[test]
fn binary_decoders_on_hostile_input() {
    assert_eq!(decode_base64(b"aGVs\r\nbG8=\r\nignored"), b"hello");
    assert_eq!(decode_base64(b"a\0G\xffV*sbG8"), b"hello");
    assert_eq!(decode_base64(b"Q"), b"");
    assert_eq!(decode_base64(b""), b"");
    assert_eq!(decode_quoted_printable(b"a=4"), b"a=4");
    assert_eq!(decode_quoted_printable(b"a=ZZb=\n"), b"a=ZZb");
    assert_eq!(decode_quoted_printable(b"=e9=\r\n\t\r\nx \t"), b"\xe9\r\nx");
    assert_eq!(decode_quoted_printable(b"bare\nlf\n"), b"bare\nlf\n");
    let junk: Vec<u8> = (0u8..=255).cycle().take(3000).collect();
    assert!(decode_quoted_printable(&junk).len() <= junk.len());
    assert!(decode_base64(&junk).len() <= junk.len());
    for path in [&[1][..], &[1, 2], &[2, 1, 1]] {
        let _ = extract_binary(&junk, path, Some((5, 5)));
    }
}

mod fast_header {
    use super::*;
    use proptest::prelude::*;

    /// The fast path and the mail-parser path must agree on every top-level section.
    fn both_agree(raw: &[u8]) {
        let kinds = [
            SectionKind::Header,
            SectionKind::Text,
            fields(&["subject", "x-a"], false),
            fields(&["subject"], true),
        ];
        for kind in kinds {
            let section = Section::top(kind.clone());
            assert_eq!(
                select(raw, &section),
                select_parsed(raw, &section),
                "{kind:?} of {:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn plain_headers_take_the_fast_path() {
        let raw = crlf("Subject: hi\n there\nX-A: 1\n\nbody\n");
        assert_eq!(plain_header_end(&raw), Some(raw.len() - 6));
        both_agree(&raw);
        let lf = b"Subject: hi\nX-A: 1\n\nbody\n";
        assert_eq!(plain_header_end(lf), Some(20));
        both_agree(lf);
    }

    #[test]
    fn anything_unusual_goes_to_the_parser() {
        for raw in [
            &b"no blank line: Subject: x\r\n"[..],
            b" leading continuation: x\r\n\r\nb",
            b"Subject : spaced name\r\n\r\nb",
            b"no colon here\r\n\r\nbody",
            b":empty name\r\n\r\nbody",
            b"Subject: x",
        ] {
            assert_eq!(
                plain_header_end(raw),
                None,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    proptest! {
        #[test]
        fn fast_and_parsed_paths_agree(
            fields in proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,12}", "[ -~]{0,40}", any::<bool>()), 0..8),
            lf_only in any::<bool>(),
            body in "[ -~\r\n]{0,200}",
        ) {
            let eol = if lf_only { "\n" } else { "\r\n" };
            let mut raw = String::new();
            for (name, value, folded) in &fields {
                raw += &format!("{name}: {value}{eol}");
                if *folded {
                    raw += &format!(" more{eol}");
                }
            }
            raw += eol;
            raw += &body;
            both_agree(raw.as_bytes());
        }
    }
}
