//! The POP3 mode: C clients loop for a duration over login, STAT, LIST, RETR of a random
//! message, an optional DELE and QUIT, each command checked and timed (RFC 1939).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::time::Instant;

use crate::stats::{self, Faults, Latencies, Progress, Summary, Tally};
use crate::wire::{excerpt, Conn, Failure, Limits};

/// RFC 1939 §3 limits responses to 512 octets; message lines may be longer in the wild.
const MAX_LINE: usize = 64 * 1024;

/// Commands timed, in session order; `session` spans a whole session.
const STEPS: [&str; 10] = [
    "connect", "greeting", "USER", "PASS", "STAT", "LIST", "RETR", "DELE", "QUIT", "session",
];

/// What one POP3 run does.
#[derive(Debug, Clone)]
pub struct Pop3Config {
    /// `HOST:PORT` to connect to.
    pub target: String,
    /// Accounts, used in turn.
    pub users: Vec<String>,
    /// The password of every account.
    pub password: String,
    /// Concurrent clients.
    pub clients: usize,
    /// How long clients keep starting sessions.
    pub duration: Duration,
    /// Probability of deleting the retrieved message.
    pub delete_ratio: f64,
    /// Longest wait for one operation.
    pub timeout: Duration,
    /// The run's hard limit.
    pub max_time: Duration,
    /// Draw the progress line.
    pub progress: bool,
}

/// Expands `pattern` over accounts 1..=`count`: a `%d` or `%0Nd` directive is replaced
/// by the number; a pattern without one is a single literal account (`%%` is `%`).
pub fn expand_users(pattern: &str, count: u64) -> Result<Vec<String>, String> {
    let mut head = String::new();
    let mut tail = String::new();
    let mut width: Option<(bool, usize)> = None;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        let out = if width.is_some() {
            &mut tail
        } else {
            &mut head
        };
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        if width.is_some() {
            return Err(format!("more than one %d in {pattern:?}"));
        }
        let zero = chars.peek() == Some(&'0');
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        if chars.next() != Some('d') {
            return Err(format!("only %d and %0Nd are understood in {pattern:?}"));
        }
        let n = digits.parse().unwrap_or(0);
        width = Some((zero, n));
    }
    match width {
        None if count <= 1 => Ok(vec![head]),
        None => Err(format!("--user-count {count} needs a %d in {pattern:?}")),
        Some((zero, n)) => Ok((1..=count.max(1))
            .map(|i| {
                if zero {
                    format!("{head}{i:0n$}{tail}")
                } else {
                    format!("{head}{i:n$}{tail}")
                }
            })
            .collect()),
    }
}

/// Counts of one command's outcomes.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CommandCount {
    /// `+OK` answers.
    pub ok: u64,
    /// `-ERR` answers.
    pub err: u64,
}

/// One command's figures in the report.
#[derive(Debug, Serialize)]
pub struct CommandReport {
    /// `+OK` answers.
    pub ok: u64,
    /// `-ERR` answers.
    pub err: u64,
    /// Latency of the `+OK` answers (RETR and LIST include the whole listing).
    pub latency: Option<Summary>,
}

/// The figures of a POP3 run.
#[derive(Debug, Serialize)]
pub struct Pop3Report {
    /// Always `pop3`.
    pub mode: &'static str,
    /// The server driven.
    pub target: String,
    /// Wall time of the run in seconds.
    pub elapsed_secs: f64,
    /// Accounts used.
    pub users: usize,
    /// Sessions started.
    pub sessions: u64,
    /// Sessions that ran every command and QUIT with `+OK`.
    pub sessions_completed: u64,
    /// Sessions ended by an `-ERR` (login refused, maildrop locked, ...).
    pub sessions_rejected: u64,
    /// Failures (flattened: `connection_errors`, `timeouts`, `protocol_violations`,
    /// `errors`, `interrupted`).
    #[serde(flatten)]
    pub faults: Faults,
    /// Completed sessions per second.
    pub sessions_per_sec: f64,
    /// Messages retrieved.
    pub messages_retrieved: u64,
    /// Octets retrieved (message lines, CRLF included).
    pub bytes_retrieved: u64,
    /// Messages marked deleted in sessions that ended with QUIT.
    pub messages_deleted: u64,
    /// Smallest and largest message count STAT reported.
    pub maildrop_min: Option<u64>,
    /// See `maildrop_min`.
    pub maildrop_max: Option<u64>,
    /// Per-command counts and latency; `connect`, `greeting` and `session` too.
    pub commands: BTreeMap<&'static str, CommandReport>,
    /// Error texts with their counts (at most 20 distinct).
    pub error_samples: BTreeMap<String, u64>,
    #[serde(skip)]
    lat: Latencies,
}

impl Pop3Report {
    /// Whether at least one session completed.
    pub fn succeeded(&self) -> bool {
        self.sessions_completed > 0
    }

    /// The human summary.
    pub fn table(&self) -> String {
        let mut out = format!(
            "POP3 load on {}: {} of {} sessions completed in {:.2} s ({:.1} sessions/s, {} users)\n\
             rejected {}  {}\n\
             retrieved {} messages ({} octets), deleted {}\n\n",
            self.target,
            self.sessions_completed,
            self.sessions,
            self.elapsed_secs,
            self.sessions_per_sec,
            self.users,
            self.sessions_rejected,
            self.faults.text(),
            self.messages_retrieved,
            self.bytes_retrieved,
            self.messages_deleted,
        );
        out += &stats::latency_table(
            "command",
            &self.lat,
            Duration::from_secs_f64(self.elapsed_secs),
        );
        let errs: Vec<String> = self
            .commands
            .iter()
            .filter(|(_, c)| c.err > 0)
            .map(|(name, c)| format!("{name} {}", c.err))
            .collect();
        if !errs.is_empty() {
            out += &format!("\n-ERR answers: {}\n", errs.join(", "));
        }
        if !self.error_samples.is_empty() {
            out += "\nerrors seen:\n";
            out += &stats::samples_text(&self.error_samples);
        }
        out
    }
}

/// Classifies a status line: `Ok(text)` for `+OK`, `Err` for `-ERR` or garbage.
pub fn parse_status(line: &[u8], step: &'static str) -> Result<String, Failure> {
    let rest = |n: usize| String::from_utf8_lossy(&line[n..]).trim_start().to_string();
    // RFC 1939 §3: a status indicator, then the end of the line or a space.
    let ends_word = |n: usize| line.len() == n || line[n] == b' ';
    if line.starts_with(b"+OK") && ends_word(3) {
        Ok(rest(3))
    } else if line.starts_with(b"-ERR") && ends_word(4) {
        Err(Failure::Rejected {
            step,
            class: "-ERR",
        })
    } else {
        Err(Failure::Violation {
            step,
            detail: format!("not a status line: {}", excerpt(line)),
        })
    }
}

/// Parses STAT's `+OK` text: message count and octets (RFC 1939 §5 "drop listing").
pub fn parse_stat(text: &str) -> Result<(u64, u64), Failure> {
    let mut words = text.split(' ');
    let count = words.next().and_then(|w| w.parse().ok());
    let size = words.next().and_then(|w| w.parse().ok());
    match (count, size) {
        (Some(c), Some(s)) => Ok((c, s)),
        _ => Err(Failure::Violation {
            step: "STAT",
            detail: format!("bad drop listing {:?}", excerpt(text.as_bytes())),
        }),
    }
}

struct Shared {
    cfg: Pop3Config,
    tally: Tally,
    sessions: AtomicU64,
    retrieved: AtomicU64,
    bytes: AtomicU64,
    deleted: AtomicU64,
    started: Instant,
    limits: Limits,
}

struct Worker {
    shared: Arc<Shared>,
    lat: Latencies,
    counts: BTreeMap<&'static str, CommandCount>,
    maildrop: Option<(u64, u64)>,
    rng: StdRng,
}

/// What a worker brings back.
struct WorkerResult {
    lat: Latencies,
    counts: BTreeMap<&'static str, CommandCount>,
    maildrop: Option<(u64, u64)>,
}

impl Worker {
    /// Sends `command` (if any), reads its status line, counts and times it.
    async fn command(
        &mut self,
        conn: &mut Conn,
        step: &'static str,
        command: Option<&str>,
    ) -> Result<(String, Instant), Failure> {
        let t = Instant::now();
        if let Some(command) = command {
            conn.send(step, format!("{command}\r\n").as_bytes()).await?;
        }
        let line = conn.read_line(step, MAX_LINE).await?;
        let status = parse_status(&line, step);
        let count = self.counts.entry(step).or_default();
        match &status {
            Ok(_) => count.ok += 1,
            Err(Failure::Rejected { .. }) => count.err += 1,
            Err(_) => {}
        }
        Ok((status?, t))
    }

    /// Reads a multi-line body up to the lone "." (RFC 1939 §3); returns lines, octets.
    async fn multiline(conn: &mut Conn, step: &'static str) -> Result<(u64, u64), Failure> {
        let (mut lines, mut octets) = (0u64, 0u64);
        loop {
            let line = conn.read_line(step, MAX_LINE).await?;
            if line == b"." {
                return Ok((lines, octets));
            }
            lines += 1;
            octets += line.len() as u64 + 2;
        }
    }

    async fn session(&mut self, user: &str) -> Result<(), Failure> {
        let shared = Arc::clone(&self.shared);
        let t = Instant::now();
        let mut conn = Conn::connect(&shared.cfg.target, shared.limits).await?;
        self.lat.record("connect", t.elapsed());
        let (_, t) = self.command(&mut conn, "greeting", None).await?;
        self.lat.record("greeting", t.elapsed());
        for (step, command) in [
            ("USER", format!("USER {user}")),
            ("PASS", format!("PASS {}", shared.cfg.password)),
        ] {
            let (_, t) = self.command(&mut conn, step, Some(&command)).await?;
            self.lat.record(step, t.elapsed());
        }
        let (text, t) = self.command(&mut conn, "STAT", Some("STAT")).await?;
        let (count, _) = parse_stat(&text)?;
        self.lat.record("STAT", t.elapsed());
        self.maildrop = Some(match self.maildrop {
            Some((lo, hi)) => (lo.min(count), hi.max(count)),
            None => (count, count),
        });
        let (_, t) = self.command(&mut conn, "LIST", Some("LIST")).await?;
        let (listed, _) = Self::multiline(&mut conn, "LIST").await?;
        self.lat.record("LIST", t.elapsed());
        if listed != count {
            return Err(Failure::Violation {
                step: "LIST",
                detail: format!("{listed} entries where STAT said {count}"),
            });
        }
        let mut deleted = 0;
        if count > 0 {
            let n = self.rng.gen_range(1..=count);
            let (_, t) = self
                .command(&mut conn, "RETR", Some(&format!("RETR {n}")))
                .await?;
            let (_, octets) = Self::multiline(&mut conn, "RETR").await?;
            self.lat.record("RETR", t.elapsed());
            shared.retrieved.fetch_add(1, Ordering::Relaxed);
            shared.bytes.fetch_add(octets, Ordering::Relaxed);
            if self.rng.gen_bool(shared.cfg.delete_ratio.clamp(0.0, 1.0)) {
                let (_, t) = self
                    .command(&mut conn, "DELE", Some(&format!("DELE {n}")))
                    .await?;
                self.lat.record("DELE", t.elapsed());
                deleted = 1;
            }
        }
        let (_, t) = self.command(&mut conn, "QUIT", Some("QUIT")).await?;
        self.lat.record("QUIT", t.elapsed());
        // RFC 1939 §6: deletions take effect only at a successful QUIT.
        shared.deleted.fetch_add(deleted, Ordering::Relaxed);
        Ok(())
    }

    async fn run(mut self, index: usize) -> WorkerResult {
        let shared = Arc::clone(&self.shared);
        let users = &shared.cfg.users;
        let until = (shared.started + shared.cfg.duration).min(shared.limits.stop_at);
        // Clients start on different accounts so they do not queue on one maildrop lock.
        let mut turn = index;
        while Instant::now() < until && !users.is_empty() {
            let user = &users[turn % users.len()];
            turn += shared.cfg.clients.max(1);
            shared.sessions.fetch_add(1, Ordering::Relaxed);
            let t = Instant::now();
            match self.session(user).await {
                Ok(()) => {
                    self.lat.record("session", t.elapsed());
                    shared.tally.succeed();
                }
                Err(e) => shared.tally.fail(&e),
            }
        }
        WorkerResult {
            lat: self.lat,
            counts: self.counts,
            maildrop: self.maildrop,
        }
    }
}

/// Runs the POP3 mode for its duration (or `max_time`) and returns its figures.
pub async fn run(cfg: Pop3Config) -> anyhow::Result<Pop3Report> {
    let started = Instant::now();
    let limits = Limits {
        timeout: cfg.timeout,
        stop_at: started + cfg.max_time,
    };
    let shared = Arc::new(Shared {
        cfg,
        tally: Tally::default(),
        sessions: AtomicU64::new(0),
        retrieved: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        deleted: AtomicU64::new(0),
        started,
        limits,
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
                        "sessions ok {} rejected {} errors {} retrieved {}",
                        c.ok,
                        c.rejected(),
                        c.errors(),
                        shared.retrieved.load(Ordering::Relaxed)
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
            lat: Latencies::new(&STEPS),
            counts: BTreeMap::new(),
            maildrop: None,
            rng: StdRng::from_entropy(),
        };
        workers.spawn(worker.run(index));
    }
    let mut lat = Latencies::new(&STEPS);
    let mut counts: BTreeMap<&'static str, CommandCount> = BTreeMap::new();
    let mut maildrop: Option<(u64, u64)> = None;
    // Every operation is bounded by stop_at; the grace only covers a stuck task.
    let hard_stop = limits.stop_at + Duration::from_secs(5);
    while let Ok(Some(joined)) = tokio::time::timeout_at(hard_stop, workers.join_next()).await {
        let Ok(result) = joined else { continue };
        lat.merge(&result.lat);
        for (name, c) in result.counts {
            let mine = counts.entry(name).or_default();
            mine.ok += c.ok;
            mine.err += c.err;
        }
        if let Some((lo, hi)) = result.maildrop {
            maildrop = Some(maildrop.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        }
    }
    workers.abort_all();
    ticker.abort();
    progress.finish();
    let elapsed = started.elapsed();
    let summaries = lat.summaries(elapsed);
    let commands = STEPS
        .iter()
        .filter_map(|&name| {
            let c = counts.get(name).copied().unwrap_or_default();
            let latency = summaries.get(name).cloned();
            (c.ok + c.err > 0 || latency.is_some()).then_some((
                name,
                CommandReport {
                    ok: c.ok,
                    err: c.err,
                    latency,
                },
            ))
        })
        .collect();
    let c = shared.tally.counts();
    Ok(Pop3Report {
        mode: "pop3",
        target: shared.cfg.target.clone(),
        elapsed_secs: elapsed.as_secs_f64(),
        users: shared.cfg.users.len(),
        sessions: shared.sessions.load(Ordering::Relaxed),
        sessions_completed: c.ok,
        sessions_rejected: c.rejected(),
        faults: c.faults(),
        sessions_per_sec: stats::per_sec(c.ok, elapsed),
        messages_retrieved: shared.retrieved.load(Ordering::Relaxed),
        bytes_retrieved: shared.bytes.load(Ordering::Relaxed),
        messages_deleted: shared.deleted.load(Ordering::Relaxed),
        maildrop_min: maildrop.map(|m| m.0),
        maildrop_max: maildrop.map(|m| m.1),
        commands,
        error_samples: shared.tally.samples(),
        lat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_patterns() {
        assert_eq!(
            expand_users("u%05d@example.test", 3).unwrap(),
            vec![
                "u00001@example.test",
                "u00002@example.test",
                "u00003@example.test"
            ]
        );
        assert_eq!(expand_users("u%d", 2).unwrap(), vec!["u1", "u2"]);
        assert_eq!(
            expand_users("alice@example.test", 1).unwrap(),
            vec!["alice@example.test"]
        );
        assert_eq!(expand_users("100%%-%d", 1).unwrap(), vec!["100%-1"]);
        assert!(expand_users("alice", 5).is_err());
        assert!(expand_users("u%s", 1).is_err());
        assert!(expand_users("u%d%d", 2).is_err());
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status(b"+OK 2 320", "STAT").unwrap(), "2 320");
        assert_eq!(parse_status(b"+OK", "QUIT").unwrap(), "");
        assert!(matches!(
            parse_status(b"-ERR [IN-USE] locked", "PASS"),
            Err(Failure::Rejected { step: "PASS", .. })
        ));
        for garbage in [&b"hello"[..], b"+OKAY", b"", b"\x00\xff", b"-ERRx"] {
            assert!(
                matches!(
                    parse_status(garbage, "USER"),
                    Err(Failure::Violation { .. })
                ),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn drop_listings() {
        assert_eq!(parse_stat("2 320").unwrap(), (2, 320));
        assert_eq!(parse_stat("0 0 extra").unwrap(), (0, 0));
        assert!(parse_stat("two 320").is_err());
        assert!(parse_stat("").is_err());
    }
}
