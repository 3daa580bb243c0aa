//! Client settings and errors.

use std::fmt;
use std::io;
use std::time::Duration;

use thiserror::Error;

use crate::protocol::smtp_client::Reply;

/// How the client behaves towards every server it connects to.
#[derive(Clone)]
pub struct ClientConfig {
    /// The name sent in EHLO/HELO: our host name.
    pub helo_name: String,
    /// Bound on the TCP connect (RFC 5321 sets none; 30 s by default).
    pub connect_timeout: Duration,
    /// Bound on each reply: greeting, EHLO, MAIL, RCPT, DATA, RSET, and on writing a
    /// command (RFC 5321 §4.5.3.2.1-4: 5 minutes; DATA's 2 minutes is covered by it).
    pub command_timeout: Duration,
    /// Bound on writing the message and on the reply to the final dot
    /// (RFC 5321 §4.5.3.2.5-6: 3 minutes per block, 10 minutes for the reply).
    pub data_timeout: Duration,
    /// Try STARTTLS when offered. Turn off to retry in plain text after a failed
    /// handshake, as Postfix does for opportunistic TLS.
    pub starttls: bool,
    /// STARTTLS must be offered and succeed, else the connection fails with
    /// [`ClientError::Tls`] (temporary).
    pub require_tls: bool,
    /// Verify the server certificate against the Mozilla roots (webpki-roots) and the
    /// server name. Off by default: opportunistic TLS protects against passive listeners
    /// only, and most MX certificates would not verify (RFC 7435).
    pub verify_certificates: bool,
    /// AUTH PLAIN credentials for a smarthost; sent only over TLS.
    pub auth: Option<(String, String)>,
}

impl ClientConfig {
    /// The RFC 5321 timeouts, opportunistic STARTTLS, no verification, no AUTH.
    pub fn new(helo_name: impl Into<String>) -> ClientConfig {
        ClientConfig {
            helo_name: helo_name.into(),
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(5 * 60),
            data_timeout: Duration::from_secs(10 * 60),
            starttls: true,
            require_tls: false,
            verify_certificates: false,
            auth: None,
        }
    }
}

/// The password never reaches a log.
impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("helo_name", &self.helo_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("data_timeout", &self.data_timeout)
            .field("starttls", &self.starttls)
            .field("require_tls", &self.require_tls)
            .field("verify_certificates", &self.verify_certificates)
            .field("auth_user", &self.auth.as_ref().map(|(user, _)| user))
            .finish()
    }
}

/// Why a connection or a transaction failed as a whole.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The TCP connection could not be made.
    #[error("connect: {0}")]
    Connect(#[source] io::Error),
    /// The server did not answer (or take our data) in time at this step.
    #[error("timeout at {0}")]
    Timeout(&'static str),
    /// STARTTLS failed, was refused or missing when required, or the handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// The server sent something that is not SMTP.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The greeting, EHLO/HELO or RSET was refused; permanent when the code is 5xx.
    #[error("rejected: {0}")]
    Rejected(Reply),
    /// The server closed the connection.
    #[error("connection closed by the server")]
    Closed,
    /// Reading or writing failed after the connection was made.
    #[error("I/O: {0}")]
    Io(#[source] io::Error),
    /// AUTH was refused, or could not be attempted (no TLS, no PLAIN).
    #[error("authentication: {0}")]
    Auth(String),
    /// The server cannot take this message (`5.3.4` too big, `5.6.7` no SMTPUTF8, ...):
    /// permanent, and nothing was sent.
    #[error("{0}")]
    Unsupported(String),
}

impl ClientError {
    /// True when retrying with this server is pointless: bounce.
    pub fn is_permanent(&self) -> bool {
        match self {
            ClientError::Rejected(reply) => reply.is_permanent(),
            ClientError::Unsupported(_) => true,
            _ => false,
        }
    }

    /// An I/O error after connecting: end of stream is [`ClientError::Closed`].
    pub(crate) fn io(error: io::Error) -> ClientError {
        match error.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted => ClientError::Closed,
            _ => ClientError::Io(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanence_follows_the_reply_class() {
        let rejected = |code| ClientError::Rejected(Reply::local(code, "x.0.0", "no"));
        assert!(rejected(554).is_permanent());
        assert!(!rejected(421).is_permanent());
        assert!(ClientError::Unsupported("5.6.7 x".into()).is_permanent());
        assert!(!ClientError::Timeout("greeting").is_permanent());
        assert!(!ClientError::Closed.is_permanent());
        assert!(matches!(
            ClientError::io(io::ErrorKind::BrokenPipe.into()),
            ClientError::Closed
        ));
    }

    #[test]
    fn debug_hides_the_password() {
        let mut config = ClientConfig::new("mx.example");
        config.auth = Some(("user".into(), "hunter2".into()));
        let shown = format!("{config:?}");
        assert!(
            shown.contains("user") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
