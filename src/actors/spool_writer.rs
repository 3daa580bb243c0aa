//! The single spool committer. Sessions send whole messages; everything that arrives while
//! one commit runs goes into the next one, so a batch of N messages costs one group commit
//! (the store's fsyncs) instead of N. A session's `250` waits for the commit that holds its
//! message. Committed messages go on to the [`QueueManager`].

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::queue_manager::{Enqueued, QueueManager};
use crate::metrics;
use crate::storage::{
    BlobId, NewMessage, QueueId, QueuedMessage, RecipientStatus, Store, StoreError,
};

/// Most messages in one commit: bounds commit latency and memory.
const MAX_BATCH: usize = 256;
/// Most bytes waiting for a commit; beyond it sessions are told to retry (451 4.3.2).
const MAX_PENDING_BYTES: usize = 256 * 1024 * 1024;

/// Why a message was not spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Too much is waiting for the disk; try again later.
    #[error("spool busy")]
    Busy,
    /// The store refused the batch.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The writer stopped before answering.
    #[error("spool writer stopped")]
    Stopped,
}

/// Make this message durable and queue it.
#[derive(Message)]
#[rtype(result = "Result<QueueId, SpoolError>")]
pub struct Spool(pub NewMessage);

/// Finish every commit in flight or waiting; answered when nothing is pending.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

type Waiter = oneshot::Sender<Result<QueueId, SpoolError>>;

/// The queue's view of a message about to be committed (id and blob set after commit).
fn envelope_of(message: &NewMessage) -> QueuedMessage {
    QueuedMessage {
        id: 0,
        sender: message.sender.clone(),
        received_at: message.received_at,
        size: message.body.len() as u64,
        blob: BlobId(0),
        recipients: message
            .recipients
            .iter()
            .map(|r| (r.clone(), RecipientStatus::default()))
            .collect(),
        ret: message.ret,
        envid: message.envid.clone(),
        // The queue manager routes; it never needs the summary.
        summary: None,
    }
}

/// The group-commit actor.
pub struct SpoolWriter {
    store: Arc<dyn Store>,
    queue: Addr<QueueManager>,
    pending: Vec<(NewMessage, Waiter)>,
    pending_bytes: usize,
    committing: bool,
    drained: Vec<oneshot::Sender<()>>,
}

impl SpoolWriter {
    /// A writer committing into `store` and handing results to `queue`.
    pub fn new(store: Arc<dyn Store>, queue: Addr<QueueManager>) -> Self {
        SpoolWriter {
            store,
            queue,
            pending: Vec::new(),
            pending_bytes: 0,
            committing: false,
            drained: Vec::new(),
        }
    }

    /// Starts the next commit unless one is running.
    fn commit_next(&mut self, ctx: &mut Context<Self>) {
        if self.committing {
            return;
        }
        if self.pending.is_empty() {
            for done in self.drained.drain(..) {
                let _ = done.send(());
            }
            return;
        }
        self.committing = true;
        let take = self.pending.len().min(MAX_BATCH);
        let batch: Vec<(NewMessage, Waiter)> = self.pending.drain(..take).collect();
        metrics::mailbox_depth("spool_writer", self.pending.len());
        let (messages, waiters): (Vec<NewMessage>, Vec<Waiter>) = batch.into_iter().unzip();
        let bytes: usize = messages.iter().map(|m| m.body.len()).sum();
        self.pending_bytes -= bytes;
        // What the queue manager routes once the batch is durable (bodies stay here).
        let envelopes: Vec<QueuedMessage> = messages.iter().map(envelope_of).collect();
        // Shared, not copied: the first outbound attempt can skip reading the spool.
        let bodies: Vec<bytes::Bytes> = messages.iter().map(|m| m.body.clone()).collect();
        let store = Arc::clone(&self.store);
        let count = messages.len();
        let started = Instant::now();
        let commit =
            async move { tokio::task::spawn_blocking(move || store.spool(messages)).await };
        ctx.spawn(commit.into_actor(self).map(move |joined, act, ctx| {
            act.committing = false;
            metrics::spool_commit(started.elapsed().as_secs_f64(), count, bytes as u64);
            match joined {
                Ok(Ok(ids)) => {
                    let enqueued = envelopes
                        .into_iter()
                        .zip(&ids)
                        .zip(bodies)
                        .map(|((mut m, &id), body)| {
                            m.id = id;
                            // The store names a body after its message (see `Store::spool`).
                            m.blob = BlobId(id);
                            (m, Some(body))
                        })
                        .collect::<Vec<_>>();
                    for (waiter, id) in waiters.into_iter().zip(ids) {
                        let _ = waiter.send(Ok(id));
                    }
                    // The queue manager only routes ids: cheap, and its inbox is drained
                    // as fast as commits can fill it.
                    act.queue.do_send(Enqueued(enqueued));
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, messages = count, "spool commit failed");
                    let full = matches!(e, StoreError::Full);
                    for waiter in waiters {
                        let err = if full {
                            StoreError::Full
                        } else {
                            StoreError::Io(std::io::Error::other("spool commit failed"))
                        };
                        let _ = waiter.send(Err(SpoolError::Store(err)));
                    }
                }
                Err(join) => {
                    tracing::error!(error = %join, "spool commit panicked");
                    for waiter in waiters {
                        let _ = waiter.send(Err(SpoolError::Stopped));
                    }
                }
            }
            act.commit_next(ctx);
        }));
    }
}

impl Actor for SpoolWriter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Sessions wait on `send`, so a full inbox is back-pressure, not loss.
        ctx.set_mailbox_capacity(1024);
    }
}

impl Handler<Spool> for SpoolWriter {
    type Result = ResponseFuture<Result<QueueId, SpoolError>>;

    fn handle(&mut self, Spool(message): Spool, ctx: &mut Context<Self>) -> Self::Result {
        let size = message.body.len();
        if self.pending_bytes + size > MAX_PENDING_BYTES && !self.pending.is_empty() {
            crate::metrics::backpressure("spool_full");
            return Box::pin(async { Err(SpoolError::Busy) });
        }
        let (tx, rx) = oneshot::channel();
        self.pending_bytes += size;
        self.pending.push((message, tx));
        metrics::mailbox_depth("spool_writer", self.pending.len());
        self.commit_next(ctx);
        Box::pin(async move { rx.await.unwrap_or(Err(SpoolError::Stopped)) })
    }
}

impl Handler<Drain> for SpoolWriter {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        self.drained.push(tx);
        self.commit_next(ctx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

// Restarted by its Supervisor if it ever stops; waiting sessions were answered `Stopped`
// (451), and everything committed is on disk.
impl actix::Supervised for SpoolWriter {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        metrics::actor_restart("spool_writer");
    }
}
