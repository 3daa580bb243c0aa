//! The session core: states (RFC 3501 §3), input dispatch, the outstanding request and
//! the answers the actor gives.

use std::sync::Arc;

use base64::Engine;
use imap_codec::decode::Decoder;
use imap_codec::CommandCodec;

use super::esearch::{split_return, ReturnOpts, Split};
use super::fetch::flag_list;
use super::framer::{tag_of, Frame, Framer, STREAM_CHUNK};
use super::list_args::{split_list, ListArgs, ListSplit};
use super::literal::Streaming;
use super::qresync::Resync;
use super::view::Selected;
use super::CommandEvent;
use super::{Action, LiteralStep, MailboxEvent, Reply, Request, SessionConfig, StoreErrorKind};

/// Replies are gathered across pipelined commands up to this size, then written.
const FLUSH_AT: usize = 16 * 1024;

/// RFC 3501 §7.5: the continuation request a synchronizing literal waits for.
const CONTINUE: &[u8] = b"+ Ready for literal data\r\n";

/// RFC 3501 §3 states.
#[derive(Debug)]
pub(super) enum State {
    NotAuthenticated,
    Authenticated,
    Selected(Selected),
    Logout,
}

/// Raw-line modes that bypass the command parser.
#[derive(Debug)]
pub(super) enum Mode {
    Commands,
    /// AUTHENTICATE PLAIN waits for the client's response line (RFC 3501 §6.2.2).
    AuthPlain(String),
    /// IDLE until `DONE` (RFC 2177).
    Idle(String),
}

/// What an outstanding request will complete.
#[derive(Debug)]
pub(super) enum Awaiting {
    Login {
        tag: String,
    },
    Tls,
    Done {
        tag: String,
        command: &'static str,
    },
    List {
        tag: String,
        command: &'static str,
        pattern: (String, String),
        entries: Option<Vec<crate::storage::MailboxEntry>>,
    },
    ListExt(Box<super::list_status::ListJob>),
    Select {
        tag: String,
        name: String,
        read_only: bool,
        resync: Option<Resync>,
    },
    /// IMAP4rev2 SELECT: the mailbox is selected, its `* LIST` line is being made
    /// (RFC 9051 §6.3.2).
    SelectList {
        tag: String,
        read_only: bool,
        resync: Option<Resync>,
    },
    /// QRESYNC SELECT: the mailbox is selected, its expunges since the client's modseq are
    /// being read (RFC 7162 §3.2.5).
    Resync {
        tag: String,
        read_only: bool,
        resync: Resync,
    },
    /// UID FETCH (CHANGEDSINCE n VANISHED): the expunges are read first (RFC 7162 §3.2.6).
    FetchVanished {
        job: super::jobs::Job,
        uids: crate::protocol::imap::sequence::SequenceSet,
    },
    Status {
        tag: String,
        name: String,
        items: Vec<&'static str>,
    },
    Append {
        tag: String,
    },
    Job(super::jobs::Job),
    Copy {
        tag: String,
        is_move: bool,
        uid: bool,
    },
    Expunge {
        tag: String,
        close: bool,
    },
}

#[derive(Debug)]
struct Pending {
    request: Option<Action>,
    awaiting: Awaiting,
}

/// One IMAP server session.
#[derive(Debug)]
pub struct Session {
    pub(super) config: Arc<SessionConfig>,
    pub(super) tls_active: bool,
    pub(super) plaintext_allowed: bool,
    pub(super) framer: Framer,
    pub(super) state: State,
    pub(super) mode: Mode,
    pending: Option<Pending>,
    pub(super) out: Vec<u8>,
    pub(super) closing: bool,
    /// Commands started and not yet answered (tag, name, serial), for metrics.
    pub(super) running: Vec<(String, &'static str, u64)>,
    /// Commands started so far (parsed ones and lines answered BAD alike).
    started: u64,
    /// Completed commands, drained by the connection for metrics.
    pub(super) events: Vec<CommandEvent>,
    pub(super) auth_failures: usize,
    errors: usize,
    /// RFC 7162 §3.1: CONDSTORE enabled (ENABLE, SELECT (CONDSTORE), FETCH MODSEQ...).
    pub(super) condstore: bool,
    /// RFC 7162 §3.2.3: QRESYNC enabled (ENABLE QRESYNC); implies `condstore`.
    pub(super) qresync: bool,
    /// RFC 9051 (ENABLE IMAP4rev2): no `\Recent`, SEARCH answers with ESEARCH, SELECT
    /// lists the mailbox.
    pub(super) rev2: bool,
    /// RFC 5182: UIDs of the messages saved by the last `SEARCH RETURN (SAVE)` (`$`).
    pub(super) saved: Vec<u32>,
    /// RFC 4731: the RETURN options cut from the SEARCH being dispatched.
    pub(super) search_return: Option<ReturnOpts>,
    /// RFC 5258: the extended arguments cut from the LIST being dispatched.
    pub(super) list_args: Option<ListArgs>,
    /// The large APPEND literal being received, if any.
    pub(super) streaming: Option<Streaming>,
    /// True while the command of a kept literal is dispatched: its APPEND takes the body
    /// from the actor ([`Request::AppendSpooled`]) and clears this.
    pub(super) literal_kept: bool,
    /// A literal step to hand out before anything else.
    pub(super) literal_step: Option<LiteralStep>,
}

impl Session {
    /// `tls_active`: already TLS (imaps, or after STARTTLS). `plaintext_allowed`: LOGIN and
    /// AUTHENTICATE PLAIN allowed without TLS (loopback peer).
    pub fn new(config: Arc<SessionConfig>, tls_active: bool, plaintext_allowed: bool) -> Session {
        let framer = Framer::new(config.max_line, config.max_literal)
            .with_streaming(config.stream_literal, STREAM_CHUNK);
        Session {
            config,
            tls_active,
            plaintext_allowed,
            framer,
            state: State::NotAuthenticated,
            mode: Mode::Commands,
            pending: None,
            out: Vec::new(),
            closing: false,
            running: Vec::new(),
            started: 0,
            events: Vec::new(),
            auth_failures: 0,
            errors: 0,
            condstore: false,
            qresync: false,
            rev2: false,
            saved: Vec::new(),
            search_return: None,
            list_args: None,
            streaming: None,
            literal_kept: false,
            literal_step: None,
        }
    }

    /// The greeting to send first.
    pub fn greeting(&self) -> Vec<u8> {
        format!(
            "* OK [CAPABILITY {}] {} Hermod IMAP4rev1 ready\r\n",
            self.capabilities(),
            self.config.hostname
        )
        .into_bytes()
    }

    /// Feeds bytes read from the client.
    pub fn receive(&mut self, bytes: &[u8]) {
        if !self.closing && !matches!(self.state, State::Logout) {
            self.framer.push(bytes);
        }
    }

    /// The selected mailbox, if any: the actor delivers this mailbox's events.
    pub fn selected_mailbox(&self) -> Option<&str> {
        match &self.state {
            State::Selected(s) => Some(&s.name),
            _ => None,
        }
    }

    /// Whether the session is in IDLE (for the IDLE gauge).
    pub fn is_idle(&self) -> bool {
        matches!(self.mode, Mode::Idle(_))
    }

    /// What the actor must do next; while a request is unanswered this hands it out once
    /// and then returns [`Action::Read`] without processing further input.
    pub fn next_action(&mut self) -> Action {
        loop {
            // Each literal step goes out before the next input is framed: the actor
            // writes it before it reads more, which holds a fast client back.
            if let Some(step) = self.literal_step.take() {
                return Action::Literal(step);
            }
            if let Some(p) = &mut self.pending {
                if !self.out.is_empty() {
                    return Action::Write(std::mem::take(&mut self.out));
                }
                return p.request.take().unwrap_or(Action::Read);
            }
            if !self.out.is_empty() && (self.closing || self.out.len() >= FLUSH_AT) {
                return Action::Write(std::mem::take(&mut self.out));
            }
            if self.closing {
                return Action::Close;
            }
            if !self.step() {
                if self.out.is_empty() {
                    return Action::Read;
                }
                return Action::Write(std::mem::take(&mut self.out));
            }
        }
    }

    /// Processes one unit of input; false when more input is needed.
    fn step(&mut self) -> bool {
        match std::mem::replace(&mut self.mode, Mode::Commands) {
            Mode::AuthPlain(tag) => match self.framer.next_line() {
                None => {
                    self.mode = Mode::AuthPlain(tag);
                    false
                }
                Some(Err(())) => {
                    self.tagged(&tag, "BAD Response line too long");
                    true
                }
                Some(Ok(line)) => {
                    self.sasl_response(&tag, &line);
                    true
                }
            },
            Mode::Idle(tag) => match self.framer.next_line() {
                None => {
                    self.mode = Mode::Idle(tag);
                    false
                }
                Some(Ok(line)) if line.eq_ignore_ascii_case(b"DONE") => {
                    self.complete(&tag, "OK IDLE terminated", true);
                    true
                }
                Some(_) => {
                    self.tagged(&tag, "BAD Expected DONE");
                    true
                }
            },
            Mode::Commands => match self.framer.next_frame() {
                None => false,
                Some(Frame::Continue) => {
                    self.out.extend_from_slice(CONTINUE);
                    true
                }
                Some(Frame::TooLong(tag)) => {
                    self.drop_literal();
                    self.bad(tag.as_deref(), "Command line too long");
                    true
                }
                Some(Frame::LiteralTooBig { tag, sync }) => {
                    self.drop_literal();
                    let tag = tag.unwrap_or_else(|| "*".into());
                    if sync {
                        self.tagged(&tag, "NO [TOOBIG] Literal too large");
                    } else {
                        // RFC 7888 §4: the data of a refused non-synchronizing literal is
                        // already in flight; reject and close rather than read it.
                        self.tagged(&tag, "BAD [TOOBIG] Literal too large");
                        self.out.extend_from_slice(b"* BYE Literal too large\r\n");
                        self.closing = true;
                    }
                    true
                }
                Some(Frame::Command(bytes)) => {
                    self.command(&bytes);
                    true
                }
                Some(Frame::LiteralStart { prefix, sync }) => {
                    if sync {
                        self.out.extend_from_slice(CONTINUE);
                    }
                    self.literal_start(&prefix);
                    true
                }
                Some(Frame::LiteralChunk(bytes)) => {
                    self.literal_chunk(bytes);
                    true
                }
                Some(Frame::LiteralEnd(rest)) => {
                    self.literal_end(&rest);
                    true
                }
            },
        }
    }

    pub(super) fn command(&mut self, bytes: &[u8]) {
        let cut;
        let bytes = match split_return(bytes) {
            Split::Plain => bytes,
            Split::Return(rest, opts) => {
                self.search_return = Some(opts);
                cut = rest;
                &cut
            }
            Split::Invalid => {
                let tag = tag_of(bytes);
                self.bad(tag.as_deref(), "Invalid SEARCH RETURN options");
                return;
            }
        };
        let cut_list;
        let bytes = match split_list(bytes) {
            ListSplit::Plain => bytes,
            ListSplit::Extended(rest, args) => {
                self.list_args = Some(args);
                cut_list = rest;
                &cut_list
            }
            ListSplit::Invalid => {
                let tag = tag_of(bytes);
                self.bad(tag.as_deref(), "Invalid LIST-EXTENDED arguments");
                return;
            }
        };
        let expanded;
        let bytes = match self.expand_saved(bytes) {
            Some(e) => {
                expanded = e;
                &expanded
            }
            None => bytes,
        };
        match CommandCodec::default().decode(bytes) {
            Ok((b"", cmd)) => {
                let tag = cmd.tag.inner().to_owned();
                self.dispatch(tag, cmd.body);
            }
            _ => {
                if self.search_return.take().is_some_and(|r| r.save) {
                    // RFC 5182 §2.1: a SEARCH that fails with BAD empties `$`.
                    self.saved.clear();
                }
                self.list_args = None;
                let tag = tag_of(bytes);
                self.bad(tag.as_deref(), "Unknown command or invalid arguments");
            }
        }
    }

    /// A BAD reply; too many of them end the session.
    pub(super) fn bad(&mut self, tag: Option<&str>, text: &str) {
        self.tagged(tag.unwrap_or("*"), &format!("BAD {text}"));
        self.errors += 1;
        if self.errors >= self.config.max_errors {
            self.out
                .extend_from_slice(b"* BYE Too many invalid commands\r\n");
            self.closing = true;
        }
    }

    /// Appends `tag text CRLF`.
    pub(super) fn tagged(&mut self, tag: &str, text: &str) {
        self.out
            .extend_from_slice(format!("{tag} {text}\r\n").as_bytes());
        let (command, serial) = match self.running.iter().position(|(t, ..)| t == tag) {
            Some(i) => {
                let (_, command, serial) = self.running.swap_remove(i);
                (command, serial)
            }
            // A line that never parsed into a command: it starts and ends here.
            None => {
                self.started += 1;
                ("INVALID", self.started - 1)
            }
        };
        self.events.push(CommandEvent {
            command,
            ok: text.starts_with("OK"),
            serial,
        });
    }

    /// Records that a parsed command starts, for metrics.
    pub(super) fn begin(&mut self, tag: &str, command: &'static str) {
        self.running.push((tag.to_owned(), command, self.started));
        self.started += 1;
    }

    /// How many commands have started: every [`CommandEvent::serial`] is below this.
    /// The connection notes the time when this grows to time each command.
    pub fn commands_started(&self) -> u64 {
        self.started
    }

    /// Commands completed since the last call (command name, OK or not), for metrics.
    pub fn take_events(&mut self) -> Vec<CommandEvent> {
        std::mem::take(&mut self.events)
    }

    /// Announces pending mailbox updates (EXPUNGE only if `expunge_ok`), then the tagged
    /// completion.
    pub(super) fn complete(&mut self, tag: &str, text: &str, expunge_ok: bool) {
        self.flush_updates(expunge_ok);
        self.tagged(tag, text);
    }

    /// Writes pending mailbox updates.
    pub(super) fn flush_updates(&mut self, expunge_ok: bool) {
        let condstore = self.condstore;
        let vanished = self.qresync;
        let rev2 = self.rev2;
        if let State::Selected(sel) = &mut self.state {
            let mut text = sel.updates(expunge_ok, vanished, |seq, m| {
                if condstore {
                    format!(
                        "* {seq} FETCH (UID {} FLAGS {} MODSEQ ({}))\r\n",
                        m.uid,
                        flag_list(m),
                        m.modseq
                    )
                } else {
                    format!("* {seq} FETCH (UID {} FLAGS {})\r\n", m.uid, flag_list(m))
                }
            });
            if rev2 && text.contains(" EXISTS\r\n") {
                // RFC 9051 Appendix E: IMAP4rev2 has no `\Recent` flag and no RECENT
                // response. New messages come last and are the only ones marked.
                for m in sel.msgs.iter_mut().rev().take_while(|m| m.recent) {
                    m.recent = false;
                }
                text = text
                    .split_inclusive("\r\n")
                    .filter(|l| !(l.starts_with("* ") && l.ends_with(" RECENT\r\n")))
                    .collect();
            }
            self.out.extend_from_slice(text.as_bytes());
        }
    }

    /// Hands `action` out and waits for its answer.
    pub(super) fn request(&mut self, action: Action, awaiting: Awaiting) {
        self.pending = Some(Pending {
            request: Some(action),
            awaiting,
        });
    }

    /// A storage request.
    pub(super) fn storage(&mut self, request: Request, awaiting: Awaiting) {
        self.request(Action::Storage(request), awaiting);
    }

    /// Answers [`Action::Authenticate`]: `Some(user)` (the canonical account name) when
    /// the credentials are good.
    pub fn auth_done(&mut self, user: Option<String>) {
        let Some(Awaiting::Login { tag }) = self.take(|a| matches!(a, Awaiting::Login { .. }))
        else {
            return;
        };
        match user {
            Some(_) => {
                self.state = State::Authenticated;
                let caps = self.capabilities();
                self.tagged(&tag, &format!("OK [CAPABILITY {caps}] Logged in"));
            }
            None => {
                self.auth_failures += 1;
                self.tagged(&tag, "NO [AUTHENTICATIONFAILED] Invalid credentials");
                if self.auth_failures >= self.config.max_auth_failures {
                    self.out
                        .extend_from_slice(b"* BYE Too many authentication failures\r\n");
                    self.closing = true;
                }
            }
        }
    }

    /// Answers [`Action::StartTls`]: the handshake finished.
    pub fn tls_started(&mut self) {
        if self.take(|a| matches!(a, Awaiting::Tls)).is_some() {
            self.tls_active = true;
            // RFC 3501 §6.2.1: nothing sent before the handshake may be acted on.
            self.framer.clear();
        }
    }

    /// Answers [`Action::Storage`].
    pub fn storage_done(&mut self, result: Result<Reply, StoreErrorKind>) {
        let Some(awaiting) = self.take(|a| !matches!(a, Awaiting::Login { .. } | Awaiting::Tls))
        else {
            return;
        };
        self.answer(awaiting, result);
    }

    /// A change to a mailbox by someone else; applied if it is the selected one. Call
    /// [`Session::next_action`] afterwards: during IDLE the update is written at once.
    pub fn mailbox_changed(&mut self, mailbox: &str, event: MailboxEvent) {
        let State::Selected(sel) = &mut self.state else {
            return;
        };
        if sel.name != mailbox {
            return;
        }
        match event {
            MailboxEvent::Appended(m) => sel.appended(m),
            MailboxEvent::Expunged(uids) => sel.expunged(&uids),
            MailboxEvent::Flags(changes) => sel.flags_changed(&changes),
        }
        if matches!(self.mode, Mode::Idle(_)) && self.pending.is_none() {
            self.flush_updates(true);
        }
    }

    fn take(&mut self, want: impl Fn(&Awaiting) -> bool) -> Option<Awaiting> {
        match &self.pending {
            Some(p) if p.request.is_none() && want(&p.awaiting) => {
                self.pending.take().map(|p| p.awaiting)
            }
            _ => None,
        }
    }

    /// The CAPABILITY list for the current state.
    pub(super) fn capabilities(&self) -> String {
        let mut caps = vec![
            "IMAP4rev1",
            "IMAP4rev2",
            "LITERAL+",
            "SASL-IR",
            "ID",
            "ENABLE",
            "IDLE",
        ];
        caps.extend(["NAMESPACE", "UIDPLUS", "MOVE", "UNSELECT", "CHILDREN"]);
        caps.extend(["SPECIAL-USE", "CONDSTORE", "ESEARCH"]);
        caps.extend(["LIST-EXTENDED", "LIST-STATUS", "BINARY"]);
        caps.extend(["SEARCHRES", "STATUS=SIZE"]);
        caps.push("QRESYNC");
        if matches!(self.state, State::NotAuthenticated) {
            if !self.tls_active {
                caps.push("STARTTLS");
            }
            if self.login_allowed() {
                caps.push("AUTH=PLAIN");
            } else {
                caps.push("LOGINDISABLED");
            }
        }
        caps.join(" ")
    }

    /// RFC 3501 §6.2.3: plaintext login only under TLS, unless allowed (loopback).
    pub(super) fn login_allowed(&self) -> bool {
        self.tls_active || self.plaintext_allowed
    }

    fn sasl_response(&mut self, tag: &str, line: &[u8]) {
        if line == b"*" {
            self.tagged(tag, "BAD Authentication cancelled");
            return;
        }
        self.sasl_plain(tag, line);
    }

    /// Decodes a base64 PLAIN response (RFC 4616) and asks for a verdict.
    pub(super) fn sasl_plain(&mut self, tag: &str, b64: &[u8]) {
        let decoded = base64::engine::general_purpose::STANDARD.decode(b64);
        let parts: Option<(String, String)> = decoded.ok().and_then(|d| {
            let mut it = d.split(|b| *b == 0);
            let (_authz, user, pass) = (it.next()?, it.next()?, it.next()?);
            if it.next().is_some() || user.is_empty() {
                return None;
            }
            Some((
                String::from_utf8(user.to_vec()).ok()?,
                String::from_utf8(pass.to_vec()).ok()?,
            ))
        });
        match parts {
            Some((user, password)) => self.request(
                Action::Authenticate { user, password },
                Awaiting::Login {
                    tag: tag.to_owned(),
                },
            ),
            None => self.bad(Some(tag), "Invalid SASL PLAIN response"),
        }
    }
}
