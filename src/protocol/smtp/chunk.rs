//! The BDAT body (RFC 3030): chunks of exact octet counts, checked like DATA bodies.
//!
//! Chunks are never scanned for commands or end markers; the same bare CR/LF, line-length
//! and size rules as DATA apply across chunk boundaries so both paths spool the same kind
//! of message.

use super::data::{BodyError, MAX_LINE};

/// The body of a BDAT transaction, accumulated chunk by chunk.
#[derive(Debug)]
pub(crate) struct ChunkedBody {
    body: Vec<u8>,
    size: usize,
    max_size: usize,
    prev_cr: bool,
    line_len: usize,
    error: Option<BodyError>,
}

impl ChunkedBody {
    /// An empty body that may grow to `max_size` octets.
    pub(crate) fn new(max_size: usize) -> ChunkedBody {
        ChunkedBody {
            body: Vec::new(),
            size: 0,
            max_size,
            prev_cr: false,
            line_len: 0,
            error: None,
        }
    }

    /// True when a chunk of `n` more octets would pass the size limit.
    pub(crate) fn would_exceed(&self, n: usize) -> bool {
        self.size.saturating_add(n) > self.max_size
    }

    /// Appends chunk octets (the caller has checked [`Self::would_exceed`]).
    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len());
        if self.error.is_none() {
            self.body.extend_from_slice(bytes);
        }
        while !bytes.is_empty() {
            let run = bytes
                .iter()
                .position(|&c| c == b'\r' || c == b'\n')
                .unwrap_or(bytes.len());
            if run > 0 {
                if self.prev_cr {
                    self.flag(BodyError::BareLineEnding);
                    self.prev_cr = false;
                }
                self.line_len += run;
                if self.line_len > MAX_LINE {
                    self.flag(BodyError::LineTooLong);
                }
                bytes = &bytes[run..];
                continue;
            }
            if bytes[0] == b'\r' {
                if self.prev_cr {
                    self.flag(BodyError::BareLineEnding);
                }
                self.prev_cr = true;
            } else {
                if !self.prev_cr {
                    self.flag(BodyError::BareLineEnding);
                }
                self.prev_cr = false;
                self.line_len = 0;
            }
            bytes = &bytes[1..];
        }
    }

    /// The body after BDAT LAST, or why it is refused.
    pub(crate) fn finish(mut self) -> Result<Vec<u8>, BodyError> {
        if self.prev_cr {
            self.flag(BodyError::BareLineEnding);
        }
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.body),
        }
    }

    fn flag(&mut self, error: BodyError) {
        self.error.get_or_insert(error);
        self.body = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_split_across_chunks_is_fine() {
        let mut b = ChunkedBody::new(100);
        b.push(b"a\r");
        b.push(b"\nb\r\n");
        assert_eq!(b.finish().unwrap(), b"a\r\nb\r\n");
    }

    #[test]
    fn bare_endings_are_refused() {
        for input in [&b"a\nb"[..], b"a\rb", b"a\r", b"\r\r\n", b"\n"] {
            let mut b = ChunkedBody::new(100);
            b.push(input);
            assert_eq!(b.finish(), Err(BodyError::BareLineEnding), "{input:?}");
        }
    }

    #[test]
    fn dots_are_not_special() {
        let mut b = ChunkedBody::new(100);
        b.push(b"..a\r\n.\r\n");
        assert_eq!(b.finish().unwrap(), b"..a\r\n.\r\n");
    }

    #[test]
    fn long_line_across_chunks() {
        let mut b = ChunkedBody::new(10_000);
        b.push(&[b'x'; 500]);
        b.push(&[b'x'; 499]);
        b.push(b"\r\n");
        assert_eq!(b.finish(), Err(BodyError::LineTooLong));
    }

    #[test]
    fn size_check() {
        let mut b = ChunkedBody::new(10);
        assert!(!b.would_exceed(10));
        b.push(b"12345\r\n");
        assert!(b.would_exceed(4));
        assert!(!b.would_exceed(3));
        assert!(b.would_exceed(usize::MAX));
    }
}
