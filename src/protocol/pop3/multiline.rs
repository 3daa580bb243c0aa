//! Encoding a message as the body of a POP3 multi-line response (RFC 1939 §3): byte-exact
//! dot-stuffing and the terminating `.` line, optionally cut to TOP's headers + n body lines.

/// Encode a message as a POP3 multi-line response body (dot-stuffed, ending ".\r\n"); top_lines = TOP n (headers + n body lines).
///
/// Bytes pass through unchanged apart from the stuffed dots: the stored message already has
/// CRLF line ends. A bare LF still counts as a line start for stuffing, so a client splitting
/// on LF cannot be shown a premature `.` terminator. A message that does not end in CRLF
/// gets one before the terminator, which must follow a CRLF to be recognised.
pub fn encode_multiline(content: &[u8], top_lines: Option<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 64 + 5);
    let mut in_headers = true;
    let mut body_lines = 0usize;
    for line in content.split_inclusive(|&b| b == b'\n') {
        if !in_headers {
            if let Some(limit) = top_lines {
                if body_lines == limit {
                    break;
                }
            }
            body_lines += 1;
        } else if line == b"\r\n" || line == b"\n" {
            // RFC 1939 §7 (TOP): the blank line separating headers from body is always sent.
            in_headers = false;
        }
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] =
        b"From: a@example.org\r\nSubject: hi\r\n\r\nline 1\r\n.line 2\r\n..3\r\n.\r\nlast\r\n";

    #[test]
    fn whole_message_is_dot_stuffed() {
        assert_eq!(
            encode_multiline(MSG, None),
            b"From: a@example.org\r\nSubject: hi\r\n\r\nline 1\r\n..line 2\r\n...3\r\n..\r\nlast\r\n.\r\n"
                .to_vec()
        );
    }

    #[test]
    fn top_sends_headers_blank_line_and_n_body_lines() {
        let head = b"From: a@example.org\r\nSubject: hi\r\n\r\n".to_vec();
        assert_eq!(
            encode_multiline(MSG, Some(0)),
            [&head[..], b".\r\n"].concat()
        );
        assert_eq!(
            encode_multiline(MSG, Some(2)),
            [&head[..], b"line 1\r\n..line 2\r\n.\r\n"].concat()
        );
        assert_eq!(
            encode_multiline(MSG, Some(1000)),
            encode_multiline(MSG, None)
        );
        assert_eq!(
            encode_multiline(MSG, Some(usize::MAX)),
            encode_multiline(MSG, None)
        );
    }

    #[test]
    fn top_of_a_message_without_body_or_headers() {
        assert_eq!(
            encode_multiline(b"Subject: x\r\n", Some(0)),
            b"Subject: x\r\n.\r\n".to_vec()
        );
        assert_eq!(
            encode_multiline(b"\r\nbody\r\nmore\r\n", Some(1)),
            b"\r\nbody\r\n.\r\n".to_vec()
        );
    }

    #[test]
    fn missing_final_crlf_is_added() {
        assert_eq!(
            encode_multiline(b"A: b\r\n\r\nno end", None),
            b"A: b\r\n\r\nno end\r\n.\r\n".to_vec()
        );
        assert_eq!(
            encode_multiline(b"A: b\r\n\r\nx\r", None),
            b"A: b\r\n\r\nx\r\r\n.\r\n".to_vec()
        );
        assert_eq!(encode_multiline(b".", None), b"..\r\n.\r\n".to_vec());
    }

    #[test]
    fn empty_message_is_just_the_terminator() {
        assert_eq!(encode_multiline(b"", None), b".\r\n".to_vec());
        assert_eq!(encode_multiline(b"", Some(5)), b".\r\n".to_vec());
    }

    #[test]
    fn bare_lf_lines_are_stuffed_and_terminated() {
        // "\n.\r\n" would look like an end of response to a client that splits on LF.
        assert_eq!(
            encode_multiline(b"A: b\r\n\r\nx\n.\r\ny\n", None),
            b"A: b\r\n\r\nx\n..\r\ny\n\r\n.\r\n".to_vec()
        );
        assert_eq!(
            encode_multiline(b"A: b\n\nbody\n.\n", Some(0)),
            b"A: b\n\n\r\n.\r\n".to_vec()
        );
    }

    #[test]
    fn binary_junk_passes_through_byte_exact() {
        let junk: Vec<u8> = (0u8..=255).collect();
        let encoded = encode_multiline(&junk, None);
        // The only LF is byte 10; byte 11 is not a dot, so nothing is stuffed.
        assert_eq!(&encoded[..256], &junk[..]);
        assert_eq!(&encoded[256..], b"\r\n.\r\n");
    }
}
