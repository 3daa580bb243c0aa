//! Cuts client input into whole commands: lines plus the literals they announce
//! (RFC 3501 §4.3 `{n}`, RFC 7888 `{n+}`, RFC 3516 `~{n}`), with bounded memory.
//!
//! A line longer than the limit is discarded up to its end; a literal larger than the
//! limit is refused before any of it is buffered. With streaming on
//! ([`Framer::with_streaming`]), an APPEND literal of at least the threshold is not
//! gathered into its command: it is handed out in chunks of bounded size
//! ([`Frame::LiteralStart`], [`Frame::LiteralChunk`], [`Frame::LiteralEnd`]), so a
//! message of many MiB never sits in memory whole.

/// APPEND literals of at least this many octets are streamed by sessions.
pub const STREAM_FROM: u32 = 256 * 1024;
/// Largest [`Frame::LiteralChunk`] sessions get: few enough writes for a large message,
/// small enough to keep a session's memory near its read buffer.
pub const STREAM_CHUNK: usize = 64 * 1024;

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
    /// A streamed APPEND literal begins. Its octets follow as [`Frame::LiteralChunk`]s,
    /// then the command ends with [`Frame::LiteralEnd`], or with [`Frame::TooLong`] or
    /// [`Frame::LiteralTooBig`] when the rest of it breaks a limit.
    LiteralStart {
        /// The command up to the literal: its announcement and CRLF included.
        prefix: Vec<u8>,
        /// True for `{n}`: send a continuation request (`+`), as for [`Frame::Continue`].
        sync: bool,
    },
    /// The next octets of the streamed literal, at most the chunk size.
    LiteralChunk(Vec<u8>),
    /// The rest of the command after the streamed literal, with any further (small)
    /// literals, final CRLF included.
    LiteralEnd(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Line,
    Literal(u32),
    /// Octets of a streamed literal still to hand out.
    Stream(u32),
    Discard,
}

/// What is left of a command whose literal was streamed.
#[derive(Debug)]
struct Streamed {
    /// The command's tag, if readable (the prefix is gone).
    tag: Option<String>,
    /// Octets of the prefix and the literal: they still count toward the command's limit.
    octets: u64,
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
    /// APPEND literals of at least this size are streamed (`u32::MAX`: none is).
    stream_from: u32,
    /// Largest streamed chunk.
    chunk: usize,
    /// Set from a literal's [`Frame::LiteralStart`] to the end of its command.
    streamed: Option<Streamed>,
}

impl Framer {
    /// A framer with the given line and literal limits; every literal is gathered into
    /// its command.
    pub fn new(max_line: usize, max_literal: u32) -> Framer {
        Framer {
            buf: Vec::new(),
            cmd: Vec::new(),
            line_start: 0,
            state: State::Line,
            max_line,
            max_literal,
            stream_from: u32::MAX,
            chunk: STREAM_CHUNK,
            streamed: None,
        }
    }

    /// Streams APPEND literals of at least `from` octets (one per command, the first
    /// that large) in chunks of at most `chunk` octets. The limits stay as they are: a
    /// streamed literal counts toward its command's size like a gathered one.
    pub fn with_streaming(mut self, from: u32, chunk: usize) -> Framer {
        self.stream_from = from.max(1);
        self.chunk = chunk.max(1);
        self
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
        self.streamed = None;
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
                State::Stream(left) => return self.stream_chunk(left),
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

    /// The next chunk of a streamed literal, once a whole chunk (or the literal's rest)
    /// is buffered: the buffer never holds much more than one chunk.
    fn stream_chunk(&mut self, left: u32) -> Option<Frame> {
        let ready = self.buf.len().min(left as usize);
        if ready == 0 || (ready < self.chunk && ready < left as usize) {
            return None;
        }
        let take = ready.min(self.chunk);
        let bytes = if take == self.buf.len() {
            std::mem::take(&mut self.buf)
        } else {
            self.buf.drain(..take).collect()
        };
        let left = left - take as u32;
        self.state = if left == 0 {
            State::Line
        } else {
            State::Stream(left)
        };
        Some(Frame::LiteralChunk(bytes))
    }

    /// The tag of the command being framed; it ends here (its streaming state goes).
    fn end_tag(&mut self, head: &[u8]) -> Option<String> {
        match self.streamed.take() {
            Some(streamed) => streamed.tag,
            None => tag_of(head),
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
                let cmd = std::mem::take(&mut self.cmd);
                Some(match self.streamed.take() {
                    Some(_) => Frame::LiteralEnd(cmd),
                    None => Frame::Command(cmd),
                })
            }
            Some((n, sync)) => {
                let before = self.streamed.as_ref().map_or(0, |s| s.octets);
                let total = before + self.cmd.len() as u64 + u64::from(n);
                // Bound the whole command too: several literals must not add up unbounded.
                let limit = u64::from(self.max_literal) + self.max_line as u64;
                if n > self.max_literal || total > limit {
                    let cmd = std::mem::take(&mut self.cmd);
                    let tag = self.end_tag(&cmd);
                    self.line_start = 0;
                    return Some(Frame::LiteralTooBig { tag, sync });
                }
                if n >= self.stream_from && self.streamed.is_none() && is_append(&self.cmd) {
                    let prefix = std::mem::take(&mut self.cmd);
                    self.streamed = Some(Streamed {
                        tag: tag_of(&prefix),
                        octets: prefix.len() as u64 + u64::from(n),
                    });
                    self.line_start = 0;
                    self.state = State::Stream(n);
                    return Some(Frame::LiteralStart { prefix, sync });
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
        let tag = self.end_tag(&head);
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
        Frame::TooLong(tag)
    }
}

/// Whether a command is an APPEND (RFC 3501 §6.3.11): the only one whose literal may be
/// streamed, as its octets go to storage untouched.
fn is_append(cmd: &[u8]) -> bool {
    let mut words = cmd.splitn(3, |b| *b == b' ');
    words.next();
    words
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case(b"APPEND"))
}

/// A [`Frame::LiteralStart`] prefix with its literal announced empty (`{0}`, `~{0}`),
/// which imap-codec parses with the rest of the command; and whether it is a literal8
/// (RFC 3516 §4.3, `~{n}`). `None` if the prefix announces no literal.
pub fn emptied_literal(prefix: &[u8]) -> Option<(Vec<u8>, bool)> {
    literal_announcement(prefix)?;
    let open = prefix.iter().rposition(|b| *b == b'{')?;
    let binary = open > 0 && prefix[open - 1] == b'~';
    let mut command = prefix[..=open].to_vec();
    command.extend_from_slice(b"0}\r\n");
    Some((command, binary))
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
#[path = "framer_tests.rs"]
mod tests;
