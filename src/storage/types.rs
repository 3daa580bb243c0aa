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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    /// Reverse-path; `""` is the null sender (RFC 5321 §4.5.5, bounces).
    pub sender: String,
    /// Forward-paths with their resolved delivery target, in RCPT order.
    pub recipients: Vec<QueuedRecipient>,
    /// The message as received (headers and body, CRLF line ends).
    pub body: bytes::Bytes,
    /// Arrival time, unix seconds; becomes the IMAP internal date of local copies.
    pub received_at: i64,
}

/// One recipient of a queued message and where it is to be delivered.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QueuedRecipient {
    /// The forward-path as given in RCPT TO.
    pub address: String,
    /// Local mailbox or remote domain.
    pub target: DeliveryTarget,
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
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecipientState {
    /// Not delivered yet: retried until it is delivered or fails.
    Pending,
    /// Delivered (stored locally or accepted by the remote MX).
    Delivered,
    /// Permanently failed (a DSN is the caller's business).
    Failed,
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
    /// Recipients in RCPT order with their state; indexes are stable.
    pub recipients: Vec<(QueuedRecipient, RecipientState)>,
}

impl QueuedMessage {
    /// Whether any recipient still waits for delivery.
    pub fn has_pending(&self) -> bool {
        self.recipients
            .iter()
            .any(|(_, state)| *state == RecipientState::Pending)
    }

    /// Move recipient `rcpt` from `Pending` to `state`; `Ok(false)` if it was not Pending.
    ///
    /// Shared by every backend so that the state machine is the same everywhere.
    pub(crate) fn finish_recipient(
        &mut self,
        rcpt: u32,
        state: RecipientState,
    ) -> Result<bool, StoreError> {
        if state == RecipientState::Pending {
            return Err(StoreError::Invalid("Pending is not a final state".into()));
        }
        let slot = usize::try_from(rcpt)
            .ok()
            .and_then(|i| self.recipients.get_mut(i))
            .ok_or(StoreError::NotFound)?;
        if slot.1 != RecipientState::Pending {
            return Ok(false);
        }
        slot.1 = state;
        Ok(true)
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
    /// Raised by every change to the mailbox (append, expunge).
    pub highest_modseq: u64,
    /// Number of messages in the mailbox.
    pub exists: u32,
}

/// Metadata of one message in a mailbox.
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
