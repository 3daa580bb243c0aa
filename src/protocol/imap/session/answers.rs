//! Completion of commands from the actor's storage answers: the untagged data and the
//! tagged result (RFC 3501 §7), with the response codes of RFC 5530, 4315 and 6851.

use super::list_status::status_line;
use super::machine::{Awaiting, Session, State};
use super::names::NameCodec;
use super::qresync::{resync_lines, vanished_line, Resync};
use super::view::Selected;
use super::{list, Reply, Request, StoreErrorKind};

impl Session {
    /// Completes a command with a storage answer.
    pub(super) fn answer(&mut self, awaiting: Awaiting, result: Result<Reply, StoreErrorKind>) {
        let vanished = self.qresync;
        let names = NameCodec::for_session(self.rev2);
        match (awaiting, result) {
            (Awaiting::Job(job), result) => self.continue_job(job, result),
            (Awaiting::ListExt(job), result) => self.continue_list(*job, result),
            (Awaiting::Done { tag, command }, Ok(_)) => {
                self.complete(&tag, &format!("OK {command} completed"), true)
            }
            (
                Awaiting::List {
                    tag,
                    command,
                    pattern,
                    entries: None,
                },
                Ok(Reply::Mailboxes(e)),
            ) => {
                self.storage(
                    Request::Subscriptions,
                    Awaiting::List {
                        tag,
                        command,
                        pattern,
                        entries: Some(e),
                    },
                );
            }
            (
                Awaiting::List {
                    tag,
                    command,
                    pattern,
                    entries: Some(e),
                },
                Ok(Reply::Names(subs)),
            ) => {
                let text = list::render(names, command, &pattern.0, &pattern.1, &e, Some(&subs));
                self.out.extend_from_slice(text.as_bytes());
                self.complete(&tag, "OK LSUB completed", true);
            }
            (
                Awaiting::Select {
                    tag,
                    name,
                    read_only,
                    resync,
                },
                Ok(Reply::Mailbox {
                    info,
                    messages,
                    first_recent_uid,
                }),
            ) => {
                // RFC 9051 Appendix E: no message is `\Recent` in IMAP4rev2.
                let first_recent_uid = if self.rev2 {
                    u32::MAX
                } else {
                    first_recent_uid
                };
                let sel = Selected::new(name, read_only, info, messages, first_recent_uid);
                let mut t = String::new();
                t.push_str("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n");
                if read_only {
                    t.push_str("* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
                } else {
                    t.push_str("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n");
                }
                t.push_str(&format!("* {} EXISTS\r\n", sel.exists()));
                // RFC 9051 §6.3.2 drops RECENT and the UNSEEN code from the answer.
                if !self.rev2 {
                    t.push_str(&format!("* {} RECENT\r\n", sel.recent()));
                    if let Some(i) = sel.msgs.iter().position(|m| !m.has("\\Seen")) {
                        t.push_str(&format!("* OK [UNSEEN {}] First unseen\r\n", i + 1));
                    }
                }
                t.push_str(&format!(
                    "* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {}] Predicted next UID\r\n* OK [HIGHESTMODSEQ {}] Highest\r\n",
                    info.uidvalidity, info.uidnext, info.highest_modseq
                ));
                self.out.extend_from_slice(t.as_bytes());
                self.state = State::Selected(sel);
                if self.rev2 {
                    let awaiting = Awaiting::SelectList {
                        tag,
                        read_only,
                        resync,
                    };
                    self.storage(Request::ListMailboxes, awaiting);
                } else {
                    self.select_resync(tag, read_only, resync);
                }
            }
            (
                Awaiting::SelectList {
                    tag,
                    read_only,
                    resync,
                },
                result,
            ) => {
                // RFC 9051 §6.3.2: the mailbox's LIST line. A failed listing leaves it
                // out rather than fail a SELECT that has succeeded.
                if let (State::Selected(sel), Ok(Reply::Mailboxes(entries))) = (&self.state, result)
                {
                    let only = [sel.name.clone()];
                    let line = list::render(names, "LIST", "", &sel.name, &entries, Some(&only));
                    self.out.extend_from_slice(line.as_bytes());
                }
                self.select_resync(tag, read_only, resync);
            }
            (
                Awaiting::Resync {
                    tag,
                    read_only,
                    resync,
                },
                Ok(Reply::Expunged(uids)),
            ) => {
                if let State::Selected(sel) = &self.state {
                    let text = resync_lines(sel, &resync, &uids);
                    self.out.extend_from_slice(text.as_bytes());
                }
                self.select_done(&tag, read_only);
            }
            (Awaiting::FetchVanished { job, uids: set }, Ok(Reply::Expunged(uids))) => {
                if let State::Selected(sel) = &self.state {
                    // `*` may name UIDs above the highest one left (RFC 3501 §6.4.8).
                    let max = sel.max_uid().max(sel.info.uidnext.saturating_sub(1));
                    let gone: Vec<u32> = uids
                        .into_iter()
                        .filter(|u| set.contains(*u, max) && sel.seq_of(*u).is_none())
                        .collect();
                    self.out
                        .extend_from_slice(vanished_line(true, &gone).as_bytes());
                }
                self.start_job(job);
            }
            (
                Awaiting::Status { tag, name, items },
                Ok(Reply::Mailbox {
                    info,
                    messages,
                    first_recent_uid,
                }),
            ) => {
                let counts = Some((&messages[..], first_recent_uid));
                let line = status_line(names, &name, &items, &info, counts);
                self.out.extend_from_slice(line.as_bytes());
                self.complete(&tag, "OK STATUS completed", true);
            }
            (Awaiting::Append { tag }, Ok(Reply::Appended(validity, uid))) => {
                self.complete(
                    &tag,
                    &format!("OK [APPENDUID {validity} {uid}] APPEND completed"),
                    true,
                );
            }
            (Awaiting::Copy { tag, is_move, uid }, Ok(Reply::Copied(c))) => {
                let code = if c.pairs.is_empty() {
                    String::new()
                } else {
                    let src: Vec<String> = c.pairs.iter().map(|p| p.0.to_string()).collect();
                    let dst: Vec<String> = c.pairs.iter().map(|p| p.1.to_string()).collect();
                    format!(
                        "[COPYUID {} {} {}] ",
                        c.uidvalidity,
                        src.join(","),
                        dst.join(",")
                    )
                };
                if is_move {
                    // RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGEs.
                    if !code.is_empty() {
                        self.out
                            .extend_from_slice(format!("* OK {code}Moved\r\n").as_bytes());
                    }
                    if let State::Selected(sel) = &mut self.state {
                        let moved: Vec<u32> = c.pairs.iter().map(|p| p.0).collect();
                        let t = sel.remove_now(&moved, vanished);
                        self.out.extend_from_slice(t.as_bytes());
                    }
                    self.complete(&tag, "OK MOVE completed", true);
                } else {
                    self.complete(&tag, &format!("OK {code}COPY completed"), uid);
                }
            }
            (
                Awaiting::Expunge { tag, close },
                Ok(Reply::ExpungeDone {
                    uids,
                    highest_modseq,
                }),
            ) => {
                if close {
                    self.state = State::Authenticated;
                    self.tagged(&tag, "OK CLOSE completed");
                } else {
                    let mut code = String::new();
                    if let State::Selected(sel) = &mut self.state {
                        let t = sel.remove_now(&uids, vanished);
                        self.out.extend_from_slice(t.as_bytes());
                        sel.info.highest_modseq = sel.info.highest_modseq.max(highest_modseq);
                        // RFC 7162, QRESYNC's EXPUNGE: the client learns the
                        // mod-sequence its own expunge reached.
                        if self.qresync {
                            code = format!("[HIGHESTMODSEQ {}] ", sel.info.highest_modseq);
                        }
                    }
                    self.complete(&tag, &format!("OK {code}EXPUNGE completed"), true);
                }
            }
            (awaiting, Err(e)) => {
                if matches!(awaiting, Awaiting::Resync { .. }) {
                    // The SELECT fails as a whole: nothing stays selected.
                    self.state = State::Authenticated;
                }
                let tag = awaiting_tag(&awaiting);
                let text = match (e, &awaiting) {
                    (StoreErrorKind::NotFound, Awaiting::Append { .. } | Awaiting::Copy { .. }) => {
                        "NO [TRYCREATE] Mailbox does not exist"
                    }
                    (StoreErrorKind::NotFound, _) => "NO [NONEXISTENT] Mailbox does not exist",
                    (StoreErrorKind::AlreadyExists, _) => "NO [ALREADYEXISTS] Mailbox exists",
                    (StoreErrorKind::NotPermitted, _) => "NO [CANNOT] Operation not permitted",
                    (StoreErrorKind::Invalid, _) => "NO [CANNOT] Invalid name or argument",
                    (StoreErrorKind::Full, _) => "NO [OVERQUOTA] No space left",
                    (StoreErrorKind::Failed, _) => "NO [SERVERBUG] Storage failure",
                };
                self.complete(&tag, text, true);
            }
            (awaiting, Ok(_)) => {
                let tag = awaiting_tag(&awaiting);
                self.complete(&tag, "NO [SERVERBUG] Unexpected storage reply", true);
            }
        }
    }
}

fn awaiting_tag(a: &Awaiting) -> String {
    match a {
        Awaiting::Login { tag }
        | Awaiting::Done { tag, .. }
        | Awaiting::List { tag, .. }
        | Awaiting::Select { tag, .. }
        | Awaiting::SelectList { tag, .. }
        | Awaiting::Resync { tag, .. }
        | Awaiting::Status { tag, .. }
        | Awaiting::Append { tag }
        | Awaiting::Copy { tag, .. }
        | Awaiting::Expunge { tag, .. } => tag.clone(),
        Awaiting::Job(j) | Awaiting::FetchVanished { job: j, .. } => j.tag().to_owned(),
        Awaiting::ListExt(j) => j.tag().to_owned(),
        Awaiting::Tls => "*".to_owned(),
    }
}

impl Session {
    /// After the SELECT/EXAMINE data: the QRESYNC changes if asked, then the tagged end.
    fn select_resync(&mut self, tag: String, read_only: bool, resync: Option<Resync>) {
        let State::Selected(sel) = &self.state else {
            return;
        };
        match resync {
            // RFC 7162 §3.2.5: resynchronize only the client's own UIDVALIDITY.
            Some(resync) if resync.uidvalidity == sel.info.uidvalidity => {
                let mailbox = sel.name.clone();
                let since = resync.modseq;
                self.storage(
                    Request::Vanished { mailbox, since },
                    Awaiting::Resync {
                        tag,
                        read_only,
                        resync,
                    },
                );
            }
            _ => self.select_done(&tag, read_only),
        }
    }

    /// The tagged end of SELECT/EXAMINE.
    fn select_done(&mut self, tag: &str, read_only: bool) {
        let (code, cmd) = if read_only {
            ("READ-ONLY", "EXAMINE")
        } else {
            ("READ-WRITE", "SELECT")
        };
        self.tagged(tag, &format!("OK [{code}] {cmd} completed"));
    }
}
