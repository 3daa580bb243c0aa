//! One actor per outbound connection. It pulls jobs from its [`DomainQueue`], keeps its
//! SMTP connection open between them (up to `messages_per_connection`), tries the
//! destination's hosts in order when connecting, and reports every recipient's result to
//! the queue manager.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::domain_queue::{DomainQueue, NextJob, Outbound, Route, WorkerStopped};
use super::job::{status_of, Attempt, Job, Report};
use crate::metrics;
use crate::outbound::{ClientError, Connection, OutboundEnvelope, OutboundRecipient, RcptResult};
use crate::storage::{Notify, Ret};

/// How long an idle worker keeps its connection for more work before closing it.
const LINGER: Duration = Duration::from_secs(2);

/// The worker actor.
pub struct DeliveryWorker {
    start: Option<(String, Addr<DomainQueue>, Arc<Outbound>)>,
}

impl DeliveryWorker {
    /// A worker for the destination `key`, pulling from `queue`.
    pub fn new(key: String, queue: Addr<DomainQueue>, outbound: Arc<Outbound>) -> Self {
        DeliveryWorker {
            start: Some((key, queue, outbound)),
        }
    }
}

impl Actor for DeliveryWorker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some((key, queue, outbound)) = self.start.take() {
            let span = tracing::debug_span!("delivery", destination = %key);
            let run = tracing::Instrument::instrument(work(queue, outbound), span);
            ctx.spawn(run.into_actor(self).map(|_, _, ctx| ctx.stop()));
        }
    }
}

/// An open connection and how many messages it has carried.
struct Open {
    connection: Connection,
    host: String,
    sent: usize,
    /// Opened with certificate verification: fit for every domain of the destination.
    verified: bool,
}

/// What a destination domain asks of TLS.
#[derive(Clone, Copy)]
struct TlsPolicy {
    require: bool,
    verify: bool,
}

async fn work(queue: Addr<DomainQueue>, outbound: Arc<Outbound>) {
    let mut open: Option<Open> = None;
    loop {
        // Keeps the connection a moment while idle: more mail for this destination is likely.
        let Ok(Some((job, route))) = queue.send(NextJob { linger: LINGER }).await else {
            break;
        };
        let started = Instant::now();
        let report = deliver(&outbound, &mut open, job, &route).await;
        metrics::delivery_duration(started.elapsed().as_secs_f64());
        if outbound.queue.send(report).await.is_err() {
            break;
        }
    }
    if let Some(open) = open.take() {
        close(open).await;
    }
    queue.do_send(WorkerStopped);
}

async fn close(open: Open) {
    metrics::outbound_connections(-1.0);
    open.connection.quit().await;
}

/// One attempt at one job.
async fn deliver(
    outbound: &Outbound,
    open: &mut Option<Open>,
    mut job: Job,
    route: &Route,
) -> Report {
    // Held to the end of the attempt, so the body counts against the budget while in use.
    let inline = job.inline.take();
    let body = match &inline {
        Some(inline) => inline.bytes().clone(),
        None => {
            let store = Arc::clone(&outbound.store);
            let blob = job.blob;
            match tokio::task::spawn_blocking(move || store.read_blob(blob)).await {
                Ok(Ok(body)) => body,
                _ => {
                    let unavailable = Attempt::Temporary("message body unavailable".into());
                    return everyone(job, None, unavailable);
                }
            }
        }
    };
    let policy = tls_policy(outbound, &job.domain);
    // Domains sharing an MX share connections, but a connection opened without
    // verification cannot carry mail for a domain that demands it.
    let reusable = open.as_ref().is_some_and(|o| {
        o.connection.is_usable()
            && o.sent < outbound.per_connection
            && (o.verified || !policy.verify)
    });
    if reusable {
        metrics::outbound_reuse();
    } else {
        if let Some(old) = open.take() {
            close(old).await;
        }
        match connect(outbound, route, policy).await {
            Ok(new) => *open = Some(new),
            Err(error) => return everyone(job, None, error),
        }
    }
    let Some(current) = open.as_mut() else {
        return everyone(job, None, Attempt::Temporary("no connection".into()));
    };
    let remote = Some(current.host.clone());
    if policy.require && !current.connection.is_tls() {
        let reason = Attempt::Temporary(format!(
            "{} did not offer STARTTLS, which is required for {}",
            current.host, job.domain
        ));
        return everyone(job, remote, reason);
    }
    let envelope = envelope(&job, &body);
    current.sent += 1;
    let results = current.connection.send(&envelope, &body).await;
    if !current.connection.is_usable() {
        if let Some(dead) = open.take() {
            metrics::outbound_connections(-1.0);
            drop(dead);
        }
    }
    match results {
        Ok(results) => {
            let results = results
                .into_iter()
                .map(|r| match r {
                    RcptResult::Delivered(reply) => Attempt::Delivered(reply.to_string()),
                    RcptResult::Temporary(reply) => Attempt::Temporary(reply.to_string()),
                    RcptResult::Permanent(reply) => {
                        let text = reply.to_string();
                        Attempt::Permanent {
                            status: reply
                                .enhanced
                                .clone()
                                .unwrap_or_else(|| status_of(&text, true)),
                            reply: text,
                        }
                    }
                })
                .collect();
            Report {
                job,
                remote_mta: remote,
                results,
            }
        }
        Err(error) => everyone(job, remote, attempt_of(&error)),
    }
}

/// The TLS demands configured for `domain`; verification implies requiring TLS.
fn tls_policy(outbound: &Outbound, domain: &str) -> TlsPolicy {
    let listed = |list: &[String]| list.iter().any(|d| d.eq_ignore_ascii_case(domain));
    let verify = listed(&outbound.verify_tls);
    TlsPolicy {
        require: verify || listed(&outbound.require_tls),
        verify,
    }
}

/// Connects to the first host of the route that answers, in order (RFC 5321 §5.1).
async fn connect(outbound: &Outbound, route: &Route, policy: TlsPolicy) -> Result<Open, Attempt> {
    let mut last = Attempt::Temporary("no mail server to try".into());
    let mut client = outbound.client.clone();
    if policy.verify {
        client.verify_certificates = true;
        client.require_tls = true;
    }
    let mut plain = outbound.client.clone();
    plain.starttls = false;
    let require_tls = policy.require;
    for (host, addrs) in &route.hosts {
        for addr in addrs {
            let mut connected = Connection::connect(*addr, host, &client).await;
            // Opportunistic TLS: a server whose STARTTLS handshake fails still gets the
            // mail in plain text, as other MTAs do, unless TLS is required for it.
            if let Err(ClientError::Tls(reason)) = &connected {
                if !require_tls {
                    tracing::info!(host = %host, %addr, %reason, "STARTTLS failed; retrying without TLS");
                    connected = Connection::connect(*addr, host, &plain).await;
                }
            }
            match connected {
                Ok(connection) => {
                    metrics::outbound_connections(1.0);
                    return Ok(Open {
                        connection,
                        host: host.clone(),
                        sent: 0,
                        verified: policy.verify,
                    });
                }
                Err(error) => {
                    tracing::debug!(host = %host, %addr, %error, "connection failed");
                    // A host that refuses or fails is skipped; the next MX may work.
                    last = match attempt_of(&error) {
                        Attempt::Permanent { reply, .. } => {
                            Attempt::Temporary(format!("{host}: {reply}"))
                        }
                        Attempt::Temporary(reply) => Attempt::Temporary(format!("{host}: {reply}")),
                        other => other,
                    };
                }
            }
        }
    }
    Err(last)
}

fn attempt_of(error: &ClientError) -> Attempt {
    let text = error.to_string();
    if error.is_permanent() {
        let status = match error {
            ClientError::Rejected(reply) => reply
                .enhanced
                .clone()
                .unwrap_or_else(|| status_of(&text, true)),
            ClientError::Unsupported(reason) => status_of(&format!("5xx {reason}"), true),
            _ => "5.0.0".into(),
        };
        Attempt::Permanent {
            reply: text,
            status,
        }
    } else {
        Attempt::Temporary(text)
    }
}

fn everyone(job: Job, remote_mta: Option<String>, attempt: Attempt) -> Report {
    let results = vec![attempt; job.recipients.len()];
    Report {
        job,
        remote_mta,
        results,
    }
}

fn envelope(job: &Job, body: &[u8]) -> OutboundEnvelope {
    let non_ascii = |s: &str| !s.is_ascii();
    let recipients = job
        .recipients
        .iter()
        .map(|r| OutboundRecipient {
            address: r.address.clone(),
            notify: r.notify.map(notify_param),
            orcpt: r.orcpt.clone(),
        })
        .collect::<Vec<_>>();
    let headers_end = body
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(body.len());
    OutboundEnvelope {
        smtputf8: non_ascii(&job.sender)
            || recipients.iter().any(|r| non_ascii(&r.address))
            || !body[..headers_end].is_ascii(),
        eight_bit: !body.is_ascii(),
        sender: job.sender.clone(),
        recipients,
        ret: job.ret.map(|r| match r {
            Ret::Full => "FULL".to_string(),
            Ret::Headers => "HDRS".to_string(),
        }),
        envid: job.envid.clone(),
    }
}

/// RFC 3461 §4.1 NOTIFY value.
fn notify_param(notify: Notify) -> String {
    let mut parts = Vec::new();
    if notify.success {
        parts.push("SUCCESS");
    }
    if notify.failure {
        parts.push("FAILURE");
    }
    if notify.delay {
        parts.push("DELAY");
    }
    if parts.is_empty() {
        "NEVER".into()
    } else {
        parts.join(",")
    }
}
