//! IMAP string encoding for server responses (RFC 3501 §4.3, §4.5).
//!
//! A value goes out as a quoted string when every byte is plain 7-bit text, otherwise
//! as a literal; absent values are `NIL`.

/// Appends `value` as an IMAP `string`: quoted when safe, literal otherwise.
pub fn push_string(out: &mut String, value: &str) {
    if is_quotable(value) {
        out.push('"');
        out.push_str(value);
        out.push('"');
    } else {
        // RFC 3501 §4.3: a literal is `{octet count}` CRLF then the octets.
        out.push('{');
        out.push_str(&value.len().to_string());
        out.push_str("}\r\n");
        out.push_str(value);
    }
}

/// Appends `value` as an IMAP `nstring`: `NIL` when absent.
pub fn push_nstring(out: &mut String, value: Option<&str>) {
    match value {
        Some(v) => push_string(out, v),
        None => out.push_str("NIL"),
    }
}

/// True when `value` may be sent as a quoted string.
///
/// RFC 3501 §9 `QUOTED-CHAR`: any 7-bit TEXT-CHAR except `"` and `\` (which we send as
/// literals rather than escaping, so every client reads them back unchanged).
pub fn is_quotable(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (0x01..0x80).contains(&b) && !matches!(b, b'\r' | b'\n' | b'"' | b'\\'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(v: Option<&str>) -> String {
        let mut out = String::new();
        push_nstring(&mut out, v);
        out
    }

    #[test]
    fn quotes_plain_text() {
        assert_eq!(render(Some("Hello world")), "\"Hello world\"");
        assert_eq!(render(Some("")), "\"\"");
        assert_eq!(
            render(Some("=?utf-8?q?h=C3=A9?=")),
            "\"=?utf-8?q?h=C3=A9?=\""
        );
    }

    #[test]
    fn nil_for_absent() {
        assert_eq!(render(None), "NIL");
    }

    #[test]
    fn literal_for_specials_and_8bit() {
        assert_eq!(render(Some("a\"b")), "{3}\r\na\"b");
        assert_eq!(render(Some("a\\b")), "{3}\r\na\\b");
        assert_eq!(render(Some("a\r\nb")), "{4}\r\na\r\nb");
        // Octet count, not char count.
        assert_eq!(render(Some("hé")), "{3}\r\nhé");
        assert_eq!(render(Some("a\0b")), "{3}\r\na\0b");
    }
}
