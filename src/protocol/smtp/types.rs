//! The types a connection actor exchanges with a [`Session`](super::Session).

use crate::protocol::mail::Address;

/// Which listener a session was accepted on; decides AUTH and relay policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// Port 25: mail from other servers; no AUTH offered.
    Mx,
    /// Port 587: submission with STARTTLS; AUTH required before MAIL (RFC 6409).
    Submission,
    /// Port 465: submission over implicit TLS (RFC 8314); AUTH required before MAIL.
    Submissions,
}

/// Limits and identity shared by every session of one listener.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our host name, used in the greeting, EHLO and 421 replies.
    pub hostname: String,
    /// The listener this session belongs to.
    pub listener: ListenerKind,
    /// SIZE advertised value, enforced on DATA and BDAT (octets, RFC 1870).
    pub max_message_size: usize,
    /// Recipients accepted per transaction; more get 452 4.5.3.
    pub max_recipients: usize,
    /// Error replies tolerated before 421 4.7.0 and close.
    pub max_errors: usize,
    /// Failed AUTH attempts tolerated before 421 4.7.0 and close.
    pub max_auth_failures: usize,
}

/// What the connection must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes (one or more complete replies).
    Write(Vec<u8>),
    /// The input buffer holds no complete command: flush writes, read, call `receive`.
    Read,
    /// Look the recipient up, then call `rcpt_verdict`; the session is paused until then.
    CheckRecipient(Address),
    /// Check the credentials, then call `auth_verdict`; the session is paused until then.
    Authenticate {
        /// Authorization identity (PLAIN only), when the client asked to act as someone else.
        authzid: Option<String>,
        /// Authentication identity (the user name).
        authcid: String,
        /// The password; never log it.
        password: String,
    },
    /// Flush writes, run the TLS handshake, then call `tls_established`.
    StartTls,
    /// Make the message durable, then call `spool_verdict`; the session is paused until then.
    Spool(Transaction),
    /// Flush writes and close the connection.
    Close,
}

/// The directory's answer to [`Action::CheckRecipient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptVerdict {
    /// A local mailbox; `user` is the account it delivers to.
    Local {
        /// The account name.
        user: String,
    },
    /// A local domain but no such mailbox: 550 5.1.1.
    NoSuchUser,
    /// Not one of our domains: relayed if the client may relay, else 554 5.7.1.
    NotLocal,
    /// The directory is unavailable: 451 4.3.0.
    TempFail,
}

/// The credential check's answer to [`Action::Authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVerdict {
    /// Credentials are good: 235 2.7.0.
    Ok {
        /// The account now authenticated.
        user: String,
    },
    /// Wrong user or password: 535 5.7.8.
    Invalid,
    /// The check could not be done: 454 4.7.0.
    TempFail,
}

/// The spool's answer to [`Action::Spool`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpoolVerdict {
    /// Durable: 250 2.0.0 with the queue id.
    Queued {
        /// The queue id shown to the client.
        id: String,
    },
    /// Could not write now: 451 4.3.0.
    TempFail,
    /// Out of space or over a back-pressure bound: 452 4.3.1.
    InsufficientStorage,
}

/// DSN RET parameter (RFC 3461 §4.3): how much of the message a bounce returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnRet {
    /// Return the whole message.
    Full,
    /// Return the headers only.
    Headers,
}

/// DSN NOTIFY parameter (RFC 3461 §4.1); all false means NOTIFY=NEVER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DsnNotify {
    /// Report successful delivery.
    pub success: bool,
    /// Report failure.
    pub failure: bool,
    /// Report delay.
    pub delay: bool,
}

/// A complete message ready to spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// The HELO/EHLO argument.
    pub helo: String,
    /// The reverse-path; `None` is the null path `<>` (bounces).
    pub sender: Option<Address>,
    /// Accepted recipients, in RCPT order.
    pub recipients: Vec<Recipient>,
    /// The message as received: dot-unstuffed, CRLF line endings, no added headers.
    pub body: Vec<u8>,
    /// The authenticated account, if AUTH succeeded.
    pub authenticated_as: Option<String>,
    /// True when the message arrived over TLS.
    pub tls: bool,
    /// MAIL carried SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// MAIL carried BODY=8BITMIME (RFC 6152).
    pub body_8bitmime: bool,
    /// The client greeted with EHLO (ESMTP) rather than HELO; for the Received header.
    pub esmtp: bool,
    /// DSN RET parameter, if given.
    pub dsn_ret: Option<DsnRet>,
    /// DSN ENVID parameter (xtext-decoded), if given.
    pub dsn_envid: Option<String>,
}

/// One accepted recipient and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The forward-path.
    pub address: Address,
    /// Local delivery or relay.
    pub route: Route,
    /// DSN NOTIFY parameter, if given (absent means the RFC 3461 default: failure, delay).
    pub notify: Option<DsnNotify>,
    /// DSN ORCPT parameter exactly as received (`addr-type;xtext`), if given.
    pub orcpt: Option<String>,
}

/// Where a recipient's copy goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Into a local account's mailbox.
    Local {
        /// The account name.
        user: String,
    },
    /// Relayed to another server.
    Remote,
}

/// One answered command, for metrics (bounded label set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandEvent {
    /// "EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "AUTH", "STARTTLS", "RSET", "NOOP",
    /// "VRFY", "EXPN", "HELP", "QUIT" or "UNKNOWN".
    pub command: &'static str,
    /// The reply was 2xx/3xx.
    pub ok: bool,
}
