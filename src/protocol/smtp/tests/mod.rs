//! Scripted-conversation tests for [`Session`]: a harness that plays a client script,
//! answers the session's requests from a fixed policy, and records every reply.

mod bdat;
mod conversation;
mod hostile;

use std::sync::Arc;

use super::{
    Action, AuthVerdict, ListenerKind, RcptVerdict, Session, SessionConfig, SpoolVerdict,
    Transaction,
};
use crate::protocol::mail::Address;

pub(super) const HOST: &str = "mx.example.org";

/// Limits small enough to hit in tests.
pub(super) fn config(listener: ListenerKind) -> Arc<SessionConfig> {
    Arc::new(SessionConfig {
        hostname: HOST.into(),
        listener,
        max_message_size: 10_000,
        max_recipients: 3,
        max_errors: 10,
        max_auth_failures: 3,
    })
}

/// Plays a script against a session and records what happened.
pub(super) struct Harness {
    pub session: Session,
    pub transcript: Vec<u8>,
    pub spooled: Vec<Transaction>,
    pub checked: Vec<Address>,
    pub auths: Vec<(Option<String>, String, String)>,
    pub closed: bool,
    pub spool_verdict: SpoolVerdict,
}

impl Harness {
    pub fn new(listener: ListenerKind, tls: bool, trusted: bool) -> Harness {
        let session = Session::new(config(listener), tls, trusted);
        let transcript = session.greeting();
        Harness {
            session,
            transcript,
            spooled: Vec::new(),
            checked: Vec::new(),
            auths: Vec::new(),
            closed: false,
            spool_verdict: SpoolVerdict::Queued { id: "Q1".into() },
        }
    }

    pub fn mx() -> Harness {
        Harness::new(ListenerKind::Mx, false, false)
    }

    /// Feeds `input` in pieces of `chunk` octets, driving the session after each piece.
    pub fn feed_chunked(&mut self, input: &[u8], chunk: usize) -> &mut Harness {
        for piece in input.chunks(chunk.max(1)) {
            self.session.receive(piece);
            self.drive();
        }
        self
    }

    pub fn feed(&mut self, input: &[u8]) -> &mut Harness {
        self.feed_chunked(input, input.len())
    }

    /// Runs actions until the session wants input or closes.
    pub fn drive(&mut self) {
        loop {
            match self.session.next_action() {
                Action::Write(bytes) => {
                    assert!(!bytes.is_empty(), "empty Write");
                    self.transcript.extend_from_slice(&bytes);
                }
                Action::Read => return,
                Action::Close => {
                    self.closed = true;
                    return;
                }
                Action::StartTls => self.session.tls_established(),
                Action::CheckRecipient(address) => {
                    let verdict = rcpt_policy(&address);
                    self.checked.push(address);
                    self.session.rcpt_verdict(verdict);
                }
                Action::Authenticate {
                    authzid,
                    authcid,
                    password,
                } => {
                    let verdict = match (authcid.as_str(), password.as_str()) {
                        ("alice", "secret") => AuthVerdict::Ok {
                            user: "alice".into(),
                        },
                        ("tmp", _) => AuthVerdict::TempFail,
                        _ => AuthVerdict::Invalid,
                    };
                    self.auths.push((authzid, authcid, password));
                    self.session.auth_verdict(verdict);
                }
                Action::Spool(tx) => {
                    self.spooled.push(tx);
                    self.session.spool_verdict(self.spool_verdict.clone());
                }
            }
        }
    }

    /// "code esc" of every reply's final line, greeting included (esc omitted if absent).
    pub fn codes(&self) -> Vec<String> {
        replies(&self.transcript)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.transcript).into_owned()
    }
}

/// Directory used by the harness: alice, bob and postmaster exist at example.org and at
/// our host name; tempfail.test fails; other domains are not ours.
fn rcpt_policy(address: &Address) -> RcptVerdict {
    match address.domain() {
        "example.org" | HOST => match address.local() {
            "alice" | "bob" | "postmaster" => RcptVerdict::Local {
                user: address.local().to_owned(),
            },
            _ => RcptVerdict::NoSuchUser,
        },
        "tempfail.test" => RcptVerdict::TempFail,
        _ => RcptVerdict::NotLocal,
    }
}

pub(super) fn replies(transcript: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(transcript)
        .split("\r\n")
        .filter(|line| line.len() >= 4 && line.as_bytes()[3] == b' ')
        .map(|line| {
            let mut words = line.split(' ');
            let code = words.next().unwrap_or_default();
            match words.next() {
                Some(esc) if esc.len() >= 5 && esc.as_bytes()[1] == b'.' => format!("{code} {esc}"),
                _ => code.to_owned(),
            }
        })
        .collect()
}

/// Shorthand: `codes!["220", "250 2.1.0"]` as a `Vec<String>`.
macro_rules! codes {
    ($($c:expr),* $(,)?) => { vec![$(String::from($c)),*] };
}
pub(super) use codes;

pub(super) const ENVELOPE: &[u8] =
    b"EHLO client.example\r\nMAIL FROM:<sender@remote.test>\r\nRCPT TO:<bob@example.org>\r\n";
