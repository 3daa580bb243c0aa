//! Connection plumbing shared by the modes: a plain or TLS stream with bounded CRLF
//! line reads, every operation limited by the per-operation timeout and the run's stop
//! time, and the typed failure a session step ends with.

use std::future::Future;
use std::io;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

/// Any byte stream a session can run over (TCP, or TLS over TCP after STARTTLS).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// How a session step failed; every variant is counted, none aborts the run.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The server answered with a refusal: an SMTP 4yz/5yz reply or a POP3 `-ERR`.
    #[error("{step}: rejected with {class}")]
    Rejected {
        /// The step that was refused.
        step: &'static str,
        /// `4xx`, `5xx` or `-ERR`.
        class: &'static str,
    },
    /// The server said something the protocol does not allow at this point.
    #[error("{step}: protocol violation: {detail}")]
    Violation {
        /// The step whose answer was wrong.
        step: &'static str,
        /// What was wrong, with at most a short escaped excerpt of the bytes.
        detail: String,
    },
    /// Connecting, reading or writing failed, or the server closed the connection.
    #[error("{step}: {detail}")]
    Connection {
        /// The step that was under way.
        step: &'static str,
        /// The I/O error.
        detail: String,
    },
    /// No answer within `--timeout`.
    #[error("{step}: timed out")]
    Timeout {
        /// The step that was waiting.
        step: &'static str,
    },
    /// The run reached `--max-time` while the step was under way.
    #[error("stopped at --max-time")]
    Stopped,
}

/// A short printable excerpt of bytes received, for error reports.
pub fn excerpt(bytes: &[u8]) -> String {
    let text: String = bytes
        .iter()
        .take(40)
        .flat_map(|b| b.escape_ascii())
        .map(char::from)
        .collect();
    if bytes.len() > 40 {
        format!("\"{text}\"...")
    } else {
        format!("\"{text}\"")
    }
}

/// The time limits every operation of a session obeys.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest wait for one operation.
    pub timeout: Duration,
    /// The run's hard end (`--max-time`).
    pub stop_at: Instant,
}

impl Limits {
    /// Runs `fut` under the limits, labelling failures with `step`.
    async fn run<T, F>(&self, step: &'static str, fut: F) -> Result<T, Failure>
    where
        F: Future<Output = Result<T, LineError>>,
    {
        let own = Instant::now() + self.timeout;
        let until = own.min(self.stop_at);
        match tokio::time::timeout_at(until, fut).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.into_failure(step)),
            Err(_) if self.stop_at <= own => Err(Failure::Stopped),
            Err(_) => Err(Failure::Timeout { step }),
        }
    }
}

/// Why a line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server closed the connection (possibly mid-line).
    #[error("connection closed by the server")]
    Eof,
    /// No line end within the allowed length.
    #[error("line longer than {0} octets")]
    TooLong(usize),
    /// A line ended with LF alone.
    #[error("bare LF in {0}")]
    BareLf(String),
}

impl LineError {
    fn into_failure(self, step: &'static str) -> Failure {
        match self {
            LineError::Io(_) | LineError::Eof => Failure::Connection {
                step,
                detail: self.to_string(),
            },
            LineError::TooLong(_) | LineError::BareLf(_) => Failure::Violation {
                step,
                detail: self.to_string(),
            },
        }
    }
}

/// Reads one CRLF-terminated line of at most `max` octets (CRLF included) and returns
/// it without the CRLF. SMTP (RFC 5321 §2.3.8), POP3 (RFC 1939 §3) and IMAP (RFC 3501
/// §2.2) end lines with CRLF, so a bare LF is reported rather than tolerated.
pub async fn read_crlf_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> Result<Vec<u8>, LineError> {
    let mut line = Vec::new();
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Err(LineError::Eof);
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        reader.consume(take);
        if line.len() > max {
            return Err(LineError::TooLong(max));
        }
        if done {
            line.pop();
            if line.last() != Some(&b'\r') {
                return Err(LineError::BareLf(excerpt(&line)));
            }
            line.pop();
            return Ok(line);
        }
    }
}

/// One client connection.
pub struct Conn {
    io: BufReader<Box<dyn Stream>>,
    limits: Limits,
}

impl Conn {
    /// Connects to `target` (`HOST:PORT`).
    pub async fn connect(target: &str, limits: Limits) -> Result<Conn, Failure> {
        let stream = limits
            .run("connect", async {
                let s = TcpStream::connect(target).await?;
                // Commands are small and latency is what is measured.
                s.set_nodelay(true)?;
                Ok(s)
            })
            .await?;
        Ok(Conn {
            io: BufReader::new(Box::new(stream)),
            limits,
        })
    }

    /// Wraps an already connected stream (tests use in-memory pipes).
    #[cfg(test)]
    pub fn from_stream(stream: Box<dyn Stream>, limits: Limits) -> Conn {
        Conn {
            io: BufReader::new(stream),
            limits,
        }
    }

    /// Reads one line (see [`read_crlf_line`]).
    pub async fn read_line(&mut self, step: &'static str, max: usize) -> Result<Vec<u8>, Failure> {
        let io = &mut self.io;
        self.limits.run(step, read_crlf_line(io, max)).await
    }

    /// Reads one whole IMAP response (see [`crate::imap::reply::read_response`]).
    pub async fn read_imap(
        &mut self,
        step: &'static str,
        max_line: usize,
        max_literal: u64,
    ) -> Result<crate::imap::reply::Response, Failure> {
        let io = &mut self.io;
        let read = crate::imap::reply::read_response(io, max_line, max_literal);
        self.limits.run(step, read).await
    }

    /// Writes `bytes` and flushes them (TLS buffers records until flushed).
    pub async fn send(&mut self, step: &'static str, bytes: &[u8]) -> Result<(), Failure> {
        let io = self.io.get_mut();
        self.limits
            .run(step, async {
                io.write_all(bytes).await?;
                io.flush().await?;
                Ok(())
            })
            .await
    }

    /// Runs a TLS handshake over this connection and returns the encrypted one.
    pub async fn start_tls(
        self,
        step: &'static str,
        connector: &TlsConnector,
        name: ServerName<'static>,
    ) -> Result<Conn, Failure> {
        // Bytes already buffered were sent in clear after the go-ahead: accepting them
        // as if protected is the STARTTLS injection flaw (RFC 3207 §4.2, CVE-2011-0411).
        if !self.io.buffer().is_empty() {
            return Err(Failure::Violation {
                step,
                detail: format!("data after the TLS go-ahead: {}", excerpt(self.io.buffer())),
            });
        }
        let limits = self.limits;
        let stream = self.io.into_inner();
        let tls = limits
            .run(step, async {
                connector.connect(name, stream).await.map_err(LineError::Io)
            })
            .await?;
        Ok(Conn {
            io: BufReader::new(Box::new(tls)),
            limits,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;

    use super::*;

    /// Serves `data` at most `chunk` bytes per read, to exercise split input.
    pub(crate) struct Chunked {
        data: Vec<u8>,
        at: usize,
        chunk: usize,
    }

    impl Chunked {
        pub(crate) fn reader(data: &[u8], chunk: usize) -> BufReader<Chunked> {
            BufReader::with_capacity(
                chunk,
                Chunked {
                    data: data.to_vec(),
                    at: 0,
                    chunk,
                },
            )
        }
    }

    impl AsyncRead for Chunked {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let end = (self.at + self.chunk)
                .min(self.data.len())
                .min(self.at + buf.remaining());
            let at = self.at;
            buf.put_slice(&self.data[at..end]);
            self.at = end;
            Poll::Ready(Ok(()))
        }
    }

    pub(crate) const CHUNKS: [usize; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

    async fn lines(data: &[u8], chunk: usize, max: usize) -> Vec<Result<Vec<u8>, String>> {
        let mut r = Chunked::reader(data, chunk);
        let mut out = Vec::new();
        loop {
            match read_crlf_line(&mut r, max).await {
                Ok(line) => out.push(Ok(line)),
                Err(LineError::Eof) => return out,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
            }
        }
    }

    #[tokio::test]
    async fn lines_split_at_any_chunk_size() {
        let data = b"220 ready\r\n250-one\r\n250 two\r\n\r\n";
        for chunk in CHUNKS {
            let got = lines(data, chunk, 64).await;
            assert_eq!(
                got,
                vec![
                    Ok(b"220 ready".to_vec()),
                    Ok(b"250-one".to_vec()),
                    Ok(b"250 two".to_vec()),
                    Ok(Vec::new())
                ],
                "chunk {chunk}"
            );
        }
    }

    #[tokio::test]
    async fn hostile_lines_are_errors() {
        for chunk in CHUNKS {
            assert_eq!(
                lines(b"hello\n", chunk, 64).await,
                vec![Err("bare LF in \"hello\"".to_string())]
            );
            let long = vec![b'A'; 5000];
            assert_eq!(
                lines(&long, chunk, 512).await,
                vec![Err("line longer than 512 octets".to_string())]
            );
            assert_eq!(
                lines(b"\x00\xff\r\n", chunk, 64).await,
                vec![Ok(b"\x00\xff".to_vec())]
            );
            // A partial line at EOF is a closed connection, not a line.
            assert!(lines(b"220 half", chunk, 64).await.is_empty());
        }
    }

    #[test]
    fn excerpts_are_short_and_escaped() {
        assert_eq!(excerpt(b"a\x00b"), "\"a\\x00b\"");
        assert!(excerpt(&[b'x'; 100]).ends_with("..."));
    }
}
