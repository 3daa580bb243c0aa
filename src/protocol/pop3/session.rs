//! The POP3 session state machine: AUTHORIZATION → TRANSACTION → UPDATE (RFC 1939 §3), with
//! STLS, AUTH PLAIN, CAPA and response codes. Pure: it turns input bytes into [`Action`]s
//! and takes the actor's answers through methods.
//!
//! Choices where the RFCs leave room:
//! - `[IN-USE]` / a failed maildrop open returns to AUTHORIZATION instead of closing
//!   (RFC 2449 §8.1.1 allows both), so the client may retry without reconnecting.
//! - The idle timeout closes without a reply ([`Session::timeout_reply`] is empty),
//!   as RFC 1939 §3 asks of the autologout timer.
//! - Bare LF ends a line like CRLF; POP3 clients send no data blocks, so this cannot smuggle.
//! - `AUTH` without a mechanism lists the mechanisms (the RFC 1734 form some clients use).
//! - The command that hits `max_errors` or `max_auth_failures` gets one `-ERR` naming that
//!   limit instead of its usual reply, then the session closes.

use std::sync::Arc;

use super::command::{Command, CommandError};
use super::line::{Frame, LineReader};
use super::maildrop::{Maildrop, MessageError};
use super::multiline::encode_multiline;
use super::sasl::decode_plain;
use super::{Action, AuthVerdict, CommandEvent, MaildropResult, SessionConfig};

/// Replies are gathered across pipelined commands (RFC 2449 §6.6) up to this size, then
/// written, so one read of many commands costs one write.
const FLUSH_AT: usize = 16 * 1024;

const GREETING: &str = "+OK Hermod POP3 server ready\r\n";
const BYE: &str = "+OK Bye\r\n";
const BAD_STATE: &str = "-ERR Command not valid in this state\r\n";
const NEED_TLS: &str = "-ERR [AUTH] Plaintext authentication requires TLS: use STLS first\r\n";

/// Where the session is in RFC 1939's state diagram.
#[derive(Debug)]
enum State {
    /// AUTHORIZATION; `user` holds the name from an accepted USER command.
    Authorization { user: Option<String> },
    /// AUTH PLAIN sent an empty challenge and waits for the response line (RFC 5034 §4).
    SaslResponse,
    /// TRANSACTION with the locked maildrop.
    Transaction(Maildrop),
    /// UPDATE done, or the session was ended; no more input is processed.
    Done,
}

/// The answer the session waits for, with what is needed to finish the command.
#[derive(Debug)]
enum Awaiting {
    Auth { command: &'static str },
    Maildrop { command: &'static str },
    Retrieve { top_lines: Option<usize> },
    Update,
    Tls,
}

/// An outstanding request to the actor.
#[derive(Debug)]
struct Pending {
    /// The action still to hand out; `None` once [`Session::next_action`] returned it.
    request: Option<Action>,
    awaiting: Awaiting,
}

/// One POP3 server session.
#[derive(Debug)]
pub struct Session {
    config: Arc<SessionConfig>,
    tls_active: bool,
    plaintext_allowed: bool,
    lines: LineReader,
    state: State,
    pending: Option<Pending>,
    out: Vec<u8>,
    /// Close once `out` has been written.
    closing: bool,
    auth_failures: usize,
    errors: usize,
    events: Vec<CommandEvent>,
}

impl Session {
    /// tls_active: already TLS (pop3s, or after STLS). plaintext_allowed: USER/PASS and
    /// AUTH PLAIN allowed without TLS (the peer is loopback); with TLS they are always allowed.
    /// STLS is offered exactly while TLS is not active.
    pub fn new(config: Arc<SessionConfig>, tls_active: bool, plaintext_allowed: bool) -> Session {
        Session {
            config,
            tls_active,
            plaintext_allowed,
            lines: LineReader::default(),
            state: State::Authorization { user: None },
            pending: None,
            out: Vec::new(),
            closing: false,
            auth_failures: 0,
            errors: 0,
            events: Vec::new(),
        }
    }

    /// The `+OK` greeting to send first.
    pub fn greeting(&self) -> Vec<u8> {
        GREETING.as_bytes().to_vec()
    }

    /// Feeds bytes read from the client.
    pub fn receive(&mut self, bytes: &[u8]) {
        if !matches!(self.state, State::Done) && !self.closing {
            self.lines.push(bytes);
        }
    }

    /// What the actor must do next. While a request is unanswered this returns
    /// [`Action::Read`] and leaves buffered input unprocessed; after [`Action::Close`] it
    /// keeps returning `Close`.
    pub fn next_action(&mut self) -> Action {
        loop {
            if let Some(pending) = &mut self.pending {
                if !self.out.is_empty() {
                    return Action::Write(std::mem::take(&mut self.out));
                }
                return pending.request.take().unwrap_or(Action::Read);
            }
            if !self.out.is_empty() && (self.closing || self.out.len() >= FLUSH_AT) {
                return Action::Write(std::mem::take(&mut self.out));
            }
            if self.closing {
                return Action::Close;
            }
            let sasl = matches!(self.state, State::SaslResponse);
            match self.lines.next_frame(sasl) {
                Some(Frame::Line(line)) if sasl => {
                    let outcome = self.handle_sasl_response(&line);
                    self.apply("AUTH", outcome);
                }
                Some(Frame::Line(line)) => match Command::parse(&line) {
                    Ok(command) => self.handle_command(command),
                    Err(err) => self.reject_syntax(err),
                },
                Some(Frame::TooLong) => {
                    if sasl {
                        self.state = State::Authorization { user: None };
                    }
                    self.reject_syntax(CommandError::LineTooLong);
                }
                None if self.out.is_empty() => return Action::Read,
                None => return Action::Write(std::mem::take(&mut self.out)),
            }
        }
    }

    /// Answers [`Action::Authenticate`]; ignored when no such request is outstanding.
    pub fn auth_verdict(&mut self, verdict: AuthVerdict) {
        let Some(Awaiting::Auth { command }) =
            self.take_pending(|a| matches!(a, Awaiting::Auth { .. }))
        else {
            return;
        };
        match verdict {
            AuthVerdict::Ok { user } => {
                self.request(
                    Action::OpenMaildrop { user },
                    Awaiting::Maildrop { command },
                );
            }
            AuthVerdict::Invalid => {
                self.auth_failures += 1;
                if self.auth_failures >= self.config.max_auth_failures {
                    self.reply(
                        command,
                        false,
                        "-ERR [AUTH] Too many authentication failures\r\n",
                    );
                    self.closing = true;
                } else {
                    self.reply(command, false, "-ERR [AUTH] Invalid credentials\r\n");
                }
            }
            AuthVerdict::TempFail => self.reply(
                command,
                false,
                "-ERR [SYS/TEMP] Authentication temporarily unavailable\r\n",
            ),
        }
    }

    /// Answers [`Action::OpenMaildrop`]; ignored when no such request is outstanding.
    pub fn maildrop_opened(&mut self, result: MaildropResult) {
        let Some(Awaiting::Maildrop { command }) =
            self.take_pending(|a| matches!(a, Awaiting::Maildrop { .. }))
        else {
            return;
        };
        match result {
            MaildropResult::Opened(entries) => {
                let maildrop = Maildrop::new(entries);
                let (count, size) = maildrop.stat();
                let text = format!("+OK Logged in, {count} messages ({size} octets)\r\n");
                self.reply(command, true, &text);
                self.state = State::Transaction(maildrop);
            }
            // RFC 2449 §8.1.1: the lock is held elsewhere; the client may try again later.
            MaildropResult::InUse => self.reply(
                command,
                false,
                "-ERR [IN-USE] Mailbox is locked by another session\r\n",
            ),
            MaildropResult::Failed => {
                self.reply(command, false, "-ERR [SYS/TEMP] Unable to open mailbox\r\n")
            }
        }
    }

    /// Answers [`Action::Retrieve`] with the raw message (CRLF lines); ignored when no such
    /// request is outstanding.
    pub fn message_content(&mut self, content: &[u8]) {
        let Some(Awaiting::Retrieve { top_lines }) =
            self.take_pending(|a| matches!(a, Awaiting::Retrieve { .. }))
        else {
            return;
        };
        let (command, status) = match top_lines {
            None => ("RETR", format!("+OK {} octets\r\n", content.len())),
            Some(_) => ("TOP", "+OK Top of message follows\r\n".to_owned()),
        };
        self.out.extend_from_slice(status.as_bytes());
        self.out
            .extend_from_slice(&encode_multiline(content, top_lines));
        self.event(command, true);
    }

    /// Answers [`Action::Retrieve`] when the message has vanished from storage.
    pub fn message_unavailable(&mut self) {
        let Some(Awaiting::Retrieve { top_lines }) =
            self.take_pending(|a| matches!(a, Awaiting::Retrieve { .. }))
        else {
            return;
        };
        let command = if top_lines.is_some() { "TOP" } else { "RETR" };
        self.reply(command, false, "-ERR Message is no longer available\r\n");
    }

    /// Answers [`Action::Update`]: `ok` when every deleted message was removed.
    pub fn update_done(&mut self, ok: bool) {
        if self
            .take_pending(|a| matches!(a, Awaiting::Update))
            .is_none()
        {
            return;
        }
        if ok {
            self.reply("QUIT", true, BYE);
        } else {
            // RFC 1939 §6: report that some deleted messages were not removed.
            self.reply(
                "QUIT",
                false,
                "-ERR [SYS/TEMP] Some deleted messages not removed\r\n",
            );
        }
        self.end();
    }

    /// Reports a finished TLS handshake after [`Action::StartTls`]: the session starts over
    /// in AUTHORIZATION, forgetting anything learnt before (RFC 2595 §4).
    pub fn tls_established(&mut self) {
        if self.take_pending(|a| matches!(a, Awaiting::Tls)).is_none() {
            return;
        }
        self.tls_active = true;
        self.state = State::Authorization { user: None };
        self.lines.clear();
    }

    /// Ends the session on idle timeout: RFC 1939 §3 says to close without a response and
    /// without entering UPDATE, so the bytes returned are only replies still unsent.
    pub fn timeout_reply(&mut self) -> Vec<u8> {
        self.end();
        std::mem::take(&mut self.out)
    }

    /// Ends the session for server shutdown, without entering UPDATE; returns the final bytes.
    pub fn shutdown_reply(&mut self) -> Vec<u8> {
        self.end();
        let mut bytes = std::mem::take(&mut self.out);
        let text = format!(
            "-ERR [SYS/TEMP] {} server shutting down\r\n",
            self.config.hostname
        );
        bytes.extend_from_slice(text.as_bytes());
        bytes
    }

    /// Drains the command events recorded since the last call.
    pub fn take_events(&mut self) -> Vec<CommandEvent> {
        std::mem::take(&mut self.events)
    }

    fn handle_command(&mut self, command: Command) {
        let name = command.name();
        let outcome = match (&mut self.state, command) {
            (_, Command::Capa) => Outcome::Ok(self.capabilities()),
            (_, Command::Noop) => Outcome::Ok("+OK\r\n".to_owned()),
            (State::Authorization { user }, command) => {
                let user = user.take();
                self.handle_authorization(command, user)
            }
            (State::Transaction(maildrop), command) => transaction(maildrop, command),
            _ => Outcome::Err(BAD_STATE.to_owned()),
        };
        self.apply(name, outcome);
    }

    fn apply(&mut self, name: &'static str, outcome: Outcome) {
        match outcome {
            Outcome::Ok(text) => self.reply(name, true, &text),
            Outcome::Err(text) => self.reject(name, &text),
            Outcome::Request(action, awaiting) => {
                // RFC 1939 §6: QUIT enters UPDATE; nothing after it is processed.
                if matches!(action, Action::Update { .. }) {
                    self.state = State::Done;
                }
                self.request(action, awaiting);
            }
            Outcome::Handled => {}
        }
    }

    /// AUTHORIZATION state; `user` is the name from a preceding USER, consumed here because
    /// RFC 1939 §7 pairs it only with the PASS that follows it directly.
    fn handle_authorization(&mut self, command: Command, user: Option<String>) -> Outcome {
        let name = command.name();
        match command {
            Command::Quit => {
                self.reply(name, true, BYE);
                self.end();
                Outcome::Handled
            }
            Command::Stls => self.handle_stls(),
            Command::User(_) | Command::Pass(_) if !self.auth_allowed() => {
                Outcome::Err(NEED_TLS.to_owned())
            }
            Command::User(user) => {
                self.state = State::Authorization { user: Some(user) };
                Outcome::Ok("+OK Send PASS\r\n".to_owned())
            }
            Command::Pass(password) => match user {
                None => Outcome::Err("-ERR Send USER first\r\n".to_owned()),
                Some(user) => Outcome::Request(
                    Action::Authenticate {
                        authzid: None,
                        user,
                        password,
                    },
                    Awaiting::Auth { command: name },
                ),
            },
            Command::Auth {
                mechanism,
                initial_response,
            } => self.handle_auth(mechanism, initial_response),
            _ => Outcome::Err(BAD_STATE.to_owned()),
        }
    }

    /// RFC 2595 §4: `+OK`, then the handshake; input pipelined behind STLS is dropped.
    fn handle_stls(&mut self) -> Outcome {
        if self.tls_active {
            return Outcome::Err("-ERR TLS is already active\r\n".to_owned());
        }
        self.reply("STLS", true, "+OK Begin TLS negotiation\r\n");
        self.lines.clear();
        Outcome::Request(Action::StartTls, Awaiting::Tls)
    }

    /// RFC 5034 §4: AUTH PLAIN with or without an initial response.
    fn handle_auth(
        &mut self,
        mechanism: Option<String>,
        initial_response: Option<String>,
    ) -> Outcome {
        let Some(mechanism) = mechanism else {
            let list = if self.auth_allowed() { "PLAIN\r\n" } else { "" };
            return Outcome::Ok(format!("+OK\r\n{list}.\r\n"));
        };
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            Outcome::Err("-ERR Unsupported SASL mechanism\r\n".to_owned())
        } else if !self.auth_allowed() {
            Outcome::Err(NEED_TLS.to_owned())
        } else if let Some(response) = initial_response {
            self.handle_sasl_response(response.as_bytes())
        } else {
            // RFC 5034 §4: an empty challenge; the AUTH event is recorded with the response.
            self.state = State::SaslResponse;
            self.out.extend_from_slice(b"+ \r\n");
            Outcome::Handled
        }
    }

    /// The response to AUTH PLAIN's challenge, or its initial response.
    fn handle_sasl_response(&mut self, response: &[u8]) -> Outcome {
        self.state = State::Authorization { user: None };
        if response == b"*" {
            // RFC 5034 §4: a cancelled exchange is rejected with -ERR; not a client error.
            self.reply("AUTH", false, "-ERR Authentication cancelled\r\n");
            return Outcome::Handled;
        }
        match decode_plain(response) {
            Ok(credentials) => Outcome::Request(
                Action::Authenticate {
                    authzid: credentials.authzid,
                    user: credentials.user,
                    password: credentials.password,
                },
                Awaiting::Auth { command: "AUTH" },
            ),
            Err(err) => Outcome::Err(format!("-ERR {err}\r\n")),
        }
    }

    fn capabilities(&self) -> String {
        let mut capa = String::from(
            "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n",
        );
        // RFC 2449 §6.2, §6.3: login capabilities only where a login may happen.
        if matches!(self.state, State::Authorization { .. }) {
            if self.auth_allowed() {
                capa.push_str("USER\r\nSASL PLAIN\r\n");
            }
            if !self.tls_active {
                capa.push_str("STLS\r\n");
            }
        }
        capa.push_str("IMPLEMENTATION Hermod\r\n.\r\n");
        capa
    }

    fn auth_allowed(&self) -> bool {
        self.tls_active || self.plaintext_allowed
    }

    fn reject_syntax(&mut self, err: CommandError) {
        self.reject(err.command(), &format!("-ERR {err}\r\n"));
    }

    /// An `-ERR` caused by the client: it counts toward `max_errors`.
    fn reject(&mut self, command: &'static str, text: &str) {
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            self.reply(
                command,
                false,
                "-ERR Too many errors, closing connection\r\n",
            );
            self.closing = true;
        } else {
            self.reply(command, false, text);
        }
    }

    fn reply(&mut self, command: &'static str, ok: bool, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
        self.event(command, ok);
    }

    fn event(&mut self, command: &'static str, ok: bool) {
        self.events.push(CommandEvent { command, ok });
    }

    fn request(&mut self, action: Action, awaiting: Awaiting) {
        self.pending = Some(Pending {
            request: Some(action),
            awaiting,
        });
    }

    fn take_pending(&mut self, wanted: impl Fn(&Awaiting) -> bool) -> Option<Awaiting> {
        match &self.pending {
            Some(pending) if wanted(&pending.awaiting) => {
                self.pending.take().map(|pending| pending.awaiting)
            }
            _ => None,
        }
    }

    /// Stops processing input: the session closes once its last replies are written.
    fn end(&mut self) {
        self.state = State::Done;
        self.pending = None;
        self.lines.clear();
        self.closing = true;
    }
}

/// What a command handler decided; [`Session::apply`] carries it out.
#[derive(Debug)]
enum Outcome {
    /// Reply with this `+OK` text.
    Ok(String),
    /// Reply with this `-ERR` text; counts toward `max_errors`.
    Err(String),
    /// Ask the actor, finishing the command when the answer arrives.
    Request(Action, Awaiting),
    /// The handler already replied (or deliberately has not yet).
    Handled,
}

/// TRANSACTION state (RFC 1939 §5).
fn transaction(maildrop: &mut Maildrop, command: Command) -> Outcome {
    let lookup_err = |err: MessageError| Outcome::Err(format!("-ERR {err}\r\n"));
    match command {
        Command::Stat => {
            let (count, size) = maildrop.stat();
            Outcome::Ok(format!("+OK {count} {size}\r\n"))
        }
        Command::List(None) => Outcome::Ok(maildrop.list_reply()),
        Command::Uidl(None) => Outcome::Ok(maildrop.uidl_reply()),
        Command::List(Some(msg)) => match maildrop.get(msg) {
            Ok((_, entry)) => Outcome::Ok(format!("+OK {msg} {}\r\n", entry.size)),
            Err(err) => lookup_err(err),
        },
        Command::Uidl(Some(msg)) => match maildrop.get(msg) {
            Ok((_, entry)) => Outcome::Ok(format!("+OK {msg} {}\r\n", entry.uidl)),
            Err(err) => lookup_err(err),
        },
        Command::Dele(msg) => match maildrop.delete(msg) {
            Ok(()) => Outcome::Ok(format!("+OK Message {msg} deleted\r\n")),
            Err(err) => lookup_err(err),
        },
        Command::Rset => {
            maildrop.reset();
            let (count, size) = maildrop.stat();
            Outcome::Ok(format!("+OK {count} messages ({size} octets)\r\n"))
        }
        Command::Retr(msg) => retrieve(maildrop, msg, None),
        Command::Top { msg, lines } => retrieve(maildrop, msg, Some(lines)),
        Command::Quit => Outcome::Request(
            Action::Update {
                deleted: maildrop.deleted_indexes(),
            },
            Awaiting::Update,
        ),
        _ => Outcome::Err(BAD_STATE.to_owned()),
    }
}

fn retrieve(maildrop: &Maildrop, msg: usize, top_lines: Option<usize>) -> Outcome {
    match maildrop.get(msg) {
        Ok((index, _)) => Outcome::Request(
            Action::Retrieve { index, top_lines },
            Awaiting::Retrieve { top_lines },
        ),
        Err(err) => Outcome::Err(format!("-ERR {err}\r\n")),
    }
}
