//! Listening sockets and their accept loops. Sockets are bound before anything else starts
//! (so `port = 0` resolves and a busy port fails at once), accepted on the tokio runtime, and
//! handed on as std sockets to whoever dispatches them to an arbiter.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::limits::{ConnectionGuard, ConnectionLimits, Refusal};

/// What a listening socket serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerRole {
    /// SMTP for incoming mail (MX), no AUTH.
    Smtp,
    /// Message submission with STARTTLS and AUTH (RFC 6409).
    Submission,
    /// Message submission over implicit TLS (RFC 8314).
    Submissions,
    /// POP3 with STLS.
    Pop3,
    /// POP3 over implicit TLS.
    Pop3s,
    /// IMAP with STARTTLS.
    Imap,
    /// IMAP over implicit TLS.
    Imaps,
}

impl ListenerRole {
    /// The name used in config, logs and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            ListenerRole::Smtp => "smtp",
            ListenerRole::Submission => "submission",
            ListenerRole::Submissions => "submissions",
            ListenerRole::Pop3 => "pop3",
            ListenerRole::Pop3s => "pop3s",
            ListenerRole::Imap => "imap",
            ListenerRole::Imaps => "imaps",
        }
    }

    /// The protocol spoken, for metric labels.
    pub fn protocol(self) -> &'static str {
        match self {
            ListenerRole::Smtp | ListenerRole::Submission | ListenerRole::Submissions => "smtp",
            ListenerRole::Pop3 | ListenerRole::Pop3s => "pop3",
            ListenerRole::Imap | ListenerRole::Imaps => "imap",
        }
    }

    /// True when TLS starts before the protocol greeting.
    pub fn implicit_tls(self) -> bool {
        matches!(
            self,
            ListenerRole::Submissions | ListenerRole::Pop3s | ListenerRole::Imaps
        )
    }

    /// The line sent to a client refused by a connection limit (plain text only: a refused
    /// implicit-TLS client just sees the connection close).
    fn refusal(self, why: Refusal) -> &'static [u8] {
        match (self.protocol(), why) {
            ("smtp", Refusal::ListenerFull) => {
                b"421 4.7.0 Too many connections, try again later\r\n"
            }
            ("smtp", Refusal::PeerFull) => b"421 4.7.0 Too many connections from your address\r\n",
            ("imap", Refusal::ListenerFull) => b"* BYE Too many connections, try again later\r\n",
            ("imap", Refusal::PeerFull) => b"* BYE Too many connections from your address\r\n",
            (_, Refusal::ListenerFull) => b"-ERR [SYS/TEMP] Too many connections\r\n",
            (_, Refusal::PeerFull) => b"-ERR [SYS/TEMP] Too many connections from your address\r\n",
        }
    }
}

/// A bound, not yet accepting, listener.
pub struct BoundListener {
    /// What it serves.
    pub role: ListenerRole,
    /// The address actually bound (port 0 resolved).
    pub local_addr: SocketAddr,
    listener: TcpListener,
}

/// Every listener of the server.
pub struct BoundListeners(pub Vec<BoundListener>);

/// Binds every configured address; any failure stops the start.
pub async fn bind_all(wanted: &[(ListenerRole, SocketAddr)]) -> io::Result<BoundListeners> {
    let mut bound = Vec::with_capacity(wanted.len());
    for &(role, addr) in wanted {
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            io::Error::new(e.kind(), format!("{} listener on {addr}: {e}", role.name()))
        })?;
        let local_addr = listener.local_addr()?;
        bound.push(BoundListener {
            role,
            local_addr,
            listener,
        });
    }
    Ok(BoundListeners(bound))
}

/// An accepted connection on its way to a session actor.
pub struct Accepted {
    /// The listener it came in on.
    pub role: ListenerRole,
    /// The socket, in non-blocking mode, ready for `TcpStream::from_std` on an arbiter.
    pub socket: std::net::TcpStream,
    /// The client's address.
    pub peer: SocketAddr,
    /// The connection's slot in the listener's limits.
    pub guard: ConnectionGuard,
}

impl BoundListener {
    /// Accepts until `stop` turns true, passing each admitted connection to `dispatch`.
    pub async fn run(
        self,
        limits: Arc<ConnectionLimits>,
        dispatch: Arc<dyn Fn(Accepted) + Send + Sync>,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = crate::shutdown::requested(&mut stop) => return,
            };
            let (tcp, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning on the error.
                    tracing::warn!(listener = self.role.name(), error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            crate::metrics::connection_opened(self.role.protocol(), self.role.name());
            match limits.admit(peer.ip()) {
                Ok(guard) => {
                    if let Some(socket) = into_std(tcp) {
                        dispatch(Accepted {
                            role: self.role,
                            socket,
                            peer,
                            guard,
                        });
                    }
                }
                Err(why) => {
                    crate::metrics::connection_refused(self.role.protocol());
                    let role = self.role;
                    tokio::spawn(refuse(tcp, role, why));
                }
            }
        }
    }
}

fn into_std(tcp: TcpStream) -> Option<std::net::TcpStream> {
    // Replies are small and latency-bound (PIPELINING batches them already).
    let _ = tcp.set_nodelay(true);
    tcp.into_std().ok()
}

async fn refuse(mut tcp: TcpStream, role: ListenerRole, why: Refusal) {
    if !role.implicit_tls() {
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            tcp.write_all(role.refusal(why)),
        )
        .await;
    }
    let _ = tcp.shutdown().await;
}
