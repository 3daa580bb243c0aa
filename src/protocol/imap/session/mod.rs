//! The pure IMAP4rev1 session state machine (RFC 3501) with IDLE, UIDPLUS, MOVE, ENABLE,
//! ID, NAMESPACE, LITERAL+, SASL-IR, UNSELECT, CHILDREN, SPECIAL-USE, CONDSTORE, QRESYNC,
//! ESEARCH, LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), BINARY (RFC 3516), SEARCHRES
//! (RFC 5182) and STATUS=SIZE (RFC 8438).
//!
//! IMAP4rev2 (RFC 9051) is advertised next to IMAP4rev1; a client that sends
//! `ENABLE IMAP4rev2` gets its behaviour (Appendix E): no `\Recent` flag, no `* n RECENT`
//! and no `[UNSEEN n]` in SELECT, the selected mailbox's `* LIST` line in SELECT, and
//! SEARCH answered with ESEARCH. STATUS SIZE and DELETED and `SEARCH RETURN (SAVE)` with
//! `$` work in both modes. Mailbox names are stored in UTF-8 and travel as UTF-8 after
//! `ENABLE IMAP4rev2` (§5.1), as modified UTF-7 before (RFC 3501 §5.1.3; [`names`]).
//!
//! Bytes go in through [`Session::receive`]; [`Session::next_action`] hands out what the
//! connection actor must do: write bytes, read more, check credentials, run a storage
//! [`Request`], start TLS or close. Each request is answered through the matching method
//! ([`Session::auth_done`], [`Session::storage_done`], [`Session::tls_started`]); until then
//! no further input is processed. Changes made by other sessions reach the selected view
//! through [`Session::mailbox_changed`] and are announced where RFC 3501 §7 allows.
//!
//! Layout: [`framer`] cuts input into commands (lines plus literals, bounded),
//! [`convert`] maps imap-codec's syntax tree to ours, [`view`] is the selected mailbox,
//! [`names`] spells mailbox names for the session,
//! [`list`] does LIST pattern matching and the LIST-EXTENDED selection, [`list_args`]
//! cuts out LIST-EXTENDED selection/return options and pattern lists, [`list_status`] runs
//! LIST in steps (subscriptions, LIST-STATUS counters), [`esearch`] cuts out SEARCH
//! RETURN options, [`searchres`] replaces `$` with the saved messages,
//! [`fetch`] renders FETCH data (BINARY decoded through [`crate::protocol::imap::section`]),
//! [`qresync`] reads the QRESYNC parameters and renders VANISHED,
//! [`jobs`] runs FETCH,
//! SEARCH and STORE in steps (stored summaries and bodies read in chunks), and
//! [`machine`] is the state machine (commands are dispatched in `commands`, storage
//! answers completed in `answers`, large APPEND literals passed on in `literal`).
//!
//! The actor owns the rest: it reads input only when told [`Action::Read`] (so a client
//! that pipelines without reading replies is held back by TCP), runs requests for the
//! logged-in user, and broadcasts the changes its own requests made (STORE, APPEND,
//! EXPUNGE, MOVE, `\Seen` from FETCH) to the other sessions of that mailbox. An APPEND
//! literal of [`SessionConfig::stream_literal`] octets or more reaches the actor in chunks
//! ([`Action::Literal`]) as it arrives, so a session's memory stays near its read buffer
//! whatever the message size; the APPEND then takes its body from what the actor kept
//! ([`Request::AppendSpooled`]).

mod answers;
mod commands;
pub mod convert;
pub mod esearch;
pub mod fetch;
pub mod framer;
pub mod jobs;
pub mod list;
pub mod list_args;
pub mod list_status;
mod literal;
pub mod machine;
pub mod names;
pub mod qresync;
pub mod searchres;
pub mod view;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fetch;
#[cfg(test)]
mod tests_literal;
#[cfg(test)]
mod tests_names;
#[cfg(test)]
mod tests_qresync;
#[cfg(test)]
mod tests_rev2;

pub use machine::Session;

use bytes::Bytes;

use crate::storage::{
    AppendMessage, BlobId, CopyUids, FlagChange, FlagOp, FlagsUpdate, MailboxEntry, MailboxInfo,
    MessageMeta,
};

/// Limits and names for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Host name shown in the greeting.
    pub hostname: String,
    /// Longest command line, CRLF included (literals not counted).
    pub max_line: usize,
    /// Largest literal accepted: the maximum message size for APPEND.
    pub max_literal: u32,
    /// APPEND literals of at least this size go to the actor in chunks
    /// ([`Action::Literal`]) instead of being gathered in memory.
    pub stream_literal: u32,
    /// Failed logins before the session is closed.
    pub max_auth_failures: usize,
    /// Protocol errors (BAD) before the session is closed.
    pub max_errors: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            hostname: "localhost".to_owned(),
            max_line: 64 * 1024,
            max_literal: 32 * 1024 * 1024,
            stream_literal: framer::STREAM_FROM,
            max_auth_failures: 3,
            max_errors: 50,
        }
    }
}

/// What the connection actor must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes to the client.
    Write(Vec<u8>),
    /// Read more input and pass it to [`Session::receive`].
    Read,
    /// Check credentials; answer with [`Session::auth_done`].
    Authenticate {
        /// Login name as given.
        user: String,
        /// Password as given.
        password: String,
    },
    /// Run a storage operation for the logged-in user; answer with
    /// [`Session::storage_done`].
    Storage(Request),
    /// Start TLS on the connection (the `OK` has been written); then call
    /// [`Session::tls_started`].
    StartTls,
    /// Keep a large APPEND literal out of memory (a file, say); no answer is awaited.
    /// Steps come in order: `Begin`, `Chunk`s, then the literal is consumed by
    /// [`Request::AppendSpooled`] or dropped by `Discard`.
    Literal(LiteralStep),
    /// Close the connection (everything to write has been handed out).
    Close,
}

/// A step in keeping a large APPEND literal (see [`Action::Literal`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiteralStep {
    /// A literal starts: keep what follows, from nothing (a session has one at a time).
    Begin,
    /// The literal's next octets.
    Chunk(Vec<u8>),
    /// Drop what was kept: the command failed, no APPEND will take it.
    Discard,
}

/// A storage operation for the logged-in user (see [`crate::storage::Store`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Every mailbox: [`Reply::Mailboxes`].
    ListMailboxes,
    /// The subscribed names: [`Reply::Names`].
    Subscriptions,
    /// Counters and messages of a mailbox: [`Reply::Mailbox`]. When `select` is true the
    /// actor also subscribes the connection to this mailbox's change events (dropping any
    /// earlier one; [`Session::selected_mailbox`] tells which mailbox is selected now).
    Open {
        /// The mailbox.
        mailbox: String,
        /// SELECT/EXAMINE (true) or STATUS (false).
        select: bool,
    },
    /// Create a mailbox: [`Reply::Done`].
    Create {
        /// The mailbox.
        mailbox: String,
    },
    /// Delete a mailbox: [`Reply::Done`].
    Delete {
        /// The mailbox.
        mailbox: String,
    },
    /// Rename a mailbox: [`Reply::Done`].
    Rename {
        /// Current name.
        from: String,
        /// New name.
        to: String,
    },
    /// Subscribe a name: [`Reply::Done`].
    Subscribe {
        /// The name.
        mailbox: String,
    },
    /// Unsubscribe a name: [`Reply::Done`].
    Unsubscribe {
        /// The name.
        mailbox: String,
    },
    /// Append a message: [`Reply::Appended`].
    Append {
        /// Destination mailbox.
        mailbox: String,
        /// Body, flags, date and summary.
        message: AppendMessage,
        /// False when the client gave no date: the actor sets `message.internal_date` to
        /// the current time (the session has no clock).
        date_given: bool,
    },
    /// Append the literal kept through [`Action::Literal`]: [`Reply::Appended`]. The
    /// actor computes the summary, runs the APPEND and drops the literal, whatever the
    /// outcome; a literal it failed to keep fails the APPEND.
    AppendSpooled {
        /// Destination mailbox.
        mailbox: String,
        /// Initial flags.
        flags: Vec<String>,
        /// Internal date, unix seconds (when `date_given`).
        internal_date: i64,
        /// False when the client gave no date: the actor uses the current time.
        date_given: bool,
    },
    /// Change flags: [`Reply::Flags`].
    StoreFlags {
        /// The mailbox.
        mailbox: String,
        /// Messages.
        uids: Vec<u32>,
        /// Set, add or remove.
        op: FlagOp,
        /// The flags.
        flags: Vec<String>,
        /// CONDSTORE UNCHANGEDSINCE.
        unchanged_since: Option<u64>,
    },
    /// Copy messages: [`Reply::Copied`].
    Copy {
        /// Source mailbox.
        from: String,
        /// Source UIDs.
        uids: Vec<u32>,
        /// Destination mailbox.
        to: String,
    },
    /// Move messages: [`Reply::Copied`].
    Move {
        /// Source mailbox.
        from: String,
        /// Source UIDs.
        uids: Vec<u32>,
        /// Destination mailbox.
        to: String,
    },
    /// Expunge `\Deleted` messages (only among `uids` if given): [`Reply::ExpungeDone`].
    Expunge {
        /// The mailbox.
        mailbox: String,
        /// UID EXPUNGE subset.
        uids: Option<Vec<u32>>,
    },
    /// Read message bodies: [`Reply::Blobs`], one entry per id in order (`None` if gone).
    ReadBlobs(Vec<BlobId>),
    /// Read the stored summaries of messages (for ENVELOPE, BODYSTRUCTURE, BODY; kept out
    /// of [`MessageMeta`] so that SELECT stays cheap): [`Reply::Summaries`], one entry per
    /// UID in order, `None` where there is none. A mailbox gone meanwhile (deleted or
    /// renamed by another session) answers `None` for all: FETCH then reads the bodies.
    Summaries {
        /// The mailbox.
        mailbox: String,
        /// The messages.
        uids: Vec<u32>,
    },
    /// UIDs expunged after a mod-sequence (QRESYNC, RFC 7162 §3.2.5.2):
    /// [`Reply::Expunged`], ascending.
    Vanished {
        /// The mailbox.
        mailbox: String,
        /// Expunges with a mod-sequence above this one.
        since: u64,
    },
}

/// The successful answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Done, nothing to report.
    Done,
    /// Answer to [`Request::ListMailboxes`].
    Mailboxes(Vec<MailboxEntry>),
    /// Answer to [`Request::Subscriptions`].
    Names(Vec<String>),
    /// Answer to [`Request::Open`]: counters, messages in UID order, and the first UID
    /// that is `\Recent` for this session (RFC 3501 §2.3.2; `info.uidnext` for none).
    Mailbox {
        /// Counters.
        info: MailboxInfo,
        /// Messages in UID order.
        messages: Vec<MessageMeta>,
        /// Messages with this UID or above are `\Recent`.
        first_recent_uid: u32,
    },
    /// Answer to [`Request::Append`]: `(uidvalidity, uid)`.
    Appended(u32, u32),
    /// Answer to [`Request::StoreFlags`].
    Flags(FlagsUpdate),
    /// Answer to [`Request::Copy`] and [`Request::Move`].
    Copied(CopyUids),
    /// Answer to [`Request::Vanished`]: expunged UIDs.
    Expunged(Vec<u32>),
    /// Answer to [`Request::Expunge`]: the UIDs removed, and the mailbox's HIGHESTMODSEQ
    /// after it (reported in the tagged OK once QRESYNC is enabled, RFC 7162).
    ExpungeDone {
        /// Expunged UIDs, ascending.
        uids: Vec<u32>,
        /// The mailbox's highest modseq after the expunge.
        highest_modseq: u64,
    },
    /// Answer to [`Request::ReadBlobs`].
    Blobs(Vec<Option<Bytes>>),
    /// Answer to [`Request::Summaries`].
    Summaries(Vec<Option<Vec<u8>>>),
}

/// Why a [`Request`] failed, as far as the IMAP reply cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The mailbox (or message) does not exist.
    NotFound,
    /// The name exists already.
    AlreadyExists,
    /// Not allowed (deleting INBOX, renaming into a subtree).
    NotPermitted,
    /// Invalid name or argument.
    Invalid,
    /// No space left.
    Full,
    /// Any other failure (I/O, corruption).
    Failed,
}

impl From<&crate::storage::StoreError> for StoreErrorKind {
    fn from(e: &crate::storage::StoreError) -> Self {
        use crate::storage::StoreError as E;
        match e {
            E::NotFound => StoreErrorKind::NotFound,
            E::AlreadyExists => StoreErrorKind::AlreadyExists,
            E::NotPermitted(_) => StoreErrorKind::NotPermitted,
            E::Invalid(_) => StoreErrorKind::Invalid,
            E::Full => StoreErrorKind::Full,
            E::Io(_) | E::Corrupt(_) => StoreErrorKind::Failed,
        }
    }
}

/// One completed command, for metrics (a bounded label: the command's name, or INVALID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandEvent {
    /// The command (CAPABILITY, FETCH, ...).
    pub command: &'static str,
    /// Completed with OK.
    pub ok: bool,
    /// Which command this completes: its number in start order (see
    /// [`Session::commands_started`]), for timing it.
    pub serial: u64,
}

/// A change to the selected mailbox made by someone else (delivery, another session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxEvent {
    /// New messages, in UID order.
    Appended(Vec<MessageMeta>),
    /// Expunged UIDs.
    Expunged(Vec<u32>),
    /// Flag changes.
    Flags(Vec<FlagChange>),
}
