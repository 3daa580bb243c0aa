//! Cuts client input into whole commands: lines plus the literals they announce
//! (RFC 3501 §4.3 `{n}`, RFC 7888 `{n+}`), with bounded memory.
//!
//! A line longer than the limit is discarded up to its end; a literal larger than the
//! limit is refused before any of it is buffered.

/// What the framer found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A whole command: every line and literal, final CRLF included.
    Command(Vec<u8>),
    /// A synchronizing literal was accepted: send a continuation request (`+`).
    Continue,
    /// A line was longer than the limit; it is being discarded. The tag, if readable.
    TooLong(Option<String>),
    /// A literal announcement over the limit; `sync` says whether the client waits for
    /// our answer (a non-synchronizing one is already on its way).
    LiteralTooBig {
        /// The command's tag, if readable.
        tag: Option<String>,
        /// True for `{n}`, false for `{n+}`.
        sync: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Line,
    Literal(u32),
    Discard,
}

/// Incremental command framer.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    cmd: Vec<u8>,
    line_start: usize,
    state: State,
    max_line: usize,
    max_literal: u32,
}

impl Framer {
    /// A framer with the given line and literal limits.
    pub fn new(max_line: usize, max_literal: u32) -> Framer {
        Framer {
            buf: Vec::new(),
            cmd: Vec::new(),
            line_start: 0,
            state: State::Line,
            max_line,
            max_literal,
        }
    }

    /// Appends input bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered and not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Drops everything buffered (after STARTTLS, RFC 3501 §6.2.1: no plaintext injection).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.cmd.clear();
        self.line_start = 0;
        self.state = State::Line;
    }

    /// One raw line (AUTHENTICATE response, IDLE's DONE), without CRLF; `Err(())` when it
    /// was too long (it is then discarded).
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, ()>> {
        if self.state == State::Discard {
            self.discard()?;
        }
        match self.buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > self.max_line {
                    return Some(Err(()));
                }
                Some(Ok(line))
            }
            None if self.buf.len() > self.max_line => {
                self.buf.clear();
                self.state = State::Discard;
                Some(Err(()))
            }
            None => None,
        }
    }

    /// The next frame, or `None` when more input is needed.
    pub fn next_frame(&mut self) -> Option<Frame> {
        loop {
            match self.state {
                State::Discard => self.discard()?,
                State::Literal(left) => {
                    if self.buf.is_empty() {
                        return None;
                    }
                    let take = (left as usize).min(self.buf.len());
                    self.cmd.extend(self.buf.drain(..take));
                    let left = left - take as u32;
                    if left > 0 {
                        self.state = State::Literal(left);
                        return None;
                    }
                    self.state = State::Line;
                    self.line_start = self.cmd.len();
                }
                State::Line => return self.line(),
            }
        }
    }

    /// Skips input to the end of the current line; `None` if the end is not here yet.
    fn discard(&mut self) -> Option<()> {
        match self.buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                self.buf.drain(..=i);
                self.state = State::Line;
                Some(())
            }
            None => {
                self.buf.clear();
                None
            }
        }
    }

    fn line(&mut self) -> Option<Frame> {
        let Some(i) = self.buf.iter().position(|b| *b == b'\n') else {
            if self.buf.len() + (self.cmd.len() - self.line_start) > self.max_line {
                return Some(self.too_long(None));
            }
            return None;
        };
        if i + 1 + (self.cmd.len() - self.line_start) > self.max_line {
            return Some(self.too_long(Some(i)));
        }
        self.cmd.extend(self.buf.drain(..=i));
        match literal_announcement(&self.cmd) {
            None => {
                self.line_start = 0;
                Some(Frame::Command(std::mem::take(&mut self.cmd)))
            }
            Some((n, sync)) => {
                let total = self.cmd.len() as u64 + u64::from(n);
                // Bound the whole command too: several literals must not add up unbounded.
                let limit = u64::from(self.max_literal) + self.max_line as u64;
                if n > self.max_literal || total > limit {
                    let tag = tag_of(&self.cmd);
                    self.cmd.clear();
                    self.line_start = 0;
                    return Some(Frame::LiteralTooBig { tag, sync });
                }
                self.state = State::Literal(n);
                if n == 0 {
                    self.state = State::Line;
                    self.line_start = self.cmd.len();
                }
                if sync {
                    Some(Frame::Continue)
                } else {
                    self.next_frame()
                }
            }
        }
    }

    /// Drops the current command; `eol` is the index of the line's LF when it is
    /// buffered, otherwise the rest of the line is skipped as it arrives.
    fn too_long(&mut self, eol: Option<usize>) -> Frame {
        let mut head = std::mem::take(&mut self.cmd);
        head.extend_from_slice(&self.buf[..self.buf.len().min(256)]);
        match eol {
            Some(i) => {
                self.buf.drain(..=i);
            }
            None => {
                self.buf.clear();
                self.state = State::Discard;
            }
        }
        self.line_start = 0;
        Frame::TooLong(tag_of(&head))
    }
}

/// The literal a command line ends with: `{n}` / `{n+}` before CRLF.
fn literal_announcement(cmd: &[u8]) -> Option<(u32, bool)> {
    let line = cmd.strip_suffix(b"\r\n")?;
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let mut digits = &inner[open + 1..];
    let sync = match digits.strip_suffix(b"+") {
        Some(d) => {
            digits = d;
            false
        }
        None => true,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // A count beyond u32 is surely too big: report it as the largest value.
    let n = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse::<u32>().ok())
        .unwrap_or(u32::MAX);
    Some((n, sync))
}

/// The tag of a command (first token) when it is a valid RFC 3501 `tag`.
pub fn tag_of(cmd: &[u8]) -> Option<String> {
    let end = cmd
        .iter()
        .position(|b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(cmd.len());
    let tag = &cmd[..end];
    let ok = !tag.is_empty()
        && tag.len() <= 64
        && tag.iter().all(|b| {
            b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        });
    ok.then(|| String::from_utf8_lossy(tag).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], chunk: usize) -> Vec<Frame> {
        let mut f = Framer::new(100, 50);
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            f.push(c);
            while let Some(fr) = f.next_frame() {
                out.push(fr);
            }
        }
        out
    }

    #[test]
    fn lines_and_literals_split_anywhere() {
        let input = b"a NOOP\r\nb LOGIN {3}\r\nbob {4+}\r\npass\r\nc X\r\n";
        let want = vec![
            Frame::Command(b"a NOOP\r\n".to_vec()),
            Frame::Continue,
            Frame::Command(b"b LOGIN {3}\r\nbob {4+}\r\npass\r\n".to_vec()),
            Frame::Command(b"c X\r\n".to_vec()),
        ];
        for chunk in [1, 2, 3, 4, 8, 16, 512] {
            assert_eq!(frames(input, chunk), want, "chunk {chunk}");
        }
    }

    #[test]
    fn oversize_line_and_literal() {
        let mut input = b"t1 ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 300));
        input
            .extend_from_slice(b"\r\nt2 APPEND x {51}\r\nt3 APPEND x {99999999999}\r\nt4 NOOP\r\n");
        let want = vec![
            Frame::TooLong(Some("t1".into())),
            Frame::LiteralTooBig {
                tag: Some("t2".into()),
                sync: true,
            },
            Frame::LiteralTooBig {
                tag: Some("t3".into()),
                sync: true,
            },
            Frame::Command(b"t4 NOOP\r\n".to_vec()),
        ];
        for chunk in [1, 2, 7, 512] {
            assert_eq!(frames(&input, chunk), want, "chunk {chunk}");
        }
    }

    #[test]
    fn hostile_tags() {
        assert_eq!(tag_of(b"a1 NOOP"), Some("a1".into()));
        assert_eq!(tag_of(b"* NOOP"), None);
        assert_eq!(tag_of(b" NOOP"), None);
        assert_eq!(tag_of(b"\xff\xfe NOOP"), None);
        assert_eq!(tag_of(b"a+b NOOP"), None);
    }
}
