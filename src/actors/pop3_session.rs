//! One actor per POP3 connection (pop3 with STLS, pop3s). The connection task feeds the
//! pure [`pop3::Session`] and carries out its actions: AUTH, the maildrop lock and listing,
//! message retrieval, and the UPDATE-state expunge.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::connection::{Connection, Read};
use super::mailbox::{MaildropLock, Publish};
use super::session::Connected;
use super::Services;
use crate::metrics::{self, SessionGauge};
use crate::net::ListenerRole;
use crate::protocol::imap::session::MailboxEvent;
use crate::protocol::pop3::{self, Action, AuthVerdict, MaildropEntry, MaildropResult};
use crate::storage::MessageMeta;

/// The POP3 maildrop is the user's INBOX (RFC 1939 §3).
const MAILDROP: &str = "INBOX";

/// Runs one POP3 connection to its end.
pub async fn run(c: Connected) {
    let span = tracing::debug_span!("pop3", peer = %c.peer);
    let _gauge = SessionGauge::new("pop3");
    let _guard = c.guard;
    let driver = Driver {
        services: c.services,
        role: c.role,
        peer: c.peer,
        user: None,
        lock: None,
        messages: Vec::new(),
    };
    tracing::Instrument::instrument(driver.run(c.tcp), span).await;
}

struct Driver {
    services: Arc<Services>,
    role: ListenerRole,
    peer: SocketAddr,
    user: Option<String>,
    /// Held from a successful login to the end of the session.
    lock: Option<MaildropLock>,
    /// The maildrop as listed at login; message numbers index it.
    messages: Vec<MessageMeta>,
}

impl Driver {
    async fn run(mut self, tcp: tokio::net::TcpStream) {
        let svc = Arc::clone(&self.services);
        let timeouts = &svc.config.timeouts;
        let Some(mut conn) = Connection::open(tcp, self.role, &svc).await else {
            return;
        };
        // Clear-text passwords only over TLS or from this machine (RFC 2595 §2.1).
        let plaintext_allowed = self.peer.ip().is_loopback();
        let mut session = pop3::Session::new(svc.pop3_config(), conn.is_tls(), plaintext_allowed);
        conn.queue(&session.greeting());
        // When the input that the next replies answer arrived.
        let mut read_at = Instant::now();
        loop {
            let action = session.next_action();
            for event in session.take_events() {
                metrics::command("pop3", event.command, event.ok);
                metrics::command_duration("pop3", event.command, read_at.elapsed().as_secs_f64());
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
                Action::Authenticate {
                    authzid,
                    user,
                    password,
                } => {
                    let verdict = svc.auth.verify(authzid.as_deref(), &user, &password).await;
                    metrics::auth("pop3", verdict.label());
                    let verdict = match verdict {
                        crate::auth::Verdict::Ok(user) => AuthVerdict::Ok { user },
                        crate::auth::Verdict::Invalid => AuthVerdict::Invalid,
                        crate::auth::Verdict::TempFail => AuthVerdict::TempFail,
                    };
                    session.auth_verdict(verdict);
                }
                Action::OpenMaildrop { user } => {
                    let result = self.open_maildrop(user).await;
                    session.maildrop_opened(result);
                }
                Action::Retrieve { index, .. } => match self.read(index).await {
                    Some(content) => session.message_content(&content),
                    None => session.message_unavailable(),
                },
                Action::Update { deleted } => {
                    let ok = self.update(&deleted).await;
                    session.update_done(ok);
                }
                Action::StartTls => {
                    let ok = conn
                        .start_tls(&svc.tls, timeouts.tls_handshake)
                        .await
                        .is_ok();
                    metrics::tls_handshake("pop3", ok);
                    if !ok {
                        return;
                    }
                    session.tls_established();
                }
                Action::Close => break,
            }
        }
        // Let the next session in before this client sees the connection close.
        self.lock = None;
        conn.close().await;
    }

    async fn open_maildrop(&mut self, user: String) -> MaildropResult {
        let Some(lock) = MaildropLock::acquire(&self.services.mailboxes, &user).await else {
            return MaildropResult::InUse;
        };
        let store = Arc::clone(&self.services.store);
        let owner = user.clone();
        let listed = tokio::task::spawn_blocking(move || {
            let info = store.mailbox(&owner, MAILDROP)?;
            let messages = store.messages(&owner, MAILDROP)?;
            Ok::<_, crate::storage::StoreError>((info, messages))
        })
        .await;
        match listed {
            Ok(Ok((info, messages))) => {
                let uidvalidity = info.map_or(0, |i| i.uidvalidity);
                // RFC 1939 §7: the unique-id stays the same across sessions; UIDVALIDITY
                // and UID together never repeat for another message.
                let entries = messages
                    .iter()
                    .map(|m| MaildropEntry {
                        uidl: format!("{uidvalidity}.{}", m.uid),
                        size: m.size,
                    })
                    .collect();
                self.messages = messages;
                self.user = Some(user);
                self.lock = Some(lock);
                MaildropResult::Opened(entries)
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "maildrop listing failed");
                MaildropResult::Failed
            }
            Err(_) => MaildropResult::Failed,
        }
    }

    async fn read(&self, index: usize) -> Option<bytes::Bytes> {
        let blob = self.messages.get(index)?.blob;
        let store = Arc::clone(&self.services.store);
        tokio::task::spawn_blocking(move || store.read_blob(blob))
            .await
            .ok()?
            .ok()
    }

    async fn update(&mut self, deleted: &[usize]) -> bool {
        let Some(user) = self.user.clone() else {
            return deleted.is_empty();
        };
        let uids: Vec<u32> = deleted
            .iter()
            .filter_map(|&i| self.messages.get(i).map(|m| m.uid))
            .collect();
        if uids.is_empty() {
            return true;
        }
        let store = Arc::clone(&self.services.store);
        let (owner, gone) = (user.clone(), uids.clone());
        let expunged =
            tokio::task::spawn_blocking(move || store.expunge(&owner, MAILDROP, &gone)).await;
        let ok = matches!(expunged, Ok(Ok(())));
        if ok {
            // A POP3 deletion is an expunge for IMAP sessions on the same INBOX.
            self.services.mailboxes.get(&user).do_send(Publish {
                mailbox: MAILDROP.to_string(),
                event: MailboxEvent::Expunged(uids),
            });
        }
        ok
    }
}
