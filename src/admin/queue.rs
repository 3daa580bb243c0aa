//! Queue administration: list, show, retry and delete queued messages, and a summary per
//! destination domain. Works on the store directly; the running server's queue manager is
//! told about retries and deletions so that its schedule follows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::actors::bounce::{self, Notice, Original};
use crate::actors::queue_manager::{Enqueued, Forget, RetryNow};
use crate::queue::Action;
use crate::storage::{DeliveryTarget, QueueId, QueuedMessage, RecipientState};

use super::Context;

/// One recipient of a queued message, as `hermod queue list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct QueueEntry {
    /// Queue id (hex).
    pub id: String,
    /// Envelope sender (`<>` for the null sender).
    pub sender: String,
    /// The recipient.
    pub recipient: String,
    /// local or the destination domain.
    pub destination: String,
    /// scheduled, deferred, delivered or failed.
    pub state: String,
    /// Attempts made.
    pub attempts: u32,
    /// Next attempt, unix seconds (0 = now).
    pub next_attempt: i64,
    /// The last reply or error.
    pub last_reply: Option<String>,
    /// Arrival, unix seconds.
    pub received_at: i64,
}

/// Pending recipients per destination.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DestinationSummary {
    /// The destination domain, or "local".
    pub destination: String,
    /// Pending recipients.
    pub recipients: usize,
    /// Of which deferred at least once.
    pub deferred: usize,
    /// Arrival of the oldest, unix seconds.
    pub oldest: i64,
}

/// Parses a queue id as shown (hex, leading zeros optional).
pub fn parse_id(text: &str) -> Result<QueueId, String> {
    QueueId::from_str_radix(text.trim(), 16).map_err(|_| format!("'{text}' is not a queue id"))
}

fn entries(message: &QueuedMessage) -> Vec<QueueEntry> {
    message
        .recipients
        .iter()
        .map(|(rcpt, status)| QueueEntry {
            id: format!("{:016X}", message.id),
            sender: if message.sender.is_empty() {
                "<>".into()
            } else {
                message.sender.clone()
            },
            recipient: rcpt.address.clone(),
            destination: match &rcpt.target {
                DeliveryTarget::Local { .. } => "local".into(),
                DeliveryTarget::Remote { domain } => domain.clone(),
            },
            state: match status.state {
                RecipientState::Pending if status.attempts > 0 => "deferred",
                RecipientState::Pending => "scheduled",
                RecipientState::Delivered => "delivered",
                RecipientState::Failed => "failed",
            }
            .into(),
            attempts: status.attempts,
            next_attempt: status.next_attempt,
            last_reply: status.last_reply.clone(),
            received_at: message.received_at,
        })
        .collect()
}

/// Every recipient of every queued message.
pub fn list(ctx: &Context<'_>) -> Result<Vec<QueueEntry>, String> {
    let queued = ctx.store.queued().map_err(|e| e.to_string())?;
    Ok(queued.iter().flat_map(entries).collect())
}

/// One message: its recipients and its header.
pub fn show(ctx: &Context<'_>, id: QueueId) -> Result<(Vec<QueueEntry>, String), String> {
    let message = ctx
        .store
        .queued_message(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{id:016X}: not in the queue"))?;
    let body = ctx
        .store
        .read_blob(message.blob)
        .map_err(|e| e.to_string())?;
    let end = body
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(body.len(), |p| p + 2);
    let header = String::from_utf8_lossy(&body[..end]).into_owned();
    Ok((entries(&message), header))
}

/// Makes every pending recipient due now.
pub fn retry(ctx: &Context<'_>, id: QueueId) -> Result<(), String> {
    if !ctx.store.retry_now(id).map_err(|e| e.to_string())? {
        return Err(format!("{id:016X}: not in the queue"));
    }
    if let Some(queue) = ctx.queue {
        queue.do_send(RetryNow(id));
    }
    Ok(())
}

/// Deletes a message; with `bounce`, its sender first gets a failure DSN for every
/// recipient still pending.
pub fn delete(ctx: &Context<'_>, id: QueueId, bounce: bool) -> Result<(), String> {
    let message = ctx
        .store
        .queued_message(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{id:016X}: not in the queue"))?;
    if bounce {
        send_bounce(ctx, &message)?;
    }
    ctx.store.delete_queued(id).map_err(|e| e.to_string())?;
    if let Some(queue) = ctx.queue {
        queue.do_send(Forget(id));
    }
    Ok(())
}

fn send_bounce(ctx: &Context<'_>, message: &QueuedMessage) -> Result<(), String> {
    let body = ctx
        .store
        .read_blob(message.blob)
        .map_err(|e| e.to_string())?;
    let now = chrono::Utc::now().timestamp();
    let notices: Vec<Notice> = message
        .recipients
        .iter()
        .filter(|(_, s)| s.is_pending())
        .map(|(r, s)| Notice {
            address: r.address.clone(),
            orcpt: r.orcpt.clone(),
            notify: r.notify,
            action: Action::Failed,
            // RFC 3463 §3.5: the message was deleted by the administrator.
            status: "5.3.0".into(),
            remote_mta: None,
            diagnostic: Some(format!(
                "x-hermod; deleted from the queue by the postmaster{}",
                s.last_reply
                    .as_ref()
                    .map(|r| format!("; last reply: {r}"))
                    .unwrap_or_default()
            )),
            last_attempt: Some(now),
            will_retry_until: None,
        })
        .collect();
    let original = Original {
        sender: &message.sender,
        envid: message.envid.as_deref(),
        ret: message.ret,
        received_at: message.received_at,
        body: &body,
        seed: message.id,
    };
    let Some(dsn) = bounce::dsn_message(
        &ctx.config.hostname,
        ctx.directory,
        &original,
        &notices,
        now,
    ) else {
        return Ok(());
    };
    let ids = ctx.store.spool(vec![dsn]).map_err(|e| e.to_string())?;
    if let Some(queue) = ctx.queue {
        let spooled: Vec<(QueuedMessage, Option<bytes::Bytes>)> = ids
            .iter()
            .filter_map(|id| ctx.store.queued_message(*id).ok().flatten())
            .map(|m| (m, None))
            .collect();
        queue.do_send(Enqueued(spooled));
    }
    Ok(())
}

/// Pending recipients per destination, busiest first.
pub fn summary(ctx: &Context<'_>) -> Result<Vec<DestinationSummary>, String> {
    let mut by: BTreeMap<String, DestinationSummary> = BTreeMap::new();
    for entry in list(ctx)? {
        if !matches!(entry.state.as_str(), "scheduled" | "deferred") {
            continue;
        }
        let row = by
            .entry(entry.destination.clone())
            .or_insert(DestinationSummary {
                destination: entry.destination.clone(),
                recipients: 0,
                deferred: 0,
                oldest: entry.received_at,
            });
        row.recipients += 1;
        row.deferred += usize::from(entry.state == "deferred");
        row.oldest = row.oldest.min(entry.received_at);
    }
    let mut rows: Vec<_> = by.into_values().collect();
    rows.sort_by(|a, b| {
        b.recipients
            .cmp(&a.recipients)
            .then(a.destination.cmp(&b.destination))
    });
    Ok(rows)
}
