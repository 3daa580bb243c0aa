//! The SMTP server session: which command may run when, and what the connection does next.
//!
//! This file holds the session state, the public API and the input loop; [`commands`]
//! holds what each command does.

mod commands;

use std::mem;
use std::sync::Arc;

use super::chunk::ChunkedBody;
use super::data::{BodyError, DataReceiver};
use super::line::{line_text, Frame, LineFramer, MAX_AUTH_LINE, MAX_COMMAND_LINE};
use super::path::MailFrom;
use super::reply;
use super::types::{
    Action, AuthVerdict, CommandEvent, DsnNotify, RcptVerdict, Recipient, Route, SessionConfig,
    SpoolVerdict, Transaction,
};
use crate::protocol::mail::Address;

/// One client connection's protocol state; see the module docs of [`super`].
#[derive(Debug)]
pub struct Session {
    config: Arc<SessionConfig>,
    tls: bool,
    peer_trusted: bool,
    // Client input; octets before `pos` are consumed and dropped on the next `receive`.
    input: Vec<u8>,
    pos: usize,
    framer: LineFramer,
    // Replies not yet handed out; batched so pipelined commands get one write.
    out: Vec<u8>,
    events: Vec<CommandEvent>,
    phase: Phase,
    helo: Option<Helo>,
    authenticated: Option<String>,
    envelope: Option<Envelope>,
    errors: usize,
    auth_failures: usize,
}

#[derive(Debug)]
struct Helo {
    name: String,
    esmtp: bool,
}

/// A mail transaction between MAIL and the end of the body.
#[derive(Debug)]
struct Envelope {
    mail: MailFrom,
    recipients: Vec<Recipient>,
    // Present once the first BDAT chunk was accepted (RFC 3030: no DATA after that).
    chunks: Option<ChunkedBody>,
}

#[derive(Debug)]
struct PendingRcpt {
    address: Address,
    notify: Option<DsnNotify>,
    orcpt: Option<String>,
}

#[derive(Debug)]
enum SaslStep {
    Plain,
    LoginUser,
    LoginPassword { user: String },
}

/// What happens to the octets of a BDAT chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkSink {
    Keep,
    // RFC 3030 §3: a refused BDAT's octets must still be read, never run as commands.
    DiscardNoTransaction,
    DiscardTooBig,
}

#[derive(Debug)]
enum Phase {
    Command,
    Sasl(SaslStep),
    Data(DataReceiver),
    Chunk {
        remaining: usize,
        size: usize,
        last: bool,
        sink: ChunkSink,
    },
    AwaitRcpt(PendingRcpt),
    AwaitAuth,
    AwaitSpool(&'static str),
    // 220 queued; StartTls is returned once it is written.
    StartTls,
    TlsHandshake,
    // Final reply queued; Close is returned once it is written.
    Closing,
    Closed,
}

/// The outcome of one processing step.
enum Step {
    Continue,
    NeedInput,
    Act(Action),
}

impl Session {
    /// A session for a new connection (`tls_active` on Submissions; `peer_trusted` may relay).
    pub fn new(config: Arc<SessionConfig>, tls_active: bool, peer_trusted: bool) -> Session {
        Session {
            config,
            tls: tls_active,
            peer_trusted,
            input: Vec::new(),
            pos: 0,
            framer: LineFramer::default(),
            out: Vec::new(),
            events: Vec::new(),
            phase: Phase::Command,
            helo: None,
            authenticated: None,
            envelope: None,
            errors: 0,
            auth_failures: 0,
        }
    }

    /// The 220 greeting to send when the connection opens.
    pub fn greeting(&self) -> Vec<u8> {
        format!("220 {} ESMTP Hermod\r\n", self.config.hostname).into_bytes()
    }

    /// Appends client input; input arriving while TLS is pending or after close is dropped.
    pub fn receive(&mut self, bytes: &[u8]) {
        match self.phase {
            // RFC 3207 §5 / CVE-2011-0411: plaintext sent after STARTTLS must not survive
            // into the TLS session.
            Phase::StartTls | Phase::TlsHandshake | Phase::Closing | Phase::Closed => {}
            _ => {
                if self.pos > 0 {
                    self.input.drain(..self.pos);
                    self.pos = 0;
                }
                self.input.extend_from_slice(bytes);
            }
        }
    }

    /// What the connection must do next; call again after carrying it out.
    ///
    /// While a CheckRecipient, Authenticate, Spool or StartTls action is unanswered, calling
    /// this again is a caller bug: the session answers 421 4.3.0 and closes.
    pub fn next_action(&mut self) -> Action {
        loop {
            match self.phase {
                Phase::Closing | Phase::Closed => {
                    if !self.out.is_empty() {
                        return Action::Write(mem::take(&mut self.out));
                    }
                    self.phase = Phase::Closed;
                    return Action::Close;
                }
                Phase::StartTls => {
                    if !self.out.is_empty() {
                        return Action::Write(mem::take(&mut self.out));
                    }
                    self.phase = Phase::TlsHandshake;
                    return Action::StartTls;
                }
                Phase::TlsHandshake
                | Phase::AwaitRcpt(_)
                | Phase::AwaitAuth
                | Phase::AwaitSpool(_) => {
                    let text = format!("{} Error: internal error", self.config.hostname);
                    reply::push(&mut self.out, 421, "4.3.0", &text);
                    self.phase = Phase::Closing;
                    continue;
                }
                Phase::Command | Phase::Sasl(_) | Phase::Data(_) | Phase::Chunk { .. } => {}
            }
            match self.step() {
                Step::Continue => {}
                Step::Act(action) => return action,
                Step::NeedInput if self.out.is_empty() => return Action::Read,
                Step::NeedInput => return Action::Write(mem::take(&mut self.out)),
            }
        }
    }

    /// Answers [`Action::CheckRecipient`].
    pub fn rcpt_verdict(&mut self, verdict: RcptVerdict) {
        let Phase::AwaitRcpt(pending) = mem::replace(&mut self.phase, Phase::Command) else {
            return;
        };
        let route = match verdict {
            RcptVerdict::Local { user } => Route::Local { user },
            RcptVerdict::NotLocal if self.authenticated.is_some() || self.peer_trusted => {
                Route::Remote
            }
            RcptVerdict::NotLocal => {
                return self.error("RCPT", 554, "5.7.1", "Relay access denied");
            }
            RcptVerdict::NoSuchUser => return self.error("RCPT", 550, "5.1.1", "User unknown"),
            RcptVerdict::TempFail => {
                return self.reply("RCPT", 451, "4.3.0", "Temporary lookup failure");
            }
        };
        if let Some(envelope) = self.envelope.as_mut() {
            envelope.recipients.push(Recipient {
                address: pending.address,
                route,
                notify: pending.notify,
                orcpt: pending.orcpt,
            });
            self.reply("RCPT", 250, "2.1.5", "Ok");
        }
    }

    /// Answers [`Action::Authenticate`].
    pub fn auth_verdict(&mut self, verdict: AuthVerdict) {
        if !matches!(self.phase, Phase::AwaitAuth) {
            return;
        }
        self.phase = Phase::Command;
        match verdict {
            AuthVerdict::Ok { user } => {
                self.authenticated = Some(user);
                self.reply("AUTH", 235, "2.7.0", "Authentication successful");
            }
            AuthVerdict::Invalid => {
                self.auth_failures += 1;
                self.reply("AUTH", 535, "5.7.8", "Authentication credentials invalid");
                if self.auth_failures >= self.config.max_auth_failures {
                    self.close_with("4.7.0", "Too many authentication failures");
                }
            }
            AuthVerdict::TempFail => {
                self.reply("AUTH", 454, "4.7.0", "Temporary authentication failure");
            }
        }
    }

    /// Answers [`Action::Spool`].
    pub fn spool_verdict(&mut self, verdict: SpoolVerdict) {
        let Phase::AwaitSpool(cmd) = mem::replace(&mut self.phase, Phase::Command) else {
            return;
        };
        match verdict {
            SpoolVerdict::Queued { id } => {
                self.reply(cmd, 250, "2.0.0", &format!("Ok: queued as {id}"));
            }
            SpoolVerdict::TempFail => {
                self.reply(cmd, 451, "4.3.0", "Temporary failure, try again later");
            }
            SpoolVerdict::InsufficientStorage => {
                self.reply(cmd, 452, "4.3.1", "Insufficient system storage");
            }
        }
    }

    /// Reports a completed TLS handshake; the client must greet again (RFC 3207 §4.2).
    pub fn tls_established(&mut self) {
        if !matches!(self.phase, Phase::TlsHandshake | Phase::StartTls) {
            return;
        }
        self.tls = true;
        self.helo = None;
        self.envelope = None;
        self.authenticated = None;
        self.input.clear();
        self.pos = 0;
        self.framer.reset();
        self.phase = Phase::Command;
    }

    /// The idle-timeout reply; the session is closed afterwards.
    pub fn timeout_reply(&mut self) -> Vec<u8> {
        let text = format!("{} Error: timeout exceeded", self.config.hostname);
        self.final_reply("4.4.2", &text)
    }

    /// The server-shutdown reply; the session is closed afterwards.
    pub fn shutdown_reply(&mut self) -> Vec<u8> {
        let text = format!("{} Service shutting down", self.config.hostname);
        self.final_reply("4.3.0", &text)
    }

    /// Answered commands since the last call, for metrics.
    pub fn take_events(&mut self) -> Vec<CommandEvent> {
        mem::take(&mut self.events)
    }

    /// True once the session has nothing left to do but close.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closing | Phase::Closed)
    }

    /// The account authenticated with AUTH, if any.
    pub fn authenticated_as(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }

    /// Unconsumed input octets (tests check that nothing grows without bound).
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        self.input.len() - self.pos
    }

    fn final_reply(&mut self, esc: &str, text: &str) -> Vec<u8> {
        let mut out = mem::take(&mut self.out);
        reply::push(&mut out, 421, esc, text);
        self.phase = Phase::Closed;
        out
    }

    fn step(&mut self) -> Step {
        match self.phase {
            Phase::Data(_) => self.step_data(),
            Phase::Chunk { .. } => self.step_chunk(),
            _ => self.step_line(),
        }
    }

    fn step_line(&mut self) -> Step {
        let avail = &self.input[self.pos..];
        let in_sasl = matches!(self.phase, Phase::Sasl(_));
        let limit = if in_sasl
            || avail
                .get(..5)
                .is_some_and(|v| v.eq_ignore_ascii_case(b"AUTH "))
        {
            MAX_AUTH_LINE
        } else {
            MAX_COMMAND_LINE
        };
        match self.framer.next(avail, limit) {
            Frame::Incomplete => Step::NeedInput,
            Frame::Discard(n) => {
                self.pos += n;
                Step::NeedInput
            }
            Frame::TooLong(n) => {
                self.pos += n;
                let cmd = if in_sasl { "AUTH" } else { "UNKNOWN" };
                self.phase = Phase::Command;
                self.error(cmd, 500, "5.5.2", "Line too long");
                Step::Continue
            }
            Frame::Line(n) => {
                let raw = self.input[self.pos..self.pos + n].to_vec();
                self.pos += n;
                let Ok(text) = line_text(&raw) else {
                    let cmd = if in_sasl { "AUTH" } else { "UNKNOWN" };
                    self.phase = Phase::Command;
                    self.error(cmd, 500, "5.5.2", "Syntax error");
                    return Step::Continue;
                };
                match mem::replace(&mut self.phase, Phase::Command) {
                    Phase::Sasl(step) => self.handle_sasl(step, text),
                    _ => self.handle_command(text),
                }
            }
        }
    }

    fn step_data(&mut self) -> Step {
        let Phase::Data(receiver) = &mut self.phase else {
            return Step::Continue;
        };
        let (used, done) = receiver.feed(&self.input[self.pos..]);
        self.pos += used;
        if !done {
            return Step::NeedInput;
        }
        match mem::replace(&mut self.phase, Phase::Command) {
            Phase::Data(receiver) => self.finish_body("DATA", receiver.finish()),
            _ => Step::Continue,
        }
    }

    fn step_chunk(&mut self) -> Step {
        let Phase::Chunk {
            remaining, sink, ..
        } = &mut self.phase
        else {
            return Step::Continue;
        };
        let avail = &self.input[self.pos..];
        let n = (*remaining).min(avail.len());
        if *sink == ChunkSink::Keep {
            if let Some(chunks) = self.envelope.as_mut().and_then(|e| e.chunks.as_mut()) {
                chunks.push(&avail[..n]);
            }
        }
        self.pos += n;
        *remaining -= n;
        if *remaining > 0 {
            return Step::NeedInput;
        }
        let Phase::Chunk {
            size, last, sink, ..
        } = mem::replace(&mut self.phase, Phase::Command)
        else {
            return Step::Continue;
        };
        match sink {
            ChunkSink::DiscardNoTransaction => {
                self.error("BDAT", 503, "5.5.1", "No valid recipients");
            }
            ChunkSink::DiscardTooBig => {
                self.envelope = None;
                self.error("BDAT", 552, "5.3.4", "Message too big");
            }
            ChunkSink::Keep if last => {
                let chunks = self.envelope.as_mut().and_then(|e| e.chunks.take());
                if let Some(chunks) = chunks {
                    return self.finish_body("BDAT", chunks.finish());
                }
            }
            ChunkSink::Keep => {
                self.reply("BDAT", 250, "2.0.0", &format!("Ok: {size} octets received"));
            }
        }
        Step::Continue
    }

    /// Ends a transaction's body: spool it, or refuse it and reset the envelope.
    fn finish_body(&mut self, cmd: &'static str, body: Result<Vec<u8>, BodyError>) -> Step {
        let envelope = self.envelope.take();
        let (body, envelope) = match (body, envelope) {
            (Ok(body), Some(envelope)) => (body, envelope),
            (Err(BodyError::TooBig), _) => {
                self.error(cmd, 552, "5.3.4", "Message too big");
                return Step::Continue;
            }
            (Err(BodyError::BareLineEnding), _) => {
                self.error(cmd, 550, "5.6.0", "Bare CR or LF not allowed");
                return Step::Continue;
            }
            (Err(BodyError::LineTooLong), _) => {
                self.error(cmd, 550, "5.6.0", "Message line too long");
                return Step::Continue;
            }
            (Ok(_), None) => return Step::Continue,
        };
        let helo = self.helo.as_ref();
        let tx = Transaction {
            helo: helo.map(|h| h.name.clone()).unwrap_or_default(),
            sender: envelope.mail.sender,
            recipients: envelope.recipients,
            body,
            authenticated_as: self.authenticated.clone(),
            tls: self.tls,
            smtputf8: envelope.mail.smtputf8,
            body_8bitmime: envelope.mail.body_8bitmime,
            esmtp: helo.is_some_and(|h| h.esmtp),
            dsn_ret: envelope.mail.ret,
            dsn_envid: envelope.mail.envid,
        };
        self.phase = Phase::AwaitSpool(cmd);
        Step::Act(Action::Spool(tx))
    }

    fn event(&mut self, command: &'static str, ok: bool) {
        self.events.push(CommandEvent { command, ok });
    }

    /// A reply that does not count as client misbehaviour.
    fn reply(&mut self, command: &'static str, code: u16, esc: &str, text: &str) {
        reply::push(&mut self.out, code, esc, text);
        self.event(command, code < 400);
    }

    /// An error reply caused by the client; too many of them end the session.
    fn error(&mut self, command: &'static str, code: u16, esc: &str, text: &str) {
        self.reply(command, code, esc, text);
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            self.close_with("4.7.0", "Too many errors");
        }
    }

    fn close_with(&mut self, esc: &str, text: &str) {
        let text = format!("{} {text}", self.config.hostname);
        reply::push(&mut self.out, 421, esc, &text);
        self.phase = Phase::Closing;
    }
}
