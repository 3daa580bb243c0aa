//! The DATA receiver (RFC 5321 §4.1.1.4): dot-unstuffing, end-of-data detection and body
//! checks, streaming over reads of any size.
//!
//! Only `CRLF.CRLF` ends the data. `LF.LF`, `CR.LF`, `LF.CRLF` and `CRLF.LF` do not, and
//! any bare CR or LF makes the message rejected at its end, so a client can never smuggle a
//! second message past a server that reads line ends differently (SMTP smuggling).

use thiserror::Error;

/// RFC 5322 §2.1.1: a line is at most 998 octets excluding CRLF.
pub(crate) const MAX_LINE: usize = 998;

/// Why a received body is refused; all are reported after the body was fully read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub(crate) enum BodyError {
    /// Larger than the advertised SIZE: 552 5.3.4.
    #[error("message too big")]
    TooBig,
    /// A CR not followed by LF or an LF not preceded by CR: 550 5.6.0.
    #[error("bare CR or LF in message")]
    BareLineEnding,
    /// A line over 998 octets: 550 5.6.0.
    #[error("message line too long")]
    LineTooLong,
}

/// Where the receiver is relative to line boundaries and a possible end marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Right after CRLF (or at the very start): a `.` here is special.
    LineStart,
    /// Saw `.` at line start.
    Dot,
    /// Saw `.` CR at line start: LF ends the data.
    DotCr,
    /// Inside a line.
    Mid,
    /// Saw CR inside a line.
    Cr,
}

/// Accumulates one DATA body.
#[derive(Debug)]
pub(crate) struct DataReceiver {
    state: State,
    line_len: usize,
    size: usize,
    max_size: usize,
    body: Vec<u8>,
    error: Option<BodyError>,
}

impl DataReceiver {
    /// A receiver that refuses bodies over `max_size` octets (after unstuffing).
    pub(crate) fn new(max_size: usize) -> DataReceiver {
        DataReceiver {
            state: State::LineStart,
            line_len: 0,
            size: 0,
            max_size,
            body: Vec::new(),
            error: None,
        }
    }

    /// Consumes input; returns the octets used and whether `CRLF.CRLF` was reached.
    ///
    /// Octets after the end marker are not consumed: they are the next commands.
    pub(crate) fn feed(&mut self, input: &[u8]) -> (usize, bool) {
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            match self.state {
                State::Mid => {
                    let run = input[i..]
                        .iter()
                        .position(|&c| c == b'\r' || c == b'\n')
                        .unwrap_or(input.len() - i);
                    if run > 0 {
                        self.content(&input[i..i + run]);
                        i += run;
                        continue;
                    }
                    i += 1;
                    if b == b'\r' {
                        self.state = State::Cr;
                    } else {
                        // A bare LF is not a line end: what follows is still mid-line, so
                        // `LF.CRLF` can never look like the end marker.
                        self.flag(BodyError::BareLineEnding);
                    }
                }
                State::LineStart => {
                    i += 1;
                    self.state = match b {
                        b'.' => State::Dot,
                        b'\r' => State::Cr,
                        b'\n' => {
                            self.flag(BodyError::BareLineEnding);
                            State::Mid
                        }
                        _ => {
                            self.content(&[b]);
                            State::Mid
                        }
                    };
                }
                State::Dot => {
                    if b == b'\r' {
                        i += 1;
                        self.state = State::DotCr;
                    } else {
                        // RFC 5321 §4.5.2: drop the leading dot, keep the rest of the line;
                        // the current octet is handled as ordinary line content.
                        self.state = State::Mid;
                    }
                }
                State::DotCr => {
                    if b == b'\n' {
                        return (i + 1, true);
                    }
                    // `.` CR x: the dot was stuffing, the CR is bare; x is handled mid-line.
                    self.flag(BodyError::BareLineEnding);
                    self.state = State::Mid;
                }
                State::Cr => {
                    i += 1;
                    match b {
                        b'\n' => {
                            self.emit(b"\r\n");
                            self.line_len = 0;
                            self.state = State::LineStart;
                        }
                        b'\r' => self.flag(BodyError::BareLineEnding),
                        _ => {
                            self.flag(BodyError::BareLineEnding);
                            self.content(&[b]);
                            self.state = State::Mid;
                        }
                    }
                }
            }
        }
        (i, false)
    }

    /// The body, or why it is refused.
    pub(crate) fn finish(self) -> Result<Vec<u8>, BodyError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.body),
        }
    }

    fn content(&mut self, bytes: &[u8]) {
        self.line_len += bytes.len();
        if self.line_len > MAX_LINE {
            self.flag(BodyError::LineTooLong);
        }
        self.emit(bytes);
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len());
        if self.size > self.max_size {
            self.flag(BodyError::TooBig);
        }
        // Once refused, stop buffering: the rest is only read to find the end marker.
        if self.error.is_none() {
            self.body.extend_from_slice(bytes);
        }
    }

    fn flag(&mut self, error: BodyError) {
        // Size wins over the others: it is what a client can act on (send less).
        if self.error.is_none() || error == BodyError::TooBig {
            self.error = Some(error);
        }
        self.body = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], max: usize) -> (usize, bool, Result<Vec<u8>, BodyError>) {
        let mut r = DataReceiver::new(max);
        let (used, done) = r.feed(input);
        (used, done, r.finish())
    }

    #[test]
    fn simple_body_and_trailing_commands_untouched() {
        let (used, done, body) = run(b"Subject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n", 1000);
        assert!(done);
        assert_eq!(used, 21);
        assert_eq!(body.unwrap(), b"Subject: x\r\n\r\nhi\r\n");
    }

    #[test]
    fn empty_message() {
        let (used, done, body) = run(b".\r\n", 1000);
        assert_eq!((used, done), (3, true));
        assert_eq!(body.unwrap(), b"");
    }

    #[test]
    fn dot_unstuffing() {
        let (_, done, body) = run(b"..a\r\n...\r\n.\r\n", 1000);
        assert!(done);
        assert_eq!(body.unwrap(), b".a\r\n..\r\n");
    }

    #[test]
    fn byte_at_a_time_equals_whole() {
        let input = b"a\r\n..b\r\n\r\n.x\r\nlast\r\n.\r\n";
        let mut r = DataReceiver::new(1000);
        let mut done = false;
        for &b in input.iter() {
            let (used, d) = r.feed(&[b]);
            assert_eq!(used, 1);
            done = d;
        }
        assert!(done);
        assert_eq!(r.finish().unwrap(), b"a\r\n.b\r\n\r\nx\r\nlast\r\n");
    }

    #[test]
    fn smuggling_endings_do_not_end_data() {
        for ending in [
            &b"\n.\n"[..],
            b"\r.\n",
            b"\n.\r\n",
            b"\r\n.\n",
            b"\r.\r\n",
            b"\n.\r",
        ] {
            let mut input = b"a".to_vec();
            input.extend_from_slice(ending);
            input.extend_from_slice(b"MAIL FROM:<x@y>\r\n");
            let (used, done, _) = run(&input, 1000);
            assert!(!done, "{ending:?} ended DATA");
            assert_eq!(used, input.len());
            // The real end afterwards still works, and the message is refused.
            let mut r = DataReceiver::new(1000);
            r.feed(&input);
            assert_eq!(r.feed(b"\r\n.\r\n"), (5, true), "{ending:?}");
            assert_eq!(r.finish(), Err(BodyError::BareLineEnding), "{ending:?}");
        }
    }

    #[test]
    fn bare_cr_and_lf_are_refused() {
        assert_eq!(run(b"a\nb\r\n.\r\n", 100).2, Err(BodyError::BareLineEnding));
        assert_eq!(run(b"a\rb\r\n.\r\n", 100).2, Err(BodyError::BareLineEnding));
        assert_eq!(run(b"a\r\r\n.\r\n", 100).2, Err(BodyError::BareLineEnding));
        assert_eq!(run(b"\n\r\n.\r\n", 100).2, Err(BodyError::BareLineEnding));
    }

    #[test]
    fn line_length_limit() {
        let mut ok = vec![b'x'; 998];
        ok.extend_from_slice(b"\r\n.\r\n");
        assert_eq!(run(&ok, 10_000).2.map(|b| b.len()), Ok(1000));
        // A stuffed dot does not count toward the line.
        let mut stuffed = vec![b'.'; 999];
        stuffed.extend_from_slice(b"\r\n.\r\n");
        assert!(run(&stuffed, 10_000).2.is_ok());
        let mut long = vec![b'x'; 999];
        long.extend_from_slice(b"\r\n.\r\n");
        assert_eq!(run(&long, 10_000).2, Err(BodyError::LineTooLong));
    }

    #[test]
    fn size_limit_stops_buffering() {
        let mut r = DataReceiver::new(10);
        r.feed(&[b'y'; 500]);
        assert!(r.body.is_empty());
        let (_, done) = r.feed(b"\r\n.\r\n");
        assert!(done);
        assert_eq!(r.finish(), Err(BodyError::TooBig));
        // Exactly at the limit is fine: 8 octets + CRLF = 10.
        assert!(run(b"12345678\r\n.\r\n", 10).2.is_ok());
        assert_eq!(run(b"123456789\r\n.\r\n", 10).2, Err(BodyError::TooBig));
    }

    #[test]
    fn nul_and_8bit_pass_through() {
        let (_, done, body) = run(b"\0\xff\xfe\r\n.\r\n", 100);
        assert!(done);
        assert_eq!(body.unwrap(), b"\0\xff\xfe\r\n");
    }
}
