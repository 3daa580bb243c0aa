//! One actor per SMTP connection (MX, submission, submissions). The actor owns a connection
//! task that feeds the pure [`smtp::Session`] and carries out its actions: replies, recipient
//! checks against the directory, AUTH against the authenticator, STARTTLS, and spooling.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::connection::{Connection, Read};
use super::session::Connected;
use super::spool_writer::{Spool, SpoolError};
use super::Services;
use crate::directory::{Resolution, Target};
use crate::metrics::{self, SessionGauge};
use crate::net::ListenerRole;
use crate::protocol::mail::Address;
use crate::protocol::smtp::{
    self, Action, AuthVerdict, RcptVerdict, Route, SpoolVerdict, Transaction,
};
use crate::storage::{DeliveryTarget, NewMessage, Notify, QueuedRecipient, Ret, StoreError};

/// Runs one SMTP connection to its end.
pub async fn run(c: Connected) {
    let session_id: u64 = rand::random();
    let span =
        tracing::debug_span!("smtp", session_id = %format!("{session_id:016x}"), peer = %c.peer);
    let _gauge = SessionGauge::new("smtp");
    let _guard = c.guard;
    let driver = Driver {
        services: c.services,
        role: c.role,
        peer: c.peer,
        session_id,
        messages: 0,
        resolved: HashMap::new(),
    };
    tracing::Instrument::instrument(driver.run(c.tcp), span).await;
}

struct Driver {
    services: Arc<Services>,
    role: ListenerRole,
    peer: SocketAddr,
    session_id: u64,
    messages: u64,
    /// Resolutions made at RCPT time, used when the message is spooled.
    resolved: HashMap<Address, Resolution>,
}

impl Driver {
    async fn run(mut self, tcp: tokio::net::TcpStream) {
        let svc = Arc::clone(&self.services);
        let timeouts = &svc.config.timeouts;
        let Some(mut conn) = Connection::open(tcp, self.role, &svc).await else {
            return;
        };
        let trusted = svc.is_trusted(self.peer.ip());
        let mut session = smtp::Session::new(svc.smtp_config(self.role), conn.is_tls(), trusted);
        conn.queue(&session.greeting());
        // When the input that the next replies answer arrived.
        let mut read_at = Instant::now();
        loop {
            let action = session.next_action();
            for event in session.take_events() {
                metrics::command("smtp", event.command, event.ok);
                metrics::command_duration("smtp", event.command, read_at.elapsed().as_secs_f64());
                if !event.ok && matches!(event.command, "DATA" | "BDAT") {
                    metrics::smtp_message(self.role.name(), "rejected");
                }
            }
            match action {
                Action::Write(bytes) => conn.queue(&bytes),
                Action::Read => {
                    if conn.flush().await.is_err() {
                        return;
                    }
                    match conn.read().await {
                        Read::Data(n) => {
                            read_at = Instant::now();
                            session.receive(conn.input(n));
                        }
                        Read::Closed => return,
                        Read::Idle => {
                            conn.queue(&session.timeout_reply());
                            break;
                        }
                        Read::Shutdown => {
                            conn.queue(&session.shutdown_reply());
                            break;
                        }
                    }
                }
                Action::CheckRecipient(address) => {
                    let verdict = self.check_recipient(address);
                    session.rcpt_verdict(verdict);
                }
                Action::Authenticate {
                    authzid,
                    authcid,
                    password,
                } => {
                    let verdict = svc
                        .auth
                        .verify(authzid.as_deref(), &authcid, &password)
                        .await;
                    metrics::auth("smtp", verdict.label());
                    let verdict = match verdict {
                        crate::auth::Verdict::Ok(user) => AuthVerdict::Ok { user },
                        crate::auth::Verdict::Invalid => AuthVerdict::Invalid,
                        crate::auth::Verdict::TempFail => AuthVerdict::TempFail,
                    };
                    session.auth_verdict(verdict);
                }
                Action::StartTls => {
                    let ok = conn
                        .start_tls(&svc.tls, timeouts.tls_handshake)
                        .await
                        .is_ok();
                    metrics::tls_handshake("smtp", ok);
                    if !ok {
                        return;
                    }
                    session.tls_established();
                }
                Action::Spool(tx) => {
                    // The client waits for this reply anyway; send what is queued first.
                    if conn.flush().await.is_err() {
                        return;
                    }
                    let verdict = self.spool(tx).await;
                    session.spool_verdict(verdict);
                }
                Action::Close => break,
            }
        }
        conn.close().await;
    }

    fn check_recipient(&mut self, address: Address) -> RcptVerdict {
        let directory = &self.services.directory;
        let mut domain = address.domain();
        // RFC 5321 §4.5.1: `RCPT TO:<postmaster>` (no domain; the session names it after
        // our hostname) must be accepted: it is postmaster of the primary domain.
        if address.local().eq_ignore_ascii_case("postmaster")
            && domain == self.services.config.hostname
            && !directory.is_local_domain(domain)
        {
            domain = directory.primary_domain().unwrap_or(domain);
        }
        let resolution = directory.resolve(address.local(), domain);
        let verdict = match &resolution {
            Resolution::Local(targets) => match targets.first() {
                Some(Target::User(user)) => RcptVerdict::Local { user: user.clone() },
                Some(Target::Remote(_)) => RcptVerdict::Local {
                    user: address.to_string(),
                },
                None => RcptVerdict::NoSuchUser,
            },
            Resolution::NoSuchUser => RcptVerdict::NoSuchUser,
            Resolution::NotLocal => RcptVerdict::NotLocal,
        };
        self.resolved.insert(address, resolution);
        verdict
    }

    /// The queue's recipients for a transaction: aliases expanded, local accounts once each.
    fn queue_recipients(&mut self, tx: &Transaction) -> Vec<QueuedRecipient> {
        let mut out: Vec<QueuedRecipient> = Vec::new();
        for rcpt in &tx.recipients {
            // RFC 3461: NOTIFY and ORCPT travel with each recipient into the queue.
            let notify = rcpt.notify.map(|n| Notify {
                success: n.success,
                failure: n.failure,
                delay: n.delay,
            });
            let mut push = |address: String, target: DeliveryTarget| {
                let duplicate = out.iter().any(|r| match (&r.target, &target) {
                    (DeliveryTarget::Local { user: a }, DeliveryTarget::Local { user: b }) => {
                        a == b
                    }
                    _ => r.address == address && r.target == target,
                });
                if !duplicate {
                    let mut queued = QueuedRecipient::new(address, target);
                    queued.notify = notify;
                    queued.orcpt = rcpt.orcpt.clone();
                    out.push(queued);
                }
            };
            let address = rcpt.address.to_string();
            match (&rcpt.route, self.resolved.get(&rcpt.address)) {
                (Route::Local { .. }, Some(Resolution::Local(targets))) => {
                    for target in targets {
                        match target {
                            Target::User(user) => push(
                                address.clone(),
                                DeliveryTarget::Local { user: user.clone() },
                            ),
                            Target::Remote(remote) => {
                                let domain = remote.rsplit('@').next().unwrap_or_default();
                                push(
                                    remote.clone(),
                                    DeliveryTarget::Remote {
                                        domain: domain.to_string(),
                                    },
                                );
                            }
                        }
                    }
                }
                (Route::Local { user }, _) => {
                    push(address, DeliveryTarget::Local { user: user.clone() })
                }
                (Route::Remote, _) => {
                    let domain = rcpt.address.domain().to_string();
                    push(address, DeliveryTarget::Remote { domain });
                }
            }
        }
        self.resolved.clear();
        out
    }

    async fn spool(&mut self, tx: Transaction) -> SpoolVerdict {
        let svc = Arc::clone(&self.services);
        self.messages += 1;
        let local_id = format!("{:016X}.{}", self.session_id, self.messages);
        let date = chrono::Utc::now();
        let header = smtp::received_header(
            &tx,
            &self.peer.ip().to_string(),
            &svc.config.hostname,
            &local_id,
            &date.to_rfc2822(),
        );
        let recipients = self.queue_recipients(&tx);
        let mut body = Vec::with_capacity(header.len() + tx.body.len());
        body.extend_from_slice(header.as_bytes());
        body.extend_from_slice(&tx.body);
        let message = NewMessage {
            sender: tx
                .sender
                .as_ref()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            recipients,
            body: Bytes::from(body),
            received_at: date.timestamp(),
            ret: tx.dsn_ret.map(|r| match r {
                smtp::DsnRet::Full => Ret::Full,
                smtp::DsnRet::Headers => Ret::Headers,
            }),
            envid: tx.dsn_envid.clone(),
            // Parsing here cost a fifth of the SMTP accept rate (measured with smtp-source):
            // the mailbox actor computes the summary at delivery instead, off this path.
            summary: None,
        };
        let listener = self.role.name();
        match svc.spool.send(Spool(message)).await {
            Ok(Ok(id)) => {
                metrics::smtp_message(listener, "accepted");
                tracing::info!(queue_id = %format!("{id:016X}"), "message queued");
                SpoolVerdict::Queued {
                    id: format!("{id:016X}"),
                }
            }
            Ok(Err(SpoolError::Store(StoreError::Full))) => {
                metrics::smtp_message(listener, "tempfail");
                SpoolVerdict::InsufficientStorage
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "message not spooled");
                metrics::smtp_message(listener, "tempfail");
                SpoolVerdict::TempFail
            }
            Err(e) => {
                tracing::error!(error = %e, "spool writer unreachable");
                metrics::smtp_message(listener, "tempfail");
                SpoolVerdict::TempFail
            }
        }
    }
}
