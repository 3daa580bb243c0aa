//! The SMTP mode: C workers share a budget of N messages, each sent over a fresh
//! connection or a reused one (EHLO, optional STARTTLS and AUTH PLAIN, MAIL, RCPT,
//! DATA), paced to an optional total rate; every reply is checked and every step timed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::Serialize;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use crate::stats::{self, Counts, Faults, Latencies, Progress, Summary, Tally};
use crate::wire::{Conn, Failure, Limits};

mod reply;

use reply::{expect, read_reply, Reply};

/// Steps timed, in session order; `message` spans one whole message.
const STEPS: [&str; 11] = [
    "connect",
    "greeting",
    "ehlo",
    "starttls",
    "auth",
    "mail",
    "rcpt",
    "data",
    "end_of_data",
    "quit",
    "message",
];

/// What one SMTP run does.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// `HOST:PORT` to connect to.
    pub target: String,
    /// Envelope recipient of every message.
    pub to: String,
    /// Envelope sender of every message.
    pub from: String,
    /// Messages to send in total.
    pub messages: u64,
    /// Concurrent sessions.
    pub concurrency: usize,
    /// Approximate size of each message in octets.
    pub size: usize,
    /// Send many messages per connection instead of one.
    pub reuse: bool,
    /// Total messages per second, if paced.
    pub rate: Option<f64>,
    /// Upgrade with STARTTLS after EHLO.
    pub starttls: bool,
    /// AUTH PLAIN credentials.
    pub auth: Option<(String, String)>,
    /// Send MAIL, RCPT and DATA in one write when the server offers PIPELINING.
    pub pipelining: bool,
    /// Longest wait for one operation.
    pub timeout: Duration,
    /// The run's hard limit.
    pub max_time: Duration,
    /// Draw the progress line.
    pub progress: bool,
}

/// The figures of an SMTP run.
#[derive(Debug, Serialize)]
pub struct SmtpReport {
    /// Always `smtp`.
    pub mode: &'static str,
    /// The server driven.
    pub target: String,
    /// Wall time of the run in seconds.
    pub elapsed_secs: f64,
    /// Messages requested.
    pub requested: u64,
    /// Messages started.
    pub attempted: u64,
    /// Messages the server took responsibility for (250 after the data).
    pub accepted: u64,
    /// Refused messages by reply class (`4xx`, `5xx`).
    pub rejected: Rejected,
    /// Failures (flattened: `connection_errors`, `timeouts`, `protocol_violations`,
    /// `errors`, `interrupted`).
    #[serde(flatten)]
    pub faults: Faults,
    /// Connections opened.
    pub connections: u64,
    /// Accepted messages per second.
    pub throughput_per_sec: f64,
    /// Message octets accepted.
    pub bytes_accepted: u64,
    /// Latency per step and per whole message.
    pub latency: std::collections::BTreeMap<&'static str, Summary>,
    /// Error texts with their counts (at most 20 distinct).
    pub error_samples: std::collections::BTreeMap<String, u64>,
    #[serde(skip)]
    lat: Latencies,
}

/// Refusals by reply class.
#[derive(Debug, Serialize)]
pub struct Rejected {
    /// Transient refusals.
    #[serde(rename = "4xx")]
    pub transient: u64,
    /// Permanent refusals.
    #[serde(rename = "5xx")]
    pub permanent: u64,
}

impl SmtpReport {
    /// Whether at least one message was accepted.
    pub fn succeeded(&self) -> bool {
        self.accepted > 0
    }

    /// The human summary.
    pub fn table(&self) -> String {
        let mut out = format!(
            "SMTP load on {}: {} of {} messages accepted in {:.2} s ({:.1} msg/s, {} connections)\n\
             rejected 4xx {}  5xx {}  {}\n\n",
            self.target,
            self.accepted,
            self.requested,
            self.elapsed_secs,
            self.throughput_per_sec,
            self.connections,
            self.rejected.transient,
            self.rejected.permanent,
            self.faults.text(),
        );
        out += &stats::latency_table(
            "step",
            &self.lat,
            Duration::from_secs_f64(self.elapsed_secs),
        );
        if !self.error_samples.is_empty() {
            out += "\nerrors seen:\n";
            out += &stats::samples_text(&self.error_samples);
        }
        out
    }
}

/// The message body after the headers: lines of letters (never starting with `.`, so
/// no dot-stuffing is needed) filling up to about `size` octets.
fn body(size: usize) -> Vec<u8> {
    const LINE: &[u8] =
        b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijk\r\n";
    let mut out = Vec::with_capacity(size + LINE.len());
    while out.len() + LINE.len() <= size.max(LINE.len()) {
        out.extend_from_slice(LINE);
    }
    out
}

struct Shared {
    cfg: SmtpConfig,
    tally: Tally,
    next: AtomicU64,
    connections: AtomicU64,
    bytes: AtomicU64,
    started: Instant,
    limits: Limits,
    body: Vec<u8>,
    tls: Option<TlsConnector>,
    run_id: u64,
}

/// An open session, past greeting, EHLO, STARTTLS and AUTH.
struct Session {
    conn: Conn,
    pipelining: bool,
}

struct Worker {
    shared: Arc<Shared>,
    lat: Latencies,
}

impl Worker {
    fn timed(&mut self, step: &'static str, since: Instant) {
        self.lat.record(step, since.elapsed());
    }

    async fn ehlo(&mut self, conn: &mut Conn) -> Result<Reply, Failure> {
        let t = Instant::now();
        conn.send("ehlo", b"EHLO hermod-load.invalid\r\n").await?;
        let reply = read_reply(conn, "ehlo").await?;
        expect(&reply, "ehlo", 2)?;
        self.timed("ehlo", t);
        Ok(reply)
    }

    async fn open(&mut self) -> Result<Session, Failure> {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.cfg;
        let t = Instant::now();
        let mut conn = Conn::connect(&cfg.target, shared.limits).await?;
        shared.connections.fetch_add(1, Ordering::Relaxed);
        self.timed("connect", t);
        let t = Instant::now();
        let greeting = read_reply(&mut conn, "greeting").await?;
        expect(&greeting, "greeting", 2)?;
        self.timed("greeting", t);
        let mut ehlo = self.ehlo(&mut conn).await?;
        if let Some(connector) = &shared.tls {
            let t = Instant::now();
            conn.send("starttls", b"STARTTLS\r\n").await?;
            let reply = read_reply(&mut conn, "starttls").await?;
            expect(&reply, "starttls", 2)?;
            let name =
                crate::tls::server_name(&cfg.target).map_err(|detail| Failure::Connection {
                    step: "starttls",
                    detail,
                })?;
            conn = conn.start_tls("starttls", connector, name).await?;
            self.timed("starttls", t);
            // RFC 3207 §4.2: forget what was learnt in clear and ask again.
            ehlo = self.ehlo(&mut conn).await?;
        }
        if let Some((user, pass)) = &cfg.auth {
            let t = Instant::now();
            // RFC 4616 §2: authzid NUL authcid NUL passwd, with an empty authzid.
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{pass}"));
            conn.send("auth", format!("AUTH PLAIN {token}\r\n").as_bytes())
                .await?;
            let reply = read_reply(&mut conn, "auth").await?;
            expect(&reply, "auth", 2)?;
            self.timed("auth", t);
        }
        // RFC 2920 §3.1: pipeline only when the server offers it.
        let offered = ehlo.lines.iter().any(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("PIPELINING"))
        });
        Ok(Session {
            conn,
            pipelining: cfg.pipelining && offered,
        })
    }

    fn message_head(&self, seq: u64) -> String {
        let cfg = &self.shared.cfg;
        let date = chrono::Utc::now().to_rfc2822();
        format!(
            "From: <{from}>\r\nTo: <{to}>\r\nSubject: hermod-load message {seq}\r\n\
             Date: {date}\r\nMessage-ID: <{run}.{seq}@hermod-load.invalid>\r\n\r\n",
            from = cfg.from,
            to = cfg.to,
            run = self.shared.run_id,
        )
    }

    /// MAIL, RCPT, DATA and the content; the session stays usable after a refusal.
    async fn transaction(&mut self, s: &mut Session, seq: u64) -> Result<(), Failure> {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.cfg;
        let mail = format!("MAIL FROM:<{}>\r\n", cfg.from);
        let rcpt = format!("RCPT TO:<{}>\r\n", cfg.to);
        if s.pipelining {
            let t = Instant::now();
            let batch = format!("{mail}{rcpt}DATA\r\n");
            s.conn.send("mail", batch.as_bytes()).await?;
            let mail_reply = read_reply(&mut s.conn, "mail").await?;
            self.timed("mail", t);
            let t = Instant::now();
            let rcpt_reply = read_reply(&mut s.conn, "rcpt").await?;
            self.timed("rcpt", t);
            let t = Instant::now();
            let data_reply = read_reply(&mut s.conn, "data").await?;
            self.timed("data", t);
            let refused =
                expect(&mail_reply, "mail", 2).and_then(|()| expect(&rcpt_reply, "rcpt", 2));
            if let Err(e) = refused {
                if data_reply.code == 354 {
                    // RFC 2920 §3.1: without a valid recipient DATA must be refused.
                    return Err(Failure::Violation {
                        step: "data",
                        detail: "354 after a refused MAIL or RCPT".to_string(),
                    });
                }
                return Err(e);
            }
            expect(&data_reply, "data", 3)?;
        } else {
            let steps = [
                ("mail", mail.as_str(), 2),
                ("rcpt", rcpt.as_str(), 2),
                ("data", "DATA\r\n", 3),
            ];
            for (step, command, want) in steps {
                let t = Instant::now();
                s.conn.send(step, command.as_bytes()).await?;
                let reply = read_reply(&mut s.conn, step).await?;
                expect(&reply, step, want)?;
                self.timed(step, t);
            }
        }
        let t = Instant::now();
        let head = self.message_head(seq);
        let mut content = Vec::with_capacity(head.len() + shared.body.len() + 5);
        content.extend_from_slice(head.as_bytes());
        content.extend_from_slice(&shared.body);
        content.extend_from_slice(b".\r\n");
        s.conn.send("end_of_data", &content).await?;
        let reply = read_reply(&mut s.conn, "end_of_data").await?;
        expect(&reply, "end_of_data", 2)?;
        self.timed("end_of_data", t);
        shared
            .bytes
            .fetch_add((content.len() - 3) as u64, Ordering::Relaxed);
        Ok(())
    }

    /// QUIT politely; its outcome does not change the message's.
    async fn quit(&mut self, mut s: Session) {
        let t = Instant::now();
        if s.conn.send("quit", b"QUIT\r\n").await.is_ok()
            && read_reply(&mut s.conn, "quit").await.is_ok()
        {
            self.timed("quit", t);
        }
    }

    /// RSET after a refusal so the connection can carry the next message.
    async fn reset(&mut self, s: &mut Session) -> bool {
        if s.conn.send("rset", b"RSET\r\n").await.is_err() {
            return false;
        }
        matches!(read_reply(&mut s.conn, "rset").await, Ok(r) if r.code / 100 == 2)
    }

    async fn run(mut self) -> Latencies {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.cfg;
        let mut session: Option<Session> = None;
        loop {
            if Instant::now() >= shared.limits.stop_at {
                break;
            }
            let seq = shared.next.fetch_add(1, Ordering::Relaxed);
            if seq >= cfg.messages {
                break;
            }
            if let Some(rate) = cfg.rate {
                let due = shared.started + Duration::from_secs_f64(seq as f64 / rate);
                if due >= shared.limits.stop_at {
                    break;
                }
                tokio::time::sleep_until(due).await;
            }
            let t = Instant::now();
            let opened = match session.take() {
                Some(s) => Ok(s),
                None => self.open().await,
            };
            let mut s = match opened {
                Ok(s) => s,
                Err(e) => {
                    shared.tally.fail(&e);
                    continue;
                }
            };
            match self.transaction(&mut s, seq).await {
                Ok(()) => {
                    self.timed("message", t);
                    shared.tally.succeed();
                    if cfg.reuse {
                        session = Some(s);
                    } else {
                        self.quit(s).await;
                    }
                }
                Err(e @ Failure::Rejected { .. }) => {
                    shared.tally.fail(&e);
                    if cfg.reuse && self.reset(&mut s).await {
                        session = Some(s);
                    } else {
                        self.quit(s).await;
                    }
                }
                // The connection is in an unknown state: drop it.
                Err(e) => shared.tally.fail(&e),
            }
        }
        if let Some(s) = session {
            self.quit(s).await;
        }
        self.lat
    }
}

/// Runs the SMTP mode to completion (or `max_time`) and returns its figures.
pub async fn run(cfg: SmtpConfig) -> anyhow::Result<SmtpReport> {
    let tls = if cfg.starttls {
        Some(crate::tls::insecure_connector()?)
    } else {
        None
    };
    let started = Instant::now();
    let limits = Limits {
        timeout: cfg.timeout,
        stop_at: started + cfg.max_time,
    };
    let shared = Arc::new(Shared {
        body: body(cfg.size),
        tally: Tally::default(),
        next: AtomicU64::new(0),
        connections: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        started,
        limits,
        tls,
        run_id: u64::from(std::process::id()) << 32
            | u64::from(chrono::Utc::now().timestamp_subsec_nanos()),
        cfg,
    });
    let progress = Progress::new(shared.cfg.progress, Some(shared.cfg.messages));
    let ticker = {
        let shared = Arc::clone(&shared);
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                let c = shared.tally.counts();
                progress.update(
                    c.ok + c.rejected() + c.errors() + c.interrupted,
                    format!(
                        "ok {} rejected {} errors {}",
                        c.ok,
                        c.rejected(),
                        c.errors()
                    ),
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..shared.cfg.concurrency.max(1) {
        let worker = Worker {
            shared: Arc::clone(&shared),
            lat: Latencies::new(&STEPS),
        };
        workers.spawn(worker.run());
    }
    let mut lat = Latencies::new(&STEPS);
    // Every operation is bounded by stop_at; the grace only covers a stuck task.
    let hard_stop = limits.stop_at + Duration::from_secs(5);
    while let Ok(Some(joined)) = tokio::time::timeout_at(hard_stop, workers.join_next()).await {
        if let Ok(worker_lat) = joined {
            lat.merge(&worker_lat);
        }
    }
    workers.abort_all();
    ticker.abort();
    progress.finish();
    let elapsed = started.elapsed();
    let c: Counts = shared.tally.counts();
    Ok(SmtpReport {
        mode: "smtp",
        target: shared.cfg.target.clone(),
        elapsed_secs: elapsed.as_secs_f64(),
        requested: shared.cfg.messages,
        attempted: shared.next.load(Ordering::Relaxed).min(shared.cfg.messages),
        accepted: c.ok,
        rejected: Rejected {
            transient: c.rejected_4xx,
            permanent: c.rejected_5xx,
        },
        faults: c.faults(),
        connections: shared.connections.load(Ordering::Relaxed),
        throughput_per_sec: stats::per_sec(c.ok, elapsed),
        bytes_accepted: shared.bytes.load(Ordering::Relaxed),
        latency: lat.summaries(elapsed),
        error_samples: shared.tally.samples(),
        lat,
    })
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;

    #[test]
    fn bodies_fill_the_size_without_dot_lines() {
        let b = body(10_000);
        assert!(b.len() <= 10_000 && b.len() > 9_900, "{}", b.len());
        assert!(b.split(|&c| c == b'\n').all(|l| !l.starts_with(b".")));
        assert!(!body(0).is_empty());
    }

    /// A scripted server offering PIPELINING that refuses recipients containing
    /// "reject"; returns its address.
    async fn pipelining_server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut r = BufReader::new(r);
                    w.write_all(b"220 fake\r\n").await.unwrap();
                    let mut refused = false;
                    let mut line = String::new();
                    while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let answer: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-fake\r\n250 PIPELINING\r\n",
                            "RCPT" if line.contains("reject") => {
                                refused = true;
                                b"550 no such user\r\n"
                            }
                            "DATA" if refused => b"554 no valid recipients\r\n",
                            "DATA" => {
                                w.write_all(b"354 go\r\n").await.unwrap();
                                loop {
                                    line.clear();
                                    r.read_line(&mut line).await.unwrap();
                                    if line == ".\r\n" {
                                        break;
                                    }
                                }
                                b"250 queued\r\n"
                            }
                            "RSET" => {
                                refused = false;
                                b"250 reset\r\n"
                            }
                            "QUIT" => b"221 bye\r\n",
                            _ => b"250 ok\r\n",
                        };
                        w.write_all(answer).await.unwrap();
                        line.clear();
                    }
                });
            }
        });
        addr
    }

    fn config(target: String, to: &str) -> SmtpConfig {
        SmtpConfig {
            target,
            to: to.to_string(),
            from: "load@example.test".to_string(),
            messages: 30,
            concurrency: 3,
            size: 1000,
            reuse: true,
            rate: None,
            starttls: false,
            auth: None,
            pipelining: true,
            timeout: Duration::from_secs(5),
            max_time: Duration::from_secs(20),
            progress: false,
        }
    }

    #[tokio::test]
    async fn pipelined_reuse_counts_acceptances_and_refusals() {
        let target = pipelining_server().await;
        let report = run(config(target.clone(), "alice@example.test"))
            .await
            .unwrap();
        assert_eq!(
            (report.accepted, report.faults.errors, report.connections),
            (30, 0, 3)
        );
        assert_eq!(report.latency["mail"].count, 30);

        // Refused recipients: counted as 5xx, and RSET keeps the connections usable.
        let report = run(config(target, "reject@example.test")).await.unwrap();
        assert_eq!(report.accepted, 0);
        assert_eq!(report.rejected.permanent, 30);
        assert_eq!((report.faults.errors, report.connections), (0, 3));
        assert!(!report.succeeded());
        assert!(report.table().contains("rcpt: rejected with 5xx"));
    }

    #[tokio::test]
    async fn paced_runs_take_their_time() {
        let target = pipelining_server().await;
        let mut cfg = config(target, "alice@example.test");
        cfg.messages = 10;
        cfg.rate = Some(40.0);
        let started = Instant::now();
        let report = run(cfg).await.unwrap();
        assert_eq!(report.accepted, 10);
        // The 10th message is due 9/40 s after the start.
        assert!(started.elapsed() >= Duration::from_millis(225));
    }
}
