//! Command-line framing: finds line ends and enforces length limits before any parsing.

use thiserror::Error;

/// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
pub(crate) const MAX_COMMAND_LINE: usize = 512;
/// RFC 4954 §4: AUTH command and SASL response lines may be up to 12288 octets.
pub(crate) const MAX_AUTH_LINE: usize = 12288;

/// What the framer found at the front of the unconsumed input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A complete line of this many octets, terminator included.
    Line(usize),
    /// An over-long line ends after this many octets; consume them and answer 500 5.5.2.
    TooLong(usize),
    /// Part of an over-long line with no end yet; consume this many octets and read more.
    Discard(usize),
    /// No complete line yet.
    Incomplete,
}

/// Finds lines in a growing buffer, remembering how far it already looked.
#[derive(Debug, Default)]
pub(crate) struct LineFramer {
    // Octets after the consume position already known to hold no LF, so a line that
    // arrives in many small reads is scanned once, not once per read.
    scanned: usize,
    // Inside an over-long line whose start was thrown away; we skip to its LF.
    discarding: bool,
}

impl LineFramer {
    /// Looks for the next line in `avail` (the unconsumed input); `limit` includes the LF.
    pub(crate) fn next(&mut self, avail: &[u8], limit: usize) -> Frame {
        let from = self.scanned.min(avail.len());
        match avail[from..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let len = from + i + 1;
                self.scanned = 0;
                if std::mem::take(&mut self.discarding) || len > limit {
                    Frame::TooLong(len)
                } else {
                    Frame::Line(len)
                }
            }
            // Without its LF the line is already longer than `limit` allows: do not keep it.
            None if self.discarding || avail.len() >= limit => {
                self.discarding = true;
                self.scanned = 0;
                Frame::Discard(avail.len())
            }
            None => {
                self.scanned = avail.len();
                Frame::Incomplete
            }
        }
    }

    /// Forgets all progress (after STARTTLS, or when switching to a body receiver).
    pub(crate) fn reset(&mut self) {
        *self = LineFramer::default();
    }
}

/// A command line that is not text we are willing to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub(crate) enum LineError {
    /// NUL, a bare CR, or bytes that are not UTF-8.
    #[error("invalid characters in command line")]
    InvalidCharacters,
}

/// Strips the line terminator and checks the text; bare LF is accepted as a terminator.
///
/// Commands are lenient about a bare LF ending the line (RFC 5321 §2.3.8 asks for CRLF,
/// but a bare LF in command mode cannot be used for smuggling: only DATA is strict).
pub(crate) fn line_text(raw: &[u8]) -> Result<&str, LineError> {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if raw.iter().any(|&b| b == 0 || b == b'\r') {
        return Err(LineError::InvalidCharacters);
    }
    std::str::from_utf8(raw).map_err(|_| LineError::InvalidCharacters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_and_remembers_scan_position() {
        let mut f = LineFramer::default();
        assert_eq!(f.next(b"NOO", 512), Frame::Incomplete);
        assert_eq!(f.scanned, 3);
        assert_eq!(f.next(b"NOOP\r\nQUIT", 512), Frame::Line(6));
        assert_eq!(f.next(b"QUIT", 512), Frame::Incomplete);
    }

    #[test]
    fn overlong_line_with_lf_is_too_long() {
        let mut f = LineFramer::default();
        let mut line = vec![b'a'; 511];
        line.extend_from_slice(b"\r\n");
        assert_eq!(f.next(&line, 512), Frame::TooLong(513));
        assert_eq!(f.next(&line[1..], 512), Frame::Line(512));
    }

    #[test]
    fn overlong_line_without_lf_is_discarded_until_lf() {
        let mut f = LineFramer::default();
        assert_eq!(f.next(&[b'x'; 600], 512), Frame::Discard(600));
        assert_eq!(f.next(&[b'x'; 10], 512), Frame::Discard(10));
        assert_eq!(f.next(b"xx\r\nNOOP\r\n", 512), Frame::TooLong(4));
        assert_eq!(f.next(b"NOOP\r\n", 512), Frame::Line(6));
    }

    #[test]
    fn line_text_rules() {
        assert_eq!(line_text(b"NOOP\r\n"), Ok("NOOP"));
        assert_eq!(line_text(b"NOOP\n"), Ok("NOOP"));
        assert_eq!(line_text(b"NO\0OP\r\n"), Err(LineError::InvalidCharacters));
        assert_eq!(line_text(b"NO\rOP\r\n"), Err(LineError::InvalidCharacters));
        assert_eq!(line_text(b"NOOP\r\r\n"), Err(LineError::InvalidCharacters));
        assert_eq!(
            line_text(b"NOOP \xff\xfe\r\n"),
            Err(LineError::InvalidCharacters)
        );
        assert_eq!(line_text("HELO héllo\r\n".as_bytes()), Ok("HELO héllo"));
    }
}
