//! Mailboxes and accounts in the sled backend: local delivery (one transaction per copy),
//! mailbox counters and listing, user records (account deletion clears every per-user
//! tree). The IMAP operations live in `sled_folders` and `sled_imap`.
//!
//! Keys: `mailboxes` is `user NUL name`, `messages` (and `summaries`, which holds the IMAP
//! summaries apart from the small message records) is `user NUL name NUL uid(BE)` so a
//! prefix scan lists a mailbox in UID order and `user NUL` covers all of a user's data.

use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use sled::Transactional;

use super::codec::{
    be_u32, decode_mailbox, decode_message, decode_queued, decode_record, encode_mailbox,
    encode_queued, encode_record, mailbox_key, message_key, messages_prefix, user_prefix,
};
use super::sled_refs::{add_blob_ref, drop_blob_ref, split_tx, tx_abort};
use super::sled_store::SledStore;
use super::types::{LocalDelivery, LocalOutcome, MailboxInfo, MessageMeta, UserRecord};
use super::{check_name, new_mailbox_info, next_uidvalidity, StoreError};

/// Meta key: the last UIDVALIDITY handed out.
const META_UIDVALIDITY: &[u8] = b"uidvalidity";

/// Create a mailbox's counters inside a transaction, with a fresh UIDVALIDITY.
pub(super) fn new_mailbox(
    meta: &TransactionalTree,
) -> ConflictableTransactionResult<MailboxInfo, StoreError> {
    let previous = match meta.get(META_UIDVALIDITY)? {
        Some(raw) => be_u32(&raw).map_err(tx_abort)?,
        None => 0,
    };
    let uidvalidity = next_uidvalidity(previous);
    meta.insert(META_UIDVALIDITY, &uidvalidity.to_be_bytes()[..])?;
    Ok(new_mailbox_info(uidvalidity))
}

impl SledStore {
    /// One local delivery as one transaction (see [`Store::deliver_local`]).
    ///
    /// [`Store::deliver_local`]: super::Store::deliver_local
    fn deliver_one(
        &self,
        item: &LocalDelivery,
    ) -> Result<Result<LocalOutcome, StoreError>, StoreError> {
        if let Err(e) = check_name(&item.user).and_then(|()| check_name(&item.mailbox)) {
            return Ok(Err(e));
        }
        let result = self
            .delivery_trees()
            .transaction(|trees| deliver_in(trees, item));
        split_tx(result)
    }

    fn delivery_trees(&self) -> DeliveryTrees<'_> {
        (
            &self.queue,
            &self.blobs,
            &self.mailboxes,
            &self.messages,
            &self.summaries,
            &self.meta,
        )
    }

    /// See [`Store::deliver_local`](super::Store::deliver_local). A batch is one
    /// transaction (each sled transaction writes and syncs its log twice); if any item
    /// cannot be delivered, each is redone alone so that only that one fails.
    pub(super) fn deliver_local_impl(
        &self,
        items: &[LocalDelivery],
    ) -> Result<Vec<Result<LocalOutcome, StoreError>>, StoreError> {
        let named = |item: &LocalDelivery| {
            check_name(&item.user).is_ok() && check_name(&item.mailbox).is_ok()
        };
        if items.len() > 1 && items.iter().all(named) {
            let batch = self.delivery_trees().transaction(|trees| {
                items
                    .iter()
                    .map(|item| deliver_in(trees, item))
                    .collect::<Result<Vec<_>, _>>()
            });
            if let Ok(outcomes) = split_tx(batch)? {
                return Ok(outcomes.into_iter().map(Ok).collect());
            }
        }
        items.iter().map(|item| self.deliver_one(item)).collect()
    }

    /// See [`Store::mailbox`](super::Store::mailbox).
    pub(super) fn mailbox_impl(
        &self,
        user: &str,
        name: &str,
    ) -> Result<Option<MailboxInfo>, StoreError> {
        self.mailboxes
            .get(mailbox_key(user, name))?
            .map(|raw| decode_mailbox(&raw))
            .transpose()
    }

    /// See [`Store::messages`](super::Store::messages).
    pub(super) fn messages_impl(
        &self,
        user: &str,
        name: &str,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        if self.mailboxes.get(mailbox_key(user, name))?.is_none() {
            return Err(StoreError::NotFound);
        }
        self.messages
            .scan_prefix(messages_prefix(user, name))
            .map(|item| decode_message(&item?.1))
            .collect()
    }

    /// See [`Store::messages_by_uid`](super::Store::messages_by_uid).
    pub(super) fn messages_by_uid_impl(
        &self,
        user: &str,
        name: &str,
        uids: &[u32],
    ) -> Result<Vec<MessageMeta>, StoreError> {
        if self.mailboxes.get(mailbox_key(user, name))?.is_none() {
            return Err(StoreError::NotFound);
        }
        let prefix = messages_prefix(user, name);
        let mut found = Vec::with_capacity(uids.len());
        for &uid in uids {
            if let Some(raw) = self.messages.get(message_key(&prefix, uid))? {
                found.push(decode_message(&raw)?);
            }
        }
        Ok(found)
    }

    /// See [`Store::put_user`](super::Store::put_user).
    pub(super) fn put_user_impl(&self, user: UserRecord) -> Result<(), StoreError> {
        check_name(&user.address)?;
        self.users
            .insert(user.address.as_bytes(), encode_record(&user)?)?;
        self.durable_commit(Vec::new())
    }

    /// See [`Store::user`](super::Store::user).
    pub(super) fn user_impl(&self, address: &str) -> Result<Option<UserRecord>, StoreError> {
        self.users
            .get(address.as_bytes())?
            .map(|raw| decode_record(&raw))
            .transpose()
    }

    /// See [`Store::users`](super::Store::users).
    pub(super) fn users_impl(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.users
            .iter()
            .map(|item| decode_record(&item?.1))
            .collect()
    }

    /// See [`Store::delete_user`](super::Store::delete_user).
    pub(super) fn delete_user_impl(&self, address: &str) -> Result<bool, StoreError> {
        if address.contains('\0') {
            return Ok(false);
        }
        let prefix = user_prefix(address);
        let existed = self.users.get(address.as_bytes())?.is_some();
        let mut emptied = Vec::new();
        // Transactions cannot scan: collect the keys first, then delete them in a
        // transaction, and repeat while a racing delivery added more.
        loop {
            let boxes = self
                .mailboxes
                .scan_prefix(&prefix)
                .keys()
                .collect::<Result<Vec<_>, _>>()?;
            let msgs = self
                .messages
                .scan_prefix(&prefix)
                .keys()
                .collect::<Result<Vec<_>, _>>()?;
            let mut extras = Vec::new();
            let trees = [
                &self.subscriptions,
                &self.special_use,
                &self.expunged,
                &self.summaries,
            ];
            for tree in trees {
                extras.push(
                    tree.scan_prefix(&prefix)
                        .keys()
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            let user_left = self.users.get(address.as_bytes())?.is_some();
            if boxes.is_empty() && msgs.is_empty() && !user_left && extras.iter().all(Vec::is_empty)
            {
                break;
            }
            let round = (
                &self.users,
                &self.mailboxes,
                &self.messages,
                &self.blobs,
                &self.segments,
                &self.subscriptions,
                &self.special_use,
                &self.expunged,
                &self.summaries,
            )
                .transaction(|trees| {
                    let (
                        users,
                        mailboxes,
                        messages,
                        blobs,
                        segments,
                        subs,
                        special,
                        expunged,
                        sums,
                    ) = trees;
                    let mut emptied = Vec::new();
                    users.remove(address.as_bytes())?;
                    for key in &boxes {
                        mailboxes.remove(key)?;
                    }
                    for (tree, keys) in [subs, special, expunged, sums].into_iter().zip(&extras) {
                        for key in keys {
                            tree.remove(key)?;
                        }
                    }
                    for key in &msgs {
                        if let Some(raw) = messages.remove(key)? {
                            let meta = decode_message(&raw).map_err(tx_abort)?;
                            emptied.extend(drop_blob_ref(blobs, segments, meta.blob)?);
                        }
                    }
                    Ok(emptied)
                })?;
            emptied.extend(round);
        }
        let reclaim = self.reclaimable(emptied);
        self.durable_commit(reclaim)?;
        Ok(existed)
    }
}

/// The trees one local delivery touches: queue, blobs, mailboxes, messages, summaries, meta.
type DeliveryTrees<'a> = (
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
    &'a sled::Tree,
);

/// One local delivery inside a transaction: the copy in the mailbox, the recipient done.
fn deliver_in(
    (queue, blobs, mailboxes, messages, summaries, meta): &(
        TransactionalTree,
        TransactionalTree,
        TransactionalTree,
        TransactionalTree,
        TransactionalTree,
        TransactionalTree,
    ),
    item: &LocalDelivery,
) -> ConflictableTransactionResult<LocalOutcome, StoreError> {
    let queue_key = item.queue_id.to_be_bytes();
    let mbox_key = mailbox_key(&item.user, &item.mailbox);
    let prefix = messages_prefix(&item.user, &item.mailbox);
    let Some(raw) = queue.get(queue_key)? else {
        // Removed when its last recipient was done: this one is done too.
        return Ok(LocalOutcome::AlreadyDone);
    };
    let mut msg = decode_queued(item.queue_id, &raw).map_err(tx_abort)?;
    if !msg.finish_local(item.rcpt).map_err(tx_abort)? {
        return Ok(LocalOutcome::AlreadyDone);
    }
    let mut info = match mailboxes.get(&mbox_key)? {
        Some(raw) => decode_mailbox(&raw).map_err(tx_abort)?,
        None => new_mailbox(meta)?,
    };
    let uid = info.uidnext;
    // RFC 9051 §2.3.1.1: UIDs are never reused; at the end of the space the
    // mailbox needs a new UIDVALIDITY, which is an operator's decision.
    info.uidnext = uid
        .checked_add(1)
        .ok_or_else(|| tx_abort(StoreError::Full))?;
    info.highest_modseq += 1;
    info.exists += 1;
    let meta_record = MessageMeta {
        uid,
        size: msg.size,
        internal_date: msg.received_at,
        flags: Vec::new(),
        modseq: info.highest_modseq,
        blob: msg.blob,
    };
    let msg_key = message_key(&prefix, uid);
    if let Some(summary) = item.summary.as_ref().or(msg.summary.as_ref()) {
        summaries.insert(msg_key.as_slice(), summary.as_slice())?;
    }
    messages.insert(msg_key, encode_record(&meta_record).map_err(tx_abort)?)?;
    mailboxes.insert(mbox_key.as_slice(), &encode_mailbox(&info)[..])?;
    if msg.has_pending() {
        // The mailbox copy is a new reference; the queue keeps its own.
        add_blob_ref(blobs, msg.blob)?;
        queue.insert(&queue_key[..], encode_queued(&msg).map_err(tx_abort)?)?;
    } else {
        // The queue's reference passes to the mailbox copy: the count is unchanged.
        queue.remove(&queue_key[..])?;
    }
    Ok(LocalOutcome::Delivered { uid })
}
