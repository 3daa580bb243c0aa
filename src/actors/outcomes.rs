//! What a delivery report does to the queue: per recipient, delivered, deferred under the
//! retry policy, or failed (a permanent reply, or expiry after `max_age`); the DSNs that
//! follow (failure, and the one-time "delayed" notice); and the job that remains scheduled.

use std::sync::Arc;

use actix::Addr;

use super::bounce::{self, Notice, Original};
use super::job::{Attempt, Job, JobRecipient, Report};
use super::queue_manager::QueueSettings;
use super::spool_writer::{Spool, SpoolWriter};
use crate::metrics;
use crate::queue::Action;
use crate::queue::RetryPolicy;
use crate::storage::{RecipientOutcome, RecipientUpdate, Store};

/// RFC 3463 §3.5: delivery time expired.
const EXPIRED: &str = "4.4.7";

/// Now, unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Records a batch of reports with one durable store commit (not one per message); returns
/// the jobs of the recipients still to retry, and when.
pub async fn record(
    reports: Vec<Report>,
    store: Arc<dyn Store>,
    spool: Option<Addr<SpoolWriter>>,
    settings: Arc<QueueSettings>,
    policy: Arc<RetryPolicy>,
) -> Vec<(Job, i64)> {
    let now = now();
    let mut updates = Vec::new();
    let mut retries = Vec::new();
    for report in reports {
        let plan = plan(report, now, &policy);
        // The DSN goes first: the update that finishes the last recipient frees the body.
        if !plan.notices.is_empty() && !plan.job.sender.is_empty() {
            send_dsn(
                &plan.job,
                &plan.notices,
                &store,
                spool.clone(),
                &settings,
                now,
            )
            .await;
        }
        updates.extend(plan.updates);
        if !plan.retry.is_empty() {
            let job = Job {
                recipients: plan.retry,
                ..plan.job
            };
            retries.push((job, plan.due));
        }
    }
    let writer = Arc::clone(&store);
    match tokio::task::spawn_blocking(move || writer.update_recipients(&updates)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "recording delivery results failed"),
        Err(e) => tracing::error!(error = %e, "recording task failed"),
    }
    retries
}

/// What one report changes.
struct Plan {
    job: Job,
    updates: Vec<RecipientUpdate>,
    notices: Vec<Notice>,
    retry: Vec<JobRecipient>,
    due: i64,
}

/// Decides each recipient's fate under the retry policy.
fn plan(report: Report, now: i64, policy: &RetryPolicy) -> Plan {
    let Report {
        job,
        remote_mta,
        results,
    } = report;
    let mut updates = Vec::new();
    let mut notices = Vec::new();
    let mut retry: Vec<JobRecipient> = Vec::new();
    let mut due = i64::MAX;
    let (mut delivered, mut deferred, mut failed) = (0u64, 0u64, 0u64);
    let update = |rcpt: &JobRecipient, outcome| RecipientUpdate {
        queue_id: job.queue_id,
        rcpt: rcpt.index,
        outcome,
    };
    let notice = |rcpt: &JobRecipient, action, status: &str, reply: &str| Notice {
        address: rcpt.address.clone(),
        orcpt: rcpt.orcpt.clone(),
        notify: rcpt.notify,
        action,
        status: status.to_string(),
        remote_mta: remote_mta.clone(),
        diagnostic: Some(format!("smtp; {reply}")),
        last_attempt: Some(now),
        will_retry_until: (action == Action::Delayed).then(|| policy.expires_at(job.received_at)),
    };
    for (rcpt, attempt) in job.recipients.iter().zip(results) {
        match attempt {
            Attempt::Delivered(reply) => {
                delivered += 1;
                updates.push(update(rcpt, RecipientOutcome::Delivered { reply }));
            }
            Attempt::Permanent { reply, status } => {
                failed += 1;
                notices.push(notice(rcpt, Action::Failed, &status, &reply));
                updates.push(update(rcpt, RecipientOutcome::Failed { reply }));
            }
            Attempt::Temporary(reply) if policy.expired(job.received_at, now) => {
                failed += 1;
                notices.push(notice(rcpt, Action::Failed, EXPIRED, &reply));
                let reply = format!(
                    "expired after {} attempts; last: {reply}",
                    rcpt.attempts + 1
                );
                updates.push(update(rcpt, RecipientOutcome::Failed { reply }));
            }
            Attempt::Temporary(reply) => {
                deferred += 1;
                let attempts = rcpt.attempts + 1;
                let next_attempt = policy.next_attempt(attempts, now, rand::random());
                due = due.min(next_attempt);
                let mut again = rcpt.clone();
                again.attempts = attempts;
                if policy.delay_notice_due(job.received_at, now, rcpt.delay_notified) {
                    let status = super::job::status_of(&reply, false);
                    notices.push(notice(rcpt, Action::Delayed, &status, &reply));
                    again.delay_notified = true;
                }
                updates.push(update(
                    rcpt,
                    RecipientOutcome::Deferred {
                        reply,
                        next_attempt,
                    },
                ));
                if again.delay_notified && !rcpt.delay_notified {
                    updates.push(update(rcpt, RecipientOutcome::DelayNotified));
                }
                retry.push(again);
            }
        }
    }
    metrics::delivery("smtp", "delivered", delivered);
    metrics::delivery("smtp", "deferred", deferred);
    metrics::delivery("smtp", "failed", failed);
    Plan {
        job,
        updates,
        notices,
        retry,
        due,
    }
}

async fn send_dsn(
    job: &Job,
    notices: &[Notice],
    store: &Arc<dyn Store>,
    spool: Option<Addr<SpoolWriter>>,
    settings: &QueueSettings,
    now: i64,
) {
    let Some(spool) = spool else {
        tracing::error!(queue_id = job.queue_id, "no spool writer: DSN not sent");
        return;
    };
    let reader = Arc::clone(store);
    let blob = job.blob;
    let body = match tokio::task::spawn_blocking(move || reader.read_blob(blob)).await {
        Ok(Ok(body)) => body,
        _ => {
            tracing::warn!(
                queue_id = job.queue_id,
                "original unavailable: DSN not sent"
            );
            return;
        }
    };
    let original = Original {
        sender: &job.sender,
        envid: job.envid.as_deref(),
        ret: job.ret,
        received_at: job.received_at,
        body: &body,
        seed: job.queue_id,
    };
    let hostname = &settings.config.hostname;
    let Some(message) = bounce::dsn_message(hostname, &settings.directory, &original, notices, now)
    else {
        return;
    };
    match spool.send(Spool(message)).await {
        Ok(Ok(id)) => {
            tracing::info!(queue_id = job.queue_id, dsn = %format!("{id:016X}"), "DSN queued")
        }
        Ok(Err(e)) => tracing::error!(queue_id = job.queue_id, error = %e, "DSN not spooled"),
        Err(e) => tracing::error!(queue_id = job.queue_id, error = %e, "DSN not spooled"),
    }
}
