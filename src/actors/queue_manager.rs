//! The queue manager: learns of every committed message (from the [`SpoolWriter`] and, at
//! start, from the store) and routes each pending recipient. Local recipients go to their
//! [`Mailbox`] actor. Remote ones become [`Job`]s (one per message and domain) in a due-time
//! index; when due they are resolved to a destination and handed to its [`DomainQueue`],
//! and the workers' reports come back here to be recorded, retried or bounced.
//!
//! [`SpoolWriter`]: super::SpoolWriter
//! [`Mailbox`]: super::Mailbox

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use actix::dev::ArbiterHandle;
use actix::prelude::*;
use bytes::Bytes;

use super::domain_queue::{DomainQueue, Enqueue, Outbound, Route};
use super::job::{Attempt, InlineBody, Job, JobRecipient, Report};
use super::mailbox::{Deliver, LocalItem, MailboxRegistry};
use super::outcomes;
use super::spool_writer::SpoolWriter;
use crate::config::Config;
use crate::directory::Directory;
use crate::dns::MxResolver;
use crate::metrics;
use crate::outbound::ClientConfig;
use crate::queue::{DueIndex, RetryPolicy};
use crate::storage::{DeliveryTarget, LocalDelivery, QueueId, QueuedMessage, Store};

/// How often due jobs are looked for.
const TICK: Duration = Duration::from_millis(250);
/// A job its destination could not take (queue full) is tried again after this.
const REQUEUE_AFTER: i64 = 5;
/// How long a resolved route is reused without asking the resolver (which caches by TTL)
/// again: under load this saves a trip to the DNS runtime per job.
const ROUTE_REUSE: Duration = Duration::from_secs(10);

/// Messages just made durable, with their bodies when the spool writer still has them.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Enqueued(pub Vec<(QueuedMessage, Option<Bytes>)>);

/// The spool writer to send DSNs through (set once, after both actors exist).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetSpool(pub Addr<SpoolWriter>);

/// Make every pending recipient of a message due now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RetryNow(pub QueueId);

/// Stop handing out work and answer once every reported outcome is recorded and no job
/// is out with a worker (the caller bounds the wait: jobs left over stay pending in the
/// store and are resumed at the next start).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Quiesce;

/// Forget a message deleted from the store.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Forget(pub QueueId);

/// What the queue manager needs besides storage.
pub struct QueueSettings {
    /// Server configuration (hostname, delivery, queue).
    pub config: Arc<Config>,
    /// For DSN targets.
    pub directory: Arc<Directory>,
    /// MX lookups.
    pub resolver: MxResolver,
    /// The multi-thread runtime, where DNS lookups run (see `dns` docs).
    pub runtime: tokio::runtime::Handle,
    /// Arbiters for destination queues.
    pub arbiters: Vec<ArbiterHandle>,
}

/// The routing and scheduling actor.
pub struct QueueManager {
    store: Arc<dyn Store>,
    mailboxes: MailboxRegistry,
    settings: Arc<QueueSettings>,
    policy: Arc<RetryPolicy>,
    spool: Option<Addr<SpoolWriter>>,
    outbound: Option<Arc<Outbound>>,
    /// Remote work by due time.
    scheduled: DueIndex<Job>,
    /// Jobs handed out and not reported yet, with their arrival time.
    in_flight: HashMap<(QueueId, String), i64>,
    destinations: HashMap<String, Addr<DomainQueue>>,
    next_arbiter: usize,
    /// Reports waiting for the next outcome commit.
    reports: Vec<Report>,
    recording: bool,
    /// Recently resolved routes by domain.
    routes: HashMap<String, (String, Arc<Route>, Instant)>,
    /// Bytes of bodies carried by jobs.
    inline_budget: Arc<AtomicUsize>,
    /// Shutting down: no new dispatches; these wait for the outcomes in flight.
    quiescing: Vec<tokio::sync::oneshot::Sender<()>>,
    stopping: bool,
}

impl QueueManager {
    /// A manager over `store`, delivering locally through `mailboxes`.
    pub fn new(
        store: Arc<dyn Store>,
        mailboxes: MailboxRegistry,
        settings: Arc<QueueSettings>,
    ) -> Self {
        let queue = &settings.config.queue;
        let policy = Arc::new(RetryPolicy {
            intervals: queue.retry_intervals.clone(),
            max_age: queue.max_age,
            delay_notice: queue.delay_notice,
        });
        QueueManager {
            store,
            mailboxes,
            settings,
            policy,
            spool: None,
            outbound: None,
            scheduled: DueIndex::new(),
            in_flight: HashMap::new(),
            destinations: HashMap::new(),
            next_arbiter: 0,
            reports: Vec::new(),
            recording: false,
            routes: HashMap::new(),
            inline_budget: Arc::new(AtomicUsize::new(0)),
            quiescing: Vec::new(),
            stopping: false,
        }
    }

    /// Routes the pending recipients of messages: local ones to mailboxes now, remote ones
    /// into the schedule.
    fn route(&mut self, messages: Vec<(QueuedMessage, Option<Bytes>)>) {
        let mut local: HashMap<String, Vec<LocalItem>> = HashMap::new();
        for (message, body) in messages {
            // One budgeted copy per message, shared by its local recipients.
            let mut local_body: Option<Option<Arc<InlineBody>>> = None;
            let mut remote: BTreeMap<String, (i64, Vec<JobRecipient>)> = BTreeMap::new();
            for (index, (rcpt, status)) in message.recipients.iter().enumerate() {
                if !status.is_pending() {
                    continue;
                }
                match &rcpt.target {
                    DeliveryTarget::Local { user } => {
                        let body = local_body
                            .get_or_insert_with(|| {
                                body.as_ref()
                                    .and_then(|b| InlineBody::keep(b, &self.inline_budget))
                            })
                            .clone();
                        local.entry(user.clone()).or_default().push(LocalItem {
                            delivery: LocalDelivery {
                                queue_id: message.id,
                                rcpt: index as u32,
                                user: user.clone(),
                                mailbox: "INBOX".into(),
                                summary: None,
                            },
                            body,
                        })
                    }
                    DeliveryTarget::Remote { domain } => {
                        let entry = remote
                            .entry(domain.to_ascii_lowercase())
                            .or_insert((i64::MAX, Vec::new()));
                        entry.0 = entry.0.min(status.next_attempt);
                        entry.1.push(JobRecipient {
                            index: index as u32,
                            address: rcpt.address.clone(),
                            notify: rcpt.notify,
                            orcpt: rcpt.orcpt.clone(),
                            attempts: status.attempts,
                            delay_notified: status.delay_notified,
                        });
                    }
                }
            }
            for (domain, (due, recipients)) in remote {
                let inline = body
                    .as_ref()
                    .and_then(|b| InlineBody::keep(b, &self.inline_budget));
                let job = Job {
                    queue_id: message.id,
                    domain,
                    sender: message.sender.clone(),
                    blob: message.blob,
                    inline,
                    received_at: message.received_at,
                    ret: message.ret,
                    envid: message.envid.clone(),
                    recipients,
                };
                self.schedule(job, due);
            }
        }
        for (user, items) in local {
            metrics::queue_state("local", items.len() as f64);
            // Ids only, bounded by what is already on disk; the mailbox actor batches them.
            self.mailboxes.get(&user).do_send(Deliver(items));
        }
    }

    /// Puts a job in the due-time index.
    pub(super) fn schedule(&mut self, job: Job, due: i64) {
        self.in_flight.remove(&(job.queue_id, job.domain.clone()));
        let key = (job.queue_id, job.domain.clone());
        self.scheduled.insert(due, key, job);
    }

    /// Hands every due job to its destination.
    fn dispatch_due(&mut self, ctx: &mut Context<Self>) {
        if self.stopping {
            return;
        }
        let now = outcomes::now();
        while let Some(job) = self.scheduled.pop_due(now) {
            self.in_flight
                .insert((job.queue_id, job.domain.clone()), job.received_at);
            self.dispatch(job, ctx);
        }
    }

    fn publish(&self, now: i64) {
        let deferred = self
            .scheduled
            .values()
            .filter(|j| j.recipients.iter().any(|r| r.attempts > 0))
            .count();
        metrics::queue_state_set("scheduled", (self.scheduled.len() - deferred) as f64);
        metrics::queue_state_set("deferred", deferred as f64);
        metrics::queue_state_set("in-flight", self.in_flight.len() as f64);
        let oldest = self
            .scheduled
            .values()
            .map(|j| j.received_at)
            .chain(self.in_flight.values().copied())
            .min();
        metrics::queue_oldest_age(oldest.map_or(0, |t| (now - t).max(0)));
    }

    /// Resolves the job's destination (or reuses a recent resolution), then queues it there.
    fn dispatch(&mut self, job: Job, ctx: &mut Context<Self>) {
        if let Some((key, route, at)) = self.routes.get(&job.domain) {
            if at.elapsed() < ROUTE_REUSE {
                let (key, route) = (key.clone(), Arc::clone(route));
                self.enqueue(key, route, job, ctx);
                return;
            }
        }
        let lookup = route_for(Arc::clone(&self.settings), job.domain.clone());
        ctx.spawn(
            lookup
                .into_actor(self)
                .map(move |route, act, ctx| match route {
                    Ok((key, route)) => {
                        let route = Arc::new(route);
                        let entry = (key.clone(), Arc::clone(&route), Instant::now());
                        act.routes.insert(job.domain.clone(), entry);
                        act.enqueue(key, route, job, ctx);
                    }
                    Err(attempt) => {
                        let results = vec![attempt; job.recipients.len()];
                        let report = Report {
                            job,
                            remote_mta: None,
                            results,
                        };
                        act.record(report, ctx);
                    }
                }),
        );
    }

    /// Answers the shutdown waiters once nothing is out or being recorded.
    fn check_quiet(&mut self) {
        if self.stopping && self.in_flight.is_empty() && !self.recording && self.reports.is_empty()
        {
            for waiter in self.quiescing.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// Hands a job to the queue of its destination.
    fn enqueue(&mut self, key: String, route: Arc<Route>, job: Job, ctx: &mut Context<Self>) {
        let Some(queue) = self.destination(key) else {
            self.schedule(job, outcomes::now() + REQUEUE_AFTER);
            return;
        };
        let enqueue = queue.send(Enqueue {
            job: job.clone(),
            route,
        });
        ctx.spawn(
            enqueue
                .into_actor(self)
                .map(move |sent, act, _ctx| match sent {
                    Ok(Ok(())) => {}
                    Ok(Err(job)) => act.schedule(job, outcomes::now() + REQUEUE_AFTER),
                    Err(_) => act.schedule(job, outcomes::now() + REQUEUE_AFTER),
                }),
        );
    }

    /// The queue of a destination site, started on first use.
    /// None only before `started` has set up the outbound settings.
    fn destination(&mut self, key: String) -> Option<Addr<DomainQueue>> {
        if let Some(queue) = self.destinations.get(&key).filter(|q| q.connected()) {
            return Some(queue.clone());
        }
        let outbound = self.outbound.clone()?;
        let arbiters = &self.settings.arbiters;
        let arbiter = &arbiters[self.next_arbiter % arbiters.len()];
        self.next_arbiter += 1;
        let name = key.clone();
        let queue =
            DomainQueue::start_in_arbiter(arbiter, move |_| DomainQueue::new(name, outbound));
        self.destinations.insert(key, queue.clone());
        Some(queue)
    }

    /// Records a report: DSNs first (they need the body, which the last update may free),
    /// then the recipients' new states; what is deferred goes back into the schedule.
    fn record(&mut self, report: Report, ctx: &mut Context<Self>) {
        self.reports.push(report);
        metrics::mailbox_depth("queue_manager", self.reports.len());
        self.record_next(ctx);
    }

    /// Records everything reported since the last commit, in one commit (group commit for
    /// outcomes, as the spool writer does for messages).
    fn record_next(&mut self, ctx: &mut Context<Self>) {
        if self.recording || self.reports.is_empty() {
            return;
        }
        self.recording = true;
        let reports = std::mem::take(&mut self.reports);
        metrics::mailbox_depth("queue_manager", 0);
        for report in &reports {
            self.in_flight
                .remove(&(report.job.queue_id, report.job.domain.clone()));
        }
        let store = Arc::clone(&self.store);
        let spool = self.spool.clone();
        let settings = Arc::clone(&self.settings);
        let policy = Arc::clone(&self.policy);
        let work = outcomes::record(reports, store, spool, settings, policy);
        ctx.spawn(work.into_actor(self).map(|retries, act, ctx| {
            act.recording = false;
            for (job, due) in retries {
                act.schedule(job, due);
            }
            act.record_next(ctx);
            act.check_quiet();
        }));
    }
}

/// The destination key and route of a domain: the smarthost, or its MX hosts.
async fn route_for(
    settings: Arc<QueueSettings>,
    domain: String,
) -> Result<(String, Route), Attempt> {
    let delivery = &settings.config.delivery;
    if let Some(smarthost) = delivery.smarthost.clone() {
        let lookup = settings.runtime.spawn(async move {
            let addrs = tokio::net::lookup_host(smarthost.as_str())
                .await
                .map(|a| a.collect::<Vec<_>>());
            addrs.map(|a| (smarthost, a))
        });
        return match lookup.await {
            Ok(Ok((host, addrs))) if !addrs.is_empty() => {
                let name = host
                    .rsplit_once(':')
                    .map_or(host.as_str(), |(h, _)| h)
                    .to_string();
                Ok((
                    format!("smarthost {host}"),
                    Route {
                        hosts: vec![(name, addrs)],
                    },
                ))
            }
            Ok(Ok(_)) => Err(Attempt::Temporary("smarthost has no address".into())),
            Ok(Err(e)) => Err(Attempt::Temporary(format!("smarthost lookup: {e}"))),
            Err(e) => Err(Attempt::Temporary(format!("smarthost lookup: {e}"))),
        };
    }
    let resolver = settings.resolver.clone();
    let port = delivery.mx_port;
    let resolved = settings
        .runtime
        .spawn(async move { resolver.resolve(&domain).await })
        .await;
    match resolved {
        Ok(Ok(destination)) => {
            let hosts = destination
                .hosts
                .iter()
                .map(|h| {
                    (
                        h.name.clone(),
                        h.addrs
                            .iter()
                            .map(|ip| std::net::SocketAddr::new(*ip, port))
                            .collect(),
                    )
                })
                .collect();
            Ok((destination.site_key(), Route { hosts }))
        }
        Ok(Err(e)) if e.is_permanent() => Err(Attempt::Permanent {
            reply: format!("DNS: {e}"),
            status: e.enhanced_status().to_string(),
        }),
        Ok(Err(e)) => Err(Attempt::Temporary(format!("DNS: {e}"))),
        Err(e) => Err(Attempt::Temporary(format!("DNS lookup task: {e}"))),
    }
}

impl Actor for QueueManager {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let config = &self.settings.config;
        let delivery = &config.delivery;
        let mut client = ClientConfig::new(config.hostname.clone());
        client.connect_timeout = delivery.connect_timeout;
        client.command_timeout = delivery.command_timeout;
        client.data_timeout = delivery.command_timeout * 2;
        client.auth = delivery
            .smarthost_user
            .clone()
            .zip(delivery.smarthost_password.clone());
        self.outbound = Some(Arc::new(Outbound {
            client,
            connections: delivery.connections_per_destination,
            per_connection: delivery.messages_per_connection,
            require_tls: delivery.require_tls_domains.clone(),
            verify_tls: delivery.verify_tls_domains.clone(),
            store: Arc::clone(&self.store),
            queue: ctx.address(),
        }));
        // Resume what a previous run left pending before taking new work, so that the
        // order of deliveries follows the order of acceptance.
        let store = Arc::clone(&self.store);
        let load = async move { tokio::task::spawn_blocking(move || store.queued()).await };
        ctx.wait(load.into_actor(self).map(|loaded, act, _ctx| match loaded {
            Ok(Ok(messages)) => {
                tracing::info!(messages = messages.len(), "resuming queued messages");
                act.route(messages.into_iter().map(|m| (m, None)).collect());
            }
            Ok(Err(e)) => tracing::error!(error = %e, "could not load the queue"),
            Err(e) => tracing::error!(error = %e, "queue load panicked"),
        }));
        ctx.run_interval(TICK, |act, ctx| {
            act.dispatch_due(ctx);
            // O(queue) work: on the tick only, never per message.
            act.publish(outcomes::now());
        });
    }
}

// Restarted by its Supervisor if it ever stops; `started` reloads the queue from storage.
impl actix::Supervised for QueueManager {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        metrics::actor_restart("queue_manager");
    }
}

impl Handler<Enqueued> for QueueManager {
    type Result = ();

    fn handle(&mut self, Enqueued(messages): Enqueued, ctx: &mut Context<Self>) {
        self.route(messages);
        self.dispatch_due(ctx);
    }
}

impl Handler<Report> for QueueManager {
    type Result = ();

    fn handle(&mut self, report: Report, ctx: &mut Context<Self>) {
        self.record(report, ctx);
    }
}

impl Handler<SetSpool> for QueueManager {
    type Result = ();

    fn handle(&mut self, SetSpool(spool): SetSpool, _ctx: &mut Context<Self>) {
        self.spool = Some(spool);
    }
}

impl Handler<RetryNow> for QueueManager {
    type Result = ();

    fn handle(&mut self, RetryNow(id): RetryNow, ctx: &mut Context<Self>) {
        // Only the due time changes: attempts stay as counted.
        self.scheduled.reschedule_message(id, 0);
        self.dispatch_due(ctx);
    }
}

impl Handler<Quiesce> for QueueManager {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Quiesce, _ctx: &mut Context<Self>) -> Self::Result {
        self.stopping = true;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.quiescing.push(tx);
        self.check_quiet();
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}

impl Handler<Forget> for QueueManager {
    type Result = ();

    fn handle(&mut self, Forget(id): Forget, _ctx: &mut Context<Self>) {
        self.scheduled.remove_message(id);
    }
}
