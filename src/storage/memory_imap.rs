//! The IMAP mailbox operations of the in-memory backend: mailbox create/list/delete/
//! rename, STORE, APPEND, COPY/MOVE and expunge with its history. Every function runs
//! under [`MemoryStore`](super::MemoryStore)'s one lock and checks before it changes
//! anything, so each is atomic like the sled backend's transactions.

use std::collections::BTreeMap;

use super::mailbox_ops::{apply_flags, is_deleted, is_inferior, rename_pairs};
use super::memory::{Inner, Mailbox};
use super::types::{BlobId, MailboxInfo, MessageMeta};
use super::{
    check_name, is_inbox, AppendMessage, CopyUids, FlagChange, FlagOp, FlagsUpdate, MailboxEntry,
    StoreError,
};

impl Mailbox {
    /// Take the next UID (RFC 9051 §2.3.1.1: never reused; `Full` at the end of the space).
    fn allocate_uid(&mut self) -> Result<u32, StoreError> {
        let uid = self.info.uidnext;
        self.info.uidnext = uid.checked_add(1).ok_or(StoreError::Full)?;
        Ok(uid)
    }

    /// See [`Store::store_flags`](super::Store::store_flags).
    pub(super) fn store_flags(
        &mut self,
        uids: &[u32],
        op: FlagOp,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> FlagsUpdate {
        let mut uids = uids.to_vec();
        uids.sort_unstable();
        uids.dedup();
        let modseq = self.info.highest_modseq + 1;
        let mut out = FlagsUpdate::default();
        for uid in uids {
            let Some(meta) = self.messages.get_mut(&uid) else {
                continue;
            };
            if unchanged_since.is_some_and(|since| meta.modseq > since) {
                out.modified.push(uid);
                continue;
            }
            let changed = match apply_flags(&meta.flags, op, flags) {
                Some(next) => {
                    meta.flags = next;
                    meta.modseq = modseq;
                    true
                }
                None => false,
            };
            out.updated.push(FlagChange {
                uid,
                flags: meta.flags.clone(),
                modseq: meta.modseq,
                changed,
            });
        }
        if out.updated.iter().any(|c| c.changed) {
            // RFC 7162 §3.1: one STORE is one change, whatever the number of messages.
            self.info.highest_modseq = modseq;
        }
        out
    }

    /// The `\Deleted` UIDs, limited to `subset` if given.
    pub(super) fn deleted_uids(&self, subset: Option<&[u32]>) -> Vec<u32> {
        self.messages
            .values()
            .filter(|m| is_deleted(&m.flags))
            .filter(|m| subset.is_none_or(|s| s.contains(&m.uid)))
            .map(|m| m.uid)
            .collect()
    }
}

fn key(user: &str, name: &str) -> (String, String) {
    (user.to_owned(), name.to_owned())
}

impl Inner {
    /// A mailbox, `NotFound` if it does not exist.
    pub(super) fn mailbox_mut(
        &mut self,
        user: &str,
        name: &str,
    ) -> Result<&mut Mailbox, StoreError> {
        self.mailboxes
            .get_mut(&key(user, name))
            .ok_or(StoreError::NotFound)
    }

    /// See [`Store::create_mailbox_with`](super::Store::create_mailbox_with).
    pub(super) fn create_mailbox_with(
        &mut self,
        user: &str,
        name: &str,
        special_use: Option<String>,
    ) -> Result<MailboxInfo, StoreError> {
        check_name(user)?;
        check_name(name)?;
        if self.mailboxes.contains_key(&key(user, name)) {
            return Err(StoreError::AlreadyExists);
        }
        let mut mailbox = self.new_mailbox();
        mailbox.special_use = special_use;
        let info = mailbox.info;
        self.mailboxes.insert(key(user, name), mailbox);
        Ok(info)
    }

    /// See [`Store::list_mailboxes`](super::Store::list_mailboxes).
    pub(super) fn list_mailboxes(&self, user: &str) -> Vec<MailboxEntry> {
        self.mailboxes
            .iter()
            .filter(|((u, _), _)| u == user)
            .map(|((_, name), m)| MailboxEntry {
                name: name.clone(),
                info: m.info,
                special_use: m.special_use.clone(),
            })
            .collect()
    }

    /// See [`Store::delete_mailbox`](super::Store::delete_mailbox).
    pub(super) fn delete_mailbox(&mut self, user: &str, name: &str) -> Result<(), StoreError> {
        if is_inbox(name) {
            return Err(StoreError::NotPermitted("INBOX cannot be deleted"));
        }
        let mailbox = self
            .mailboxes
            .remove(&key(user, name))
            .ok_or(StoreError::NotFound)?;
        for meta in mailbox.messages.values() {
            self.drop_blob_ref(meta.blob);
        }
        Ok(())
    }

    /// See [`Store::rename_mailbox`](super::Store::rename_mailbox).
    pub(super) fn rename_mailbox(
        &mut self,
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
        if !self.mailboxes.contains_key(&key(user, from)) {
            return Err(StoreError::NotFound);
        }
        let existing = self.list_mailboxes(user);
        let pairs = rename_pairs(existing.iter().map(|e| e.name.as_str()), from, to);
        if pairs
            .iter()
            .any(|(_, new)| self.mailboxes.contains_key(&key(user, new)))
        {
            return Err(StoreError::AlreadyExists);
        }
        if is_inbox(from) {
            return self.rename_inbox(user, from, to);
        }
        for (old, new) in pairs {
            if let Some(mailbox) = self.mailboxes.remove(&key(user, &old)) {
                self.mailboxes.insert(key(user, &new), mailbox);
            }
        }
        Ok(())
    }

    /// RFC 3501 §6.3.5: INBOX's messages go to a new mailbox; INBOX stays, empty.
    fn rename_inbox(&mut self, user: &str, inbox: &str, to: &str) -> Result<(), StoreError> {
        let mut target = self.new_mailbox();
        let source = self.mailbox_mut(user, inbox)?;
        let messages = std::mem::take(&mut source.messages);
        target.summaries = std::mem::take(&mut source.summaries);
        let uids: Vec<u32> = messages.keys().copied().collect();
        target.info.uidnext = source.info.uidnext;
        target.info.highest_modseq = source.info.highest_modseq;
        target.info.exists = source.info.exists;
        target.messages = messages;
        source.info.exists = 0;
        source.info.highest_modseq += 1;
        let modseq = source.info.highest_modseq;
        source.expunged.insert(modseq, uids);
        self.mailboxes.insert(key(user, to), target);
        Ok(())
    }

    /// See [`Store::append`](super::Store::append).
    pub(super) fn append(
        &mut self,
        user: &str,
        name: &str,
        message: AppendMessage,
    ) -> Result<(u32, u32), StoreError> {
        let flags = apply_flags(&[], FlagOp::Set, &message.flags).unwrap_or_default();
        let blob = BlobId(self.last_id + 1);
        let mailbox = self.mailbox_mut(user, name)?;
        let uid = mailbox.allocate_uid()?;
        mailbox.info.highest_modseq += 1;
        mailbox.info.exists += 1;
        mailbox.messages.insert(
            uid,
            MessageMeta {
                uid,
                size: message.body.len() as u64,
                internal_date: message.internal_date,
                flags,
                modseq: mailbox.info.highest_modseq,
                blob,
            },
        );
        if let Some(summary) = message.summary {
            mailbox.summaries.insert(uid, summary);
        }
        let uidvalidity = mailbox.info.uidvalidity;
        // Blob ids share the queue id space, as in the sled backend.
        self.last_id += 1;
        self.blobs.insert(blob, (message.body, 1));
        Ok((uidvalidity, uid))
    }

    /// See [`Store::copy`](super::Store::copy); `and_expunge` makes it a MOVE.
    pub(super) fn copy(
        &mut self,
        user: &str,
        from: &str,
        uids: &[u32],
        to: &str,
        and_expunge: bool,
    ) -> Result<CopyUids, StoreError> {
        if !self.mailboxes.contains_key(&key(user, to)) {
            return Err(StoreError::NotFound);
        }
        let source = self.mailbox_mut(user, from)?;
        let mut uids = uids.to_vec();
        uids.sort_unstable();
        uids.dedup();
        let originals: Vec<(MessageMeta, Option<Vec<u8>>)> = uids
            .iter()
            .filter_map(|uid| {
                let meta = source.messages.get(uid)?.clone();
                Some((meta, source.summaries.get(uid).cloned()))
            })
            .collect();
        let target = self.mailbox_mut(user, to)?;
        let first = target.info.uidnext;
        let count = u32::try_from(originals.len()).map_err(|_| StoreError::Full)?;
        if first.checked_add(count).is_none() {
            return Err(StoreError::Full);
        }
        let mut out = CopyUids {
            uidvalidity: target.info.uidvalidity,
            pairs: Vec::with_capacity(originals.len()),
        };
        if originals.is_empty() {
            return Ok(out);
        }
        target.info.highest_modseq += 1;
        let modseq = target.info.highest_modseq;
        let mut blobs = Vec::with_capacity(originals.len());
        for (original, summary) in originals {
            let uid = target.allocate_uid()?;
            if let Some(summary) = summary {
                target.summaries.insert(uid, summary);
            }
            out.pairs.push((original.uid, uid));
            blobs.push(original.blob);
            target.info.exists += 1;
            target.messages.insert(
                uid,
                MessageMeta {
                    uid,
                    modseq,
                    ..original
                },
            );
        }
        for blob in blobs {
            if let Some((_, refs)) = self.blobs.get_mut(&blob) {
                *refs = refs.saturating_add(1);
            }
        }
        if and_expunge {
            let moved: Vec<u32> = out.pairs.iter().map(|(src, _)| *src).collect();
            self.expunge_uids(user, from, &moved)?;
        }
        Ok(out)
    }

    /// Remove messages, drop their blob references and record the expunge; returns the
    /// UIDs that existed, ascending.
    pub(super) fn expunge_uids(
        &mut self,
        user: &str,
        name: &str,
        uids: &[u32],
    ) -> Result<Vec<u32>, StoreError> {
        let mailbox = self.mailbox_mut(user, name)?;
        let mut removed: BTreeMap<u32, BlobId> = BTreeMap::new();
        for uid in uids {
            if let Some(meta) = mailbox.messages.remove(uid) {
                mailbox.summaries.remove(uid);
                removed.insert(meta.uid, meta.blob);
            }
        }
        if removed.is_empty() {
            return Ok(Vec::new());
        }
        let gone: Vec<u32> = removed.keys().copied().collect();
        mailbox.info.exists = mailbox.info.exists.saturating_sub(gone.len() as u32);
        // RFC 7162 §3.2.10: an expunge is a change, it raises HIGHESTMODSEQ.
        mailbox.info.highest_modseq += 1;
        mailbox
            .expunged
            .insert(mailbox.info.highest_modseq, gone.clone());
        for blob in removed.into_values() {
            self.drop_blob_ref(blob);
        }
        Ok(gone)
    }
}
