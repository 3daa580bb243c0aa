//! The storage error type: the variants callers branch on (not found, exists, disk full).

use std::io;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O error other than a full disk (the operation may be retried).
    #[error("storage I/O error: {0}")]
    Io(#[source] io::Error),
    /// No space left on the device (SMTP answers `452 4.3.1`, RFC 3463).
    #[error("storage full: no space left on device")]
    Full,
    /// Stored data failed a consistency check; needs an operator.
    #[error("storage corrupt: {0}")]
    Corrupt(String),
    /// The requested record (message, mailbox, blob, recipient) does not exist.
    #[error("not found")]
    NotFound,
    /// The record to create exists already.
    #[error("already exists")]
    AlreadyExists,
    /// The operation is not allowed on this record (deleting INBOX, renaming a mailbox
    /// into its own subtree): IMAP answers `NO`.
    #[error("not permitted: {0}")]
    NotPermitted(&'static str),
    /// An argument cannot be stored (a name containing NUL, a message without recipients).
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        // ENOSPC (28) and EDQUOT (122) both mean "no room": the caller answers 452.
        if e.kind() == io::ErrorKind::StorageFull
            || e.kind() == io::ErrorKind::QuotaExceeded
            || matches!(e.raw_os_error(), Some(28) | Some(122))
        {
            StoreError::Full
        } else {
            StoreError::Io(e)
        }
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => io.into(),
            sled::Error::Corruption { at, .. } => {
                StoreError::Corrupt(format!("sled corruption at {at:?}"))
            }
            other => StoreError::Corrupt(format!("sled: {other}")),
        }
    }
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_maps_to_full() {
        let e: StoreError = io::Error::from_raw_os_error(28).into();
        assert!(matches!(e, StoreError::Full));
        let e: StoreError = io::Error::new(io::ErrorKind::StorageFull, "full").into();
        assert!(matches!(e, StoreError::Full));
        let e: StoreError = io::Error::other("boom").into();
        assert!(matches!(e, StoreError::Io(_)));
    }

    #[test]
    fn sled_io_full_maps_to_full() {
        let e: StoreError = sled::Error::Io(io::Error::from_raw_os_error(28)).into();
        assert!(matches!(e, StoreError::Full));
    }
}
