//! The [`Store`] trait implementation of [`SledStore`]: each method delegates to the
//! file holding that concern (`sled_store` spool and blobs, `sled_queue`, `sled_mailbox`,
//! `sled_folders`, `sled_imap`).

use std::path::Path;

use super::sled_store::SledStore;
use super::types::{
    BlobId, LocalDelivery, LocalOutcome, MailboxInfo, MessageMeta, QueueId, QueuedMessage,
    UserRecord,
};
use super::{
    AppendMessage, CopyUids, FlagOp, FlagsUpdate, MailboxEntry, NewMessage, RecipientUpdate, Store,
    StoreError,
};

impl Store for SledStore {
    fn spool(&self, batch: Vec<NewMessage>) -> Result<Vec<QueueId>, StoreError> {
        self.spool_batch(batch)
    }

    fn queued(&self) -> Result<Vec<QueuedMessage>, StoreError> {
        self.queued_impl()
    }

    fn queued_message(&self, id: QueueId) -> Result<Option<QueuedMessage>, StoreError> {
        self.queued_message_impl(id)
    }

    fn deliver_local(
        &self,
        items: &[LocalDelivery],
    ) -> Result<Vec<Result<LocalOutcome, StoreError>>, StoreError> {
        self.deliver_local_impl(items)
    }

    fn update_recipients(
        &self,
        items: &[RecipientUpdate],
    ) -> Result<Vec<Result<bool, StoreError>>, StoreError> {
        self.update_recipients_impl(items)
    }

    fn delete_queued(&self, id: QueueId) -> Result<bool, StoreError> {
        self.delete_queued_impl(id)
    }

    fn retry_now(&self, id: QueueId) -> Result<bool, StoreError> {
        self.retry_now_impl(id)
    }

    fn read_blob(&self, blob: BlobId) -> Result<bytes::Bytes, StoreError> {
        self.read_blob_impl(blob)
    }

    fn mailbox(&self, user: &str, name: &str) -> Result<Option<MailboxInfo>, StoreError> {
        self.mailbox_impl(user, name)
    }

    fn create_mailbox_with(
        &self,
        user: &str,
        name: &str,
        special_use: Option<String>,
    ) -> Result<MailboxInfo, StoreError> {
        self.create_mailbox_impl(user, name, special_use)
    }

    fn list_mailboxes(&self, user: &str) -> Result<Vec<MailboxEntry>, StoreError> {
        self.list_mailboxes_impl(user)
    }

    fn delete_mailbox(&self, user: &str, name: &str) -> Result<(), StoreError> {
        self.delete_mailbox_impl(user, name)
    }

    fn rename_mailbox(&self, user: &str, from: &str, to: &str) -> Result<(), StoreError> {
        self.rename_mailbox_impl(user, from, to)
    }

    fn subscribe(&self, user: &str, name: &str) -> Result<(), StoreError> {
        self.subscribe_impl(user, name)
    }

    fn unsubscribe(&self, user: &str, name: &str) -> Result<bool, StoreError> {
        self.unsubscribe_impl(user, name)
    }

    fn subscriptions(&self, user: &str) -> Result<Vec<String>, StoreError> {
        self.subscriptions_impl(user)
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
        self.store_flags_impl(user, mailbox, uids, op, flags, unchanged_since)
    }

    fn append(
        &self,
        user: &str,
        mailbox: &str,
        message: AppendMessage,
    ) -> Result<(u32, u32), StoreError> {
        self.append_impl(user, mailbox, message, None)
    }

    fn append_file(
        &self,
        user: &str,
        mailbox: &str,
        body: &Path,
        message: AppendMessage,
    ) -> Result<(u32, u32), StoreError> {
        super::check_file_append(&message)?;
        let len = std::fs::metadata(body)?.len();
        self.append_impl(user, mailbox, message, Some((body.to_owned(), len)))
    }

    fn copy(&self, user: &str, from: &str, uids: &[u32], to: &str) -> Result<CopyUids, StoreError> {
        self.copy_impl(user, from, uids, to, false)
    }

    fn move_messages(
        &self,
        user: &str,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<CopyUids, StoreError> {
        self.copy_impl(user, from, uids, to, true)
    }

    fn expunge_deleted(
        &self,
        user: &str,
        mailbox: &str,
        uid_subset: Option<&[u32]>,
    ) -> Result<Vec<u32>, StoreError> {
        self.expunge_deleted_impl(user, mailbox, uid_subset)
    }

    fn set_summary(
        &self,
        user: &str,
        mailbox: &str,
        uid: u32,
        summary: Vec<u8>,
    ) -> Result<(), StoreError> {
        self.set_summary_impl(user, mailbox, uid, summary)
    }

    fn summaries(
        &self,
        user: &str,
        mailbox: &str,
        uids: &[u32],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.summaries_impl(user, mailbox, uids)
    }

    fn mailbox_changes_since(
        &self,
        user: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        self.changes_since_impl(user, mailbox, modseq)
    }

    fn expunged_since(
        &self,
        user: &str,
        mailbox: &str,
        modseq: u64,
    ) -> Result<Vec<u32>, StoreError> {
        self.expunged_since_impl(user, mailbox, modseq)
    }

    fn messages(&self, user: &str, name: &str) -> Result<Vec<MessageMeta>, StoreError> {
        self.messages_impl(user, name)
    }

    fn messages_by_uid(
        &self,
        user: &str,
        name: &str,
        uids: &[u32],
    ) -> Result<Vec<MessageMeta>, StoreError> {
        self.messages_by_uid_impl(user, name, uids)
    }

    fn expunge(&self, user: &str, name: &str, uids: &[u32]) -> Result<(), StoreError> {
        self.expunge_impl(user, name, uids).map(drop)
    }

    fn put_user(&self, user: UserRecord) -> Result<(), StoreError> {
        self.put_user_impl(user)
    }

    fn user(&self, address: &str) -> Result<Option<UserRecord>, StoreError> {
        self.user_impl(address)
    }

    fn delete_user(&self, address: &str) -> Result<bool, StoreError> {
        self.delete_user_impl(address)
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.users_impl()
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.sync_impl()
    }

    fn disk_usage(&self) -> Result<Vec<(&'static str, u64)>, StoreError> {
        self.disk_usage_impl()
    }
}
