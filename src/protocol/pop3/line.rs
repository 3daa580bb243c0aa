//! Line framing for POP3 client input: lines ending in CRLF (or a bare LF), with a length cap
//! so a hostile client cannot make the session buffer an endless line.

/// RFC 2449 §4: a command line is at most 255 octets including the CRLF.
pub const COMMAND_LINE_MAX: usize = 255;

/// Cap for `AUTH ...` lines and SASL response lines. These carry base64, which RFC 2449 §4's
/// 255 octets cannot hold for long credentials: a PLAIN response with a 255-octet authzid,
/// authcid and password is about 1024 octets once encoded.
pub const AUTH_LINE_MAX: usize = 1024;

/// One framed input unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line without its terminator (one CR before the LF is stripped).
    Line(Vec<u8>),
    /// A line over the cap; everything through its LF has been discarded.
    TooLong,
}

/// Buffers client input and splits it into [`Frame`]s.
#[derive(Debug, Default)]
pub struct LineReader {
    buf: Vec<u8>,
    /// Set once an over-long line is detected: input is dropped until the next LF.
    discarding: bool,
}

impl LineReader {
    /// Appends input; while discarding an over-long line only the bytes from its LF on are kept.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.discarding {
            if let Some(lf) = bytes.iter().position(|&b| b == b'\n') {
                self.buf.extend_from_slice(&bytes[lf..]);
            }
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Drops all buffered input (RFC 2595 §4: nothing sent before TLS may be acted on after).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.discarding = false;
    }

    /// Whether buffered bytes wait to be framed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes the next frame, or `None` when more input is needed. `sasl_response` selects
    /// the longer cap for a line answering an AUTH challenge.
    pub fn next_frame(&mut self, sasl_response: bool) -> Option<Frame> {
        if self.discarding {
            return self.finish_discard();
        }
        let limit = if sasl_response || starts_with_auth(&self.buf) {
            AUTH_LINE_MAX
        } else {
            COMMAND_LINE_MAX
        };
        // A line of `p + 1` octets (terminator included) fits when p < limit.
        match self.buf.iter().take(limit).position(|&b| b == b'\n') {
            Some(lf) => {
                let mut line: Vec<u8> = self.buf.drain(..=lf).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Some(Frame::Line(line))
            }
            None if self.buf.len() >= limit => {
                self.discarding = true;
                self.finish_discard()
            }
            None => None,
        }
    }

    /// Drops the over-long line through its LF; reports it once the LF has arrived, so the
    /// error reply keeps its place among the replies to pipelined commands.
    fn finish_discard(&mut self) -> Option<Frame> {
        match self.buf.iter().position(|&b| b == b'\n') {
            Some(lf) => {
                self.buf.drain(..=lf);
                self.discarding = false;
                Some(Frame::TooLong)
            }
            None => {
                self.buf.clear();
                None
            }
        }
    }
}

fn starts_with_auth(buf: &[u8]) -> bool {
    buf.len() >= 5 && buf[..5].eq_ignore_ascii_case(b"AUTH ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], chunk: usize) -> Vec<Frame> {
        let mut reader = LineReader::default();
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            reader.push(piece);
            while let Some(frame) = reader.next_frame(false) {
                out.push(frame);
            }
        }
        out
    }

    fn line(s: &str) -> Frame {
        Frame::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn splits_crlf_and_bare_lf_lines() {
        let got = frames(b"NOOP\r\nSTAT\nQUIT\r\n", 512);
        assert_eq!(got, vec![line("NOOP"), line("STAT"), line("QUIT")]);
    }

    #[test]
    fn keeps_inner_cr_for_the_parser_to_reject() {
        assert_eq!(frames(b"NO\rOP\r\r\n", 512), vec![line("NO\rOP\r")]);
    }

    #[test]
    fn line_of_exactly_255_octets_is_accepted() {
        let mut input = vec![b'X'; COMMAND_LINE_MAX - 2];
        input.extend_from_slice(b"\r\n");
        let got = frames(&input, 7);
        assert_eq!(got, vec![Frame::Line(vec![b'X'; COMMAND_LINE_MAX - 2])]);
    }

    #[test]
    fn line_of_256_octets_is_too_long_and_the_next_line_survives() {
        let mut input = vec![b'X'; COMMAND_LINE_MAX - 1];
        input.extend_from_slice(b"\r\nNOOP\r\n");
        for chunk in [1, 2, 3, 64, 512] {
            assert_eq!(
                frames(&input, chunk),
                vec![Frame::TooLong, line("NOOP")],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn ten_kilobyte_line_is_discarded_with_bounded_buffer() {
        let mut reader = LineReader::default();
        for _ in 0..10 {
            reader.push(&[b'A'; 1024]);
            assert_eq!(reader.next_frame(false), None);
            assert!(reader.buf.len() <= AUTH_LINE_MAX);
        }
        reader.push(b"\r\nQUIT\r\n");
        assert_eq!(reader.next_frame(false), Some(Frame::TooLong));
        assert_eq!(reader.next_frame(false), Some(line("QUIT")));
        assert_eq!(reader.next_frame(false), None);
    }

    #[test]
    fn auth_lines_get_the_longer_cap() {
        let mut input = b"auth PLAIN ".to_vec();
        input.extend(vec![b'Q'; 600]);
        input.extend_from_slice(b"\r\n");
        let got = frames(&input, 16);
        assert_eq!(got.len(), 1);
        assert!(matches!(&got[0], Frame::Line(l) if l.len() == 611));

        let mut reader = LineReader::default();
        reader.push(&[b'Q'; 700]);
        reader.push(b"\r\n");
        assert!(matches!(reader.next_frame(true), Some(Frame::Line(l)) if l.len() == 700));
    }

    #[test]
    fn clear_drops_pending_input_and_discard_state() {
        let mut reader = LineReader::default();
        reader.push(&[b'A'; 300]);
        assert_eq!(reader.next_frame(false), None);
        reader.clear();
        reader.push(b"CAPA\r\n");
        assert_eq!(reader.next_frame(false), Some(line("CAPA")));
        assert!(reader.is_empty());
    }
}
