//! The DATA payload: dot-stuffing and the end-of-data marker (RFC 5321 §4.5.2).

/// The message as it goes on the wire after `354`: every line CRLF-terminated, lines
/// starting with `.` doubled, ending with `CRLF.CRLF`.
///
/// The message should already use CRLF; a bare LF is turned into CRLF anyway, because
/// strict servers refuse it (SMTP smuggling defences) and a `\n.\n` inside the body must
/// never look like an end of data to anyone.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
    let mut at_line_start = true;
    for (i, &byte) in message.iter().enumerate() {
        if at_line_start && byte == b'.' {
            out.push(b'.');
        }
        if byte == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(byte);
        at_line_start = byte == b'\n';
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stuffs_leading_dots_and_terminates() {
        assert_eq!(dot_stuff(b"a\r\n.b\r\n..\r\n"), b"a\r\n..b\r\n...\r\n.\r\n");
        assert_eq!(dot_stuff(b".\r\n"), b"..\r\n.\r\n");
        assert_eq!(dot_stuff(b"x. y\r\n"), b"x. y\r\n.\r\n");
    }

    #[test]
    fn adds_the_missing_final_crlf_and_handles_empty() {
        assert_eq!(dot_stuff(b"no newline"), b"no newline\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b".\r\n");
    }

    #[test]
    fn bare_lf_becomes_crlf_so_no_smuggled_end() {
        assert_eq!(dot_stuff(b"a\n.\nb"), b"a\r\n..\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b"\n"), b"\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\r\n.\r\nMAIL"), b"a\r\n..\r\nMAIL\r\n.\r\n");
    }
}
