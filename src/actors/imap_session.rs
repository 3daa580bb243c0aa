//! The IMAP connection task (imap with STARTTLS, imaps): feeds the pure
//! [`imap::Session`](crate::protocol::imap::session::Session), runs its storage requests on
//! the blocking pool for the logged-in user, and connects it to its account's [`Mailbox`]
//! actor, which forwards changes made elsewhere (deliveries, other sessions, POP3) while
//! the session waits for input — IDLE included, without polling. Large APPEND literals go
//! to a [`LiteralFile`] as they arrive, and the APPEND takes its body from there.
//!
//! [`Mailbox`]: super::Mailbox

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::Addr;
use tokio::sync::mpsc;

use super::connection::{Connection, Read};
use super::imap_storage::{self, canonical};
use super::literal_file::{self, LiteralFile};
use super::mailbox::{Mailbox, Publish, Unwatch, Watch};
use super::session::Connected;
use super::Services;
use crate::metrics::{self, SessionGauge};
use crate::net::ListenerRole;
use crate::protocol::imap::session::{
    Action, LiteralStep, MailboxEvent, Reply, Request, Session, StoreErrorKind,
};
use crate::storage::StoreError;

/// Changes waiting for a session; a session that falls this far behind stops watching.
const EVENT_QUEUE: usize = 1024;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Runs one IMAP connection to its end.
pub async fn run(c: Connected) {
    let span = tracing::debug_span!("imap", peer = %c.peer);
    let _gauge = SessionGauge::new("imap");
    let _guard = c.guard;
    let (events, inbox) = mpsc::channel(EVENT_QUEUE);
    let driver = Driver {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        literal_dir: literal_file::dir(&c.services.config.data_dir),
        literal: None,
        services: c.services,
        role: c.role,
        plaintext_allowed: c.peer.ip().is_loopback(),
        user: None,
        mailbox: None,
        events,
    };
    tracing::Instrument::instrument(driver.run(c.tcp, inbox), span).await;
}

/// Times commands for `hermod_imap_command_duration_seconds`: from the moment the session
/// has dispatched a command (noted when [`Session::next_action`] returns) to the moment it
/// has produced the tagged reply, storage work included; the socket write is not, as
/// replies are flushed in batches. Commands run one at a time, so few are ever open.
#[derive(Default)]
struct CommandTimer {
    /// Serials below this have a start time (or are done).
    next: u64,
    /// Commands started and not finished: (serial, start).
    open: VecDeque<(u64, Instant)>,
}

impl CommandTimer {
    /// Bounds `open` should a session ever drop a command without answering it.
    const MAX_OPEN: usize = 64;

    fn started(&mut self, count: u64) {
        let now = Instant::now();
        while self.next < count {
            if self.open.len() >= Self::MAX_OPEN {
                self.open.pop_front();
            }
            self.open.push_back((self.next, now));
            self.next += 1;
        }
    }

    fn finished(&mut self, command: &str, serial: u64) {
        if let Some(i) = self.open.iter().position(|(s, _)| *s == serial) {
            if let Some((_, start)) = self.open.remove(i) {
                metrics::imap_command_duration(command, start.elapsed().as_secs_f64());
            }
        }
    }
}

struct Driver {
    id: u64,
    services: Arc<Services>,
    role: ListenerRole,
    plaintext_allowed: bool,
    user: Option<String>,
    /// The account's actor, once logged in.
    mailbox: Option<Addr<Mailbox>>,
    events: mpsc::Sender<(String, MailboxEvent)>,
    /// Where large literals are kept.
    literal_dir: PathBuf,
    /// The large literal being received, or received and awaiting its APPEND.
    literal: Option<LiteralFile>,
}

impl Driver {
    async fn run(
        mut self,
        tcp: tokio::net::TcpStream,
        mut inbox: mpsc::Receiver<(String, MailboxEvent)>,
    ) {
        let svc = Arc::clone(&self.services);
        let timeouts = &svc.config.timeouts;
        let Some(mut conn) = Connection::open(tcp, self.role, &svc).await else {
            return;
        };
        // LOGIN and AUTHENTICATE PLAIN in clear only over TLS or from this machine.
        let mut session = Session::new(svc.imap_config(), conn.is_tls(), self.plaintext_allowed);
        conn.queue(&session.greeting());
        let mut idling = false;
        let mut timer = CommandTimer::default();
        loop {
            let action = session.next_action();
            timer.started(session.commands_started());
            for event in session.take_events() {
                metrics::command("imap", event.command, event.ok);
                timer.finished(event.command, event.serial);
            }
            if session.is_idle() != idling {
                idling = !idling;
                metrics::imap_idle(if idling { 1.0 } else { -1.0 });
            }
            match action {
                Action::Write(bytes) => conn.queue(&bytes),
                Action::Read => {
                    if conn.flush().await.is_err() {
                        break;
                    }
                    tokio::select! {
                        read = conn.read() => match read {
                            Read::Data(n) => session.receive(conn.input(n)),
                            Read::Closed => break,
                            Read::Idle => {
                                conn.queue(b"* BYE Autologout; idle for too long\r\n");
                                break;
                            }
                            Read::Shutdown => {
                                conn.queue(b"* BYE Server shutting down\r\n");
                                break;
                            }
                        },
                        Some((mailbox, event)) = inbox.recv() => {
                            metrics::mailbox_depth_add("imap_session", -1.0);
                            session.mailbox_changed(&mailbox, event);
                        }
                    }
                }
                Action::Authenticate { user, password } => {
                    let verdict = svc.auth.verify(None, &user, &password).await;
                    metrics::auth("imap", verdict.label());
                    let user = match verdict {
                        crate::auth::Verdict::Ok(user) => Some(user),
                        _ => None,
                    };
                    if let Some(user) = &user {
                        self.mailbox = Some(svc.mailboxes.get(user));
                    }
                    self.user = user.clone();
                    session.auth_done(user);
                }
                Action::Storage(request) => {
                    let result = self.storage(request).await;
                    session.storage_done(result);
                }
                Action::Literal(step) => self.literal_step(step).await,
                Action::StartTls => {
                    let ok = conn
                        .start_tls(&svc.tls, timeouts.tls_handshake)
                        .await
                        .is_ok();
                    metrics::tls_handshake("imap", ok);
                    if !ok {
                        break;
                    }
                    session.tls_started();
                }
                Action::Close => break,
            }
        }
        if idling {
            metrics::imap_idle(-1.0);
        }
        // Mid-literal: the client left, went quiet, or the server is stopping.
        if let Some(literal) = self.literal.take() {
            literal.remove().await;
        }
        if let Some(mailbox) = &self.mailbox {
            mailbox.do_send(Unwatch(self.id));
        }
        // Changes nobody will read leave the depth gauge with the session.
        inbox.close();
        while inbox.try_recv().is_ok() {
            metrics::mailbox_depth_add("imap_session", -1.0);
        }
        conn.close().await;
    }

    /// Carries out a step of keeping a large literal. Each write is awaited before the
    /// session reads on: the disk sets the pace, not memory.
    async fn literal_step(&mut self, step: LiteralStep) {
        match step {
            LiteralStep::Begin => {
                if let Some(stale) = self.literal.take() {
                    stale.remove().await;
                }
                self.literal = Some(LiteralFile::create(&self.literal_dir).await);
            }
            LiteralStep::Chunk(bytes) => {
                if let Some(literal) = &mut self.literal {
                    literal.write(&bytes).await;
                }
            }
            LiteralStep::Discard => {
                if let Some(literal) = self.literal.take() {
                    literal.remove().await;
                }
            }
        }
    }

    /// The kept literal of a [`Request::AppendSpooled`], complete on disk, and the turn
    /// to parse it (see [`Services::large_appends`](super::Services)).
    async fn take_literal(
        &mut self,
    ) -> Result<(LiteralFile, tokio::sync::OwnedSemaphorePermit), StoreErrorKind> {
        let Some(mut literal) = self.literal.take() else {
            return Err(StoreErrorKind::Failed);
        };
        if let Err(e) = literal.finish().await {
            literal.remove().await;
            return Err(StoreErrorKind::from(&StoreError::from(e)));
        }
        let turns = Arc::clone(&self.services.large_appends);
        match turns.acquire_owned().await {
            Ok(permit) => Ok((literal, permit)),
            Err(_) => {
                literal.remove().await;
                Err(StoreErrorKind::Failed)
            }
        }
    }

    /// Runs a storage request for the logged-in user, then tells the account's other
    /// sessions what it changed; a SELECT/EXAMINE also starts watching that mailbox.
    async fn storage(&mut self, request: Request) -> Result<Reply, StoreErrorKind> {
        let Some(user) = self.user.clone() else {
            return Err(StoreErrorKind::Failed);
        };
        let literal = match request {
            Request::AppendSpooled { .. } => Some(self.take_literal().await?),
            _ => None,
        };
        let watch = match &request {
            // Only SELECT/EXAMINE move the watch: STATUS and LIST-STATUS read other
            // mailboxes while one stays selected.
            Request::Open {
                mailbox,
                select: true,
            } => Some(canonical(mailbox)),
            _ => None,
        };
        let store = Arc::clone(&self.services.store);
        let now = chrono::Utc::now().timestamp();
        let (result, events) = tokio::task::spawn_blocking(move || {
            let path = literal.as_ref().map(|(file, _)| file.path());
            let done = imap_storage::execute(store.as_ref(), &user, request, path, now);
            // The file goes here, off the arbiter, whatever the outcome (and on a panic,
            // with the closure).
            drop(literal);
            done
        })
        .await
        .unwrap_or_else(|_| (Err(StoreErrorKind::Failed), Vec::new()));
        if let Some(mailbox) = &self.mailbox {
            if let (Some(name), Ok(_)) = (watch, &result) {
                mailbox.do_send(Watch {
                    id: self.id,
                    mailbox: name,
                    events: self.events.clone(),
                });
            }
            for (name, event) in events {
                // Control-sized notifications; the actor fans them out with try_send.
                mailbox.do_send(Publish {
                    mailbox: name,
                    event,
                });
            }
        }
        result
    }
}
