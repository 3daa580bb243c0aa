//! Server replies as the client reads them (RFC 5321 §4.2), with RFC 3463 enhanced codes.
//!
//! The parser is strict about the parts a client branches on (the three-digit code, the
//! continuation marker, one code per reply) and lenient about the text, which is only ever
//! logged or copied into a DSN.

use std::fmt;

use thiserror::Error;

/// RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers send longer text,
/// so allow eight times that before calling the line garbage.
pub const MAX_REPLY_LINE: usize = 4096;
/// A multi-line reply longer than this many lines is garbage (EHLO replies have ~20).
pub const MAX_REPLY_LINES: usize = 128;

/// One complete server reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code, 200..=599.
    pub code: u16,
    /// The RFC 3463 enhanced status code of the first line (`5.1.1`), when present.
    pub enhanced: Option<String>,
    /// The text of every line, enhanced code removed, lines joined with `\n`.
    pub text: String,
}

impl Reply {
    /// A reply made locally (never sent by the server), e.g. for a recipient we refused.
    pub fn local(code: u16, enhanced: &str, text: &str) -> Reply {
        Reply {
            code,
            enhanced: Some(enhanced.to_string()),
            text: text.to_string(),
        }
    }

    /// True for 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// True for 4xx: try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// True for 5xx: do not try again.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The text lines, one per reply line.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.split('\n')
    }
}

/// `550 5.1.1 no such user`; a multi-line text is flattened with spaces so that the
/// result fits a log line or a DSN `Diagnostic-Code` field.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(esc) = &self.enhanced {
            write!(f, " {esc}")?;
        }
        for (i, line) in self.lines().enumerate() {
            let sep = if i == 0 { " " } else { " / " };
            if !line.is_empty() {
                write!(f, "{sep}{line}")?;
            }
        }
        Ok(())
    }
}

/// Bytes that are not an SMTP reply: the connection cannot be trusted any more.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplyError {
    /// A line without a valid three-digit code (first digit 2 to 5) and separator.
    #[error("malformed reply line: {0:?}")]
    Malformed(String),
    /// A continuation line whose code differs from the first line's.
    #[error("reply code changed inside a multi-line reply ({0} then {1})")]
    CodeMismatch(u16, u16),
    /// A line longer than [`MAX_REPLY_LINE`].
    #[error("reply line longer than {MAX_REPLY_LINE} octets")]
    LineTooLong,
    /// More than [`MAX_REPLY_LINES`] lines in one reply.
    #[error("reply longer than {MAX_REPLY_LINES} lines")]
    TooManyLines,
    /// A NUL octet in a reply.
    #[error("NUL in reply")]
    Nul,
}

/// Splits the bytes read from a server into replies; feed it, then drain `next_reply`.
#[derive(Debug, Default)]
pub struct ReplyParser {
    buf: Vec<u8>,
    // Octets of `buf` already known to hold no LF (a slow server is scanned once).
    scanned: usize,
    code: Option<u16>,
    enhanced: Option<String>,
    lines: Vec<String>,
}

impl ReplyParser {
    /// Appends bytes read from the connection.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// True when read bytes are waiting: after a `220` to STARTTLS that is an injection
    /// attempt (RFC 3207 §4.2, CVE-2011-0411 seen from the client side).
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The next complete reply, `Ok(None)` when more input is needed.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ReplyError> {
        loop {
            let Some(pos) = self.buf[self.scanned..].iter().position(|&b| b == b'\n') else {
                self.scanned = self.buf.len();
                if self.buf.len() > MAX_REPLY_LINE {
                    return Err(ReplyError::LineTooLong);
                }
                return Ok(None);
            };
            let end = self.scanned + pos + 1;
            self.scanned = 0;
            if end > MAX_REPLY_LINE {
                return Err(ReplyError::LineTooLong);
            }
            let line: Vec<u8> = self.buf.drain(..end).collect();
            if let Some(reply) = self.take_line(&line)? {
                return Ok(Some(reply));
            }
        }
    }

    fn take_line(&mut self, raw: &[u8]) -> Result<Option<Reply>, ReplyError> {
        // RFC 5321 §2.3.8 wants CRLF; a bare LF from a sloppy server is still a line end.
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.contains(&0) {
            return Err(ReplyError::Nul);
        }
        let malformed = || ReplyError::Malformed(String::from_utf8_lossy(raw).into_owned());
        let code = match raw.get(..3) {
            Some([a @ b'2'..=b'5', b @ b'0'..=b'9', c @ b'0'..=b'9']) => {
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
            }
            _ => return Err(malformed()),
        };
        // RFC 5321 §4.2: `code-text` continues, `code text` or a bare `code` ends the reply.
        let (last, text) = match raw.get(3) {
            None => (true, &raw[3..]),
            Some(b' ') => (true, &raw[4..]),
            Some(b'-') => (false, &raw[4..]),
            Some(_) => return Err(malformed()),
        };
        if let Some(first) = self.code {
            if first != code {
                return Err(ReplyError::CodeMismatch(first, code));
            }
        }
        if self.lines.len() >= MAX_REPLY_LINES {
            return Err(ReplyError::TooManyLines);
        }
        // Text may be UTF-8 (RFC 6531) or anything else: it is only shown, never parsed.
        let text = String::from_utf8_lossy(text);
        let (enhanced, text) = split_enhanced(code, &text);
        if self.code.is_none() {
            self.code = Some(code);
            self.enhanced = enhanced.map(str::to_string);
            self.lines.push(text.to_string());
        } else if enhanced.is_some() && enhanced == self.enhanced.as_deref() {
            // RFC 2034 §4: every line repeats the enhanced code; keep the text only.
            self.lines.push(text.to_string());
        } else {
            self.lines
                .push(enhanced.map_or(text.to_string(), |e| format!("{e} {text}")));
        }
        if !last {
            return Ok(None);
        }
        self.code = None;
        Ok(Some(Reply {
            code,
            enhanced: self.enhanced.take(),
            text: std::mem::take(&mut self.lines).join("\n"),
        }))
    }
}

/// Splits `5.1.1 text` into the enhanced code and the rest (RFC 3463 §2: the class digit
/// must match the reply's first digit, subject and detail are 1-3 digits).
fn split_enhanced(code: u16, text: &str) -> (Option<&str>, &str) {
    let (token, rest) = text.split_once(' ').unwrap_or((text, ""));
    let mut parts = token.split('.');
    let class_ok = parts.next() == Some(&*(code / 100).to_string()) && code / 100 != 3;
    let numbers_ok = parts
        .by_ref()
        .take(2)
        .filter(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        .count()
        == 2;
    if class_ok && numbers_ok && parts.next().is_none() {
        (Some(token), rest)
    } else {
        (None, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8], chunk: usize) -> Result<Vec<Reply>, ReplyError> {
        let mut parser = ReplyParser::default();
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            parser.feed(piece);
            while let Some(reply) = parser.next_reply()? {
                out.push(reply);
            }
        }
        Ok(out)
    }

    fn reply(code: u16, enhanced: Option<&str>, text: &str) -> Reply {
        Reply {
            code,
            enhanced: enhanced.map(str::to_string),
            text: text.to_string(),
        }
    }

    const SCRIPT: &[u8] = b"220 mx.example ESMTP ready\r\n\
        250-mx.example hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n\
        550-5.1.1 no such\r\n550 5.1.1 user here\r\n\
        250 2.1.5 ok\n\
        354\r\n\
        451 4.7.1 try 5.1.1 later\r\n";

    #[test]
    fn split_input_gives_the_same_replies() {
        let expected = vec![
            reply(220, None, "mx.example ESMTP ready"),
            reply(
                250,
                None,
                "mx.example hello\nPIPELINING\nSIZE 1000\n8BITMIME",
            ),
            reply(550, Some("5.1.1"), "no such\nuser here"),
            reply(250, Some("2.1.5"), "ok"),
            reply(354, None, ""),
            reply(451, Some("4.7.1"), "try 5.1.1 later"),
        ];
        for chunk in [1, 2, 3, 4, 8, 16, 32, 64, 128, 256, 512] {
            assert_eq!(parse_all(SCRIPT, chunk).unwrap(), expected, "chunk {chunk}");
        }
    }

    #[test]
    fn display_flattens_lines() {
        let replies = parse_all(SCRIPT, 512).unwrap();
        assert_eq!(replies[2].to_string(), "550 5.1.1 no such / user here");
        assert_eq!(replies[4].to_string(), "354");
        assert_eq!(
            Reply::local(553, "5.1.3", "bad").to_string(),
            "553 5.1.3 bad"
        );
    }

    #[test]
    fn enhanced_code_needs_matching_class() {
        assert_eq!(split_enhanced(250, "5.1.1 x"), (None, "5.1.1 x"));
        assert_eq!(split_enhanced(250, "2.1.1234 x"), (None, "2.1.1234 x"));
        assert_eq!(split_enhanced(250, "2.1 x"), (None, "2.1 x"));
        assert_eq!(split_enhanced(250, "2.1.0.1 x"), (None, "2.1.0.1 x"));
        assert_eq!(split_enhanced(354, "3.0.0 go"), (None, "3.0.0 go"));
        assert_eq!(split_enhanced(554, "5.7.1"), (Some("5.7.1"), ""));
    }

    #[test]
    fn garbage_is_an_error_at_every_chunk_size() {
        let cases: &[(&[u8], ReplyError)] = &[
            (b"hello\r\n", ReplyError::Malformed("hello".into())),
            (b"25\r\n", ReplyError::Malformed("25".into())),
            (b"150 old\r\n", ReplyError::Malformed("150 old".into())),
            (b"650 six\r\n", ReplyError::Malformed("650 six".into())),
            (b"250x\r\n", ReplyError::Malformed("250x".into())),
            (b"2a0 x\r\n", ReplyError::Malformed("2a0 x".into())),
            (b"250-a\r\nhello\r\n", ReplyError::Malformed("hello".into())),
            (b"250-a\r\n550 b\r\n", ReplyError::CodeMismatch(250, 550)),
            (b"220 a\0b\r\n", ReplyError::Nul),
            (b"\r\n", ReplyError::Malformed(String::new())),
        ];
        for (input, expected) in cases {
            for chunk in [1, 2, 4, 512] {
                assert_eq!(parse_all(input, chunk).as_ref(), Err(expected), "{input:?}");
            }
        }
    }

    #[test]
    fn long_lines_and_long_replies_are_refused() {
        let mut long = b"250 ".to_vec();
        long.extend(std::iter::repeat_n(b'x', 10 * 1024));
        for chunk in [1, 7, 512] {
            assert_eq!(parse_all(&long, chunk), Err(ReplyError::LineTooLong));
        }
        long.extend_from_slice(b"\r\n");
        assert_eq!(parse_all(&long, 10240 + 6), Err(ReplyError::LineTooLong));
        let many = b"250-x\r\n".repeat(MAX_REPLY_LINES + 1);
        assert_eq!(parse_all(&many, 64), Err(ReplyError::TooManyLines));
    }

    #[test]
    fn eight_bit_text_is_kept_lossily() {
        let replies = parse_all(b"250 caf\xc3\xa9 \xff\r\n", 3).unwrap();
        assert_eq!(replies[0].text, "café \u{fffd}");
    }

    #[test]
    fn bytes_after_a_reply_stay_buffered() {
        let mut parser = ReplyParser::default();
        parser.feed(b"220 go ahead\r\n250 injected\r\n");
        assert_eq!(parser.next_reply().unwrap().unwrap().code, 220);
        assert!(parser.has_buffered());
    }
}
