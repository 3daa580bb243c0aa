//! One actor per destination site (an MX set, or the smarthost): a bounded ready queue of
//! jobs and up to `connections_per_destination` [`DeliveryWorker`]s that pull from it. A
//! slow or dead destination only fills its own queue: other destinations are unaffected
//! (no head-of-line blocking).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::delivery_worker::DeliveryWorker;
use super::job::Job;
use super::queue_manager::QueueManager;
use crate::outbound::ClientConfig;
use crate::storage::Store;

/// Jobs waiting per destination; beyond it the queue manager keeps them scheduled.
const MAX_READY: usize = 10_000;

/// The hosts of a destination in the order to try them, each with its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Host name (for TLS SNI and logs) and socket addresses.
    pub hosts: Vec<(String, Vec<SocketAddr>)>,
}

/// Settings every worker of every destination shares.
pub struct Outbound {
    /// How to talk to remote servers.
    pub client: ClientConfig,
    /// Concurrent connections per destination.
    pub connections: usize,
    /// Messages per connection before a fresh one.
    pub per_connection: usize,
    /// Domains whose servers must offer STARTTLS.
    pub require_tls: Vec<String>,
    /// Domains whose servers must offer STARTTLS with a certificate that verifies.
    pub verify_tls: Vec<String>,
    /// Where bodies are read from.
    pub store: Arc<dyn Store>,
    /// Where reports go.
    pub queue: Addr<QueueManager>,
}

/// Queue this job for delivery over `route`; gives the job back when the queue is full.
#[derive(Message)]
#[rtype(result = "Result<(), Job>")]
pub struct Enqueue {
    /// The work.
    pub job: Job,
    /// Where to deliver it (latest resolution).
    pub route: Arc<Route>,
}

/// A worker asks for its next job, waiting up to `linger` for one to arrive; `None` when
/// none came (the worker then closes its connection and stops).
#[derive(Message)]
#[rtype(result = "Option<(Job, Arc<Route>)>")]
pub struct NextJob {
    /// How long an idle worker waits for more work to the same destination.
    pub linger: Duration,
}

type Ready = (Job, Arc<Route>);

/// A worker has stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerStopped;

/// The per-destination actor.
pub struct DomainQueue {
    key: String,
    outbound: Arc<Outbound>,
    ready: VecDeque<Ready>,
    /// Idle workers parked until a job arrives (oldest first: it holds the oldest
    /// connection, which is the one most worth reusing before it times out).
    idle: VecDeque<oneshot::Sender<Ready>>,
    workers: usize,
}

impl DomainQueue {
    /// A queue for the destination `key`.
    pub fn new(key: String, outbound: Arc<Outbound>) -> Self {
        DomainQueue {
            key,
            outbound,
            ready: VecDeque::new(),
            idle: VecDeque::new(),
            workers: 0,
        }
    }

    /// Hands waiting jobs to parked workers. A worker whose wait ended meanwhile has
    /// dropped its receiver: the job comes back and goes to the next one.
    fn wake_idle(&mut self) {
        while !self.ready.is_empty() {
            let Some(worker) = self.idle.pop_front() else {
                return;
            };
            let Some(job) = self.ready.pop_front() else {
                return;
            };
            match worker.send(job) {
                Ok(()) => Self::taken(),
                Err(job) => self.ready.push_front(job),
            }
        }
    }

    fn taken() {
        crate::metrics::queue_state("ready", -1.0);
        crate::metrics::mailbox_depth_add("domain_queue", -1.0);
    }
}

impl Actor for DomainQueue {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Workers wait on `send`; the queue manager waits on `send` too.
        ctx.set_mailbox_capacity(256);
    }
}

impl Handler<Enqueue> for DomainQueue {
    type Result = Result<(), Job>;

    fn handle(&mut self, msg: Enqueue, ctx: &mut Context<Self>) -> Result<(), Job> {
        if self.ready.len() >= MAX_READY {
            crate::metrics::backpressure("destination_full");
            return Err(msg.job);
        }
        self.ready.push_back((msg.job, msg.route));
        crate::metrics::queue_state("ready", 1.0);
        crate::metrics::mailbox_depth_add("domain_queue", 1.0);
        self.wake_idle();
        // One more connection while jobs wait that no idle worker took.
        if self.workers < self.outbound.connections && !self.ready.is_empty() {
            self.workers += 1;
            let worker =
                DeliveryWorker::new(self.key.clone(), ctx.address(), Arc::clone(&self.outbound));
            worker.start();
        }
        Ok(())
    }
}

impl Handler<NextJob> for DomainQueue {
    type Result = ResponseFuture<Option<Ready>>;

    fn handle(&mut self, next: NextJob, _ctx: &mut Context<Self>) -> Self::Result {
        if let Some(job) = self.ready.pop_front() {
            Self::taken();
            return Box::pin(async move { Some(job) });
        }
        // Parked, not polling: a job enqueued later is handed over at once.
        let (tx, rx) = oneshot::channel();
        self.idle.push_back(tx);
        Box::pin(async move { tokio::time::timeout(next.linger, rx).await.ok()?.ok() })
    }
}

impl Handler<WorkerStopped> for DomainQueue {
    type Result = ();

    fn handle(&mut self, _: WorkerStopped, ctx: &mut Context<Self>) {
        self.workers = self.workers.saturating_sub(1);
        self.idle.retain(|worker| !worker.is_closed());
        // A worker that gave up while jobs remain (it raced a late Enqueue) is replaced.
        if self.workers < self.outbound.connections && !self.ready.is_empty() {
            crate::metrics::actor_restart("delivery_worker");
            self.workers += 1;
            DeliveryWorker::new(self.key.clone(), ctx.address(), Arc::clone(&self.outbound))
                .start();
        }
    }
}
