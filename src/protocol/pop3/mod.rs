//! The pure POP3 server session: RFC 1939 (USER/PASS, STAT, LIST, RETR, DELE, NOOP, RSET,
//! QUIT, TOP, UIDL), RFC 2449 (CAPA, RESP-CODES, PIPELINING), RFC 2595 (STLS) and RFC 5034
//! (AUTH PLAIN). No APOP.
//!
//! Bytes go in through [`Session::receive`]; [`Session::next_action`] hands out what the
//! connection actor must do next: write bytes, read more, check credentials, open or update
//! the maildrop, fetch a message, start TLS or close. Requests that need an answer
//! ([`Action::Authenticate`], [`Action::OpenMaildrop`], [`Action::Retrieve`],
//! [`Action::Update`], [`Action::StartTls`]) are answered through the matching `Session`
//! method; until then the session processes no further input.
//!
//! Layout: [`line`](mod@line) frames input lines, [`command`] parses them, [`sasl`] decodes AUTH PLAIN
//! responses, [`maildrop`] holds the TRANSACTION-state view of the maildrop, [`multiline`]
//! encodes multi-line responses and [`session`] is the state machine tying them together.

pub mod command;
pub mod line;
pub mod maildrop;
pub mod multiline;
pub mod sasl;
pub mod session;

#[cfg(test)]
mod session_tests;

pub use command::{Command, CommandError};
pub use multiline::encode_multiline;
pub use session::Session;

/// Settings shared by every POP3 session of one listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// The server's host name, named in the shutdown reply.
    pub hostname: String,
    /// Failed logins (invalid credentials) after which the session is closed.
    pub max_auth_failures: usize,
    /// Rejected commands (unknown, malformed, out of state) after which the session is closed.
    pub max_errors: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            hostname: "localhost".to_owned(),
            max_auth_failures: 3,
            max_errors: 10,
        }
    }
}

/// What the connection actor must do next for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes to the client.
    Write(Vec<u8>),
    /// Read more input and pass it to [`Session::receive`].
    Read,
    /// Check these credentials; answer with [`Session::auth_verdict`].
    Authenticate {
        /// SASL authorization identity, when the client asked to act as someone else.
        authzid: Option<String>,
        /// The authentication identity (USER name or PLAIN authcid).
        user: String,
        /// The password, as sent.
        password: String,
    },
    /// Lock and list the user's maildrop; answer with [`Session::maildrop_opened`].
    OpenMaildrop {
        /// The canonical user name returned in [`AuthVerdict::Ok`].
        user: String,
    },
    /// Fetch one message; answer with [`Session::message_content`] or
    /// [`Session::message_unavailable`].
    Retrieve {
        /// 0-based index into the entries given in [`MaildropResult::Opened`].
        index: usize,
        /// `Some(n)` for TOP: the session sends the headers and the first `n` body lines.
        top_lines: Option<usize>,
    },
    /// QUIT in TRANSACTION state: remove these messages and release the maildrop; answer
    /// with [`Session::update_done`]. Issued only on QUIT (even with nothing deleted); on
    /// any other end of session the actor releases the maildrop without removing anything
    /// (RFC 1939 §6).
    Update {
        /// 0-based indexes of the messages marked deleted.
        deleted: Vec<usize>,
    },
    /// Perform the server side of a TLS handshake; then call [`Session::tls_established`]
    /// (or close on failure).
    StartTls,
    /// Close the connection.
    Close,
}

/// The answer to [`Action::Authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVerdict {
    /// The credentials are valid; `user` is the canonical name whose maildrop is opened.
    Ok {
        /// Canonical user name.
        user: String,
    },
    /// The credentials are wrong (or the user does not exist).
    Invalid,
    /// The credential store could not answer now.
    TempFail,
}

/// The answer to [`Action::OpenMaildrop`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaildropResult {
    /// The maildrop is locked for this session; its messages in order.
    Opened(Vec<MaildropEntry>),
    /// Another session holds the maildrop lock.
    InUse,
    /// The maildrop could not be opened (storage error).
    Failed,
}

/// One message of an opened maildrop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaildropEntry {
    /// Unique id: 1 to 70 characters in 0x21..=0x7E (RFC 1939 §7); the caller guarantees it.
    pub uidl: String,
    /// Exact size in octets as sent by RETR before dot-stuffing (CRLF line endings).
    pub size: u64,
}

/// One processed command, for metrics: drained with [`Session::take_events`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandEvent {
    /// Upper-case command keyword, `"UNKNOWN"` or `"INVALID"` (bounded label set).
    pub command: &'static str,
    /// Whether the final reply was `+OK`.
    pub ok: bool,
}
