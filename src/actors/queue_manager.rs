//! The queue manager: learns of every committed message (from the [`SpoolWriter`] and, at
//! start, from the store), and routes each pending recipient: local ones to their
//! [`Mailbox`] actor, remote ones stay queued for outbound delivery.
//!
//! [`SpoolWriter`]: super::SpoolWriter
//! [`Mailbox`]: super::Mailbox

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use super::mailbox::{Deliver, MailboxRegistry};
use crate::metrics;
use crate::storage::{DeliveryTarget, LocalDelivery, QueueId, QueuedRecipient, Store};

/// Messages just made durable, with their recipients in spool order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Enqueued(pub Vec<(QueueId, Vec<QueuedRecipient>)>);

/// The routing actor.
pub struct QueueManager {
    store: Arc<dyn Store>,
    mailboxes: MailboxRegistry,
}

impl QueueManager {
    /// A manager over `store`, delivering locally through `mailboxes`.
    pub fn new(store: Arc<dyn Store>, mailboxes: MailboxRegistry) -> Self {
        QueueManager { store, mailboxes }
    }

    /// Routes the pending recipients of some messages; `states` is None for new messages
    /// (all pending).
    fn route<'a>(
        &self,
        messages: impl Iterator<Item = (QueueId, &'a [QueuedRecipient], Option<Vec<bool>>)>,
    ) {
        let mut local: HashMap<&str, Vec<LocalDelivery>> = HashMap::new();
        let mut remote = 0u64;
        for (queue_id, recipients, pending) in messages {
            for (index, rcpt) in recipients.iter().enumerate() {
                if pending.as_ref().is_some_and(|p| !p[index]) {
                    continue;
                }
                match &rcpt.target {
                    DeliveryTarget::Local { user } => {
                        local.entry(user).or_default().push(LocalDelivery {
                            queue_id,
                            rcpt: index as u32,
                            user: user.clone(),
                            mailbox: "INBOX".into(),
                        });
                    }
                    // Outbound delivery is its own part of the queue; until it runs these
                    // recipients wait, durable, in the spool.
                    DeliveryTarget::Remote { .. } => remote += 1,
                }
            }
        }
        metrics::queue_depth("remote", remote as f64);
        for (user, items) in local {
            metrics::queue_depth("local", items.len() as f64);
            // Ids only, bounded by what is already on disk; the mailbox actor batches them.
            self.mailboxes.get(user).do_send(Deliver(items));
        }
    }
}

impl Actor for QueueManager {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Resume what a previous run left pending before taking new work, so that the
        // order of deliveries follows the order of acceptance.
        let store = Arc::clone(&self.store);
        let load = async move { tokio::task::spawn_blocking(move || store.queued()).await };
        ctx.wait(load.into_actor(self).map(|loaded, act, _ctx| match loaded {
            Ok(Ok(messages)) => {
                tracing::info!(messages = messages.len(), "resuming queued messages");
                let recipients: Vec<(QueueId, Vec<QueuedRecipient>, Vec<bool>)> = messages
                    .into_iter()
                    .map(|m| {
                        let pending = m.recipients.iter().map(|(_, s)| s.is_pending()).collect();
                        let rcpts = m.recipients.into_iter().map(|(r, _)| r).collect();
                        (m.id, rcpts, pending)
                    })
                    .collect();
                act.route(
                    recipients
                        .iter()
                        .map(|(id, r, p)| (*id, r.as_slice(), Some(p.clone()))),
                );
            }
            Ok(Err(e)) => tracing::error!(error = %e, "could not load the queue"),
            Err(e) => tracing::error!(error = %e, "queue load panicked"),
        }));
    }
}

impl Handler<Enqueued> for QueueManager {
    type Result = ();

    fn handle(&mut self, Enqueued(messages): Enqueued, _ctx: &mut Context<Self>) {
        self.route(messages.iter().map(|(id, r)| (*id, r.as_slice(), None)));
    }
}

// Restarted by its Supervisor if it ever stops; `started` reloads the queue from storage.
impl actix::Supervised for QueueManager {}
