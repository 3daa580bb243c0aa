//! Durable storage: the [`Store`] trait and its contract, the sled + spool-segment backend
//! ([`SledStore`]) and the in-memory backend ([`MemoryStore`]).
//!
//! Every method is synchronous and may block (disk I/O, fsync): async callers run them on a
//! blocking pool (`spawn_blocking`, a `SyncArbiter`), never on an arbiter thread. A store is
//! shared as `Arc<dyn Store>`; every method may be called from several threads at once.
//!
//! Durability contract (ARCHITECTURE.md, "Message path and the durability contract"): a
//! message is acknowledged with `250` only after [`Store::spool`] returned; after `kill -9`
//! at any moment a restart finds every spooled message, and every recipient that is not
//! recorded as done is still `Pending` (delivered again at most once, never lost).

mod codec;
mod error;
mod mailbox_ops;
mod memory;
mod memory_imap;
mod sled_api;
mod sled_append;
mod sled_folders;
mod sled_imap;
mod sled_mailbox;
mod sled_queue;
mod sled_refs;
mod sled_store;
mod spool;
mod types;

#[cfg(test)]
mod contract;
#[cfg(test)]
mod contract_imap;
#[cfg(test)]
mod contract_queue;
#[cfg(test)]
mod contract_summaries;
#[cfg(test)]
mod sled_imap_tests;
#[cfg(test)]
mod sled_tests;

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

pub use error::StoreError;
pub use mailbox_ops::{
    is_inbox, AppendMessage, CopyUids, FlagChange, FlagOp, FlagsUpdate, MailboxEntry,
    HIERARCHY_SEPARATOR,
};
pub use memory::MemoryStore;
pub use sled_store::{SledOptions, SledStore};
pub use types::{
    BlobId, DeliveryTarget, LocalDelivery, LocalOutcome, MailboxInfo, MessageMeta, NewMessage,
    Notify, QueueId, QueuedMessage, QueuedRecipient, RecipientOutcome, RecipientState,
    RecipientStatus, Ret, UserRecord, MAX_LAST_REPLY,
};

/// An outcome for one recipient of a queued message (remote delivery results, DSN notes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientUpdate {
    /// The queued message.
    pub queue_id: QueueId,
    /// Index into [`QueuedMessage::recipients`].
    pub rcpt: u32,
    /// What happened; see [`RecipientOutcome`] for the effect of each.
    pub outcome: RecipientOutcome,
}

/// The storage contract every backend implements (see the module docs for threading).
///
/// "Durable on return" means the effect survives `kill -9` and power loss once the method
/// has returned `Ok` (a real fsync/fdatasync happened). Operations not durable on return are
/// atomic: after a crash they are either fully there or fully absent.
pub trait Store: Send + Sync + 'static {
    /// Spool a batch (bodies and queue records) with ONE group commit; ids in batch order.
    ///
    /// Durable on return. May block (at most two fsyncs per call, whatever the batch size).
    /// Concurrent calls are serialised internally; each caller's batch is committed whole.
    /// On error nothing of the batch is visible; [`StoreError::Full`] means no disk space.
    fn spool(&self, batch: Vec<NewMessage>) -> Result<Vec<QueueId>, StoreError>;

    /// Every queued message that still has a `Pending` recipient, in id order (restart
    /// recovery).
    ///
    /// Reads only; may block (scans the queue). Runs concurrently with writers and sees each
    /// message either before or after any given update, never half of one.
    fn queued(&self) -> Result<Vec<QueuedMessage>, StoreError>;

    /// One queued message, `None` once all its recipients are done (or for an unknown id).
    ///
    /// Reads only; may block. Safe under concurrency like [`Store::queued`].
    fn queued_message(&self, id: QueueId) -> Result<Option<QueuedMessage>, StoreError>;

    /// Deliver local copies; each item is its own atomic transaction.
    ///
    /// An item appends the message to the mailbox (creating the mailbox if missing), raises
    /// UIDNEXT and HIGHESTMODSEQ, references the blob and marks the recipient `Delivered`.
    /// The item yields [`LocalOutcome::AlreadyDone`] if the recipient is not `Pending` (or
    /// the message is no longer queued): a retry never makes a duplicate. When the last
    /// `Pending` recipient of a message is done, its queue record is removed and the queue's
    /// blob reference dropped. An unknown recipient index yields `Err(NotFound)` per item.
    ///
    /// NOT durable on return (a later durable call or [`Store::sync`] makes it durable); a
    /// crash undoes an item whole, the recipient is then still `Pending`. May block.
    /// Concurrent deliveries of the same recipient: exactly one gets `Delivered`. The outer
    /// `Err` (I/O, corruption) aborts the rest of the list; items already applied stay and
    /// answer `AlreadyDone` when retried.
    fn deliver_local(
        &self,
        items: &[LocalDelivery],
    ) -> Result<Vec<Result<LocalOutcome, StoreError>>, StoreError>;

    /// Record remote outcomes; each item is its own atomic update.
    ///
    /// An item yields `Ok(true)` if the recipient was `Pending` and the outcome applied
    /// (`Delivered`/`Failed` leave `Pending`; `Deferred` stays `Pending` with `attempts`
    /// raised, `next_attempt` and `last_reply` set; `DelayNotified` sets `delay_notified`
    /// and yields `Ok(false)` if it was set already), `Ok(false)` if the recipient was
    /// already done or the message is no longer queued, `Err(NotFound)` for a bad index.
    /// When no `Pending` recipient remains the queue record is removed and its blob
    /// reference dropped: a caller that needs the body (a DSN returns the original) reads
    /// it BEFORE the update that finishes the last recipient. Durable on return, one commit
    /// for the whole list; may block. Concurrent updates of one recipient: one wins.
    fn update_recipients(
        &self,
        items: &[RecipientUpdate],
    ) -> Result<Vec<Result<bool, StoreError>>, StoreError>;

    /// Remove a queued message whatever the state of its recipients (`hermod queue
    /// delete`), dropping its blob reference; `false` if it is not queued.
    ///
    /// Durable on return; may block. A concurrent update of the message either lands
    /// before the deletion or finds the message gone (`Ok(false)`); a bounce, if wanted,
    /// is the caller's business and needs the body read first.
    fn delete_queued(&self, id: QueueId) -> Result<bool, StoreError>;

    /// Make every `Pending` recipient of a message due now (`next_attempt = 0`, `hermod
    /// queue retry`); `false` if the message is not queued.
    ///
    /// Durable on return; may block. Atomic with respect to [`Store::update_recipients`].
    fn retry_now(&self, id: QueueId) -> Result<bool, StoreError>;

    /// The body of a message; [`StoreError::NotFound`] once its last reference is gone.
    ///
    /// Reads only; may block (file read). Safe under concurrency; a blob whose last
    /// reference is dropped concurrently may be found or not found, never torn.
    fn read_blob(&self, blob: BlobId) -> Result<bytes::Bytes, StoreError>;

    /// A mailbox's counters, `None` if it does not exist.
    ///
    /// Reads only; may block. Sees a consistent snapshot of the counters.
    fn mailbox(&self, user: &str, name: &str) -> Result<Option<MailboxInfo>, StoreError>;

    /// Create an empty mailbox with a fresh UIDVALIDITY; [`StoreError::AlreadyExists`] if
    /// it exists.
    ///
    /// Durable on return; may block. Of concurrent creations of one name exactly one wins.
    fn create_mailbox(&self, user: &str, name: &str) -> Result<MailboxInfo, StoreError> {
        self.create_mailbox_with(user, name, None)
    }

    /// [`Store::create_mailbox`] with a SPECIAL-USE attribute (RFC 6154, e.g. `\Sent`),
    /// stored as given and returned by [`Store::list_mailboxes`].
    ///
    /// Durable on return; may block. Of concurrent creations of one name exactly one wins.
    /// Superior names (`a` for `a/b`) are not created: that is the caller's choice.
    fn create_mailbox_with(
        &self,
        user: &str,
        name: &str,
        special_use: Option<String>,
    ) -> Result<MailboxInfo, StoreError>;

    /// Every mailbox of `user` in name (byte) order, with counters and SPECIAL-USE.
    ///
    /// Reads only; may block (scans the user's mailboxes). Each entry is a consistent
    /// snapshot of one mailbox; mailboxes created or deleted meanwhile may or may not show.
    fn list_mailboxes(&self, user: &str) -> Result<Vec<MailboxEntry>, StoreError>;

    /// Delete a mailbox with its messages (dropping their blob references), SPECIAL-USE
    /// and expunge history; its inferiors (`name/x`) stay.
    ///
    /// [`StoreError::NotPermitted`] for INBOX (RFC 3501 §6.3.4), [`StoreError::NotFound`]
    /// if it does not exist. Durable on return; may block. Atomic: a concurrent delivery
    /// or change lands before the deletion (and is deleted) or finds the mailbox gone.
    /// Subscriptions are kept (RFC 3501 §6.3.6).
    fn delete_mailbox(&self, user: &str, name: &str) -> Result<(), StoreError>;

    /// Rename a mailbox and its inferiors (`from/x` becomes `to/x`, separator
    /// [`HIERARCHY_SEPARATOR`]), keeping UIDVALIDITY, UIDs, flags and expunge history.
    ///
    /// RFC 3501 §6.3.5: renaming INBOX moves its messages to a new mailbox `to` (fresh
    /// UIDVALIDITY, same UIDs) and leaves INBOX empty with its UIDVALIDITY and UIDNEXT (the
    /// moved UIDs are recorded as expunged); INBOX's inferiors are unaffected. Errors:
    /// `NotFound` (no `from`), `AlreadyExists` (`to` or a renamed inferior's new name
    /// exists), `NotPermitted` (`to` is INBOX or lies under `from`). Durable on return; may
    /// block. Atomic: every name moves or none; concurrent changes land before or after.
    /// Subscriptions and superior names are left as they are.
    fn rename_mailbox(&self, user: &str, from: &str, to: &str) -> Result<(), StoreError>;

    /// Add `name` to the user's subscriptions (the mailbox need not exist, RFC 3501 §6.3.6).
    ///
    /// Durable on return; may block. Idempotent.
    fn subscribe(&self, user: &str, name: &str) -> Result<(), StoreError>;

    /// Remove `name` from the user's subscriptions; `false` if it was not subscribed.
    ///
    /// Durable on return; may block.
    fn unsubscribe(&self, user: &str, name: &str) -> Result<bool, StoreError>;

    /// The user's subscribed names in byte order (LSUB, LIST (SUBSCRIBED)).
    ///
    /// Reads only; may block.
    fn subscriptions(&self, user: &str) -> Result<Vec<String>, StoreError>;

    /// Change the flags of messages (IMAP STORE), with the CONDSTORE UNCHANGEDSINCE test.
    ///
    /// A message whose modseq is above `unchanged_since` is left alone and listed in
    /// [`FlagsUpdate::modified`] (RFC 7162 §3.1.3); unknown UIDs are ignored. If any flags
    /// change, HIGHESTMODSEQ rises by one and every changed message gets the new value.
    /// `\Recent` is never stored. [`StoreError::NotFound`] if the mailbox does not exist.
    /// NOT durable on return (atomic; made durable by the next durable call or
    /// [`Store::sync`]). May block. Concurrent STOREs on one message apply one after the
    /// other, each seeing the other's result.
    fn store_flags(
        &self,
        user: &str,
        mailbox: &str,
        uids: &[u32],
        op: FlagOp,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsUpdate, StoreError>;

    /// Store a new message in an existing mailbox (IMAP APPEND): the body goes to the spool
    /// like [`Store::spool`]'s and the message record is written in the same commit.
    ///
    /// Returns `(uidvalidity, uid)` for APPENDUID (RFC 4315 §3). [`StoreError::NotFound`]
    /// if the mailbox does not exist (IMAP answers `NO [TRYCREATE]`). Durable on return;
    /// may block (two fsyncs). Concurrent appends get distinct, increasing UIDs.
    fn append(
        &self,
        user: &str,
        mailbox: &str,
        message: AppendMessage,
    ) -> Result<(u32, u32), StoreError>;

    /// [`Store::append`] with the body read from the file at `body` (IMAP keeps large
    /// APPEND literals in one) instead of `message.body`, which must be empty
    /// ([`StoreError::Invalid`] otherwise).
    ///
    /// The file is the caller's: it is read, never changed or removed, and must not change
    /// during the call; its size is the message's. A backend that keeps bodies on disk
    /// copies it in chunks (memory bounded whatever its size). Errors as for
    /// [`Store::append`], and `Io` when the file cannot be read (nothing is appended).
    /// Durable on return; may block. Concurrency as for [`Store::append`].
    fn append_file(
        &self,
        user: &str,
        mailbox: &str,
        body: &Path,
        message: AppendMessage,
    ) -> Result<(u32, u32), StoreError>;

    /// Copy messages to another (existing) mailbox sharing their bodies (a blob reference
    /// each, no body copy), with flags, internal date and summary (IMAP COPY).
    ///
    /// Unknown UIDs are skipped; new UIDs follow the source UID order. `NotFound` if either
    /// mailbox does not exist. Durable on return; may block. Atomic for the whole list.
    fn copy(&self, user: &str, from: &str, uids: &[u32], to: &str) -> Result<CopyUids, StoreError>;

    /// [`Store::copy`] then expunge the originals, in one atomic transaction (RFC 6851
    /// MOVE): the source's HIGHESTMODSEQ rises and the moved UIDs are recorded as expunged.
    ///
    /// Durable on return; may block.
    fn move_messages(
        &self,
        user: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopyUids, StoreError>;

    /// Expunge the `\Deleted` messages of a mailbox, or only those among `uid_subset` (UID
    /// EXPUNGE, RFC 4315 §2.1); returns the expunged UIDs in order.
    ///
    /// Like [`Store::expunge`]: durable on return, may block, atomic; a message flagged
    /// `\Deleted` concurrently may or may not be expunged, one unflagged is not.
    fn expunge_deleted(
        &self,
        user: &str,
        mailbox: &str,
        uid_subset: Option<&[u32]>,
    ) -> Result<Vec<u32>, StoreError>;

    /// Store the IMAP layer's summary of a message (ENVELOPE, BODYSTRUCTURE..., opaque to the
    /// store), replacing any; it is not a change clients see, so modseqs stay. `NotFound`
    /// if the message does not exist.
    ///
    /// NOT durable on return (atomic); may block. Summaries live apart from
    /// [`MessageMeta`] so that listing a mailbox never reads them; they follow their message
    /// through COPY, MOVE, rename and expunge.
    fn set_summary(
        &self,
        user: &str,
        mailbox: &str,
        uid: u32,
        summary: Vec<u8>,
    ) -> Result<(), StoreError>;

    /// The stored summaries of these messages, one entry per UID in the order given: `None`
    /// for an unknown UID or a message stored without one (given by `append`,
    /// `deliver_local` or `set_summary`). [`StoreError::NotFound`] if the mailbox does not
    /// exist.
    ///
    /// Reads only; may block (a lookup per UID, not a scan: FETCH asks for the messages it
    /// renders). Sees every change that returned before the call.
    fn summaries(
        &self,
        user: &str,
        mailbox: &str,
        uids: &[u32],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError>;

    /// The messages whose modseq is above `modseq`, in UID order (CONDSTORE FETCH
    /// CHANGEDSINCE, QRESYNC). `NotFound` if the mailbox does not exist.
    ///
    /// Reads only; may block (scans the mailbox). Consistency as [`Store::messages`].
    fn mailbox_changes_since(
        &self,
        user: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<MessageMeta>, StoreError>;

    /// UIDs expunged by changes with a modseq above `modseq`, ascending (QRESYNC VANISHED,
    /// RFC 7162 §3.2.5.1). Every expunge path records them: EXPUNGE, MOVE, INBOX rename.
    /// `NotFound` if the mailbox does not exist.
    ///
    /// Reads only; may block (scans the expunge history past `modseq`).
    fn expunged_since(
        &self,
        user: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<u32>, StoreError>;

    /// The messages of a mailbox in UID order; [`StoreError::NotFound`] if it does not exist.
    ///
    /// Reads only; may block (scans the mailbox). Concurrent appends or expunges may or may
    /// not be seen, each one whole.
    fn messages(&self, user: &str, name: &str) -> Result<Vec<MessageMeta>, StoreError>;

    /// The messages with these UIDs, in the order given; unknown UIDs are skipped.
    /// [`StoreError::NotFound`] if the mailbox does not exist. A lookup per UID, not a scan:
    /// what a new delivery or APPEND needs to tell other sessions.
    ///
    /// Not a write; may block. Sees every change that returned before the call.
    fn messages_by_uid(
        &self,
        user: &str,
        name: &str,
        uids: &[u32],
    ) -> Result<Vec<MessageMeta>, StoreError>;

    /// Remove messages (unknown UIDs are ignored) and drop their blob references; space is
    /// reclaimed when a blob's last reference goes. [`StoreError::NotFound`] if the mailbox
    /// does not exist. HIGHESTMODSEQ rises and the UIDs are recorded for
    /// [`Store::expunged_since`].
    ///
    /// Durable on return; may block. Atomic for the whole UID list; UIDs are never reused.
    fn expunge(&self, user: &str, name: &str, uids: &[u32]) -> Result<(), StoreError>;

    /// Insert or replace an account.
    ///
    /// Durable on return; may block. Concurrent puts of one address: the last one wins.
    fn put_user(&self, user: UserRecord) -> Result<(), StoreError>;

    /// An account by address, `None` if unknown.
    ///
    /// Reads only; may block.
    fn user(&self, address: &str) -> Result<Option<UserRecord>, StoreError>;

    /// Delete an account with its mailboxes and their blob references; `false` if unknown.
    ///
    /// Durable on return; may block. Deliveries to the account racing with the deletion
    /// may land before it (and are deleted) or after it (and recreate the mailbox): stop
    /// routing to the account first.
    fn delete_user(&self, address: &str) -> Result<bool, StoreError>;

    /// Every account, in address order.
    ///
    /// Reads only; may block (scans all accounts).
    fn users(&self) -> Result<Vec<UserRecord>, StoreError>;

    /// Make every earlier write durable (a real fsync), e.g. before shutdown.
    ///
    /// May block. Safe to call concurrently with anything.
    fn sync(&self) -> Result<(), StoreError>;

    /// Approximate bytes on disk per kind (`"metadata"`, `"spool"`), for metrics.
    ///
    /// Reads only; may block (stats files).
    fn disk_usage(&self) -> Result<Vec<(&'static str, u64)>, StoreError>;
}

/// Lock a mutex whose data stays consistent even if a holder panicked.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Refuse an [`Store::append_file`] whose message carries a body of its own: which one
/// would be meant?
fn check_file_append(message: &AppendMessage) -> Result<(), StoreError> {
    if message.body.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "append_file with a body in memory too".into(),
        ))
    }
}

/// Refuse names that cannot be stored: NUL separates the parts of composite keys.
fn check_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.contains('\0') {
        return Err(StoreError::Invalid(format!(
            "name {name:?} is empty or holds NUL"
        )));
    }
    Ok(())
}

/// A new UIDVALIDITY: the clock in seconds, but always above the previous one, never 0.
///
/// RFC 9051 §2.3.1.1: a mailbox recreated under the same name must get a different
/// UIDVALIDITY, so the value only grows, even if the clock steps back.
fn next_uidvalidity(previous: u32) -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let now = u32::try_from(now).unwrap_or(u32::MAX);
    now.max(previous.wrapping_add(1)).max(1)
}

/// Counters of a just-created mailbox.
fn new_mailbox_info(uidvalidity: u32) -> MailboxInfo {
    MailboxInfo {
        uidvalidity,
        uidnext: 1,
        // RFC 7162 §3.1.1: mod-sequences are positive, so an empty mailbox starts at 1.
        highest_modseq: 1,
        exists: 0,
    }
}
