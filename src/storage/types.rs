//! The records a [`Store`](super::Store) keeps: queued messages, recipients, mailboxes,
//! message metadata and user accounts. Plain data, shared by every backend.

use serde::{Deserialize, Serialize};

use super::StoreError;

/// Identifier of a queued message: increasing, never reused; hex-formatted for humans.
pub type QueueId = u64;

/// Identifier of a stored message body (one per spooled message, shared by all its copies).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BlobId(pub u64);

/// A message handed to [`Store::spool`](super::Store::spool): envelope and body.
///
/// `Default` gives the DSN parameters their "absent" values, so callers can write
/// `NewMessage { sender, recipients, body, received_at, ..NewMessage::default() }`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewMessage {
    /// Reverse-path; `""` is the null sender (RFC 5321 §4.5.5, bounces).
    pub sender: String,
    /// Forward-paths with their resolved delivery target, in RCPT order.
    pub recipients: Vec<QueuedRecipient>,
    /// The message as received (headers and body, CRLF line ends).
    pub body: bytes::Bytes,
    /// Arrival time, unix seconds; becomes the IMAP internal date of local copies.
    pub received_at: i64,
    /// DSN RET from MAIL FROM (RFC 3461 §4.3), if given.
    pub ret: Option<Ret>,
    /// DSN ENVID from MAIL FROM (RFC 3461 §4.4), xtext-decoded, if given.
    pub envid: Option<String>,
    /// The IMAP summary (ENVELOPE, BODYSTRUCTURE) computed at reception, opaque here;
    /// local deliveries copy it into the mailbox so that FETCH never reparses.
    pub summary: Option<Vec<u8>>,
}

/// One recipient of a queued message and where it is to be delivered.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QueuedRecipient {
    /// The forward-path as given in RCPT TO.
    pub address: String,
    /// Local mailbox or remote domain.
    pub target: DeliveryTarget,
    /// DSN NOTIFY from RCPT TO (RFC 3461 §4.1); `None` when absent (default: failure).
    #[serde(default)]
    pub notify: Option<Notify>,
    /// DSN ORCPT from RCPT TO exactly as received (`addr-type;xtext`, RFC 3461 §4.2).
    #[serde(default)]
    pub orcpt: Option<String>,
}

impl QueuedRecipient {
    /// A recipient without DSN parameters.
    pub fn new(address: impl Into<String>, target: DeliveryTarget) -> QueuedRecipient {
        QueuedRecipient {
            address: address.into(),
            target,
            notify: None,
            orcpt: None,
        }
    }
}

/// DSN NOTIFY (RFC 3461 §4.1): which events the sender wants reported; all false = NEVER.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Notify {
    /// NOTIFY=SUCCESS.
    pub success: bool,
    /// NOTIFY=FAILURE.
    pub failure: bool,
    /// NOTIFY=DELAY.
    pub delay: bool,
}

/// DSN RET (RFC 3461 §4.3): how much of the original a DSN carries.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ret {
    /// RET=FULL: the whole message.
    Full,
    /// RET=HDRS: the header section only.
    Headers,
}

/// Where a recipient's copy goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeliveryTarget {
    /// A mailbox of a local account.
    Local {
        /// The account (user address) owning the mailbox.
        user: String,
    },
    /// Relayed over SMTP to the MX of `domain`.
    Remote {
        /// Destination domain (the MX lookup key).
        domain: String,
    },
}

/// Delivery state of one recipient of a queued message.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecipientState {
    /// Not delivered yet: retried until it is delivered or fails.
    #[default]
    Pending,
    /// Delivered (stored locally or accepted by the remote MX).
    Delivered,
    /// Permanently failed (a DSN is the caller's business).
    Failed,
}

/// Longest [`RecipientStatus::last_reply`] kept, in characters.
pub const MAX_LAST_REPLY: usize = 512;

/// Delivery progress of one recipient: state, attempts and retry schedule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecipientStatus {
    /// Pending, delivered or failed.
    pub state: RecipientState,
    /// Delivery attempts that produced an outcome (delivered, deferred or failed).
    pub attempts: u32,
    /// When the next attempt is due, unix seconds; 0 = due now.
    pub next_attempt: i64,
    /// The last SMTP reply or error text, at most [`MAX_LAST_REPLY`] characters.
    pub last_reply: Option<String>,
    /// A "delayed" DSN was sent for this recipient (RFC 3464 Action: delayed); sent once.
    pub delay_notified: bool,
}

impl RecipientStatus {
    /// Whether the recipient still waits for delivery.
    pub fn is_pending(&self) -> bool {
        self.state == RecipientState::Pending
    }
}

/// What happened to one recipient: the argument of [`RecipientUpdate`](super::RecipientUpdate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecipientOutcome {
    /// Accepted by the remote server: leaves `Pending`, counts an attempt.
    Delivered {
        /// The server's reply (kept as `last_reply`).
        reply: String,
    },
    /// Temporary failure: stays `Pending`, counts an attempt, next try at `next_attempt`.
    Deferred {
        /// The reply or error text (kept as `last_reply`).
        reply: String,
        /// When to try again, unix seconds.
        next_attempt: i64,
    },
    /// Permanent failure (or expiry): leaves `Pending`, counts an attempt.
    Failed {
        /// The reply or error text (kept as `last_reply`).
        reply: String,
    },
    /// The "delayed" DSN went out: sets `delay_notified`, stays `Pending`.
    DelayNotified,
}

/// A queued message as stored: envelope, body reference and per-recipient state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Queue identifier.
    pub id: QueueId,
    /// Reverse-path (`""` = null sender).
    pub sender: String,
    /// Arrival time, unix seconds.
    pub received_at: i64,
    /// Body size in octets.
    pub size: u64,
    /// Body reference, readable with [`Store::read_blob`](super::Store::read_blob).
    pub blob: BlobId,
    /// Recipients in RCPT order with their status; indexes are stable.
    pub recipients: Vec<(QueuedRecipient, RecipientStatus)>,
    /// DSN RET from MAIL FROM, if given.
    pub ret: Option<Ret>,
    /// DSN ENVID from MAIL FROM, if given.
    pub envid: Option<String>,
    /// The IMAP summary given at spool time, if any.
    pub summary: Option<Vec<u8>>,
}

impl QueuedMessage {
    /// A just-spooled message: every recipient `Pending`, due now.
    pub(crate) fn from_new(id: QueueId, msg: NewMessage) -> QueuedMessage {
        QueuedMessage {
            id,
            sender: msg.sender,
            received_at: msg.received_at,
            size: msg.body.len() as u64,
            blob: BlobId(id),
            recipients: msg
                .recipients
                .into_iter()
                .map(|r| (r, RecipientStatus::default()))
                .collect(),
            ret: msg.ret,
            envid: msg.envid,
            summary: msg.summary,
        }
    }

    /// Whether any recipient still waits for delivery.
    pub fn has_pending(&self) -> bool {
        self.recipients
            .iter()
            .any(|(_, status)| status.is_pending())
    }

    /// Mark recipient `rcpt` delivered locally; `Ok(false)` if it was not Pending.
    pub(crate) fn finish_local(&mut self, rcpt: u32) -> Result<bool, StoreError> {
        let Some(status) = self.pending_slot(rcpt)? else {
            return Ok(false);
        };
        status.state = RecipientState::Delivered;
        status.attempts = status.attempts.saturating_add(1);
        Ok(true)
    }

    /// Apply `outcome` to recipient `rcpt`; `Ok(false)` if it was not Pending (or, for
    /// `DelayNotified`, already notified).
    ///
    /// Shared by every backend so that the state machine is the same everywhere.
    pub(crate) fn apply_outcome(
        &mut self,
        rcpt: u32,
        outcome: &RecipientOutcome,
    ) -> Result<bool, StoreError> {
        let Some(status) = self.pending_slot(rcpt)? else {
            return Ok(false);
        };
        let (state, reply) = match outcome {
            RecipientOutcome::DelayNotified => {
                let changed = !status.delay_notified;
                status.delay_notified = true;
                return Ok(changed);
            }
            RecipientOutcome::Delivered { reply } => (RecipientState::Delivered, reply),
            RecipientOutcome::Failed { reply } => (RecipientState::Failed, reply),
            RecipientOutcome::Deferred {
                reply,
                next_attempt,
            } => {
                status.next_attempt = *next_attempt;
                (RecipientState::Pending, reply)
            }
        };
        status.state = state;
        status.attempts = status.attempts.saturating_add(1);
        status.last_reply = Some(truncate_reply(reply));
        Ok(true)
    }

    /// Make every pending recipient due now; `false` if none is pending.
    pub(crate) fn retry_now(&mut self) -> bool {
        let mut any = false;
        for (_, status) in self.recipients.iter_mut().filter(|(_, s)| s.is_pending()) {
            status.next_attempt = 0;
            any = true;
        }
        any
    }

    /// The status of recipient `rcpt` if it is Pending; `NotFound` for a bad index.
    fn pending_slot(&mut self, rcpt: u32) -> Result<Option<&mut RecipientStatus>, StoreError> {
        let (_, status) = usize::try_from(rcpt)
            .ok()
            .and_then(|i| self.recipients.get_mut(i))
            .ok_or(StoreError::NotFound)?;
        Ok(status.is_pending().then_some(status))
    }
}

/// `reply` cut to [`MAX_LAST_REPLY`] characters (on a character boundary).
fn truncate_reply(reply: &str) -> String {
    match reply.char_indices().nth(MAX_LAST_REPLY) {
        Some((end, _)) => reply[..end].to_owned(),
        None => reply.to_owned(),
    }
}

/// One local delivery to perform: recipient `rcpt` of `queue_id` into `user`'s `mailbox`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalDelivery {
    /// The queued message.
    pub queue_id: QueueId,
    /// Index into [`QueuedMessage::recipients`].
    pub rcpt: u32,
    /// Account owning the mailbox.
    pub user: String,
    /// Mailbox name, normally `"INBOX"`; created if missing.
    pub mailbox: String,
    /// The IMAP summary to store with the copy (computed by the delivering actor, off the
    /// SMTP path); `None` keeps the one given at spool time, if any.
    pub summary: Option<Vec<u8>>,
}

/// Result of one [`LocalDelivery`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LocalOutcome {
    /// Appended to the mailbox under this UID.
    Delivered {
        /// UID of the new mailbox copy.
        uid: u32,
    },
    /// The recipient was no longer Pending (a retry after a crash or a duplicate request).
    AlreadyDone,
}

/// Mailbox counters with IMAP semantics (RFC 9051 §2.3.1.1, RFC 7162 §3.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MailboxInfo {
    /// Non-zero; changes only if the mailbox is deleted and created again.
    pub uidvalidity: u32,
    /// The UID the next appended message gets (UIDs are never reused).
    pub uidnext: u32,
    /// Raised by every change to the mailbox (append, expunge, flag change).
    pub highest_modseq: u64,
    /// Number of messages in the mailbox.
    pub exists: u32,
}

/// Metadata of one message in a mailbox: small and fixed-size but for the flags, so that
/// listing a mailbox of 10^5 messages (SELECT) stays cheap. The IMAP summary is kept apart
/// and read per message with [`Store::summaries`](super::Store::summaries).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    /// Unique identifier in the mailbox, strictly increasing (RFC 9051 §2.3.1.1).
    pub uid: u32,
    /// Size in octets (RFC822.SIZE).
    pub size: u64,
    /// Internal date, unix seconds.
    pub internal_date: i64,
    /// IMAP flags (`\Seen`, keywords...); empty on delivery.
    pub flags: Vec<String>,
    /// Modification sequence of the last change to this message (RFC 7162).
    pub modseq: u64,
    /// The body.
    pub blob: BlobId,
}

/// A local account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The account address, the key (compared byte for byte: normalise before storing).
    pub address: String,
    /// PHC-format password hash (argon2id).
    pub password_hash: String,
    /// Creation time, unix seconds.
    pub created_at: i64,
}
