//! Mailbox management in the sled backend: create (with SPECIAL-USE), list, delete,
//! rename (inferiors included, RFC 3501 §6.3.5 INBOX semantics) and subscriptions.
//!
//! sled transactions cannot scan, so delete and rename collect a mailbox's keys first and
//! then run one transaction that checks the mailbox's UIDVALIDITY and HIGHESTMODSEQ are
//! still the ones seen: every added or removed message raises HIGHESTMODSEQ, so a match
//! means the collected keys are exactly the mailbox's. On a mismatch they start over.

use std::collections::HashMap;
use std::io;

use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use sled::{IVec, Transactional};

use super::codec::{
    be_u32, decode_mailbox, decode_message, encode_mailbox, encode_ranges, expunged_key,
    mailbox_key, messages_prefix, user_prefix,
};
use super::mailbox_ops::{is_inferior, rename_pairs, uid_ranges};
use super::sled_mailbox::new_mailbox;
use super::sled_refs::{drop_blob_ref, tx_abort};
use super::sled_store::SledStore;
use super::types::MailboxInfo;
use super::{check_name, is_inbox, MailboxEntry, StoreError};

/// Attempts before a delete or rename racing with constant changes gives up.
const MAX_ROUNDS: usize = 64;

/// A mailbox's keys as collected outside the transaction.
struct Snapshot {
    /// Mailbox record key (`user NUL name`).
    key: Vec<u8>,
    /// Message and expunge-record key prefix (`user NUL name NUL`).
    prefix: Vec<u8>,
    info: MailboxInfo,
    messages: Vec<IVec>,
    expunged: Vec<IVec>,
}

impl Snapshot {
    /// Inside the transaction: the mailbox's current counters if it is unchanged since the
    /// snapshot, `None` if keys may have been added or removed meanwhile.
    fn current(
        &self,
        mailboxes: &TransactionalTree,
    ) -> ConflictableTransactionResult<Option<MailboxInfo>, StoreError> {
        let Some(raw) = mailboxes.get(&self.key)? else {
            return Ok(None);
        };
        let info = decode_mailbox(&raw).map_err(tx_abort)?;
        let same = info.uidvalidity == self.info.uidvalidity
            && info.highest_modseq == self.info.highest_modseq;
        Ok(same.then_some(info))
    }
}

/// The retryable error of an operation that kept losing races.
fn busy() -> StoreError {
    StoreError::Io(io::Error::other("mailbox kept changing; try again"))
}

/// `new_prefix` followed by what follows `old_prefix` in `key`.
fn rekey(key: &[u8], old_prefix: &[u8], new_prefix: &[u8]) -> Vec<u8> {
    let mut out = new_prefix.to_vec();
    out.extend_from_slice(&key[old_prefix.len()..]);
    out
}

impl SledStore {
    /// Collect a mailbox's keys; `None` if it does not exist.
    fn snapshot(&self, user: &str, name: &str) -> Result<Option<Snapshot>, StoreError> {
        let key = mailbox_key(user, name);
        let Some(raw) = self.mailboxes.get(&key)? else {
            return Ok(None);
        };
        let info = decode_mailbox(&raw)?;
        let prefix = messages_prefix(user, name);
        let messages = self
            .messages
            .scan_prefix(&prefix)
            .keys()
            .collect::<Result<_, _>>()?;
        let expunged = self
            .expunged
            .scan_prefix(&prefix)
            .keys()
            .collect::<Result<_, _>>()?;
        Ok(Some(Snapshot {
            key,
            prefix,
            info,
            messages,
            expunged,
        }))
    }

    /// See [`Store::create_mailbox_with`](super::Store::create_mailbox_with).
    pub(super) fn create_mailbox_impl(
        &self,
        user: &str,
        name: &str,
        special_use: Option<String>,
    ) -> Result<MailboxInfo, StoreError> {
        check_name(user)?;
        check_name(name)?;
        let key = mailbox_key(user, name);
        let info = (&self.mailboxes, &self.meta, &self.special_use).transaction(
            |(mailboxes, meta, special)| {
                if mailboxes.get(&key)?.is_some() {
                    return Err(tx_abort(StoreError::AlreadyExists));
                }
                let info = new_mailbox(meta)?;
                mailboxes.insert(key.as_slice(), &encode_mailbox(&info)[..])?;
                match &special_use {
                    Some(attr) => special.insert(key.as_slice(), attr.as_bytes())?,
                    None => special.remove(key.as_slice())?,
                };
                Ok(info)
            },
        )?;
        self.durable_commit(Vec::new())?;
        Ok(info)
    }

    /// See [`Store::list_mailboxes`](super::Store::list_mailboxes).
    pub(super) fn list_mailboxes_impl(&self, user: &str) -> Result<Vec<MailboxEntry>, StoreError> {
        let prefix = user_prefix(user);
        let mut special = HashMap::new();
        for item in self.special_use.scan_prefix(&prefix) {
            let (key, raw) = item?;
            let attr = String::from_utf8(raw.to_vec())
                .map_err(|_| StoreError::Corrupt("SPECIAL-USE is not UTF-8".into()))?;
            special.insert(key, attr);
        }
        let mut out = Vec::new();
        for item in self.mailboxes.scan_prefix(&prefix) {
            let (key, raw) = item?;
            let name = std::str::from_utf8(&key[prefix.len()..])
                .map_err(|_| StoreError::Corrupt("mailbox name is not UTF-8".into()))?;
            out.push(MailboxEntry {
                name: name.to_owned(),
                info: decode_mailbox(&raw)?,
                special_use: special.remove(&key),
            });
        }
        Ok(out)
    }

    /// See [`Store::delete_mailbox`](super::Store::delete_mailbox).
    pub(super) fn delete_mailbox_impl(&self, user: &str, name: &str) -> Result<(), StoreError> {
        if is_inbox(name) {
            return Err(StoreError::NotPermitted("INBOX cannot be deleted"));
        }
        for _ in 0..MAX_ROUNDS {
            let Some(snap) = self.snapshot(user, name)? else {
                return Err(StoreError::NotFound);
            };
            let trees = (
                &self.mailboxes,
                &self.messages,
                &self.summaries,
                &self.blobs,
                &self.segments,
                &self.special_use,
                &self.expunged,
            );
            let done = trees.transaction(
                |(mailboxes, messages, summaries, blobs, segments, special, expunged)| {
                    if snap.current(mailboxes)?.is_none() {
                        return Ok(None);
                    }
                    mailboxes.remove(snap.key.as_slice())?;
                    special.remove(snap.key.as_slice())?;
                    let mut emptied = Vec::new();
                    for key in &snap.messages {
                        summaries.remove(key)?;
                        if let Some(raw) = messages.remove(key)? {
                            let meta = decode_message(&raw).map_err(tx_abort)?;
                            emptied.extend(drop_blob_ref(blobs, segments, meta.blob)?);
                        }
                    }
                    for key in &snap.expunged {
                        expunged.remove(key)?;
                    }
                    Ok(Some(emptied))
                },
            )?;
            if let Some(emptied) = done {
                let reclaim = self.reclaimable(emptied);
                return self.durable_commit(reclaim);
            }
        }
        Err(busy())
    }

    /// See [`Store::rename_mailbox`](super::Store::rename_mailbox).
    pub(super) fn rename_mailbox_impl(
        &self,
        user: &str,
        from: &str,
        to: &str,
    ) -> Result<(), StoreError> {
        check_name(to)?;
        if is_inbox(to) || is_inferior(from, to) {
            return Err(StoreError::NotPermitted(
                "cannot rename to INBOX or below itself",
            ));
        }
        for _ in 0..MAX_ROUNDS {
            if self.mailboxes.get(mailbox_key(user, from))?.is_none() {
                return Err(StoreError::NotFound);
            }
            let names: Vec<String> = self
                .list_mailboxes_impl(user)?
                .into_iter()
                .map(|e| e.name)
                .collect();
            let mut moves = Vec::new();
            for (old, new) in rename_pairs(names.iter().map(String::as_str), from, to) {
                // An inferior deleted meanwhile simply does not move.
                if let Some(snap) = self.snapshot(user, &old)? {
                    moves.push((snap, mailbox_key(user, &new), messages_prefix(user, &new)));
                }
            }
            let trees = (
                &self.mailboxes,
                &self.messages,
                &self.summaries,
                &self.special_use,
                &self.expunged,
                &self.meta,
            );
            let done = trees.transaction(|trees| {
                let (mailboxes, messages, summaries, special, expunged, meta) = trees;
                let mut infos = Vec::with_capacity(moves.len());
                for (snap, new_key, _) in &moves {
                    let Some(info) = snap.current(mailboxes)? else {
                        return Ok(false);
                    };
                    if mailboxes.get(new_key)?.is_some() {
                        return Err(tx_abort(StoreError::AlreadyExists));
                    }
                    infos.push(info);
                }
                if is_inbox(from) {
                    let (Some((snap, new_key, new_prefix)), Some(info)) =
                        (moves.first(), infos.first())
                    else {
                        return Ok(false);
                    };
                    move_inbox(
                        snap,
                        *info,
                        new_key,
                        new_prefix,
                        mailboxes,
                        (messages, summaries),
                        expunged,
                        meta,
                    )?;
                    return Ok(true);
                }
                for (snap, new_key, new_prefix) in &moves {
                    if let Some(raw) = mailboxes.remove(snap.key.as_slice())? {
                        mailboxes.insert(new_key.as_slice(), raw)?;
                    }
                    if let Some(raw) = special.remove(snap.key.as_slice())? {
                        special.insert(new_key.as_slice(), raw)?;
                    }
                    // A summary's key is its message's key.
                    let moved = [
                        (messages, &snap.messages),
                        (summaries, &snap.messages),
                        (expunged, &snap.expunged),
                    ];
                    for (tree, keys) in moved {
                        for key in keys {
                            if let Some(raw) = tree.remove(key)? {
                                tree.insert(rekey(key, &snap.prefix, new_prefix), raw)?;
                            }
                        }
                    }
                }
                Ok(true)
            })?;
            if done {
                return self.durable_commit(Vec::new());
            }
        }
        Err(busy())
    }

    /// See [`Store::subscribe`](super::Store::subscribe).
    pub(super) fn subscribe_impl(&self, user: &str, name: &str) -> Result<(), StoreError> {
        check_name(user)?;
        check_name(name)?;
        self.subscriptions
            .insert(mailbox_key(user, name), &[][..])?;
        self.durable_commit(Vec::new())
    }

    /// See [`Store::unsubscribe`](super::Store::unsubscribe).
    pub(super) fn unsubscribe_impl(&self, user: &str, name: &str) -> Result<bool, StoreError> {
        let existed = self
            .subscriptions
            .remove(mailbox_key(user, name))?
            .is_some();
        if existed {
            self.durable_commit(Vec::new())?;
        }
        Ok(existed)
    }

    /// See [`Store::subscriptions`](super::Store::subscriptions).
    pub(super) fn subscriptions_impl(&self, user: &str) -> Result<Vec<String>, StoreError> {
        let prefix = user_prefix(user);
        self.subscriptions
            .scan_prefix(&prefix)
            .keys()
            .map(|key| {
                let key = key?;
                String::from_utf8(key[prefix.len()..].to_vec())
                    .map_err(|_| StoreError::Corrupt("subscription is not UTF-8".into()))
            })
            .collect()
    }
}

/// RFC 3501 §6.3.5: INBOX's messages move to a new mailbox (fresh UIDVALIDITY, same UIDs
/// and counters); INBOX stays, empty, its UIDs recorded as expunged at a new modseq.
#[allow(clippy::too_many_arguments)]
fn move_inbox(
    snap: &Snapshot,
    mut inbox: MailboxInfo,
    new_key: &[u8],
    new_prefix: &[u8],
    mailboxes: &TransactionalTree,
    (messages, summaries): (&TransactionalTree, &TransactionalTree),
    expunged: &TransactionalTree,
    meta: &TransactionalTree,
) -> ConflictableTransactionResult<(), StoreError> {
    let mut target = new_mailbox(meta)?;
    target.uidnext = inbox.uidnext;
    target.highest_modseq = inbox.highest_modseq;
    target.exists = inbox.exists;
    let mut uids = Vec::with_capacity(snap.messages.len());
    for key in &snap.messages {
        if let Some(raw) = summaries.remove(key)? {
            summaries.insert(rekey(key, &snap.prefix, new_prefix), raw)?;
        }
        if let Some(raw) = messages.remove(key)? {
            messages.insert(rekey(key, &snap.prefix, new_prefix), raw)?;
            uids.push(be_u32(&key[snap.prefix.len()..]).map_err(tx_abort)?);
        }
    }
    inbox.exists = 0;
    inbox.highest_modseq += 1;
    if !uids.is_empty() {
        uids.sort_unstable();
        expunged.insert(
            expunged_key(&snap.prefix, inbox.highest_modseq),
            encode_ranges(&uid_ranges(&uids)),
        )?;
    }
    mailboxes.insert(snap.key.as_slice(), &encode_mailbox(&inbox)[..])?;
    mailboxes.insert(new_key, &encode_mailbox(&target)[..])?;
    Ok(())
}
