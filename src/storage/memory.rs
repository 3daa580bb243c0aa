//! The in-memory backend: the same contract as the sled backend without persistence, for
//! tests and for running without a disk. Nothing survives the process; "durable on return"
//! degrades to "visible to every later call".
//!
//! One mutex guards all the state, so every method is atomic with respect to the others.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use bytes::Bytes;

use super::lock;
use super::types::{
    BlobId, LocalDelivery, LocalOutcome, MailboxInfo, MessageMeta, NewMessage, QueueId,
    QueuedMessage, UserRecord,
};
use super::{check_name, new_mailbox_info, next_uidvalidity, RecipientUpdate, Store, StoreError};

/// In-memory [`Store`]: everything is lost when it is dropped.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Last id handed out (ids start at 1, like the sled backend's).
    last_id: u64,
    last_uidvalidity: u32,
    queue: BTreeMap<QueueId, QueuedMessage>,
    /// Body and reference count (queue entry + mailbox copies).
    blobs: HashMap<BlobId, (Bytes, u32)>,
    mailboxes: BTreeMap<(String, String), Mailbox>,
    users: BTreeMap<String, UserRecord>,
}

struct Mailbox {
    info: MailboxInfo,
    messages: BTreeMap<u32, MessageMeta>,
}

impl Inner {
    fn drop_blob_ref(&mut self, blob: BlobId) {
        if let Some((_, refs)) = self.blobs.get_mut(&blob) {
            *refs = refs.saturating_sub(1);
            if *refs == 0 {
                self.blobs.remove(&blob);
            }
        }
    }

    fn new_mailbox(&mut self) -> Mailbox {
        self.last_uidvalidity = next_uidvalidity(self.last_uidvalidity);
        Mailbox {
            info: new_mailbox_info(self.last_uidvalidity),
            messages: BTreeMap::new(),
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

    fn create_mailbox(&self, user: &str, name: &str) -> Result<MailboxInfo, StoreError> {
        check_name(user)?;
        check_name(name)?;
        let mut inner = lock(&self.inner);
        let key = (user.to_owned(), name.to_owned());
        if inner.mailboxes.contains_key(&key) {
            return Err(StoreError::AlreadyExists);
        }
        let mailbox = inner.new_mailbox();
        let info = mailbox.info;
        inner.mailboxes.insert(key, mailbox);
        Ok(info)
    }

    fn messages(&self, user: &str, name: &str) -> Result<Vec<MessageMeta>, StoreError> {
        lock(&self.inner)
            .mailboxes
            .get(&(user.to_owned(), name.to_owned()))
            .map(|m| m.messages.values().cloned().collect())
            .ok_or(StoreError::NotFound)
    }

    fn expunge(&self, user: &str, name: &str, uids: &[u32]) -> Result<(), StoreError> {
        let mut inner = lock(&self.inner);
        let mailbox = inner
            .mailboxes
            .get_mut(&(user.to_owned(), name.to_owned()))
            .ok_or(StoreError::NotFound)?;
        let removed: Vec<BlobId> = uids
            .iter()
            .filter_map(|uid| mailbox.messages.remove(uid))
            .map(|m| m.blob)
            .collect();
        if !removed.is_empty() {
            mailbox.info.exists = mailbox.info.exists.saturating_sub(removed.len() as u32);
            mailbox.info.highest_modseq += 1;
        }
        for blob in removed {
            inner.drop_blob_ref(blob);
        }
        Ok(())
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
