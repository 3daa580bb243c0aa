//! One actor per destination site (an MX set, or the smarthost): a bounded ready queue of
//! jobs and up to `connections_per_destination` [`DeliveryWorker`]s that pull from it. A
//! slow or dead destination only fills its own queue: other destinations are unaffected
//! (no head-of-line blocking).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use actix::prelude::*;

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

/// A worker asks for its next job; `None` when there is none.
#[derive(Message)]
#[rtype(result = "Option<(Job, Arc<Route>)>")]
pub struct NextJob;

/// A worker has stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerStopped;

/// The per-destination actor.
pub struct DomainQueue {
    key: String,
    outbound: Arc<Outbound>,
    ready: VecDeque<(Job, Arc<Route>)>,
    workers: usize,
    busy: usize,
}

impl DomainQueue {
    /// A queue for the destination `key`.
    pub fn new(key: String, outbound: Arc<Outbound>) -> Self {
        DomainQueue {
            key,
            outbound,
            ready: VecDeque::new(),
            workers: 0,
            busy: 0,
        }
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
        // One more connection while there is more waiting than connections open.
        if self.workers < self.outbound.connections
            && self.ready.len() > self.workers - self.busy.min(self.workers)
        {
            self.workers += 1;
            let worker =
                DeliveryWorker::new(self.key.clone(), ctx.address(), Arc::clone(&self.outbound));
            worker.start();
        }
        Ok(())
    }
}

impl Handler<NextJob> for DomainQueue {
    type Result = Option<(Job, Arc<Route>)>;

    fn handle(&mut self, _: NextJob, _ctx: &mut Context<Self>) -> Self::Result {
        let next = self.ready.pop_front();
        if next.is_some() {
            crate::metrics::queue_state("ready", -1.0);
            crate::metrics::mailbox_depth_add("domain_queue", -1.0);
        }
        next
    }
}

impl Handler<WorkerStopped> for DomainQueue {
    type Result = ();

    fn handle(&mut self, _: WorkerStopped, ctx: &mut Context<Self>) {
        self.workers = self.workers.saturating_sub(1);
        // A worker that gave up while jobs remain (it raced a late Enqueue) is replaced.
        if self.workers == 0 && !self.ready.is_empty() {
            crate::metrics::actor_restart("delivery_worker");
            self.workers = 1;
            DeliveryWorker::new(self.key.clone(), ctx.address(), Arc::clone(&self.outbound))
                .start();
        }
    }
}
