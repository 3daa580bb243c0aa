//! A unit of outbound work: the recipients of one queued message that go to one domain,
//! and what became of each of them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::storage::{BlobId, Notify, QueueId, Ret};

/// Largest body kept in memory with its job (the spool writer has it anyway), so that the
/// first attempt needs no read from the spool.
pub const MAX_INLINE_BODY: usize = 64 * 1024;
/// Most bytes of bodies kept in memory by all jobs together.
pub const INLINE_BUDGET: usize = 64 * 1024 * 1024;

/// A body carried with its job; its bytes count against a shared budget until dropped.
#[derive(Debug)]
pub struct InlineBody {
    bytes: Bytes,
    budget: Arc<AtomicUsize>,
}

impl InlineBody {
    /// Keeps `bytes` in memory if it is small and the budget allows.
    pub fn keep(bytes: &Bytes, budget: &Arc<AtomicUsize>) -> Option<Arc<InlineBody>> {
        let len = bytes.len();
        if len > MAX_INLINE_BODY {
            return None;
        }
        let taken = budget.fetch_add(len, Ordering::Relaxed);
        if taken + len > INLINE_BUDGET {
            budget.fetch_sub(len, Ordering::Relaxed);
            return None;
        }
        Some(Arc::new(InlineBody {
            bytes: bytes.clone(),
            budget: Arc::clone(budget),
        }))
    }

    /// The body.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

impl Drop for InlineBody {
    fn drop(&mut self) {
        self.budget.fetch_sub(self.bytes.len(), Ordering::Relaxed);
    }
}

/// The recipients of one message for one destination domain.
#[derive(Debug, Clone)]
pub struct Job {
    /// The queued message.
    pub queue_id: QueueId,
    /// The destination domain (the MX lookup key).
    pub domain: String,
    /// Reverse-path (`""` = null sender).
    pub sender: String,
    /// The body.
    pub blob: BlobId,
    /// The body itself, for a first attempt right after spooling (see [`MAX_INLINE_BODY`]).
    pub inline: Option<Arc<InlineBody>>,
    /// Arrival time, unix seconds (expiry and DSN Arrival-Date).
    pub received_at: i64,
    /// DSN RET of the message.
    pub ret: Option<Ret>,
    /// DSN ENVID of the message.
    pub envid: Option<String>,
    /// The recipients still pending, in RCPT order.
    pub recipients: Vec<JobRecipient>,
}

/// One pending recipient of a [`Job`].
#[derive(Debug, Clone)]
pub struct JobRecipient {
    /// Index in the queued message's recipient list.
    pub index: u32,
    /// The forward-path.
    pub address: String,
    /// DSN NOTIFY.
    pub notify: Option<Notify>,
    /// DSN ORCPT.
    pub orcpt: Option<String>,
    /// Attempts made so far.
    pub attempts: u32,
    /// Whether the "delayed" DSN went out already.
    pub delay_notified: bool,
}

/// What one attempt did to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Accepted by the remote server.
    Delivered(String),
    /// Try again later.
    Temporary(String),
    /// Never: bounce. The enhanced status code goes into the DSN.
    Permanent {
        /// The reply or error text.
        reply: String,
        /// RFC 3463 status, e.g. "5.1.1".
        status: String,
    },
}

/// The outcome of one delivery attempt of a [`Job`].
#[derive(Debug, Clone, actix::Message)]
#[rtype(result = "()")]
pub struct Report {
    /// The job attempted.
    pub job: Job,
    /// The server that answered, if one did (DSN Remote-MTA).
    pub remote_mta: Option<String>,
    /// One result per job recipient, in the same order.
    pub results: Vec<Attempt>,
}

/// The RFC 3463 status a reply text carries ("550 5.1.1 ..." → "5.1.1"), or a generic one.
pub fn status_of(reply: &str, permanent: bool) -> String {
    reply
        .split_whitespace()
        .nth(1)
        .filter(|s| {
            let parts: Vec<&str> = s.split('.').collect();
            parts.len() == 3
                && matches!(parts[0], "2" | "4" | "5")
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_string)
        .unwrap_or_else(|| if permanent { "5.0.0" } else { "4.0.0" }.to_string())
}

#[cfg(test)]
mod tests {
    use super::status_of;

    #[test]
    fn status_from_reply() {
        assert_eq!(status_of("550 5.1.1 no such user", true), "5.1.1");
        assert_eq!(status_of("550 no such user", true), "5.0.0");
        assert_eq!(status_of("451 4.x.1 odd", false), "4.0.0");
        assert_eq!(status_of("", false), "4.0.0");
    }
}
