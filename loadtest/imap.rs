//! The IMAP mode. `mix`: C clients loop for a duration over realistic sessions (LOGIN,
//! SELECT, FETCH of the list and of one message, STORE, APPEND, sometimes EXPUNGE,
//! LOGOUT; RFC 3501), every command checked and timed. `login`, `fetch` and `append`
//! isolate one rate each, as imaptest's profiles do: sessions of LOGIN and LOGOUT only,
//! or one logged-in session per client looping over FETCH (a window of headers, then one
//! whole message) or over APPEND. `idle`: N sessions sit in IDLE (RFC 2177) for a
//! duration, counting the EXISTS each is told about.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::time::Instant;

use crate::stats::{self, Faults, Progress, Summary, Tally};
use crate::wire::{Failure, Limits};

mod idle;
pub mod reply;
mod session;

pub use idle::IdleReport;
use reply::Kind;
use session::{Endpoint, Recorder, Session};

/// Steps of a `mix` session in order; `session` spans a whole session.
const STEPS: [&str; 13] = [
    "connect",
    "greeting",
    "STARTTLS",
    "LOGIN",
    "SELECT",
    "FETCH",
    "FETCH_BODY",
    "STORE",
    "APPEND",
    "STORE_DELETED",
    "EXPUNGE",
    "LOGOUT",
    "session",
];

/// Share of sessions that delete and expunge one message.
const EXPUNGE_RATIO: f64 = 0.1;

/// Messages one `fetch`-mode FETCH of headers covers (imaptest's FETCH takes up to 100).
const FETCH_WINDOW: u32 = 20;

/// Which workload to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionMode {
    /// Clients loop over full mailbox sessions.
    Mix,
    /// Clients loop over LOGIN and LOGOUT only.
    Login,
    /// Each client logs in once and loops over FETCH (the mailbox must hold messages).
    Fetch,
    /// Each client logs in once and loops over APPEND.
    Append,
    /// Sessions sit in IDLE.
    Idle,
}

/// What one IMAP run does.
#[derive(Debug, Clone)]
pub struct ImapConfig {
    /// `HOST:PORT` to connect to.
    pub target: String,
    /// Accounts, used in turn.
    pub users: Vec<String>,
    /// The password of every account.
    pub password: String,
    /// Concurrent clients (`mix`).
    pub clients: usize,
    /// How long clients keep starting sessions (`mix`) or sessions idle (`idle`).
    pub duration: Duration,
    /// The workload.
    pub mode: SessionMode,
    /// Sessions opened (`idle`).
    pub idle_sessions: usize,
    /// Upgrade with STARTTLS before LOGIN (certificates are not verified).
    pub starttls: bool,
    /// Longest wait for one operation.
    pub timeout: Duration,
    /// The run's hard limit.
    pub max_time: Duration,
    /// Draw the progress line.
    pub progress: bool,
}

/// One command's figures in the report.
#[derive(Debug, Serialize)]
pub struct CommandReport {
    /// Tagged `OK`.
    pub ok: u64,
    /// Tagged `NO`.
    pub no: u64,
    /// Tagged `BAD`.
    pub bad: u64,
    /// Latency of the successful ones, to the tagged completion.
    pub latency: Option<Summary>,
}

/// The figures of a `mix` run.
#[derive(Debug, Serialize)]
pub struct MixReport {
    /// Always `imap`.
    pub mode: &'static str,
    /// `mix`, `login`, `fetch` or `append`.
    pub workload: SessionMode,
    /// The server driven.
    pub target: String,
    /// Wall time of the run in seconds.
    pub elapsed_secs: f64,
    /// Accounts used.
    pub users: usize,
    /// Sessions started.
    pub sessions: u64,
    /// Sessions that ran every command and LOGOUT with OK.
    pub sessions_completed: u64,
    /// Sessions ended by a NO or BYE.
    pub sessions_rejected: u64,
    /// Failures (flattened: `connection_errors`, `timeouts`, `protocol_violations`,
    /// `errors`, `interrupted`).
    #[serde(flatten)]
    pub faults: Faults,
    /// Completed sessions per second.
    pub sessions_per_sec: f64,
    /// Tagged completions (OK, NO, BAD) per second.
    pub commands_per_sec: f64,
    /// Messages fetched whole.
    pub messages_fetched: u64,
    /// Literal octets received in FETCH BODY.PEEK[] answers.
    pub bytes_fetched: u64,
    /// Messages appended.
    pub messages_appended: u64,
    /// Messages expunged.
    pub messages_expunged: u64,
    /// Smallest and largest message count SELECT reported.
    pub mailbox_min: Option<u64>,
    /// See `mailbox_min`.
    pub mailbox_max: Option<u64>,
    /// Per-command counts and latency; `connect`, `greeting` and `session` too.
    pub commands: BTreeMap<&'static str, CommandReport>,
    /// Error texts with their counts (at most 20 distinct).
    pub error_samples: BTreeMap<String, u64>,
    #[serde(skip)]
    lat: crate::stats::Latencies,
}

/// The figures of either workload.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ImapReport {
    /// A `mix` run.
    Mix(MixReport),
    /// An `idle` run.
    Idle(IdleReport),
}

impl ImapReport {
    /// Whether anything succeeded: a completed session, or one session in IDLE.
    pub fn succeeded(&self) -> bool {
        match self {
            ImapReport::Mix(r) => r.sessions_completed > 0,
            ImapReport::Idle(r) => r.sessions_idling > 0,
        }
    }

    /// The human summary.
    pub fn table(&self) -> String {
        match self {
            ImapReport::Mix(r) => r.table(),
            ImapReport::Idle(r) => r.table(),
        }
    }
}

/// Per-command lines of the table: the NO and BAD counts.
fn refusals_text(commands: &BTreeMap<&'static str, CommandReport>) -> String {
    let refused: Vec<String> = commands
        .iter()
        .filter(|(_, c)| c.no + c.bad > 0)
        .map(|(name, c)| format!("{name} NO {} BAD {}", c.no, c.bad))
        .collect();
    if refused.is_empty() {
        String::new()
    } else {
        format!("\nrefusals: {}\n", refused.join(", "))
    }
}

impl MixReport {
    fn table(&self) -> String {
        let mut out = format!(
            "IMAP {:?} load on {}: {} of {} sessions completed in {:.2} s ({:.1} sessions/s, \
             {:.1} commands/s, {} users)\n\
             rejected {}  {}\n\
             fetched {} messages ({} octets), appended {}, expunged {}\n\n",
            self.workload,
            self.target,
            self.sessions_completed,
            self.sessions,
            self.elapsed_secs,
            self.sessions_per_sec,
            self.commands_per_sec,
            self.users,
            self.sessions_rejected,
            self.faults.text(),
            self.messages_fetched,
            self.bytes_fetched,
            self.messages_appended,
            self.messages_expunged,
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

/// Per-command reports for `steps` from merged figures.
fn command_reports(
    steps: &[&'static str],
    rec: &Recorder,
    elapsed: Duration,
) -> BTreeMap<&'static str, CommandReport> {
    let summaries = rec.lat.summaries(elapsed);
    steps
        .iter()
        .filter_map(|&name| {
            let c = rec.counts.get(name).copied().unwrap_or_default();
            let latency = summaries.get(name).cloned();
            (c.ok + c.no + c.bad > 0 || latency.is_some()).then_some((
                name,
                CommandReport {
                    ok: c.ok,
                    no: c.no,
                    bad: c.bad,
                    latency,
                },
            ))
        })
        .collect()
}

/// The small message APPEND stores; unique per run and session.
fn append_message(id: u64) -> String {
    format!(
        "From: hermod-load <hermod-load@localhost>\r\n\
         To: <load@localhost>\r\n\
         Subject: hermod-load append {id}\r\n\
         Message-ID: <append-{id}@hermod-load>\r\n\
         \r\n\
         Appended by hermod-load.\r\n"
    )
}

struct Shared {
    cfg: ImapConfig,
    at: Endpoint,
    tally: Tally,
    sessions: AtomicU64,
    fetched: AtomicU64,
    bytes: AtomicU64,
    appended: AtomicU64,
    expunged: AtomicU64,
    started: Instant,
}

struct Worker {
    shared: Arc<Shared>,
    rec: Recorder,
    mailbox: Option<(u64, u64)>,
    rng: StdRng,
    /// Set when going on cannot succeed.
    finished: bool,
}

impl Worker {
    /// APPEND with a synchronizing literal: the message goes only after the server's
    /// continuation request (RFC 3501 §7.5).
    async fn append(&mut self, s: &mut Session, id: u64) -> Result<(), Failure> {
        let message = append_message(id);
        let t = Instant::now();
        let tag = s.tag();
        let line = format!("{tag} APPEND INBOX (\\Seen) {{{}}}\r\n", message.len());
        s.send("APPEND", line.as_bytes()).await?;
        let (_, asked) = s
            .complete(&mut self.rec, "APPEND", &tag, |k| {
                matches!(k, Kind::Continuation)
            })
            .await?;
        if !asked {
            return Err(Failure::Violation {
                step: "APPEND",
                detail: "completed before the literal was sent".into(),
            });
        }
        s.send("APPEND", format!("{message}\r\n").as_bytes())
            .await?;
        s.complete(&mut self.rec, "APPEND", &tag, |_| false).await?;
        self.rec.lat.record("APPEND", t.elapsed());
        Ok(())
    }

    async fn session(&mut self, user: &str) -> Result<(), Failure> {
        let shared = Arc::clone(&self.shared);
        let rec = &mut self.rec;
        let mut s = Session::open(&shared.at, user, &shared.cfg.password, rec).await?;
        s.command(rec, "SELECT", "SELECT INBOX").await?;
        let count = u64::from(s.exists);
        self.mailbox = Some(match self.mailbox {
            Some((lo, hi)) => (lo.min(count), hi.max(count)),
            None => (count, count),
        });
        if s.exists > 0 {
            s.command(rec, "FETCH", "FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)")
                .await?;
        }
        if s.exists > 0 {
            let n = self.rng.gen_range(1..=s.exists);
            let octets = s
                .command(rec, "FETCH_BODY", &format!("FETCH {n} BODY.PEEK[]"))
                .await?;
            shared.fetched.fetch_add(1, Ordering::Relaxed);
            shared.bytes.fetch_add(octets, Ordering::Relaxed);
            s.command(rec, "STORE", &format!("STORE {n} +FLAGS (\\Seen)"))
                .await?;
        }
        let id = self.rng.gen::<u64>();
        self.append(&mut s, id).await?;
        shared.appended.fetch_add(1, Ordering::Relaxed);
        let rec = &mut self.rec;
        if s.exists > 0 && self.rng.gen_bool(EXPUNGE_RATIO) {
            let n = self.rng.gen_range(1..=s.exists);
            s.command(
                rec,
                "STORE_DELETED",
                &format!("STORE {n} +FLAGS (\\Deleted)"),
            )
            .await?;
            let before = s.exists;
            s.command(rec, "EXPUNGE", "EXPUNGE").await?;
            let gone = before.saturating_sub(s.exists);
            shared
                .expunged
                .fetch_add(u64::from(gone), Ordering::Relaxed);
        }
        s.command(rec, "LOGOUT", "LOGOUT").await?;
        Ok(())
    }

    /// `login` mode: LOGIN and LOGOUT, nothing in between.
    async fn login_only(&mut self, user: &str) -> Result<(), Failure> {
        let shared = Arc::clone(&self.shared);
        let rec = &mut self.rec;
        let mut s = Session::open(&shared.at, user, &shared.cfg.password, rec).await?;
        s.command(rec, "LOGOUT", "LOGOUT").await?;
        Ok(())
    }

    /// `fetch` and `append` modes: one session that loops until the run ends.
    async fn logged_in(&mut self, user: &str, until: Instant) -> Result<(), Failure> {
        let shared = Arc::clone(&self.shared);
        let rec = &mut self.rec;
        let mut s = Session::open(&shared.at, user, &shared.cfg.password, rec).await?;
        s.command(rec, "SELECT", "SELECT INBOX").await?;
        let count = u64::from(s.exists);
        self.mailbox = Some(match self.mailbox {
            Some((lo, hi)) => (lo.min(count), hi.max(count)),
            None => (count, count),
        });
        let fetching = shared.cfg.mode == SessionMode::Fetch;
        if fetching && s.exists == 0 {
            // Another session would find the same empty INBOX: this client is done.
            self.finished = true;
            return Err(Failure::Violation {
                step: "SELECT",
                detail: format!("{user}: INBOX is empty; fill it first (--mode append)"),
            });
        }
        while Instant::now() < until {
            if fetching {
                let rec = &mut self.rec;
                let first = self.rng.gen_range(1..=s.exists);
                let last = (first + FETCH_WINDOW - 1).min(s.exists);
                s.command(
                    rec,
                    "FETCH",
                    &format!("FETCH {first}:{last} (FLAGS RFC822.SIZE ENVELOPE)"),
                )
                .await?;
                let n = self.rng.gen_range(1..=s.exists);
                let octets = s
                    .command(rec, "FETCH_BODY", &format!("FETCH {n} BODY.PEEK[]"))
                    .await?;
                shared.fetched.fetch_add(1, Ordering::Relaxed);
                shared.bytes.fetch_add(octets, Ordering::Relaxed);
            } else {
                let id = self.rng.gen::<u64>();
                self.append(&mut s, id).await?;
                shared.appended.fetch_add(1, Ordering::Relaxed);
            }
        }
        s.command(&mut self.rec, "LOGOUT", "LOGOUT").await?;
        Ok(())
    }

    async fn run(mut self, index: usize) -> Worker {
        let shared = Arc::clone(&self.shared);
        let users = &shared.cfg.users;
        let until = (shared.started + shared.cfg.duration).min(shared.at.limits.stop_at);
        // Clients start on different accounts and step by the client count.
        let mut turn = index;
        while Instant::now() < until && !users.is_empty() && !self.finished {
            let user = &users[turn % users.len()];
            turn += shared.cfg.clients.max(1);
            shared.sessions.fetch_add(1, Ordering::Relaxed);
            let t = Instant::now();
            let outcome = match shared.cfg.mode {
                SessionMode::Login => self.login_only(user).await,
                SessionMode::Fetch | SessionMode::Append => self.logged_in(user, until).await,
                SessionMode::Mix | SessionMode::Idle => self.session(user).await,
            };
            match outcome {
                Ok(()) => {
                    self.rec.lat.record("session", t.elapsed());
                    shared.tally.succeed();
                }
                Err(e) => shared.tally.fail(&e),
            }
        }
        self
    }
}

/// The endpoint and limits of a run starting now.
fn endpoint(cfg: &ImapConfig, started: Instant) -> anyhow::Result<Endpoint> {
    let tls = if cfg.starttls {
        let name = crate::tls::server_name(&cfg.target).map_err(anyhow::Error::msg)?;
        Some((crate::tls::insecure_connector()?, name))
    } else {
        None
    };
    Ok(Endpoint {
        target: cfg.target.clone(),
        tls,
        limits: Limits {
            timeout: cfg.timeout,
            stop_at: started + cfg.max_time,
        },
    })
}

/// Runs the IMAP mode and returns its figures.
pub async fn run(cfg: ImapConfig) -> anyhow::Result<ImapReport> {
    match cfg.mode {
        SessionMode::Mix | SessionMode::Login | SessionMode::Fetch | SessionMode::Append => {
            Ok(ImapReport::Mix(run_mix(cfg).await?))
        }
        SessionMode::Idle => Ok(ImapReport::Idle(idle::run(cfg).await?)),
    }
}

async fn run_mix(cfg: ImapConfig) -> anyhow::Result<MixReport> {
    let started = Instant::now();
    let at = endpoint(&cfg, started)?;
    let stop_at = at.limits.stop_at;
    let shared = Arc::new(Shared {
        cfg,
        at,
        tally: Tally::default(),
        sessions: AtomicU64::new(0),
        fetched: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        appended: AtomicU64::new(0),
        expunged: AtomicU64::new(0),
        started,
    });
    let progress = Progress::new(shared.cfg.progress, None);
    let ticker = {
        let shared = Arc::clone(&shared);
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                let c = shared.tally.counts();
                progress.update(
                    0,
                    format!(
                        "sessions ok {} rejected {} errors {} appended {}",
                        c.ok,
                        c.rejected(),
                        c.errors(),
                        shared.appended.load(Ordering::Relaxed)
                    ),
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let mut workers = tokio::task::JoinSet::new();
    for index in 0..shared.cfg.clients.max(1) {
        let worker = Worker {
            shared: Arc::clone(&shared),
            rec: Recorder::new(&STEPS),
            mailbox: None,
            rng: StdRng::from_entropy(),
            finished: false,
        };
        workers.spawn(worker.run(index));
    }
    let mut rec = Recorder::new(&STEPS);
    let mut mailbox: Option<(u64, u64)> = None;
    // Every operation is bounded by stop_at; the grace only covers a stuck task.
    let hard_stop = stop_at + Duration::from_secs(5);
    while let Ok(Some(joined)) = tokio::time::timeout_at(hard_stop, workers.join_next()).await {
        let Ok(worker) = joined else { continue };
        rec.merge(&worker.rec);
        if let Some((lo, hi)) = worker.mailbox {
            mailbox = Some(mailbox.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
    }
    workers.abort_all();
    ticker.abort();
    progress.finish();
    let elapsed = started.elapsed();
    let commands = command_reports(&STEPS, &rec, elapsed);
    let completions: u64 = rec.counts.values().map(|c| c.ok + c.no + c.bad).sum();
    let c = shared.tally.counts();
    Ok(MixReport {
        mode: "imap",
        workload: shared.cfg.mode,
        target: shared.cfg.target.clone(),
        elapsed_secs: elapsed.as_secs_f64(),
        users: shared.cfg.users.len(),
        sessions: shared.sessions.load(Ordering::Relaxed),
        sessions_completed: c.ok,
        sessions_rejected: c.rejected(),
        faults: c.faults(),
        sessions_per_sec: stats::per_sec(c.ok, elapsed),
        commands_per_sec: stats::per_sec(completions, elapsed),
        messages_fetched: shared.fetched.load(Ordering::Relaxed),
        bytes_fetched: shared.bytes.load(Ordering::Relaxed),
        messages_appended: shared.appended.load(Ordering::Relaxed),
        messages_expunged: shared.expunged.load(Ordering::Relaxed),
        mailbox_min: mailbox.map(|m| m.0),
        mailbox_max: mailbox.map(|m| m.1),
        commands,
        error_samples: shared.tally.samples(),
        lat: rec.lat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_messages_are_well_formed() {
        let m = append_message(7);
        assert!(m.contains("Message-ID: <append-7@hermod-load>\r\n"));
        assert!(m.ends_with("\r\n"));
        assert!(!m.replace("\r\n", "").contains('\n'));
    }
}
