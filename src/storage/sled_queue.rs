//! The queue operations of the sled backend: recording outcomes, listing, deleting and
//! rescheduling queued messages. Each change is one sled transaction on the queue record
//! (plus the blob and segment counts when the record goes), made durable before return.

use std::time::Duration;

use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use sled::Transactional;

use super::codec::{be_u64, decode_queued, encode_queued};
use super::sled_refs::{drop_blob_ref, split_tx, tx_abort};
use super::sled_store::SledStore;
use super::types::{QueueId, QueuedMessage};
use super::{RecipientUpdate, StoreError};

/// How long recorded outcomes wait to share another caller's flush before making their own.
/// Nobody waits on them but the queue manager, which batches the reports meanwhile.
const OUTCOME_LINGER: Duration = Duration::from_millis(5);

/// Per item whether it changed anything, and the segments emptied on the way.
type Applied = (Vec<Result<bool, StoreError>>, Vec<u64>);

impl SledStore {
    /// Record remote outcomes in one transaction (each sled transaction writes and syncs
    /// its log twice, so one per item would cost two log writes per recipient), and one
    /// durable commit. If an item cannot be applied (a bad index, a corrupt record), the
    /// batch is redone one transaction per item, so only that item fails.
    pub(super) fn update_recipients_impl(
        &self,
        items: &[RecipientUpdate],
    ) -> Result<Vec<Result<bool, StoreError>>, StoreError> {
        let batch = (&self.queue, &self.blobs, &self.segments).transaction(|trees| {
            items
                .iter()
                .map(|item| apply_update(trees, item))
                .collect::<Result<Vec<_>, _>>()
        });
        let (results, emptied) = match split_tx(batch)? {
            Ok(applied) => {
                let emptied = applied.iter().filter_map(|(_, seg)| *seg).collect();
                (
                    applied
                        .into_iter()
                        .map(|(changed, _)| Ok(changed))
                        .collect(),
                    emptied,
                )
            }
            Err(_) => self.update_each(items)?,
        };
        let reclaim = self.reclaimable(emptied);
        self.durable_commit_lingering(reclaim, OUTCOME_LINGER)?;
        Ok(results)
    }

    /// The fallback of [`SledStore::update_recipients_impl`]: a transaction per item.
    fn update_each(&self, items: &[RecipientUpdate]) -> Result<Applied, StoreError> {
        let mut results = Vec::with_capacity(items.len());
        let mut emptied = Vec::new();
        for item in items {
            let outcome = (&self.queue, &self.blobs, &self.segments)
                .transaction(|trees| apply_update(trees, item));
            results.push(split_tx(outcome)?.map(|(changed, seg)| {
                emptied.extend(seg);
                changed
            }));
        }
        Ok((results, emptied))
    }

    /// Every queue entry with a Pending recipient, in id order.
    pub(super) fn queued_impl(&self) -> Result<Vec<QueuedMessage>, StoreError> {
        let mut out = Vec::new();
        for item in self.queue.iter() {
            let (key, raw) = item?;
            let msg = decode_queued(be_u64(&key)?, &raw)?;
            if msg.has_pending() {
                out.push(msg);
            }
        }
        Ok(out)
    }

    /// One queue entry.
    pub(super) fn queued_message_impl(
        &self,
        id: QueueId,
    ) -> Result<Option<QueuedMessage>, StoreError> {
        self.queue
            .get(id.to_be_bytes())?
            .map(|raw| decode_queued(id, &raw))
            .transpose()
    }

    /// Remove a queue record and its blob reference, then commit durably.
    pub(super) fn delete_queued_impl(&self, id: QueueId) -> Result<bool, StoreError> {
        let key = id.to_be_bytes();
        let outcome =
            (&self.queue, &self.blobs, &self.segments).transaction(|(queue, blobs, segments)| {
                let Some(raw) = queue.remove(&key[..])? else {
                    return Ok((false, None));
                };
                let msg = decode_queued(id, &raw).map_err(tx_abort)?;
                Ok((true, drop_blob_ref(blobs, segments, msg.blob)?))
            });
        let (existed, emptied) = split_tx(outcome)??;
        let reclaim = self.reclaimable(emptied.into_iter().collect());
        self.durable_commit(reclaim)?;
        Ok(existed)
    }

    /// Set `next_attempt = 0` on every pending recipient, then commit durably.
    pub(super) fn retry_now_impl(&self, id: QueueId) -> Result<bool, StoreError> {
        let key = id.to_be_bytes();
        let outcome = self.queue.transaction(|queue| {
            let Some(raw) = queue.get(key)? else {
                return Ok(false);
            };
            let mut msg = decode_queued(id, &raw).map_err(tx_abort)?;
            if !msg.retry_now() {
                return Ok(false);
            }
            queue.insert(&key[..], encode_queued(&msg).map_err(tx_abort)?)?;
            Ok(true)
        });
        let changed = split_tx(outcome)??;
        self.durable_commit(Vec::new())?;
        Ok(changed)
    }
}

/// One recipient's outcome inside a transaction: whether it changed anything, and the
/// segment whose last blob went with the message.
fn apply_update(
    (queue, blobs, segments): &(TransactionalTree, TransactionalTree, TransactionalTree),
    item: &RecipientUpdate,
) -> ConflictableTransactionResult<(bool, Option<u64>), StoreError> {
    let key = item.queue_id.to_be_bytes();
    let Some(raw) = queue.get(key)? else {
        return Ok((false, None));
    };
    let mut msg = decode_queued(item.queue_id, &raw).map_err(tx_abort)?;
    if !msg
        .apply_outcome(item.rcpt, &item.outcome)
        .map_err(tx_abort)?
    {
        return Ok((false, None));
    }
    if msg.has_pending() {
        queue.insert(&key[..], encode_queued(&msg).map_err(tx_abort)?)?;
        return Ok((true, None));
    }
    queue.remove(&key[..])?;
    Ok((true, drop_blob_ref(blobs, segments, msg.blob)?))
}
