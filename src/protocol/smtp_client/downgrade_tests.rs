use super::*;
use mail_parser::MimeHeaders;
use proptest::prelude::*;

fn text_of(raw: &[u8], part: usize) -> String {
    let message = MessageParser::default().parse(raw).unwrap();
    message.body_text(part).unwrap().into_owned()
}

#[test]
fn ascii_goes_out_unchanged() {
    let raw = b"Subject: hi\r\n\r\nplain\r\n";
    assert!(matches!(seven_bit(raw), Ok(Cow::Borrowed(_))));
}

#[test]
fn a_plain_8bit_message_becomes_quoted_printable() {
    let raw = "From: a@example.org\r\nSubject: hi\r\n\r\nGrüße aus Köln\r\nline 2\r\n";
    let out = seven_bit(raw.as_bytes()).unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    assert_eq!(
        text,
        "From: a@example.org\r\nSubject: hi\r\nMIME-Version: 1.0\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\r\n\
         Gr=C3=BC=C3=9Fe aus K=C3=B6ln\r\nline 2\r\n"
    );
    assert_eq!(text_of(&out, 0), "Grüße aus Köln\r\nline 2\r\n");
}

#[test]
fn an_existing_8bit_label_is_replaced_not_repeated() {
    let raw = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
               Content-Transfer-Encoding: 8bit\r\n\r\nnaïve\r\n";
    let out = seven_bit(raw.as_bytes()).unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    assert_eq!(
        text.matches("Content-Transfer-Encoding").count(),
        1,
        "{text}"
    );
    assert_eq!(text.matches("MIME-Version").count(), 1, "{text}");
    assert!(text.contains("charset=utf-8"), "{text}");
    assert_eq!(text_of(&out, 0), "naïve\r\n");
}

fn multipart(binary: &[u8]) -> Vec<u8> {
    let mut raw = b"MIME-Version: 1.0\r\nSubject: parts\r\n\
        Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n\
        --XX\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nascii part\r\n\
        --XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
        \xc3\xa9t\xc3\xa9\r\n\
        --XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        .to_vec();
    raw.extend_from_slice(binary);
    raw.extend_from_slice(b"\r\n--XX--\r\n");
    raw
}

#[test]
fn multipart_leaves_are_converted_one_by_one() {
    let binary: Vec<u8> = (0u8..=255).filter(|b| *b != b'\r' && *b != b'\n').collect();
    let raw = multipart(&binary);
    let out = seven_bit(&raw).unwrap();
    assert!(out.is_ascii());
    let text = String::from_utf8(out.to_vec()).unwrap();
    // The ASCII part and the structure are untouched.
    assert!(text.contains("preamble\r\n--XX\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nascii part\r\n--XX\r\n"), "{text}");
    assert!(
        text.contains("Content-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A9t=C3=A9\r\n--XX"),
        "{text}"
    );
    assert!(
        text.contains(
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        ),
        "{text}"
    );
    assert!(text.ends_with("\r\n--XX--\r\n"), "{text}");
    let parsed = MessageParser::default().parse(&out[..]).unwrap();
    assert_eq!(parsed.body_text(1).unwrap(), "été");
    let attachment = parsed.attachment(0).unwrap();
    assert_eq!(attachment.content_type().unwrap().c_type, "application");
    assert_eq!(attachment.contents(), &binary[..]);
}

#[test]
fn nested_messages_are_converted_too() {
    let raw = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n\
               --o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
               Subject: inner\r\n\r\nçà\r\n\
               --o--\r\n";
    let out = seven_bit(raw.as_bytes()).unwrap();
    let text = std::str::from_utf8(&out).unwrap();
    assert!(
        text.contains("Content-Transfer-Encoding: 7bit\r\n\r\nSubject: inner\r\n"),
        "{text}"
    );
    assert!(text.contains("=C3=A7=C3=A0"), "{text}");
}

#[test]
fn eight_bit_headers_are_refused() {
    let raw = "Subject: Grüße\r\n\r\nbody\r\n";
    assert_eq!(
        seven_bit(raw.as_bytes()),
        Err(DowngradeError::EightBitHeaders)
    );
    let raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Description: é\r\n\r\nx\r\n--b--\r\n";
    assert_eq!(
        seven_bit(raw.as_bytes()),
        Err(DowngradeError::EightBitHeaders)
    );
}

#[test]
fn eight_bit_octets_under_an_encoding_label_are_refused() {
    let raw = b"Content-Transfer-Encoding: base64\r\n\r\nAAAA\xff\r\n";
    assert_eq!(seven_bit(raw), Err(DowngradeError::Unconvertible));
}

#[test]
fn split_and_truncated_input_never_panics() {
    let raw = multipart(b"\xff\xfe\x00binary");
    for cut in 0..raw.len() {
        if let Ok(out) = seven_bit(&raw[..cut]) {
            assert!(out.is_ascii(), "cut at {cut}");
        }
    }
}

proptest! {
    #[test]
    fn any_input_gives_seven_bit_or_an_error(raw in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(out) = seven_bit(&raw) {
            prop_assert!(out.is_ascii());
        }
    }

    #[test]
    fn text_bodies_round_trip(body in "[a-zé€ \r\n]{0,300}") {
        let body = body.replace('\r', "").replace('\n', "\r\n");
        let raw = format!("Subject: p\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}");
        let out = seven_bit(raw.as_bytes()).unwrap();
        prop_assert!(out.is_ascii());
        if !body.is_empty() {
            prop_assert_eq!(text_of(&out, 0), body);
        }
    }
}
