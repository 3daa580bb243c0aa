//! Reply formatting (RFC 5321 §4.2) with RFC 2034 enhanced status codes.

/// Appends one single-line reply: `code esc text CRLF` (esc omitted when empty).
pub(crate) fn push(out: &mut Vec<u8>, code: u16, esc: &str, text: &str) {
    out.extend_from_slice(code.to_string().as_bytes());
    out.push(b' ');
    if !esc.is_empty() {
        out.extend_from_slice(esc.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends a multi-line reply (RFC 5321 §4.2.1: `code-text` lines, last one `code text`).
pub(crate) fn push_lines(out: &mut Vec<u8>, code: u16, lines: &[String]) {
    for (i, line) in lines.iter().enumerate() {
        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
        out.extend_from_slice(format!("{code}{sep}{line}\r\n").as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_with_and_without_esc() {
        let mut out = Vec::new();
        push(&mut out, 250, "2.0.0", "Ok");
        push(&mut out, 354, "", "Go ahead");
        assert_eq!(out, b"250 2.0.0 Ok\r\n354 Go ahead\r\n");
    }

    #[test]
    fn multi_line_uses_dash_until_last() {
        let mut out = Vec::new();
        push_lines(&mut out, 250, &["a".into(), "b".into(), "c".into()]);
        assert_eq!(out, b"250-a\r\n250-b\r\n250 c\r\n");
    }
}
