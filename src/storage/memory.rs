//! The in-memory backend: the same contract as the sled backend without persistence, for
//! tests and for running without a disk. Nothing survives the process; "durable on return"
//! degrades to "visible to every later call".
//!
//! One mutex guards all the state, so every method is atomic with respect to the others.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;

use bytes::Bytes;

use super::lock;
use super::types::{
    BlobId, LocalDelivery, LocalOutcome, MailboxInfo, MessageMeta, NewMessage, QueueId,
    QueuedMessage, UserRecord,
};
use super::{
    check_name, new_mailbox_info, next_uidvalidity, AppendMessage, CopyUids, FlagOp, FlagsUpdate,
    MailboxEntry, RecipientUpdate, Store, StoreError,
};

/// In-memory [`Store`]: everything is lost when it is dropped.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

/// Everything the store holds, behind [`MemoryStore`]'s one mutex.
#[derive(Default)]
pub(super) struct Inner {
    /// Last id handed out (ids start at 1, like the sled backend's).
    pub(super) last_id: u64,
    last_uidvalidity: u32,
    queue: BTreeMap<QueueId, QueuedMessage>,
    /// Body and reference count (queue entry + mailbox copies).
    pub(super) blobs: HashMap<BlobId, (Bytes, u32)>,
    /// Keyed by (user, mailbox name).
    pub(super) mailboxes: BTreeMap<(String, String), Mailbox>,
    /// (user, mailbox name) pairs.
    pub(super) subscriptions: BTreeSet<(String, String)>,
    users: BTreeMap<String, UserRecord>,
}

/// One mailbox: counters, messages by UID, their summaries, SPECIAL-USE and expunge
/// history.
pub(super) struct Mailbox {
    pub(super) info: MailboxInfo,
    pub(super) messages: BTreeMap<u32, MessageMeta>,
    /// IMAP summaries by UID, for messages stored with one (kept apart as in sled).
    pub(super) summaries: HashMap<u32, Vec<u8>>,
    pub(super) special_use: Option<String>,
    /// Expunged UIDs by the modseq of the expunge (QRESYNC VANISHED).
    pub(super) expunged: BTreeMap<u64, Vec<u32>>,
}

impl Inner {
    pub(super) fn drop_blob_ref(&mut self, blob: BlobId) {
        if let Some((_, refs)) = self.blobs.get_mut(&blob) {
            *refs = refs.saturating_sub(1);
            if *refs == 0 {
                self.blobs.remove(&blob);
            }
        }
    }

    pub(super) fn new_mailbox(&mut self) -> Mailbox {
        self.last_uidvalidity = next_uidvalidity(self.last_uidvalidity);
        Mailbox {
            info: new_mailbox_info(self.last_uidvalidity),
            messages: BTreeMap::new(),
            summaries: HashMap::new(),
            special_use: None,
            expunged: BTreeMap::new(),
        }
    }

    fn deliver_one(&mut self, item: &LocalDelivery) -> Result<LocalOutcome, StoreError> {
        check_name(&item.user)?;
        check_name(&item.mailbox)?;
        let Some(msg) = self.queue.get(&item.queue_id) else {
            return Ok(LocalOutcome::AlreadyDone);
        };
        // Work on a copy so that an error leaves everything untouched (the transaction).
        let mut msg = msg.clone();
        if !msg.finish_local(item.rcpt)? {
            return Ok(LocalOutcome::AlreadyDone);
        }
        let key = (item.user.clone(), item.mailbox.clone());
        if !self.mailboxes.contains_key(&key) {
            let mailbox = self.new_mailbox();
            self.mailboxes.insert(key.clone(), mailbox);
        }
        let mailbox = self.mailboxes.get_mut(&key).ok_or(StoreError::NotFound)?;
        let uid = mailbox.info.uidnext;
        mailbox.info.uidnext = uid.checked_add(1).ok_or(StoreError::Full)?;
        mailbox.info.highest_modseq += 1;
        mailbox.info.exists += 1;
        mailbox.messages.insert(
            uid,
            MessageMeta {
                uid,
                size: msg.size,
                internal_date: msg.received_at,
                flags: Vec::new(),
                modseq: mailbox.info.highest_modseq,
                blob: msg.blob,
            },
        );
        if let Some(summary) = item.summary.as_ref().or(msg.summary.as_ref()) {
            mailbox.summaries.insert(uid, summary.clone());
        }
        if msg.has_pending() {
            if let Some((_, refs)) = self.blobs.get_mut(&msg.blob) {
                *refs = refs.saturating_add(1);
            }
            self.queue.insert(msg.id, msg);
        } else {
            // The queue's reference passes to the mailbox copy.
            self.queue.remove(&msg.id);
        }
        Ok(LocalOutcome::Delivered { uid })
    }

    fn update_one(&mut self, item: &RecipientUpdate) -> Result<bool, StoreError> {
        let Some(msg) = self.queue.get(&item.queue_id) else {
            return Ok(false);
        };
        let mut msg = msg.clone();
        if !msg.apply_outcome(item.rcpt, &item.outcome)? {
            return Ok(false);
        }
        if msg.has_pending() {
            self.queue.insert(msg.id, msg);
        } else {
            self.queue.remove(&msg.id);
            self.drop_blob_ref(msg.blob);
        }
        Ok(true)
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl Store for MemoryStore {
    fn spool(&self, batch: Vec<NewMessage>) -> Result<Vec<QueueId>, StoreError> {
        if batch.iter().any(|m| m.recipients.is_empty()) {
            return Err(StoreError::Invalid("message without recipients".into()));
        }
        let mut inner = lock(&self.inner);
        let mut ids = Vec::with_capacity(batch.len());
        for msg in batch {
            inner.last_id += 1;
            let id = inner.last_id;
            inner.blobs.insert(BlobId(id), (msg.body.clone(), 1));
            inner.queue.insert(id, QueuedMessage::from_new(id, msg));
            ids.push(id);
        }
        Ok(ids)
    }

    fn queued(&self) -> Result<Vec<QueuedMessage>, StoreError> {
        Ok(lock(&self.inner)
            .queue
            .values()
            .filter(|m| m.has_pending())
            .cloned()
            .collect())
    }

    fn queued_message(&self, id: QueueId) -> Result<Option<QueuedMessage>, StoreError> {
        Ok(lock(&self.inner).queue.get(&id).cloned())
    }

    fn deliver_local(
        &self,
        items: &[LocalDelivery],
    ) -> Result<Vec<Result<LocalOutcome, StoreError>>, StoreError> {
        let mut inner = lock(&self.inner);
        Ok(items.iter().map(|item| inner.deliver_one(item)).collect())
    }

    fn update_recipients(
        &self,
        items: &[RecipientUpdate],
    ) -> Result<Vec<Result<bool, StoreError>>, StoreError> {
        let mut inner = lock(&self.inner);
        Ok(items.iter().map(|item| inner.update_one(item)).collect())
    }

    fn delete_queued(&self, id: QueueId) -> Result<bool, StoreError> {
        let mut inner = lock(&self.inner);
        let Some(msg) = inner.queue.remove(&id) else {
            return Ok(false);
        };
        inner.drop_blob_ref(msg.blob);
        Ok(true)
    }

    fn retry_now(&self, id: QueueId) -> Result<bool, StoreError> {
        Ok(lock(&self.inner)
            .queue
            .get_mut(&id)
            .is_some_and(QueuedMessage::retry_now))
    }

    fn read_blob(&self, blob: BlobId) -> Result<Bytes, StoreError> {
        lock(&self.inner)
            .blobs
            .get(&blob)
            .map(|(body, _)| body.clone())
            .ok_or(StoreError::NotFound)
    }

    fn mailbox(&self, user: &str, name: &str) -> Result<Option<MailboxInfo>, StoreError> {
        Ok(lock(&self.inner)
            .mailboxes
            .get(&(user.to_owned(), name.to_owned()))
            .map(|m| m.info))
    }

    fn create_mailbox_with(
        &self,
        user: &str,
        name: &str,
        special_use: Option<String>,
    ) -> Result<MailboxInfo, StoreError> {
        lock(&self.inner).create_mailbox_with(user, name, special_use)
    }

    fn list_mailboxes(&self, user: &str) -> Result<Vec<MailboxEntry>, StoreError> {
        Ok(lock(&self.inner).list_mailboxes(user))
    }

    fn delete_mailbox(&self, user: &str, name: &str) -> Result<(), StoreError> {
        lock(&self.inner).delete_mailbox(user, name)
    }

    fn rename_mailbox(&self, user: &str, from: &str, to: &str) -> Result<(), StoreError> {
        lock(&self.inner).rename_mailbox(user, from, to)
    }

    fn subscribe(&self, user: &str, name: &str) -> Result<(), StoreError> {
        check_name(user)?;
        check_name(name)?;
        let key = (user.to_owned(), name.to_owned());
        lock(&self.inner).subscriptions.insert(key);
        Ok(())
    }

    fn unsubscribe(&self, user: &str, name: &str) -> Result<bool, StoreError> {
        let key = (user.to_owned(), name.to_owned());
        Ok(lock(&self.inner).subscriptions.remove(&key))
    }

    fn subscriptions(&self, user: &str) -> Result<Vec<String>, StoreError> {
        Ok(lock(&self.inner)
            .subscriptions
            .iter()
            .filter(|(u, _)| u == user)
            .map(|(_, name)| name.clone())
            .collect())
    }

    fn store_flags(
        &self,
        user: &str,
        mailbox: &str,
        uids: &[u32],
        op: FlagOp,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsUpdate, StoreError> {
        let mut inner = lock(&self.inner);
        let mailbox = inner.mailbox_mut(user, mailbox)?;
        Ok(mailbox.store_flags(uids, op, flags, unchanged_since))
    }

    fn append(
        &self,
        user: &str,
        mailbox: &str,
        message: AppendMessage,
    ) -> Result<(u32, u32), StoreError> {
        lock(&self.inner).append(user, mailbox, message)
    }

    fn append_file(
        &self,
        user: &str,
        mailbox: &str,
        body: &Path,
        message: AppendMessage,
    ) -> Result<(u32, u32), StoreError> {
        super::check_file_append(&message)?;
        // Bodies live in memory in this backend: the file is read whole.
        let body = std::fs::read(body)?;
        self.append(
            user,
            mailbox,
            AppendMessage {
                body: body.into(),
                ..message
            },
        )
    }

    fn copy(&self, user: &str, from: &str, uids: &[u32], to: &str) -> Result<CopyUids, StoreError> {
        lock(&self.inner).copy(user, from, uids, to, false)
    }

    fn move_messages(
        &self,
        user: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopyUids, StoreError> {
        lock(&self.inner).copy(user, from, uids, to, true)
    }

    fn expunge_deleted(
        &self,
        user: &str,
        mailbox: &str,
        uid_subset: Option<&[u32]>,
    ) -> Result<Vec<u32>, StoreError> {
        let mut inner = lock(&self.inner);
        let uids = inner.mailbox_mut(user, mailbox)?.deleted_uids(uid_subset);
        inner.expunge_uids(user, mailbox, &uids)
    }

    fn set_summary(
        &self,
        user: &str,
        mailbox: &str,
        uid: u32,
        summary: Vec<u8>,
    ) -> Result<(), StoreError> {
        let mut inner = lock(&self.inner);
        let mailbox = inner.mailbox_mut(user, mailbox)?;
        if !mailbox.messages.contains_key(&uid) {
            return Err(StoreError::NotFound);
        }
        mailbox.summaries.insert(uid, summary);
        Ok(())
    }

    fn summaries(
        &self,
        user: &str,
        mailbox: &str,
        uids: &[u32],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut inner = lock(&self.inner);
        let mailbox = inner.mailbox_mut(user, mailbox)?;
        Ok(uids
            .iter()
            .map(|uid| mailbox.summaries.get(uid).cloned())
            .collect())
    }

    fn mailbox_changes_since(
        &self,
        user: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        let mut inner = lock(&self.inner);
        Ok(inner
            .mailbox_mut(user, mailbox)?
            .messages
            .values()
            .filter(|m| m.modseq > modseq)
            .cloned()
            .collect())
    }

    fn expunged_since(
        &self,
        user: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<u32>, StoreError> {
        let mut inner = lock(&self.inner);
        let mailbox = inner.mailbox_mut(user, mailbox)?;
        let mut uids: Vec<u32> = mailbox
            .expunged
            .range(modseq.saturating_add(1)..)
            .flat_map(|(_, uids)| uids.iter().copied())
            .collect();
        uids.sort_unstable();
        Ok(uids)
    }

    fn messages(&self, user: &str, name: &str) -> Result<Vec<MessageMeta>, StoreError> {
        lock(&self.inner)
            .mailboxes
            .get(&(user.to_owned(), name.to_owned()))
            .map(|m| m.messages.values().cloned().collect())
            .ok_or(StoreError::NotFound)
    }

    fn messages_by_uid(
        &self,
        user: &str,
        name: &str,
        uids: &[u32],
    ) -> Result<Vec<MessageMeta>, StoreError> {
        let inner = lock(&self.inner);
        let mailbox = inner
            .mailboxes
            .get(&(user.to_owned(), name.to_owned()))
            .ok_or(StoreError::NotFound)?;
        Ok(uids
            .iter()
            .filter_map(|uid| mailbox.messages.get(uid).cloned())
            .collect())
    }

    fn expunge(&self, user: &str, name: &str, uids: &[u32]) -> Result<(), StoreError> {
        lock(&self.inner).expunge_uids(user, name, uids).map(drop)
    }

    fn put_user(&self, user: UserRecord) -> Result<(), StoreError> {
        check_name(&user.address)?;
        lock(&self.inner).users.insert(user.address.clone(), user);
        Ok(())
    }

    fn user(&self, address: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(lock(&self.inner).users.get(address).cloned())
    }

    fn delete_user(&self, address: &str) -> Result<bool, StoreError> {
        let mut inner = lock(&self.inner);
        let existed = inner.users.remove(address).is_some();
        let keys: Vec<(String, String)> = inner
            .mailboxes
            .keys()
            .filter(|(user, _)| user == address)
            .cloned()
            .collect();
        inner.subscriptions.retain(|(user, _)| user != address);
        for key in keys {
            if let Some(mailbox) = inner.mailboxes.remove(&key) {
                for meta in mailbox.messages.values() {
                    inner.drop_blob_ref(meta.blob);
                }
            }
        }
        Ok(existed)
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        Ok(lock(&self.inner).users.values().cloned().collect())
    }

    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn disk_usage(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        Ok(vec![("metadata", 0), ("spool", 0)])
    }
}
