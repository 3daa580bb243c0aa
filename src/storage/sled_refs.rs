//! Blob and segment reference counting inside sled transactions, shared by the spool,
//! delivery, expunge and account code of the sled backend.
//!
//! A blob record counts its references (the queue entry plus mailbox copies); a segment
//! record counts its live blobs. Both change only inside the transaction that adds or
//! removes a reference, so a crash never leaves a count out of step with the references.

use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};

use super::codec::{be_u64, BlobRecord};
use super::types::BlobId;
use super::StoreError;

/// Abort a sled transaction with a store error.
pub(super) fn tx_abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

/// Add one reference to a blob (a new mailbox copy).
pub(super) fn add_blob_ref(
    blobs: &TransactionalTree,
    blob: BlobId,
) -> ConflictableTransactionResult<(), StoreError> {
    let key = blob.0.to_be_bytes();
    let raw = blobs.get(key)?.ok_or_else(|| {
        tx_abort(StoreError::Corrupt(format!(
            "blob {} is referenced but has no record",
            blob.0
        )))
    })?;
    let mut record = BlobRecord::decode(&raw).map_err(tx_abort)?;
    record.refs = record.refs.saturating_add(1);
    blobs.insert(&key[..], &record.encode()[..])?;
    Ok(())
}

/// Drop one reference to a blob; at zero the blob record goes and its segment's live count
/// drops. Returns the segment id if that count reached zero.
pub(super) fn drop_blob_ref(
    blobs: &TransactionalTree,
    segments: &TransactionalTree,
    blob: BlobId,
) -> ConflictableTransactionResult<Option<u64>, StoreError> {
    let key = blob.0.to_be_bytes();
    let Some(raw) = blobs.get(key)? else {
        // Already gone: dropping a reference twice must not underflow another blob's count.
        tracing::warn!(blob = blob.0, "dropping a reference to a missing blob");
        return Ok(None);
    };
    let mut record = BlobRecord::decode(&raw).map_err(tx_abort)?;
    record.refs = record.refs.saturating_sub(1);
    if record.refs > 0 {
        blobs.insert(&key[..], &record.encode()[..])?;
        return Ok(None);
    }
    blobs.remove(&key[..])?;
    let seg_key = record.segment.to_be_bytes();
    let live = match segments.get(seg_key)? {
        Some(raw) => be_u64(&raw).map_err(tx_abort)?,
        None => 0,
    };
    let live = live.saturating_sub(1);
    segments.insert(&seg_key[..], &live.to_be_bytes()[..])?;
    Ok((live == 0).then_some(record.segment))
}

/// Split a transaction result into per-item (`Abort`) and whole-call (`Storage`) errors.
pub(super) fn split_tx<T>(
    result: Result<T, TransactionError<StoreError>>,
) -> Result<Result<T, StoreError>, StoreError> {
    match result {
        Ok(v) => Ok(Ok(v)),
        Err(TransactionError::Abort(e)) => Ok(Err(e)),
        Err(TransactionError::Storage(e)) => Err(e.into()),
    }
}
