//! One actor per active mailbox: it batches local deliveries into store transactions (one
//! blocking call per batch, never two at once for the same mailbox), computes each new
//! message's IMAP summary there (so that FETCH never parses a message, and SMTP intake does
//! not pay for it), and holds the POP3 maildrop lock (RFC 1939 §8: one session at a time).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::dev::ArbiterHandle;
use actix::prelude::*;

use super::job::InlineBody;
use crate::metrics;
use crate::protocol::imap::encoded_summary;
use crate::protocol::imap::session::MailboxEvent;
use crate::storage::{LocalDelivery, LocalOutcome, QueueId, Store};

/// Deliveries per store call: large enough to amortize, small enough to stay responsive.
const MAX_BATCH: usize = 512;
/// Wait before retrying deliveries the store failed.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Deliver these queued recipients into this mailbox.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deliver(pub Vec<LocalItem>);

/// One queued recipient to deliver, with the message body while the spool writer's copy is
/// still in memory (otherwise it is read back from the store to summarize it).
pub struct LocalItem {
    /// What to deliver.
    pub delivery: LocalDelivery,
    /// The body, counted against the queue manager's memory budget until dropped.
    pub body: Option<Arc<InlineBody>>,
}

/// Take the POP3 lock; `None` when another session holds it.
#[derive(Message)]
#[rtype(result = "Option<u64>")]
pub struct LockMaildrop;

/// Give back the POP3 lock taken with this token.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UnlockMaildrop(pub u64);

/// Where a session hears about changes to the mailbox it has selected.
pub type EventSender = tokio::sync::mpsc::Sender<(String, MailboxEvent)>;

/// Tell this session about changes to `mailbox` (replaces its earlier watch).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Watch {
    /// The session.
    pub id: u64,
    /// The mailbox it selected.
    pub mailbox: String,
    /// Where events go.
    pub events: EventSender,
}

/// The session no longer watches anything.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unwatch(pub u64);

/// A change made by a session (or POP3), for the other watchers.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Publish {
    /// The mailbox changed.
    pub mailbox: String,
    /// What changed.
    pub event: MailboxEvent,
}

/// The per-account actor: deliveries, the POP3 lock, and IMAP change notifications.
pub struct Mailbox {
    store: Arc<dyn Store>,
    pending: Vec<LocalItem>,
    delivering: bool,
    lock: Option<u64>,
    next_token: u64,
    watchers: HashMap<u64, (String, EventSender)>,
}

impl Mailbox {
    fn new(store: Arc<dyn Store>) -> Self {
        Mailbox {
            store,
            pending: Vec::new(),
            delivering: false,
            lock: None,
            next_token: 1,
            watchers: HashMap::new(),
        }
    }

    /// Sends `event` to every session watching `mailbox`. A session too slow to take it
    /// is dropped from the watchers (it resynchronizes when it selects again).
    fn publish(&mut self, mailbox: &str, event: &MailboxEvent) {
        self.watchers.retain(|_, (name, events)| {
            if name != mailbox {
                return true;
            }
            let sent = events
                .try_send((mailbox.to_string(), event.clone()))
                .is_ok();
            if sent {
                metrics::mailbox_depth_add("imap_session", 1.0);
            }
            sent
        });
    }

    fn deliver_next(&mut self, ctx: &mut Context<Self>) {
        if self.delivering || self.pending.is_empty() {
            return;
        }
        self.delivering = true;
        let take = self.pending.len().min(MAX_BATCH);
        let items: Vec<LocalItem> = self.pending.drain(..take).collect();
        metrics::mailbox_depth_add("mailbox", -(items.len() as f64));
        let store = Arc::clone(&self.store);
        let started = Instant::now();
        let watched = self.watchers.values().any(|(name, _)| name == "INBOX");
        let work = async move {
            tokio::task::spawn_blocking(move || {
                let batch = summarized(store.as_ref(), items);
                let outcome = store.deliver_local(&batch);
                // Watching sessions need the new messages' metadata for EXISTS and FETCH.
                let appended = match (&outcome, batch.first()) {
                    (Ok(results), Some(first)) if watched => {
                        let uids: Vec<u32> = results
                            .iter()
                            .filter_map(|r| match r {
                                Ok(LocalOutcome::Delivered { uid }) => Some(*uid),
                                _ => None,
                            })
                            .collect();
                        store
                            .messages_by_uid(&first.user, "INBOX", &uids)
                            .unwrap_or_default()
                    }
                    _ => Vec::new(),
                };
                (batch, outcome, appended)
            })
            .await
        };
        ctx.spawn(work.into_actor(self).map(move |joined, act, ctx| {
            act.delivering = false;
            metrics::delivery_duration(started.elapsed().as_secs_f64());
            let mut retry = Vec::new();
            match joined {
                Ok((batch, Ok(outcomes), appended)) => {
                    if !appended.is_empty() {
                        act.publish("INBOX", &MailboxEvent::Appended(appended));
                    }
                    let (mut done, mut dup) = (0u64, 0u64);
                    for (item, outcome) in batch.into_iter().zip(outcomes) {
                        match outcome {
                            Ok(LocalOutcome::Delivered { .. }) => done += 1,
                            Ok(LocalOutcome::AlreadyDone) => dup += 1,
                            Err(e) => {
                                tracing::warn!(user = %item.user, error = %e, "delivery deferred");
                                retry.push(item);
                            }
                        }
                    }
                    metrics::delivery("local", "delivered", done);
                    metrics::queue_state("local", -((done + dup) as f64));
                }
                Ok((batch, Err(e), _)) => {
                    tracing::warn!(error = %e, count = batch.len(), "delivery batch deferred");
                    retry = batch;
                }
                Err(e) => tracing::error!(error = %e, "delivery task panicked"),
            }
            if !retry.is_empty() {
                metrics::delivery("local", "deferred", retry.len() as u64);
                ctx.run_later(RETRY_AFTER, move |act, ctx| {
                    metrics::mailbox_depth_add("mailbox", retry.len() as f64);
                    act.pending
                        .extend(retry.into_iter().map(|delivery| LocalItem {
                            delivery,
                            body: None,
                        }));
                    act.deliver_next(ctx);
                });
            }
            act.deliver_next(ctx);
        }));
    }
}

/// The deliveries of a batch with their IMAP summaries, each message parsed once however
/// many of its recipients the batch holds. A body that cannot be read leaves the summary
/// out: the delivery matters more, and FETCH computes a missing summary itself.
fn summarized(store: &dyn Store, items: Vec<LocalItem>) -> Vec<LocalDelivery> {
    let mut done: HashMap<QueueId, Option<Vec<u8>>> = HashMap::new();
    items
        .into_iter()
        .map(|LocalItem { mut delivery, body }| {
            if delivery.summary.is_none() {
                delivery.summary = done
                    .entry(delivery.queue_id)
                    .or_insert_with(|| match body {
                        Some(body) => encoded_summary(body.bytes()),
                        None => read_body(store, delivery.queue_id)
                            .and_then(|raw| encoded_summary(&raw)),
                    })
                    .clone();
            }
            delivery
        })
        .collect()
}

fn read_body(store: &dyn Store, id: QueueId) -> Option<bytes::Bytes> {
    let message = store.queued_message(id).ok().flatten()?;
    store.read_blob(message.blob).ok()
}

impl Actor for Mailbox {
    type Context = Context<Self>;
}

impl Handler<Deliver> for Mailbox {
    type Result = ();

    fn handle(&mut self, Deliver(items): Deliver, ctx: &mut Context<Self>) {
        metrics::mailbox_depth_add("mailbox", items.len() as f64);
        self.pending.extend(items);
        self.deliver_next(ctx);
    }
}

impl Handler<LockMaildrop> for Mailbox {
    type Result = Option<u64>;

    fn handle(&mut self, _: LockMaildrop, _ctx: &mut Context<Self>) -> Option<u64> {
        if self.lock.is_some() {
            return None;
        }
        let token = self.next_token;
        self.next_token += 1;
        self.lock = Some(token);
        Some(token)
    }
}

impl Handler<UnlockMaildrop> for Mailbox {
    type Result = ();

    fn handle(&mut self, UnlockMaildrop(token): UnlockMaildrop, _ctx: &mut Context<Self>) {
        if self.lock == Some(token) {
            self.lock = None;
        }
    }
}

impl Handler<Watch> for Mailbox {
    type Result = ();

    fn handle(&mut self, watch: Watch, _ctx: &mut Context<Self>) {
        self.watchers
            .insert(watch.id, (watch.mailbox, watch.events));
    }
}

impl Handler<Unwatch> for Mailbox {
    type Result = ();

    fn handle(&mut self, Unwatch(id): Unwatch, _ctx: &mut Context<Self>) {
        self.watchers.remove(&id);
    }
}

impl Handler<Publish> for Mailbox {
    type Result = ();

    fn handle(&mut self, publish: Publish, _ctx: &mut Context<Self>) {
        self.publish(&publish.mailbox, &publish.event);
    }
}

/// Holds a POP3 maildrop lock; dropping it (session end, error, panic) releases it.
pub struct MaildropLock {
    mailbox: Addr<Mailbox>,
    token: u64,
}

impl MaildropLock {
    /// Takes the lock of `user`'s maildrop, or None when another session has it.
    pub async fn acquire(registry: &MailboxRegistry, user: &str) -> Option<MaildropLock> {
        let mailbox = registry.get(user);
        let token = mailbox.send(LockMaildrop).await.ok().flatten()?;
        Some(MaildropLock { mailbox, token })
    }
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        // A control message: it must get through even when the inbox is busy.
        self.mailbox.do_send(UnlockMaildrop(self.token));
    }
}

/// Finds or starts the actor of a mailbox, spreading them over the arbiters.
#[derive(Clone)]
pub struct MailboxRegistry {
    inner: Arc<Registry>,
}

struct Registry {
    store: Arc<dyn Store>,
    arbiters: Vec<ArbiterHandle>,
    next: AtomicUsize,
    actors: Mutex<HashMap<String, Addr<Mailbox>>>,
}

impl MailboxRegistry {
    /// A registry starting mailbox actors on `arbiters` (at least one).
    pub fn new(store: Arc<dyn Store>, arbiters: Vec<ArbiterHandle>) -> Self {
        MailboxRegistry {
            inner: Arc::new(Registry {
                store,
                arbiters,
                next: AtomicUsize::new(0),
                actors: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The actor of `user`'s mailboxes, started on first use.
    pub fn get(&self, user: &str) -> Addr<Mailbox> {
        let inner = &self.inner;
        let mut actors = inner.actors.lock().unwrap_or_else(|p| p.into_inner());
        match actors.get(user) {
            Some(addr) if addr.connected() => return addr.clone(),
            // Mailbox actors never stop on their own: this one failed and is replaced.
            Some(_) => metrics::actor_restart("mailbox"),
            None => {}
        }
        let i = inner.next.fetch_add(1, Ordering::Relaxed) % inner.arbiters.len();
        let store = Arc::clone(&inner.store);
        let addr = Mailbox::start_in_arbiter(&inner.arbiters[i], move |_| Mailbox::new(store));
        actors.insert(user.to_string(), addr.clone());
        addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{DeliveryTarget, MemoryStore, NewMessage, QueuedRecipient};
    use std::sync::atomic::AtomicUsize;

    fn spooled(store: &MemoryStore, subject: &str) -> QueueId {
        let new = NewMessage {
            sender: "s@client.test".into(),
            recipients: vec![QueuedRecipient::new(
                "a@example.test",
                DeliveryTarget::Local { user: "a".into() },
            )],
            body: bytes::Bytes::from(format!("Subject: {subject}\r\n\r\nbody\r\n")),
            ..NewMessage::default()
        };
        store.spool(vec![new]).unwrap()[0]
    }

    fn item(queue_id: QueueId, body: Option<Arc<InlineBody>>) -> LocalItem {
        LocalItem {
            delivery: LocalDelivery {
                queue_id,
                rcpt: 0,
                user: "a".into(),
                mailbox: "INBOX".into(),
                summary: None,
            },
            body,
        }
    }

    fn envelope(delivery: &LocalDelivery) -> String {
        let raw = delivery.summary.as_deref().expect("summarized");
        postcard::from_bytes::<crate::protocol::imap::MessageSummary>(raw)
            .unwrap()
            .envelope
    }

    #[test]
    fn bodies_in_memory_or_on_disk_are_summarized() {
        let store = MemoryStore::new();
        let on_disk = spooled(&store, "from disk");
        let in_memory = spooled(&store, "ignored: the memory copy wins");
        let budget = Arc::new(AtomicUsize::new(0));
        let body = bytes::Bytes::from_static(b"Subject: from memory\r\n\r\nx\r\n");
        let kept = InlineBody::keep(&body, &budget);
        let batch = summarized(
            &store,
            vec![
                item(on_disk, None),
                item(in_memory, kept.clone()),
                item(in_memory, kept),
            ],
        );
        assert!(envelope(&batch[0]).contains("\"from disk\""));
        assert!(envelope(&batch[1]).contains("\"from memory\""));
        assert_eq!(batch[1].summary, batch[2].summary);
        // Once summarized, the bodies are let go: the budget is free again.
        drop(batch);
        assert_eq!(budget.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn an_unreadable_body_still_delivers_without_a_summary() {
        let store = MemoryStore::new();
        let batch = summarized(&store, vec![item(999, None)]);
        assert_eq!(batch[0].summary, None);
    }
}
