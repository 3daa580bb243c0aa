//! One IMAP client session for the load modes: connect, greeting, optional STARTTLS,
//! LOGIN, then tagged commands whose answers are read to their completion, keeping
//! the selected mailbox's message count from untagged EXISTS and EXPUNGE.

use std::collections::BTreeMap;

use rustls_pki_types::ServerName;
use serde::Serialize;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use super::reply::{classify, quoted, Kind, Response, Status};
use crate::stats::Latencies;
use crate::wire::{excerpt, Conn, Failure, Limits};

/// Longest response line accepted (lines of one response together, literals apart).
const MAX_LINE: usize = 256 * 1024;

/// Largest literal accepted (a whole message fetched with BODY[]).
const MAX_LITERAL: u64 = 64 * 1024 * 1024;

/// Counts of one command's completions.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CommandCount {
    /// Tagged `OK`.
    pub ok: u64,
    /// Tagged `NO`.
    pub no: u64,
    /// Tagged `BAD`.
    pub bad: u64,
}

/// A worker's latencies and per-command counts.
pub struct Recorder {
    /// Latency of each step that succeeded.
    pub lat: Latencies,
    /// Completions per command.
    pub counts: BTreeMap<&'static str, CommandCount>,
}

impl Recorder {
    /// An empty recorder for `steps`.
    pub fn new(steps: &[&'static str]) -> Recorder {
        Recorder {
            lat: Latencies::new(steps),
            counts: BTreeMap::new(),
        }
    }

    /// Adds another worker's figures into these.
    pub fn merge(&mut self, other: &Recorder) {
        self.lat.merge(&other.lat);
        for (name, c) in &other.counts {
            let mine = self.counts.entry(name).or_default();
            mine.ok += c.ok;
            mine.no += c.no;
            mine.bad += c.bad;
        }
    }
}

/// Where and how sessions connect.
pub struct Endpoint {
    /// `HOST:PORT`.
    pub target: String,
    /// The STARTTLS connector and server name, when asked for.
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
    /// Time limits of every operation.
    pub limits: Limits,
}

/// A logged-in session.
pub struct Session {
    conn: Conn,
    tags: u32,
    /// Messages in the selected mailbox as the server last told.
    pub exists: u32,
    /// `* N EXISTS` responses seen.
    pub exists_seen: u64,
}

impl Session {
    /// Connects, reads the greeting, upgrades with STARTTLS if asked, and logs in
    /// (unless the greeting was PREAUTH, RFC 3501 §7.1.4).
    pub async fn open(
        at: &Endpoint,
        user: &str,
        password: &str,
        rec: &mut Recorder,
    ) -> Result<Session, Failure> {
        let t = Instant::now();
        let conn = Conn::connect(&at.target, at.limits).await?;
        rec.lat.record("connect", t.elapsed());
        let mut s = Session {
            conn,
            tags: 0,
            exists: 0,
            exists_seen: 0,
        };
        let t = Instant::now();
        let greeting = s.conn.read_imap("greeting", MAX_LINE, MAX_LITERAL).await?;
        let preauth = match classify(&greeting.line) {
            Ok(Kind::UntaggedOk) => false,
            Ok(Kind::Preauth) => true,
            Ok(Kind::Bye) => {
                return Err(Failure::Rejected {
                    step: "greeting",
                    class: "BYE",
                })
            }
            _ => {
                return Err(Failure::Violation {
                    step: "greeting",
                    detail: format!("not a greeting: {}", excerpt(&greeting.line)),
                })
            }
        };
        rec.lat.record("greeting", t.elapsed());
        if let Some((connector, name)) = &at.tls {
            // Timed to the end of the handshake: the upgrade is one step.
            let t = Instant::now();
            let tag = s.tag();
            s.send("STARTTLS", format!("{tag} STARTTLS\r\n").as_bytes())
                .await?;
            s.complete(rec, "STARTTLS", &tag, |_| false).await?;
            s.conn = s
                .conn
                .start_tls("STARTTLS", connector, name.clone())
                .await?;
            rec.lat.record("STARTTLS", t.elapsed());
        }
        if !preauth {
            let login = format!("LOGIN {} {}", quoted(user), quoted(password));
            s.command(rec, "LOGIN", &login).await?;
        }
        Ok(s)
    }

    /// The next command tag.
    pub fn tag(&mut self) -> String {
        self.tags += 1;
        format!("a{}", self.tags)
    }

    /// Sends raw bytes.
    pub async fn send(&mut self, step: &'static str, bytes: &[u8]) -> Result<(), Failure> {
        self.conn.send(step, bytes).await
    }

    /// Reads one response and applies it if it is EXISTS or EXPUNGE.
    pub async fn read(&mut self, step: &'static str) -> Result<(Response, Kind), Failure> {
        let r = self.conn.read_imap(step, MAX_LINE, MAX_LITERAL).await?;
        let kind = classify(&r.line).map_err(|detail| Failure::Violation { step, detail })?;
        match kind {
            Kind::Exists(n) => {
                self.exists = n;
                self.exists_seen += 1;
            }
            Kind::Expunge => self.exists = self.exists.saturating_sub(1),
            _ => {}
        }
        Ok((r, kind))
    }

    /// Sends `tag text`, reads to its completion and records its latency; returns the
    /// literal octets its untagged responses carried.
    pub async fn command(
        &mut self,
        rec: &mut Recorder,
        step: &'static str,
        text: &str,
    ) -> Result<u64, Failure> {
        let t = Instant::now();
        let tag = self.tag();
        self.send(step, format!("{tag} {text}\r\n").as_bytes())
            .await?;
        let octets = self.complete(rec, step, &tag, |_| false).await?;
        rec.lat.record(step, t.elapsed());
        Ok(octets.0)
    }

    /// Reads responses until `tag`'s completion, counting it under `step`; `until`
    /// may stop earlier at an untagged response or continuation it accepts (returned
    /// as `true`). A BYE outside LOGOUT, a stray continuation, another tag, or a BAD
    /// are violations; a NO is a refusal.
    pub async fn complete(
        &mut self,
        rec: &mut Recorder,
        step: &'static str,
        tag: &str,
        mut until: impl FnMut(&Kind) -> bool,
    ) -> Result<(u64, bool), Failure> {
        let mut octets = 0;
        loop {
            let (r, kind) = self.read(step).await?;
            octets += r.literal_octets;
            if until(&kind) {
                return Ok((octets, true));
            }
            match kind {
                Kind::Tagged { tag: got, status } if got == tag => {
                    let count = rec.counts.entry(step).or_default();
                    return match status {
                        Status::Ok => {
                            count.ok += 1;
                            Ok((octets, false))
                        }
                        Status::No => {
                            count.no += 1;
                            Err(Failure::Rejected { step, class: "NO" })
                        }
                        Status::Bad => {
                            count.bad += 1;
                            Err(Failure::Violation {
                                step,
                                detail: format!("BAD: {}", excerpt(&r.line)),
                            })
                        }
                    };
                }
                Kind::Tagged { .. } => {
                    return Err(Failure::Violation {
                        step,
                        detail: format!("answer to another tag: {}", excerpt(&r.line)),
                    })
                }
                Kind::Continuation => {
                    return Err(Failure::Violation {
                        step,
                        detail: "continuation request nobody asked for".into(),
                    })
                }
                Kind::Bye if step != "LOGOUT" => {
                    return Err(Failure::Rejected { step, class: "BYE" })
                }
                _ => {}
            }
        }
    }
}
