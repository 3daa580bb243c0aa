//! The I/O half of a session: buffered writes, reads bounded by the idle timeout and
//! interrupted by shutdown, and the TLS upgrade. The protocol half is a pure state machine;
//! this keeps the two drivers (SMTP, POP3) free of socket details.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::Services;
use crate::net::{ListenerRole, Stream};

/// Bytes read per call for SMTP, where a DATA of many MiB arrives in many such reads.
pub const BULK_READ: usize = 64 * 1024;
/// Bytes read per call for POP3 and IMAP, whose commands are short and whose sessions
/// are many and long-lived (IDLE): memory per session matters more there.
pub const COMMAND_READ: usize = 8 * 1024;

/// What a read brought.
pub enum Read {
    /// This many bytes, now in [`Connection::input`].
    Data(usize),
    /// The client closed the connection (or it failed).
    Closed,
    /// Nothing arrived within the idle timeout.
    Idle,
    /// The server is shutting down.
    Shutdown,
}

/// A client connection with its write buffer.
pub struct Connection {
    stream: Option<Stream>,
    out: Vec<u8>,
    input: Vec<u8>,
    idle: Duration,
    shutdown: watch::Receiver<bool>,
}

impl Connection {
    /// Wraps `stream`; reads take up to `read_size` bytes; reads and writes give up after
    /// `idle`.
    pub fn new(
        stream: Stream,
        read_size: usize,
        idle: Duration,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Connection {
            stream: Some(stream),
            out: Vec::with_capacity(1024),
            input: vec![0; read_size],
            idle,
            shutdown,
        }
    }

    /// The connection of a newly accepted session: idle time and read size of its
    /// protocol, and the TLS handshake done first on implicit-TLS listeners. None when that
    /// handshake fails.
    pub async fn open(
        tcp: tokio::net::TcpStream,
        role: ListenerRole,
        services: &Services,
    ) -> Option<Connection> {
        let timeouts = &services.config.timeouts;
        let (read_size, idle) = match role.protocol() {
            "pop3" => (COMMAND_READ, timeouts.pop3_idle),
            "imap" => (COMMAND_READ, timeouts.imap_idle),
            _ => (BULK_READ, timeouts.smtp_idle),
        };
        let shutdown = services.shutdown.clone();
        let mut conn = Connection::new(Stream::Plain(tcp), read_size, idle, shutdown);
        if role.implicit_tls() {
            let ok = conn
                .start_tls(&services.tls, timeouts.tls_handshake)
                .await
                .is_ok();
            crate::metrics::tls_handshake(role.protocol(), ok);
            if !ok {
                return None;
            }
        }
        Some(conn)
    }

    /// True when TLS is active.
    pub fn is_tls(&self) -> bool {
        self.stream.as_ref().is_some_and(Stream::is_tls)
    }

    /// Queues bytes for the next flush.
    pub fn queue(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// Writes everything queued. A client that does not read within the idle timeout
    /// is an error: its replies must not pile up in memory.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let stream = self.stream.as_mut().ok_or_else(closed)?;
        let write = async {
            stream.write_all(&self.out).await?;
            stream.flush().await
        };
        tokio::time::timeout(self.idle, write)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "client does not read"))??;
        self.out.clear();
        Ok(())
    }

    /// Reads the next bytes into [`Connection::input`].
    pub async fn read(&mut self) -> Read {
        let Some(stream) = self.stream.as_mut() else {
            return Read::Closed;
        };
        if *self.shutdown.borrow() {
            return Read::Shutdown;
        }
        let shutdown = &mut self.shutdown;
        tokio::select! {
            read = tokio::time::timeout(self.idle, stream.read(&mut self.input)) => match read {
                Ok(Ok(0)) | Ok(Err(_)) => Read::Closed,
                Ok(Ok(n)) => Read::Data(n),
                Err(_) => Read::Idle,
            },
            _ = crate::shutdown::requested(shutdown) => Read::Shutdown,
        }
    }

    /// The bytes of the last [`Read::Data`].
    pub fn input(&self, n: usize) -> &[u8] {
        &self.input[..n]
    }

    /// Flushes, then runs the TLS handshake (bounded by `limit`). On failure the
    /// connection is unusable.
    pub async fn start_tls(&mut self, acceptor: &TlsAcceptor, limit: Duration) -> io::Result<()> {
        self.flush().await?;
        let plain = self.stream.take().ok_or_else(closed)?;
        self.stream = Some(plain.into_tls(acceptor, limit).await?);
        Ok(())
    }

    /// Flushes what is queued (briefly) and closes the connection.
    pub async fn close(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.flush()).await;
        if let Some(mut stream) = self.stream.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.shutdown()).await;
        }
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection closed")
}
