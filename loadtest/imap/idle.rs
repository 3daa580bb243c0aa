//! The `idle` workload: N sessions log in, select INBOX and enter IDLE (RFC 2177); once
//! every one has got there or failed, they hold for the duration counting the EXISTS
//! responses they are sent, then end with DONE and LOGOUT.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Barrier;
use tokio::time::Instant;

use super::reply::Kind;
use super::session::{Endpoint, Recorder, Session};
use super::{command_reports, endpoint, refusals_text, CommandReport, ImapConfig};
use crate::stats::{self, Faults, Latencies, Progress, Tally};
use crate::wire::Failure;

/// Steps of an idle session in order; `IDLE` is timed to the continuation request.
const STEPS: [&str; 8] = [
    "connect", "greeting", "STARTTLS", "LOGIN", "SELECT", "IDLE", "DONE", "LOGOUT",
];

/// The figures of an `idle` run.
#[derive(Debug, Serialize)]
pub struct IdleReport {
    /// Always `imap-idle`.
    pub mode: &'static str,
    /// The server driven.
    pub target: String,
    /// Wall time of the run in seconds.
    pub elapsed_secs: f64,
    /// Accounts used.
    pub users: usize,
    /// Sessions opened.
    pub sessions: u64,
    /// Sessions that reached IDLE.
    pub sessions_idling: u64,
    /// Seconds from the start until the last session reached IDLE or failed.
    pub setup_secs: f64,
    /// `* N EXISTS` responses received while idling, all sessions together.
    pub exists_seen: u64,
    /// Sessions that received at least one EXISTS while idling.
    pub sessions_notified: u64,
    /// Sessions that ended IDLE and logged out cleanly.
    pub sessions_completed: u64,
    /// Sessions ended by a NO or BYE.
    pub sessions_rejected: u64,
    /// Failures (flattened: `connection_errors`, `timeouts`, `protocol_violations`,
    /// `errors`, `interrupted`).
    #[serde(flatten)]
    pub faults: Faults,
    /// Per-command counts and latency.
    pub commands: BTreeMap<&'static str, CommandReport>,
    /// Error texts with their counts (at most 20 distinct).
    pub error_samples: BTreeMap<String, u64>,
    #[serde(skip)]
    lat: Latencies,
}

impl IdleReport {
    /// The human summary.
    pub fn table(&self) -> String {
        let mut out = format!(
            "IMAP IDLE on {}: {} of {} sessions reached IDLE in {:.2} s, {} users\n\
             EXISTS seen {} (by {} sessions), completed {}\n\
             rejected {}  {}\n\n",
            self.target,
            self.sessions_idling,
            self.sessions,
            self.setup_secs,
            self.users,
            self.exists_seen,
            self.sessions_notified,
            self.sessions_completed,
            self.sessions_rejected,
            self.faults.text(),
        );
        out += &stats::latency_table(
            "command",
            &self.lat,
            Duration::from_secs_f64(self.elapsed_secs),
        );
        out += &refusals_text(&self.commands);
        if !self.error_samples.is_empty() {
            out += "\nerrors seen:\n";
            out += &stats::samples_text(&self.error_samples);
        }
        out
    }
}

struct Shared {
    cfg: ImapConfig,
    at: Endpoint,
    tally: Tally,
    idling: AtomicU64,
    exists: AtomicU64,
    notified: AtomicU64,
    started: Instant,
    /// When the barrier opened, in µs from the start.
    setup_micros: AtomicU64,
    /// Every session meets here once, in IDLE or failed, before the hold starts.
    barrier: Barrier,
}

/// Logs in, selects INBOX and enters IDLE; returns the session and the IDLE tag.
async fn enter(
    shared: &Shared,
    user: &str,
    rec: &mut Recorder,
) -> Result<(Session, String), Failure> {
    let mut s = Session::open(&shared.at, user, &shared.cfg.password, rec).await?;
    s.command(rec, "SELECT", "SELECT INBOX").await?;
    let t = Instant::now();
    let tag = s.tag();
    s.send("IDLE", format!("{tag} IDLE\r\n").as_bytes()).await?;
    let (_, asked) = s
        .complete(rec, "IDLE", &tag, |k| matches!(k, Kind::Continuation))
        .await?;
    if !asked {
        return Err(Failure::Violation {
            step: "IDLE",
            detail: "IDLE completed without a continuation request".into(),
        });
    }
    rec.lat.record("IDLE", t.elapsed());
    Ok((s, tag))
}

/// Idles until `until`, then DONE and LOGOUT.
async fn hold(
    s: &mut Session,
    tag: &str,
    until: Instant,
    rec: &mut Recorder,
) -> Result<(), Failure> {
    loop {
        // A read cut by the hold's end loses nothing unless a response was half in.
        match tokio::time::timeout_at(until, s.read("IDLE")).await {
            Err(_) | Ok(Err(Failure::Timeout { .. })) if Instant::now() >= until => break,
            Ok(Err(Failure::Timeout { .. })) => continue,
            Err(_) => break,
            Ok(Err(e)) => return Err(e),
            Ok(Ok((r, kind))) => match kind {
                Kind::Exists(_) | Kind::Expunge | Kind::Untagged | Kind::UntaggedOk => {}
                Kind::Bye => {
                    return Err(Failure::Rejected {
                        step: "IDLE",
                        class: "BYE",
                    })
                }
                _ => {
                    return Err(Failure::Violation {
                        step: "IDLE",
                        detail: format!("while idling: {}", crate::wire::excerpt(&r.line)),
                    })
                }
            },
        }
    }
    let t = Instant::now();
    s.send("DONE", b"DONE\r\n").await?;
    // RFC 2177 §3: DONE ends IDLE, whose tagged completion follows.
    s.complete(rec, "IDLE", tag, |_| false).await?;
    rec.lat.record("DONE", t.elapsed());
    s.command(rec, "LOGOUT", "LOGOUT").await?;
    Ok(())
}

async fn one(shared: Arc<Shared>, index: usize) -> Recorder {
    let mut rec = Recorder::new(&STEPS);
    let users = &shared.cfg.users;
    let user = &users[index % users.len().max(1)];
    let entered = enter(&shared, user, &mut rec).await;
    if entered.is_ok() {
        shared.idling.fetch_add(1, Ordering::Relaxed);
    }
    if shared.barrier.wait().await.is_leader() {
        let micros = u64::try_from(shared.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        shared.setup_micros.store(micros, Ordering::Relaxed);
    }
    let until = (Instant::now() + shared.cfg.duration).min(shared.at.limits.stop_at);
    let result = match entered {
        Ok((mut s, tag)) => {
            let before = s.exists_seen;
            let held = hold(&mut s, &tag, until, &mut rec).await;
            let seen = s.exists_seen - before;
            shared.exists.fetch_add(seen, Ordering::Relaxed);
            if seen > 0 {
                shared.notified.fetch_add(1, Ordering::Relaxed);
            }
            held
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => shared.tally.succeed(),
        Err(e) => shared.tally.fail(&e),
    }
    rec
}

/// Runs the `idle` workload.
pub async fn run(cfg: ImapConfig) -> anyhow::Result<IdleReport> {
    anyhow::ensure!(!cfg.users.is_empty(), "no accounts");
    let started = Instant::now();
    let at = endpoint(&cfg, started)?;
    let stop_at = at.limits.stop_at;
    let n = cfg.idle_sessions.max(1);
    let shared = Arc::new(Shared {
        cfg,
        at,
        tally: Tally::default(),
        idling: AtomicU64::new(0),
        exists: AtomicU64::new(0),
        notified: AtomicU64::new(0),
        started,
        setup_micros: AtomicU64::new(0),
        barrier: Barrier::new(n),
    });
    let progress = Progress::new(shared.cfg.progress, Some(n as u64));
    let ticker = {
        let shared = Arc::clone(&shared);
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                let c = shared.tally.counts();
                progress.update(
                    shared.idling.load(Ordering::Relaxed),
                    format!(
                        "idling {} exists {} errors {}",
                        shared.idling.load(Ordering::Relaxed),
                        shared.exists.load(Ordering::Relaxed),
                        c.errors()
                    ),
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let mut sessions = tokio::task::JoinSet::new();
    for index in 0..n {
        sessions.spawn(one(Arc::clone(&shared), index));
    }
    let mut rec = Recorder::new(&STEPS);
    let hard_stop = stop_at + Duration::from_secs(5);
    while let Ok(Some(joined)) = tokio::time::timeout_at(hard_stop, sessions.join_next()).await {
        if let Ok(r) = joined {
            rec.merge(&r);
        }
    }
    sessions.abort_all();
    ticker.abort();
    progress.finish();
    let elapsed = started.elapsed();
    let setup_secs = match shared.setup_micros.load(Ordering::Relaxed) {
        0 => elapsed.as_secs_f64(),
        micros => Duration::from_micros(micros).as_secs_f64(),
    };
    let c = shared.tally.counts();
    Ok(IdleReport {
        mode: "imap-idle",
        target: shared.cfg.target.clone(),
        elapsed_secs: elapsed.as_secs_f64(),
        users: shared.cfg.users.len(),
        sessions: n as u64,
        sessions_idling: shared.idling.load(Ordering::Relaxed),
        setup_secs,
        exists_seen: shared.exists.load(Ordering::Relaxed),
        sessions_notified: shared.notified.load(Ordering::Relaxed),
        sessions_completed: c.ok,
        sessions_rejected: c.rejected(),
        faults: c.faults(),
        commands: command_reports(&STEPS, &rec, elapsed),
        error_samples: shared.tally.samples(),
        lat: rec.lat,
    })
}
