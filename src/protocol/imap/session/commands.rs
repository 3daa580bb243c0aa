//! Command dispatch by state (RFC 3501 §6) and the completion of storage answers.

use imap_codec::imap_types::{
    auth::AuthMechanism,
    command::CommandBody,
    extensions::{binary::LiteralOrLiteral8, enable::CapabilityEnable},
    flag::{StoreResponse, StoreType},
    status::StatusDataItemName,
};

use super::convert::{flag, list_pattern, mailbox_raw, search_key, sequence_set};
use super::esearch::ReturnOpts;
use super::jobs::Job;
use super::list_args::decode_pattern;
use super::machine::{Awaiting, Mode, Session, State};
use super::names::NameCodec;
use super::qresync::select_params;
use super::{Action, Request};
use crate::protocol::imap::structure::summarize;
use crate::storage::{AppendMessage, FlagOp};

const NEED_AUTH: &str = "BAD Command not valid in this state";

impl Session {
    /// Runs one parsed command.
    pub(super) fn dispatch(&mut self, tag: String, body: CommandBody<'_>) {
        self.begin(&tag, body.name());
        let search_return = self.search_return.take();
        let list_args = self.list_args.take();
        let authed = !matches!(self.state, State::NotAuthenticated);
        let selected = matches!(self.state, State::Selected(_));
        match body {
            CommandBody::Capability => {
                let caps = self.capabilities();
                self.out
                    .extend_from_slice(format!("* CAPABILITY {caps}\r\n").as_bytes());
                self.complete(&tag, "OK CAPABILITY completed", true);
            }
            CommandBody::Noop => self.complete(&tag, "OK NOOP completed", true),
            CommandBody::Check if selected => self.complete(&tag, "OK CHECK completed", true),
            CommandBody::Logout => {
                self.out.extend_from_slice(b"* BYE Logging out\r\n");
                self.tagged(&tag, "OK LOGOUT completed");
                self.state = State::Logout;
                self.closing = true;
            }
            CommandBody::StartTLS if !authed => {
                if self.tls_active {
                    self.bad(Some(&tag), "TLS already active");
                } else {
                    self.tagged(&tag, "OK Begin TLS negotiation now");
                    self.request(Action::StartTls, Awaiting::Tls);
                }
            }
            CommandBody::Login { username, password } if !authed => {
                if !self.login_allowed() {
                    self.tagged(&tag, "NO [PRIVACYREQUIRED] LOGIN disabled: use STARTTLS");
                    return;
                }
                let user = String::from_utf8_lossy(username.as_ref()).into_owned();
                let password = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
                self.request(
                    Action::Authenticate { user, password },
                    Awaiting::Login { tag },
                );
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } if !authed => {
                if mechanism != AuthMechanism::Plain {
                    self.tagged(&tag, "NO Unsupported authentication mechanism");
                } else if !self.login_allowed() {
                    self.tagged(&tag, "NO [PRIVACYREQUIRED] Use STARTTLS first");
                } else if let Some(ir) = initial_response {
                    // RFC 4959: the initial response arrives decoded; re-encode for one path.
                    use base64::Engine;
                    let b64 = base64::engine::general_purpose::STANDARD.encode(ir.declassify());
                    self.sasl_plain(&tag, b64.as_bytes());
                } else {
                    self.out.extend_from_slice(b"+ \r\n");
                    self.mode = Mode::AuthPlain(tag);
                }
            }
            CommandBody::Enable { capabilities } if authed => {
                let mut enabled = Vec::new();
                for c in capabilities.as_ref() {
                    if matches!(c, CapabilityEnable::CondStore) {
                        self.condstore = true;
                        enabled.push("CONDSTORE");
                    } else if c.to_string().eq_ignore_ascii_case("IMAP4rev2") {
                        // RFC 9051 §6.3.1: the session follows IMAP4rev2 from now on.
                        self.rev2 = true;
                        enabled.push("IMAP4rev2");
                    } else if c.to_string().eq_ignore_ascii_case("QRESYNC") {
                        // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
                        self.condstore = true;
                        self.qresync = true;
                        enabled.push("QRESYNC");
                    }
                }
                self.out.extend_from_slice(
                    format!("* ENABLED {}\r\n", enabled.join(" "))
                        .trim_end()
                        .as_bytes(),
                );
                self.out.extend_from_slice(b"\r\n");
                self.complete(&tag, "OK ENABLE completed", true);
            }
            CommandBody::Id { .. } => {
                self.out
                    .extend_from_slice(b"* ID (\"name\" \"Hermod\")\r\n");
                self.complete(&tag, "OK ID completed", true);
            }
            CommandBody::Namespace if authed => {
                self.out
                    .extend_from_slice(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
                self.complete(&tag, "OK NAMESPACE completed", true);
            }
            CommandBody::Select {
                mailbox,
                parameters,
            } if authed => self.open(tag, &mailbox_raw(&mailbox), &parameters, false),
            CommandBody::Examine {
                mailbox,
                parameters,
            } if authed => self.open(tag, &mailbox_raw(&mailbox), &parameters, true),
            CommandBody::Create { mailbox } if authed => {
                let Some(mut name) = self.name(&tag, &mailbox_raw(&mailbox)) else {
                    return;
                };
                // RFC 3501 §6.3.3: a trailing separator declares intent to hold children.
                if name.len() > 1 && name.ends_with('/') {
                    name.pop();
                }
                self.simple(tag, "CREATE", Request::Create { mailbox: name });
            }
            CommandBody::Delete { mailbox } if authed => {
                let Some(mailbox) = self.name(&tag, &mailbox_raw(&mailbox)) else {
                    return;
                };
                self.simple(tag, "DELETE", Request::Delete { mailbox });
            }
            CommandBody::Rename { from, to } if authed => {
                let Some(from) = self.name(&tag, &mailbox_raw(&from)) else {
                    return;
                };
                let Some(to) = self.name(&tag, &mailbox_raw(&to)) else {
                    return;
                };
                self.simple(tag, "RENAME", Request::Rename { from, to });
            }
            CommandBody::Subscribe { mailbox } if authed => {
                let Some(mailbox) = self.name(&tag, &mailbox_raw(&mailbox)) else {
                    return;
                };
                self.simple(tag, "SUBSCRIBE", Request::Subscribe { mailbox });
            }
            CommandBody::Unsubscribe { mailbox } if authed => {
                let Some(mailbox) = self.name(&tag, &mailbox_raw(&mailbox)) else {
                    return;
                };
                self.simple(tag, "UNSUBSCRIBE", Request::Unsubscribe { mailbox });
            }
            CommandBody::List {
                reference,
                mailbox_wildcard,
            } if authed => {
                let args = list_args.unwrap_or_default();
                let mut raw = vec![list_pattern(&mailbox_wildcard)];
                for token in &args.more_patterns {
                    match decode_pattern(token) {
                        Some(p) => raw.push(p),
                        None => {
                            self.bad(Some(&tag), "Invalid LIST pattern");
                            return;
                        }
                    }
                }
                // The patterns match stored names, so they are decoded like names.
                let mut patterns = Vec::with_capacity(raw.len());
                for p in &raw {
                    let Some(p) = self.name(&tag, p) else {
                        return;
                    };
                    patterns.push(p);
                }
                let Some(reference) = self.name(&tag, &mailbox_raw(&reference)) else {
                    return;
                };
                self.start_list(tag, reference, patterns, args.select, args.ret);
            }
            CommandBody::Lsub {
                reference,
                mailbox_wildcard,
            } if authed => {
                let Some(reference) = self.name(&tag, &mailbox_raw(&reference)) else {
                    return;
                };
                let Some(wildcard) = self.name(&tag, &list_pattern(&mailbox_wildcard)) else {
                    return;
                };
                let pattern = (reference, wildcard);
                self.storage(
                    Request::ListMailboxes,
                    Awaiting::List {
                        tag,
                        command: "LSUB",
                        pattern,
                        entries: None,
                    },
                );
            }
            CommandBody::Status {
                mailbox,
                item_names,
            } if authed => {
                let items = item_names
                    .iter()
                    .filter_map(|i| match i {
                        StatusDataItemName::Messages => Some("MESSAGES"),
                        StatusDataItemName::Recent => Some("RECENT"),
                        StatusDataItemName::UidNext => Some("UIDNEXT"),
                        StatusDataItemName::UidValidity => Some("UIDVALIDITY"),
                        StatusDataItemName::Unseen => Some("UNSEEN"),
                        StatusDataItemName::HighestModSeq => Some("HIGHESTMODSEQ"),
                        // RFC 9051 §6.3.11 (and RFC 8438 STATUS=SIZE).
                        StatusDataItemName::Size => Some("SIZE"),
                        StatusDataItemName::Deleted => Some("DELETED"),
                        _ => None,
                    })
                    .collect();
                let Some(name) = self.name(&tag, &mailbox_raw(&mailbox)) else {
                    return;
                };
                self.storage(
                    Request::Open {
                        mailbox: name.clone(),
                        select: false,
                    },
                    Awaiting::Status { tag, name, items },
                );
            }
            CommandBody::Append {
                mailbox,
                flags,
                date,
                message,
            } if authed => {
                let date_given = date.is_some();
                let internal_date = date.map_or(0, |d| d.as_ref().timestamp());
                let flags = flags.iter().map(flag).collect();
                // A refused name leaves a kept literal untaken: it is discarded.
                let Some(mailbox) = self.name(&tag, &mailbox_raw(&mailbox)) else {
                    return;
                };
                let request = if std::mem::take(&mut self.literal_kept) {
                    // The message is with the actor, which summarizes it off this thread.
                    Request::AppendSpooled {
                        mailbox,
                        flags,
                        internal_date,
                        date_given,
                    }
                } else {
                    let body = match message {
                        LiteralOrLiteral8::Literal(l) => l.data().to_vec(),
                        LiteralOrLiteral8::Literal8(l) => l.data.to_vec(),
                    };
                    let summary = postcard::to_allocvec(&summarize(&body)).ok();
                    let message = AppendMessage {
                        body: body.into(),
                        flags,
                        internal_date,
                        summary,
                    };
                    Request::Append {
                        mailbox,
                        message,
                        date_given,
                    }
                };
                self.storage(request, Awaiting::Append { tag });
            }
            CommandBody::Idle if authed => {
                self.out.extend_from_slice(b"+ idling\r\n");
                self.flush_updates(true);
                self.mode = Mode::Idle(tag);
            }
            CommandBody::Close | CommandBody::Unselect if selected => {
                let close = matches!(body, CommandBody::Close);
                let State::Selected(sel) = &self.state else {
                    return;
                };
                // RFC 5182 §2.1: `$` belongs to the selected mailbox.
                self.saved.clear();
                if close && !sel.read_only {
                    let mailbox = sel.name.clone();
                    self.storage(
                        Request::Expunge {
                            mailbox,
                            uids: None,
                        },
                        Awaiting::Expunge { tag, close: true },
                    );
                } else {
                    self.state = State::Authenticated;
                    let name = if close { "CLOSE" } else { "UNSELECT" };
                    self.tagged(&tag, &format!("OK {name} completed"));
                }
            }
            CommandBody::Expunge if selected => self.expunge(tag, None),
            CommandBody::ExpungeUid { sequence_set: set } if selected => {
                let set = sequence_set(&set);
                let State::Selected(sel) = &self.state else {
                    return;
                };
                let uids = sel
                    .resolve(&set, true)
                    .into_iter()
                    .filter_map(|s| sel.get(s).map(|m| m.uid))
                    .collect();
                self.expunge(tag, Some(uids));
            }
            CommandBody::Search {
                charset,
                criteria,
                uid,
            } if selected => {
                if let Some(c) = charset {
                    let c = match &c {
                        imap_codec::imap_types::core::Charset::Atom(a) => a.inner().to_owned(),
                        imap_codec::imap_types::core::Charset::Quoted(q) => q.inner().to_owned(),
                    };
                    if !c.eq_ignore_ascii_case("UTF-8") && !c.eq_ignore_ascii_case("US-ASCII") {
                        if search_return.is_some_and(|r| r.save) {
                            // RFC 5182 §2.1: a failed SEARCH (SAVE) empties `$`.
                            self.saved.clear();
                        }
                        self.tagged(&tag, "NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
                        return;
                    }
                }
                let keys = criteria.as_ref().iter().map(search_key).collect();
                let key = crate::protocol::imap::search::SearchKey::And(keys);
                // RFC 9051 §6.4.4: without RETURN an IMAP4rev2 SEARCH means RETURN (ALL).
                let ret = search_return.or_else(|| self.rev2.then(ReturnOpts::all));
                self.start_job(Job::search(tag, key, uid, ret, self.selected_seqs()));
            }
            CommandBody::Fetch {
                sequence_set: set,
                macro_or_item_names,
                uid,
                modifiers,
            } if selected => {
                use imap_codec::imap_types::command::FetchModifier;
                let mut items = super::fetch::items(&macro_or_item_names);
                let changed_since = modifiers.iter().find_map(|m| match m {
                    FetchModifier::ChangedSince(n) => Some(n.get()),
                    FetchModifier::Vanished => None,
                });
                let vanished = modifiers.contains(&FetchModifier::Vanished);
                // RFC 7162 §3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE, once
                // QRESYNC is enabled.
                if vanished && !(uid && self.qresync && changed_since.is_some()) {
                    self.bad(
                        Some(&tag),
                        "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC",
                    );
                    return;
                }
                if !modifiers.is_empty() || items.contains(&super::fetch::Item::ModSeq) {
                    self.condstore = true;
                }
                let State::Selected(sel) = &self.state else {
                    return;
                };
                let mut seqs = sel.resolve(&sequence_set(&set), uid);
                if let Some(since) = changed_since {
                    seqs.retain(|s| sel.get(*s).is_some_and(|m| m.modseq > since));
                    if !items.contains(&super::fetch::Item::ModSeq) {
                        items.push(super::fetch::Item::ModSeq);
                    }
                }
                let read_only = sel.read_only;
                let job = Job::fetch(tag, items, uid, seqs, read_only);
                match changed_since {
                    Some(since) if vanished => {
                        let request = Request::Vanished {
                            mailbox: sel.name.clone(),
                            since,
                        };
                        let uids = sequence_set(&set);
                        self.storage(request, Awaiting::FetchVanished { job, uids });
                    }
                    _ => self.start_job(job),
                }
            }
            CommandBody::Store {
                sequence_set: set,
                kind,
                response,
                flags,
                uid,
                modifiers,
            } if selected => {
                let State::Selected(sel) = &self.state else {
                    return;
                };
                if sel.read_only {
                    self.tagged(&tag, "NO Mailbox is read-only");
                    return;
                }
                let op = match kind {
                    StoreType::Replace => FlagOp::Set,
                    StoreType::Add => FlagOp::Add,
                    StoreType::Remove => FlagOp::Remove,
                };
                let unchanged_since = modifiers
                    .iter()
                    .map(|imap_codec::imap_types::command::StoreModifier::UnchangedSince(n)| *n)
                    .next();
                if unchanged_since.is_some() {
                    self.condstore = true;
                }
                let seqs = sel.resolve(&sequence_set(&set), uid);
                let uids = seqs
                    .iter()
                    .filter_map(|s| sel.get(*s).map(|m| m.uid))
                    .collect();
                let request = Request::StoreFlags {
                    mailbox: sel.name.clone(),
                    uids,
                    op,
                    flags: flags.iter().map(flag).collect(),
                    unchanged_since,
                };
                let silent = matches!(response, StoreResponse::Silent);
                self.storage(request, Awaiting::Job(Job::store(tag, uid, silent)));
            }
            CommandBody::Copy {
                sequence_set: set,
                mailbox,
                uid,
            } if selected => {
                if let Some(to) = self.name(&tag, &mailbox_raw(&mailbox)) {
                    self.copy(tag, &set, to, uid, false);
                }
            }
            CommandBody::Move {
                sequence_set: set,
                mailbox,
                uid,
            } if selected => {
                if let Some(to) = self.name(&tag, &mailbox_raw(&mailbox)) {
                    self.copy(tag, &set, to, uid, true);
                }
            }
            _ => {
                if authed {
                    self.bad(
                        Some(&tag),
                        "Command not valid in this state or not supported",
                    );
                } else {
                    self.tagged(&tag, NEED_AUTH);
                }
            }
        }
    }

    fn selected_seqs(&self) -> Vec<u32> {
        match &self.state {
            State::Selected(sel) => (1..=sel.exists()).collect(),
            _ => Vec::new(),
        }
    }

    /// The stored name for a name (or LIST pattern) the client sent, in this session's
    /// spelling; `None` once the command is answered `NO [CANNOT]` for a name that is
    /// not valid in it (so none is ever stored).
    fn name(&mut self, tag: &str, raw: &[u8]) -> Option<String> {
        match NameCodec::for_session(self.rev2).decode(raw) {
            Ok(name) => Some(name),
            Err(e) => {
                self.complete(tag, &format!("NO [CANNOT] {e}"), true);
                None
            }
        }
    }

    fn simple(&mut self, tag: String, command: &'static str, request: Request) {
        self.storage(request, Awaiting::Done { tag, command });
    }

    fn open(
        &mut self,
        tag: String,
        raw: &[u8],
        parameters: &[imap_codec::imap_types::command::SelectParameter],
        read_only: bool,
    ) {
        let params = match select_params(parameters) {
            Ok(p) => p,
            Err(e) => return self.bad(Some(&tag), &format!("Invalid SELECT parameters: {e}")),
        };
        if params.resync.is_some() && !self.qresync {
            // RFC 7162 §3.2.5: QRESYNC without ENABLE QRESYNC is a BAD.
            return self.bad(Some(&tag), "QRESYNC is not enabled");
        }
        self.condstore |= params.condstore;
        self.saved.clear();
        if matches!(self.state, State::Selected(_)) {
            // RFC 7162 §3.2.11: a boundary between the old mailbox's responses and the new.
            self.out
                .extend_from_slice(b"* OK [CLOSED] Previous mailbox closed\r\n");
        }
        // RFC 3501 §6.3.1: a SELECT, even a failing one, leaves the selected state.
        self.state = State::Authenticated;
        let Some(name) = self.name(&tag, raw) else {
            return;
        };
        self.storage(
            Request::Open {
                mailbox: name.clone(),
                select: true,
            },
            Awaiting::Select {
                tag,
                name,
                read_only,
                resync: params.resync,
            },
        );
    }

    fn expunge(&mut self, tag: String, uids: Option<Vec<u32>>) {
        let State::Selected(sel) = &self.state else {
            return;
        };
        if sel.read_only {
            self.tagged(&tag, "NO Mailbox is read-only");
            return;
        }
        let mailbox = sel.name.clone();
        self.storage(
            Request::Expunge { mailbox, uids },
            Awaiting::Expunge { tag, close: false },
        );
    }

    fn copy(
        &mut self,
        tag: String,
        set: &imap_codec::imap_types::sequence::SequenceSet,
        to: String,
        uid: bool,
        is_move: bool,
    ) {
        let State::Selected(sel) = &self.state else {
            return;
        };
        if is_move && sel.read_only {
            self.tagged(&tag, "NO Mailbox is read-only");
            return;
        }
        let seqs = sel.resolve(&sequence_set(set), uid);
        let uids = seqs
            .iter()
            .filter_map(|s| sel.get(*s).map(|m| m.uid))
            .collect();
        let from = sel.name.clone();
        let request = if is_move {
            Request::Move { from, uids, to }
        } else {
            Request::Copy { from, uids, to }
        };
        self.storage(request, Awaiting::Copy { tag, is_move, uid });
    }
}
