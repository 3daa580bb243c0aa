//! Message-level IMAP operations of the sled backend: STORE, APPEND, COPY/MOVE, EXPUNGE
//! (with the per-mailbox expunge history QRESYNC needs), summaries and CONDSTORE change
//! listing. Each change is one sled transaction over the records it touches.
//!
//! Expunge history: the `expunged` tree maps `user NUL name NUL modseq(BE)` to the UID
//! ranges removed by the change with that modseq, so VANISHED (RFC 7162 §3.2.5.1) is a
//! range scan from the client's modseq.

use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use sled::Transactional;

use super::codec::{
    be_u32, decode_mailbox, decode_message, decode_ranges, encode_mailbox, encode_ranges,
    encode_record, expunged_key, mailbox_key, message_key, messages_prefix,
};
use super::mailbox_ops::{apply_flags, is_deleted, uid_ranges};
use super::sled_refs::{add_blob_ref, drop_blob_ref, tx_abort};
use super::sled_store::SledStore;
use super::types::{MailboxInfo, MessageMeta};
use super::{CopyUids, FlagChange, FlagOp, FlagsUpdate, StoreError};

/// What [`remove_messages`] removed.
struct Removed {
    /// The UIDs that existed, ascending.
    uids: Vec<u32>,
    /// Segments whose live count reached zero.
    emptied: Vec<u64>,
}

/// The message and summary trees, which share their keys.
type MessageTrees<'a> = (&'a TransactionalTree, &'a TransactionalTree);

/// Inside a transaction: remove `uids` (sorted, deduplicated) from the mailbox at `prefix`
/// with their summaries, drop their blob references and record the expunge; `info` is
/// updated, the caller writes it.
fn remove_messages(
    (messages, summaries): MessageTrees<'_>,
    blobs: &TransactionalTree,
    segments: &TransactionalTree,
    expunged: &TransactionalTree,
    prefix: &[u8],
    uids: &[u32],
    info: &mut MailboxInfo,
) -> ConflictableTransactionResult<Removed, StoreError> {
    let mut removed = Removed {
        uids: Vec::new(),
        emptied: Vec::new(),
    };
    for uid in uids {
        let key = message_key(prefix, *uid);
        let Some(raw) = messages.remove(key.as_slice())? else {
            continue;
        };
        summaries.remove(key)?;
        let meta = decode_message(&raw).map_err(tx_abort)?;
        removed
            .emptied
            .extend(drop_blob_ref(blobs, segments, meta.blob)?);
        removed.uids.push(*uid);
    }
    if !removed.uids.is_empty() {
        info.exists = info.exists.saturating_sub(removed.uids.len() as u32);
        // RFC 7162 §3.2.10: an expunge is a change, it raises HIGHESTMODSEQ.
        info.highest_modseq += 1;
        expunged.insert(
            expunged_key(prefix, info.highest_modseq),
            encode_ranges(&uid_ranges(&removed.uids)),
        )?;
    }
    Ok(removed)
}

/// Read and decode a mailbox record inside a transaction; `NotFound` aborts.
pub(super) fn tx_mailbox(
    mailboxes: &TransactionalTree,
    key: &[u8],
) -> ConflictableTransactionResult<MailboxInfo, StoreError> {
    let raw = mailboxes
        .get(key)?
        .ok_or_else(|| tx_abort(StoreError::NotFound))?;
    decode_mailbox(&raw).map_err(tx_abort)
}

fn sorted(uids: &[u32]) -> Vec<u32> {
    let mut uids = uids.to_vec();
    uids.sort_unstable();
    uids.dedup();
    uids
}

impl SledStore {
    /// See [`Store::expunge`](super::Store::expunge); returns the UIDs removed.
    pub(super) fn expunge_impl(
        &self,
        user: &str,
        name: &str,
        uids: &[u32],
    ) -> Result<Vec<u32>, StoreError> {
        self.remove_uids(user, name, &sorted(uids), false)
    }

    /// See [`Store::expunge_deleted`](super::Store::expunge_deleted).
    pub(super) fn expunge_deleted_impl(
        &self,
        user: &str,
        name: &str,
        subset: Option<&[u32]>,
    ) -> Result<Vec<u32>, StoreError> {
        let subset = subset.map(sorted);
        // Candidates from a scan; the transaction re-checks each one is still \Deleted.
        let candidates: Vec<u32> = self
            .messages_impl(user, name)?
            .into_iter()
            .filter(|m| is_deleted(&m.flags))
            .filter(|m| {
                subset
                    .as_ref()
                    .is_none_or(|s| s.binary_search(&m.uid).is_ok())
            })
            .map(|m| m.uid)
            .collect();
        self.remove_uids(user, name, &candidates, true)
    }

    /// Removes the messages `uids` (ascending) in one transaction, durable on return;
    /// with `only_deleted`, those no longer flagged `\Deleted` by then are kept.
    fn remove_uids(
        &self,
        user: &str,
        name: &str,
        uids: &[u32],
        only_deleted: bool,
    ) -> Result<Vec<u32>, StoreError> {
        let key = mailbox_key(user, name);
        let prefix = messages_prefix(user, name);
        let trees = (
            &self.mailboxes,
            &self.messages,
            &self.summaries,
            &self.blobs,
            &self.segments,
            &self.expunged,
        );
        let removed = trees.transaction(|trees| {
            let (mailboxes, messages, summaries, blobs, segments, expunged) = trees;
            let mut info = tx_mailbox(mailboxes, &key)?;
            let mut still = Vec::with_capacity(uids.len());
            for uid in uids {
                if !only_deleted {
                    still.push(*uid);
                } else if let Some(raw) = messages.get(message_key(&prefix, *uid))? {
                    if is_deleted(&decode_message(&raw).map_err(tx_abort)?.flags) {
                        still.push(*uid);
                    }
                }
            }
            let removed = remove_messages(
                (messages, summaries),
                blobs,
                segments,
                expunged,
                &prefix,
                &still,
                &mut info,
            )?;
            if !removed.uids.is_empty() {
                mailboxes.insert(key.as_slice(), &encode_mailbox(&info)[..])?;
            }
            Ok(removed)
        })?;
        let reclaim = self.reclaimable(removed.emptied);
        self.durable_commit(reclaim)?;
        Ok(removed.uids)
    }

    /// See [`Store::store_flags`](super::Store::store_flags).
    pub(super) fn store_flags_impl(
        &self,
        user: &str,
        name: &str,
        uids: &[u32],
        op: FlagOp,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagsUpdate, StoreError> {
        let key = mailbox_key(user, name);
        let prefix = messages_prefix(user, name);
        let uids = sorted(uids);
        let update = (&self.mailboxes, &self.messages).transaction(|(mailboxes, messages)| {
            let mut info = tx_mailbox(mailboxes, &key)?;
            let modseq = info.highest_modseq + 1;
            let mut out = FlagsUpdate::default();
            for uid in &uids {
                let msg_key = message_key(&prefix, *uid);
                let Some(raw) = messages.get(&msg_key)? else {
                    continue;
                };
                let mut meta = decode_message(&raw).map_err(tx_abort)?;
                if unchanged_since.is_some_and(|since| meta.modseq > since) {
                    out.modified.push(*uid);
                    continue;
                }
                let changed = match apply_flags(&meta.flags, op, flags) {
                    Some(next) => {
                        meta.flags = next;
                        meta.modseq = modseq;
                        messages.insert(msg_key, encode_record(&meta).map_err(tx_abort)?)?;
                        true
                    }
                    None => false,
                };
                out.updated.push(FlagChange {
                    uid: *uid,
                    flags: meta.flags,
                    modseq: meta.modseq,
                    changed,
                });
            }
            if out.updated.iter().any(|c| c.changed) {
                // RFC 7162 §3.1: one STORE is one change, whatever the number of messages.
                info.highest_modseq = modseq;
                mailboxes.insert(key.as_slice(), &encode_mailbox(&info)[..])?;
            }
            Ok(out)
        })?;
        Ok(update)
    }

    /// See [`Store::copy`](super::Store::copy); `and_expunge` makes it a MOVE.
    pub(super) fn copy_impl(
        &self,
        user: &str,
        from: &str,
        uids: &[u32],
        to: &str,
        and_expunge: bool,
    ) -> Result<CopyUids, StoreError> {
        let (src_key, dst_key) = (mailbox_key(user, from), mailbox_key(user, to));
        let (src_prefix, dst_prefix) = (messages_prefix(user, from), messages_prefix(user, to));
        let same = from == to;
        let uids = sorted(uids);
        let trees = (
            &self.mailboxes,
            &self.messages,
            &self.summaries,
            &self.blobs,
            &self.segments,
            &self.expunged,
        );
        let (copied, emptied) = trees.transaction(
            |(mailboxes, messages, summaries, blobs, segments, expunged)| {
                let src = tx_mailbox(mailboxes, &src_key)?;
                let mut dst = tx_mailbox(mailboxes, &dst_key)?;
                let mut originals = Vec::with_capacity(uids.len());
                for uid in &uids {
                    let key = message_key(&src_prefix, *uid);
                    if let Some(raw) = messages.get(key.as_slice())? {
                        let summary = summaries.get(key)?;
                        originals.push((decode_message(&raw).map_err(tx_abort)?, summary));
                    }
                }
                let mut copied = CopyUids {
                    uidvalidity: dst.uidvalidity,
                    pairs: Vec::with_capacity(originals.len()),
                };
                if originals.is_empty() {
                    return Ok((copied, Vec::new()));
                }
                let count =
                    u32::try_from(originals.len()).map_err(|_| tx_abort(StoreError::Full))?;
                if dst.uidnext.checked_add(count).is_none() {
                    return Err(tx_abort(StoreError::Full));
                }
                dst.highest_modseq += 1;
                for (original, summary) in originals {
                    let uid = dst.uidnext;
                    dst.uidnext += 1;
                    dst.exists += 1;
                    copied.pairs.push((original.uid, uid));
                    add_blob_ref(blobs, original.blob)?;
                    let record = MessageMeta {
                        uid,
                        modseq: dst.highest_modseq,
                        ..original
                    };
                    let key = message_key(&dst_prefix, uid);
                    if let Some(summary) = summary {
                        summaries.insert(key.as_slice(), summary)?;
                    }
                    messages.insert(key, encode_record(&record).map_err(tx_abort)?)?;
                }
                mailboxes.insert(dst_key.as_slice(), &encode_mailbox(&dst)[..])?;
                let mut emptied = Vec::new();
                if and_expunge {
                    let mut info = if same { dst } else { src };
                    let moved: Vec<u32> = copied.pairs.iter().map(|(src, _)| *src).collect();
                    let removed = remove_messages(
                        (messages, summaries),
                        blobs,
                        segments,
                        expunged,
                        &src_prefix,
                        &moved,
                        &mut info,
                    )?;
                    emptied = removed.emptied;
                    mailboxes.insert(src_key.as_slice(), &encode_mailbox(&info)[..])?;
                }
                Ok((copied, emptied))
            },
        )?;
        let reclaim = self.reclaimable(emptied);
        self.durable_commit(reclaim)?;
        Ok(copied)
    }

    /// See [`Store::set_summary`](super::Store::set_summary).
    pub(super) fn set_summary_impl(
        &self,
        user: &str,
        name: &str,
        uid: u32,
        summary: Vec<u8>,
    ) -> Result<(), StoreError> {
        let key = message_key(&messages_prefix(user, name), uid);
        (&self.messages, &self.summaries).transaction(|(messages, summaries)| {
            if messages.get(&key)?.is_none() {
                return Err(tx_abort(StoreError::NotFound));
            }
            summaries.insert(key.as_slice(), summary.as_slice())?;
            Ok(())
        })?;
        Ok(())
    }

    /// See [`Store::summaries`](super::Store::summaries).
    pub(super) fn summaries_impl(
        &self,
        user: &str,
        name: &str,
        uids: &[u32],
    ) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if self.mailboxes.get(mailbox_key(user, name))?.is_none() {
            return Err(StoreError::NotFound);
        }
        let prefix = messages_prefix(user, name);
        let ascending = uids.windows(2).all(|w| w[0] < w[1]);
        let (Some(first), Some(last)) = (uids.first(), uids.last()) else {
            return Ok(Vec::new());
        };
        // FETCH asks for runs of consecutive UIDs: one range scan costs far less than a
        // lookup (a tree descent) per UID. Sparse or unordered lists are looked up.
        let span = u64::from(last.saturating_sub(*first)) + 1;
        if !ascending || span > 2 * uids.len() as u64 {
            return uids
                .iter()
                .map(|uid| {
                    let raw = self.summaries.get(message_key(&prefix, *uid))?;
                    Ok(raw.map(|r| r.to_vec()))
                })
                .collect();
        }
        let mut out = vec![None; uids.len()];
        let range = message_key(&prefix, *first)..=message_key(&prefix, *last);
        for item in self.summaries.range(range) {
            let (key, raw) = item?;
            let uid = be_u32(&key[prefix.len()..])?;
            if let Ok(i) = uids.binary_search(&uid) {
                out[i] = Some(raw.to_vec());
            }
        }
        Ok(out)
    }

    /// See [`Store::mailbox_changes_since`](super::Store::mailbox_changes_since).
    pub(super) fn changes_since_impl(
        &self,
        user: &str,
        name: &str,
        modseq: u64,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        let mut all = self.messages_impl(user, name)?;
        all.retain(|m| m.modseq > modseq);
        Ok(all)
    }

    /// See [`Store::expunged_since`](super::Store::expunged_since).
    pub(super) fn expunged_since_impl(
        &self,
        user: &str,
        name: &str,
        modseq: u64,
    ) -> Result<Vec<u32>, StoreError> {
        if self.mailboxes.get(mailbox_key(user, name))?.is_none() {
            return Err(StoreError::NotFound);
        }
        let prefix = messages_prefix(user, name);
        let mut uids = Vec::new();
        for item in self
            .expunged
            .range(expunged_key(&prefix, modseq.saturating_add(1))..)
        {
            let (key, raw) = item?;
            if !key.starts_with(&prefix) {
                break;
            }
            uids.extend(decode_ranges(&raw)?);
        }
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }
}
