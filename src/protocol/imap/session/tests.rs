//! Scripted conversations against a [`MemoryStore`] backend, split input and hostile input.

use std::sync::Arc;

use super::*;
use crate::storage::{is_inbox, MemoryStore, Store, StoreError};

pub(super) const USER: &str = "bob@example.org";

/// Carries out actions like the connection actor would, against a memory store.
pub(super) struct Harness {
    pub(super) session: Session,
    pub(super) store: MemoryStore,
    out: Vec<u8>,
    closed: bool,
    /// The large literal kept through `Action::Literal`, as the actor's file would be.
    pub(super) kept: Option<Vec<u8>>,
    /// Every literal step so far, chunks by size.
    pub(super) literal_steps: Vec<String>,
}

fn run_request(store: &MemoryStore, r: Request) -> Result<Reply, StoreError> {
    Ok(match r {
        Request::ListMailboxes => Reply::Mailboxes(store.list_mailboxes(USER)?),
        Request::Subscriptions => Reply::Names(store.subscriptions(USER)?),
        Request::Open { mailbox, .. } => {
            let name = if is_inbox(&mailbox) {
                "INBOX".to_owned()
            } else {
                mailbox
            };
            let info = store.mailbox(USER, &name)?.ok_or(StoreError::NotFound)?;
            let messages = store.messages(USER, &name)?;
            Reply::Mailbox {
                info,
                messages,
                first_recent_uid: info.uidnext,
            }
        }
        Request::Create { mailbox } => store.create_mailbox(USER, &mailbox).map(|_| Reply::Done)?,
        Request::Delete { mailbox } => store.delete_mailbox(USER, &mailbox).map(|_| Reply::Done)?,
        Request::Rename { from, to } => store
            .rename_mailbox(USER, &from, &to)
            .map(|_| Reply::Done)?,
        Request::Subscribe { mailbox } => store.subscribe(USER, &mailbox).map(|_| Reply::Done)?,
        Request::Unsubscribe { mailbox } => {
            store.unsubscribe(USER, &mailbox).map(|_| Reply::Done)?
        }
        Request::Append {
            mailbox,
            mut message,
            date_given,
        } => {
            if !date_given {
                message.internal_date = 1_700_000_000;
            }
            let (v, u) = store.append(USER, &mailbox, message)?;
            Reply::Appended(v, u)
        }
        Request::AppendSpooled { .. } => unreachable!("Harness::with_literal made it an Append"),
        Request::StoreFlags {
            mailbox,
            uids,
            op,
            flags,
            unchanged_since,
        } => Reply::Flags(store.store_flags(USER, &mailbox, &uids, op, &flags, unchanged_since)?),
        Request::Copy { from, uids, to } => Reply::Copied(store.copy(USER, &from, &uids, &to)?),
        Request::Move { from, uids, to } => {
            Reply::Copied(store.move_messages(USER, &from, &uids, &to)?)
        }
        Request::Expunge { mailbox, uids } => {
            let uids = store.expunge_deleted(USER, &mailbox, uids.as_deref())?;
            let highest_modseq = store
                .mailbox(USER, &mailbox)?
                .map_or(0, |info| info.highest_modseq);
            Reply::ExpungeDone {
                uids,
                highest_modseq,
            }
        }
        Request::Vanished { mailbox, since } => {
            Reply::Expunged(store.expunged_since(USER, &mailbox, since)?)
        }
        Request::ReadBlobs(ids) => {
            Reply::Blobs(ids.into_iter().map(|b| store.read_blob(b).ok()).collect())
        }
        Request::Summaries { mailbox, uids } => {
            let name = if is_inbox(&mailbox) {
                "INBOX"
            } else {
                &mailbox
            };
            match store.summaries(USER, name, &uids) {
                Err(StoreError::NotFound) => Reply::Summaries(vec![None; uids.len()]),
                found => Reply::Summaries(found?),
            }
        }
    })
}

impl Harness {
    pub(super) fn new(plaintext: bool) -> Harness {
        Harness::with_config(test_config(), plaintext)
    }

    pub(super) fn with_config(config: SessionConfig, plaintext: bool) -> Harness {
        let store = MemoryStore::new();
        store.create_mailbox(USER, "INBOX").unwrap();
        let session = Session::new(Arc::new(config), false, plaintext);
        Harness {
            session,
            store,
            out: Vec::new(),
            closed: false,
            kept: None,
            literal_steps: Vec::new(),
        }
    }

    pub(super) fn drive(&mut self) {
        loop {
            match self.session.next_action() {
                Action::Read => return,
                Action::Write(b) => self.out.extend(b),
                Action::Close => {
                    self.closed = true;
                    return;
                }
                Action::StartTls => self.session.tls_started(),
                Action::Authenticate { user, password } => {
                    let ok = user == USER && password == "secret";
                    self.session.auth_done(ok.then(|| USER.to_owned()));
                }
                Action::Storage(r) => {
                    let result = match self.with_literal(r) {
                        Some(r) => {
                            run_request(&self.store, r).map_err(|e| StoreErrorKind::from(&e))
                        }
                        None => Err(StoreErrorKind::Failed),
                    };
                    self.session.storage_done(result);
                }
                Action::Literal(step) => self.literal(step),
            }
        }
    }

    /// Keeps a literal step like the actor's file, checking the steps' order.
    fn literal(&mut self, step: LiteralStep) {
        match step {
            LiteralStep::Begin => {
                assert!(self.kept.is_none(), "Begin with a literal kept");
                self.kept = Some(Vec::new());
                self.literal_steps.push("begin".into());
            }
            LiteralStep::Chunk(bytes) => {
                let kept = self.kept.as_mut().expect("Chunk without Begin");
                kept.extend(&bytes);
                self.literal_steps.push(format!("chunk {}", bytes.len()));
            }
            LiteralStep::Discard => {
                assert!(self.kept.take().is_some(), "Discard without Begin");
                self.literal_steps.push("discard".into());
            }
        }
    }

    /// An APPEND of the kept literal made a plain one, as the actor does through the
    /// store; the literal is consumed. `None` when nothing was kept.
    fn with_literal(&mut self, request: Request) -> Option<Request> {
        let Request::AppendSpooled {
            mailbox,
            flags,
            internal_date,
            date_given,
        } = request
        else {
            return Some(request);
        };
        let body = self.kept.take()?;
        self.literal_steps.push("append".into());
        let message = crate::storage::AppendMessage {
            summary: crate::protocol::imap::encoded_summary(&body),
            body: body.into(),
            flags,
            internal_date,
        };
        Some(Request::Append {
            mailbox,
            message,
            date_given,
        })
    }

    pub(super) fn send(&mut self, input: &[u8], chunk: usize) -> String {
        for c in input.chunks(chunk.max(1)) {
            self.session.receive(c);
            self.drive();
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.out)).into_owned()
    }

    pub(super) fn say(&mut self, input: &str) -> String {
        self.send(input.as_bytes(), input.len())
    }

    pub(super) fn deliver(&self, body: &str, flags: &[&str]) -> u32 {
        let msg = crate::storage::AppendMessage {
            body: body.as_bytes().to_vec().into(),
            flags: flags.iter().map(|f| f.to_string()).collect(),
            internal_date: 1_700_000_000,
            summary: None,
        };
        self.store.append(USER, "INBOX", msg).unwrap().1
    }
}

pub(super) fn test_config() -> SessionConfig {
    SessionConfig {
        hostname: "mx.test".into(),
        max_line: 1024,
        max_literal: 4096,
        stream_literal: 1000,
        max_auth_failures: 3,
        max_errors: 20,
    }
}

const CAPS: &str = "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE CONDSTORE ESEARCH LIST-EXTENDED LIST-STATUS BINARY SEARCHRES STATUS=SIZE QRESYNC";
pub(super) const MSG1: &str = "From: Ann <ann@example.org>\r\nSubject: hello\r\n\r\nHi Bob\r\n";
pub(super) const MSG2: &str = "From: Cy <cy@example.org>\r\nSubject: lunch\r\n\r\nPizza?\r\n";

pub(super) fn logged_in() -> Harness {
    let mut h = Harness::new(true);
    h.say("a LOGIN bob@example.org secret\r\n");
    h
}

#[test]
fn greeting_capability_and_logindisabled() {
    let h = Harness::new(false);
    let g = String::from_utf8(h.session.greeting()).unwrap();
    assert_eq!(
        g,
        format!(
            "* OK [CAPABILITY {CAPS} STARTTLS LOGINDISABLED] mx.test Hermod IMAP4rev1 ready\r\n"
        )
    );
    let mut h = h;
    assert_eq!(
        h.say("a LOGIN bob@example.org secret\r\n"),
        "a NO [PRIVACYREQUIRED] LOGIN disabled: use STARTTLS\r\n"
    );
    assert_eq!(
        h.say("b STARTTLS\r\n"),
        "b OK Begin TLS negotiation now\r\n"
    );
    assert_eq!(
        h.say("c CAPABILITY\r\n"),
        format!("* CAPABILITY {CAPS} AUTH=PLAIN\r\nc OK CAPABILITY completed\r\n")
    );
    assert_eq!(
        h.say("d LOGIN bob@example.org wrong\r\n"),
        "d NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"
    );
    assert_eq!(
        h.say("e LOGIN bob@example.org secret\r\n"),
        format!("e OK [CAPABILITY {CAPS}] Logged in\r\n")
    );
    assert_eq!(
        h.say("f LOGOUT\r\n"),
        "* BYE Logging out\r\nf OK LOGOUT completed\r\n"
    );
    assert!(h.closed);
}

#[test]
fn authenticate_plain_with_and_without_initial_response() {
    let mut h = Harness::new(true);
    // "\0bob@example.org\0secret"
    let b64 = "AGJvYkBleGFtcGxlLm9yZwBzZWNyZXQ=";
    assert_eq!(h.say("a AUTHENTICATE PLAIN\r\n"), "+ \r\n");
    assert_eq!(
        h.say(&format!("{b64}\r\n")),
        format!("a OK [CAPABILITY {CAPS}] Logged in\r\n")
    );
    let mut h = Harness::new(true);
    assert_eq!(
        h.say(&format!("a AUTHENTICATE PLAIN {b64}\r\n")),
        format!("a OK [CAPABILITY {CAPS}] Logged in\r\n")
    );
    let mut h = Harness::new(true);
    h.say("a AUTHENTICATE PLAIN\r\n");
    assert_eq!(h.say("*\r\n"), "a BAD Authentication cancelled\r\n");
    assert_eq!(
        h.say("b AUTHENTICATE PLAIN !!!\r\n"),
        "b BAD Unknown command or invalid arguments\r\n"
    );
}

#[test]
fn wrong_state_and_unknown_commands() {
    let mut h = Harness::new(true);
    assert_eq!(
        h.say("a SELECT INBOX\r\n"),
        "a BAD Command not valid in this state\r\n"
    );
    assert_eq!(
        h.say("b FROB\r\n"),
        "b BAD Unknown command or invalid arguments\r\n"
    );
    assert_eq!(
        h.say("\r\n"),
        "* BAD Unknown command or invalid arguments\r\n"
    );
    assert_eq!(
        h.say("NOOP\r\n"),
        "NOOP BAD Unknown command or invalid arguments\r\n"
    );
    assert_eq!(
        h.say("\u{ff}\u{fe} NOOP\r\n"),
        "* BAD Unknown command or invalid arguments\r\n"
    );
    let mut h = logged_in();
    assert_eq!(
        h.say("c FETCH 1 FLAGS\r\n"),
        "c BAD Command not valid in this state or not supported\r\n"
    );
    h.say("d SELECT INBOX\r\n");
    assert_eq!(
        h.say("e FETCH 0:x FLAGS\r\n"),
        "e BAD Unknown command or invalid arguments\r\n"
    );
}

#[test]
fn mailbox_management_and_list() {
    let mut h = logged_in();
    assert_eq!(h.say("a CREATE Work/\r\n"), "a OK CREATE completed\r\n");
    assert_eq!(
        h.say("b CREATE Work/Reports\r\n"),
        "b OK CREATE completed\r\n"
    );
    assert_eq!(
        h.say("c CREATE work/reports\r\nc2 CREATE Work\r\n"),
        "c OK CREATE completed\r\nc2 NO [ALREADYEXISTS] Mailbox exists\r\n"
    );
    assert_eq!(
        h.say("d LIST \"\" *\r\n"),
        "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n* LIST (\\HasChildren) \"/\" \"Work\"\r\n\
         * LIST (\\HasNoChildren) \"/\" \"Work/Reports\"\r\n* LIST (\\HasNoChildren) \"/\" \"work/reports\"\r\nd OK LIST completed\r\n"
    );
    assert_eq!(
        h.say("e LIST \"\" %\r\n"),
        "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n* LIST (\\HasChildren) \"/\" \"Work\"\r\ne OK LIST completed\r\n"
    );
    assert_eq!(
        h.say("f LIST Work/ %\r\n"),
        "* LIST (\\HasNoChildren) \"/\" \"Work/Reports\"\r\nf OK LIST completed\r\n"
    );
    assert_eq!(
        h.say("g LIST \"\" \"\"\r\n"),
        "* LIST (\\Noselect) \"/\" \"\"\r\ng OK LIST completed\r\n"
    );
    assert_eq!(
        h.say("h LIST \"\" inbox\r\n"),
        "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\nh OK LIST completed\r\n"
    );
    assert_eq!(
        h.say("i SUBSCRIBE Work\r\n"),
        "i OK SUBSCRIBE completed\r\n"
    );
    assert_eq!(
        h.say("j LSUB \"\" *\r\n"),
        "* LSUB (\\HasChildren) \"/\" \"Work\"\r\nj OK LSUB completed\r\n"
    );
    assert_eq!(
        h.say("k UNSUBSCRIBE Work\r\n"),
        "k OK UNSUBSCRIBE completed\r\n"
    );
    assert_eq!(h.say("l RENAME Work Play\r\n"), "l OK RENAME completed\r\n");
    assert_eq!(
        h.say("m DELETE Play/Reports\r\n"),
        "m OK DELETE completed\r\n"
    );
    assert_eq!(
        h.say("n DELETE Nope\r\n"),
        "n NO [NONEXISTENT] Mailbox does not exist\r\n"
    );
    assert_eq!(
        h.say("o DELETE INBOX\r\n"),
        "o NO [CANNOT] Operation not permitted\r\n"
    );
    assert_eq!(
        h.say("p STATUS Nope (MESSAGES)\r\n"),
        "p NO [NONEXISTENT] Mailbox does not exist\r\n"
    );
}

#[test]
fn select_status_fetch_store_search() {
    let mut h = logged_in();
    h.deliver(MSG1, &[]);
    h.deliver(MSG2, &["\\Seen"]);
    assert_eq!(
        h.say("s STATUS inbox (MESSAGES UNSEEN UIDNEXT)\r\n"),
        "* STATUS \"INBOX\" (MESSAGES 2 UNSEEN 1 UIDNEXT 3)\r\ns OK STATUS completed\r\n"
    );
    let out = h.say("a SELECT INBOX\r\n");
    let v = h.store.mailbox(USER, "INBOX").unwrap().unwrap().uidvalidity;
    assert_eq!(
        out,
        format!(
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
             * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n\
             * 2 EXISTS\r\n* 0 RECENT\r\n* OK [UNSEEN 1] First unseen\r\n\
             * OK [UIDVALIDITY {v}] UIDs valid\r\n* OK [UIDNEXT 3] Predicted next UID\r\n\
             * OK [HIGHESTMODSEQ 3] Highest\r\na OK [READ-WRITE] SELECT completed\r\n"
        )
    );
    assert_eq!(
        h.say("b FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)\r\n"),
        "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 55 INTERNALDATE \"14-Nov-2023 22:13:20 +0000\")\r\n\
         * 2 FETCH (UID 2 FLAGS (\\Seen) RFC822.SIZE 53 INTERNALDATE \"14-Nov-2023 22:13:20 +0000\")\r\nb OK FETCH completed\r\n"
    );
    assert_eq!(
        h.say("c FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject)]\r\n"),
        "* 1 FETCH (BODY[HEADER.FIELDS (\"SUBJECT\")] {18}\r\nSubject: hello\r\n\r\n)\r\nc OK FETCH completed\r\n"
    );
    assert_eq!(
        h.say("d FETCH 1 BODY[TEXT]<0.2>\r\n"),
        "* 1 FETCH (BODY[TEXT]<0> {2}\r\nHi FLAGS (\\Seen))\r\nd OK FETCH completed\r\n"
    );
    assert_eq!(
        h.say("e UID STORE 1:2 +FLAGS (\\Flagged)\r\n"),
        "* 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged))\r\n* 2 FETCH (UID 2 FLAGS (\\Seen \\Flagged))\r\ne OK STORE completed\r\n"
    );
    assert_eq!(
        h.say("f STORE 1 -FLAGS.SILENT (\\Flagged)\r\n"),
        "f OK STORE completed\r\n"
    );
    assert_eq!(
        h.say("g SEARCH FLAGGED\r\nh UID SEARCH SUBJECT lunch\r\ni SEARCH TEXT nothing\r\n"),
        "* SEARCH 2\r\ng OK SEARCH completed\r\n* SEARCH 2\r\nh OK SEARCH completed\r\n* SEARCH\r\ni OK SEARCH completed\r\n"
    );
    let env = h.say("j FETCH 2 (ENVELOPE)\r\n");
    assert!(
        env.starts_with("* 2 FETCH (ENVELOPE (NIL \"lunch\" ((\"Cy\" NIL \"cy\" \"example.org\"))"),
        "{env}"
    );
    assert_eq!(
        h.say("k SEARCH CHARSET KOI8-R ALL\r\n"),
        "k NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n"
    );
}

#[test]
fn expunge_copy_move_append() {
    let mut h = logged_in();
    h.deliver(MSG1, &[]);
    h.deliver(MSG2, &[]);
    h.say("a CREATE Archive\r\n");
    h.say("b SELECT INBOX\r\n");
    let v = h
        .store
        .mailbox(USER, "Archive")
        .unwrap()
        .unwrap()
        .uidvalidity;
    assert_eq!(
        h.say("c COPY 1:2 Archive\r\n"),
        format!("c OK [COPYUID {v} 1,2 1,2] COPY completed\r\n")
    );
    assert_eq!(
        h.say("d COPY 1 Nope\r\n"),
        "d NO [TRYCREATE] Mailbox does not exist\r\n"
    );
    assert_eq!(
        h.say("e UID MOVE 2 Archive\r\n"),
        format!("* OK [COPYUID {v} 2 3] Moved\r\n* 2 EXPUNGE\r\ne OK MOVE completed\r\n")
    );
    assert_eq!(
        h.say("f STORE 1 +FLAGS.SILENT (\\Deleted)\r\ng EXPUNGE\r\n"),
        "f OK STORE completed\r\n* 1 EXPUNGE\r\ng OK EXPUNGE completed\r\n"
    );
    let vi = h.store.mailbox(USER, "INBOX").unwrap().unwrap().uidvalidity;
    let out = h.send(b"h APPEND INBOX (\\Seen) {5}\r\n", 512);
    assert_eq!(out, "+ Ready for literal data\r\n");
    assert_eq!(
        h.say("hello\r\n"),
        format!("h OK [APPENDUID {vi} 3] APPEND completed\r\n")
    );
    // The store's event for our own append arrives through the actor.
    let metas = h.store.messages(USER, "INBOX").unwrap();
    h.session
        .mailbox_changed("INBOX", MailboxEvent::Appended(metas));
    h.drive();
    assert_eq!(
        h.say("i NOOP\r\n"),
        "* 1 EXISTS\r\n* 1 RECENT\r\ni OK NOOP completed\r\n"
    );
    assert_eq!(
        h.say("i2 FETCH 1 (INTERNALDATE)\r\n"),
        "* 1 FETCH (INTERNALDATE \"14-Nov-2023 22:13:20 +0000\")\r\ni2 OK FETCH completed\r\n"
    );
    let out = h.say("i3 APPEND Archive \"01-Feb-2024 10:00:00 +0100\" {1+}\r\nx\r\n");
    assert!(out.starts_with("i3 OK [APPENDUID "), "{out}");
    let dates: Vec<i64> = h
        .store
        .messages(USER, "Archive")
        .unwrap()
        .iter()
        .map(|m| m.internal_date)
        .collect();
    assert_eq!(dates.last(), Some(&1_706_778_000));
    assert_eq!(
        h.say("j APPEND Nope {1+}\r\nx\r\n"),
        "j NO [TRYCREATE] Mailbox does not exist\r\n"
    );
    assert_eq!(h.say("k CLOSE\r\n"), "k OK CLOSE completed\r\n");
    assert_eq!(h.session.selected_mailbox(), None);
}

#[test]
fn other_sessions_changes_respect_rfc3501_points() {
    let mut h = logged_in();
    h.deliver(MSG1, &[]);
    h.deliver(MSG2, &[]);
    h.say("a SELECT INBOX\r\n");
    h.session
        .mailbox_changed("INBOX", MailboxEvent::Expunged(vec![1]));
    h.session
        .mailbox_changed("Other", MailboxEvent::Expunged(vec![2]));
    h.drive();
    // No EXPUNGE during FETCH: sequence numbers stay.
    assert_eq!(
        h.say("b FETCH 2 UID\r\n"),
        "* 2 FETCH (UID 2)\r\nb OK FETCH completed\r\n"
    );
    assert_eq!(
        h.say("c NOOP\r\n"),
        "* 1 EXPUNGE\r\nc OK NOOP completed\r\n"
    );
    assert_eq!(h.say("d IDLE\r\n"), "+ idling\r\n");
    let uid = h.deliver(MSG1, &[]);
    let meta = h.store.messages(USER, "INBOX").unwrap();
    h.session.mailbox_changed(
        "INBOX",
        MailboxEvent::Appended(meta.into_iter().filter(|m| m.uid == uid).collect()),
    );
    h.drive();
    assert_eq!(h.say(""), "* 2 EXISTS\r\n* 1 RECENT\r\n");
    assert!(h.session.is_idle());
    assert_eq!(h.say("DONE\r\n"), "d OK IDLE terminated\r\n");
}

#[test]
fn extensions_enable_id_namespace_condstore() {
    let mut h = logged_in();
    h.deliver(MSG1, &[]);
    assert_eq!(
        h.say("a ENABLE CONDSTORE\r\n"),
        "* ENABLED CONDSTORE\r\na OK ENABLE completed\r\n"
    );
    assert_eq!(
        h.say("b ID NIL\r\n"),
        "* ID (\"name\" \"Hermod\")\r\nb OK ID completed\r\n"
    );
    assert_eq!(
        h.say("c NAMESPACE\r\n"),
        "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\nc OK NAMESPACE completed\r\n"
    );
    h.say("d SELECT INBOX\r\n");
    assert_eq!(
        h.say("e FETCH 1 (FLAGS) (CHANGEDSINCE 1)\r\n"),
        "* 1 FETCH (FLAGS () MODSEQ (2))\r\ne OK FETCH completed\r\n"
    );
    assert_eq!(
        h.say("f STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)\r\n"),
        "f OK [MODIFIED 1] Conditional STORE failed\r\n"
    );
    assert_eq!(
        h.say("g STORE 1 (UNCHANGEDSINCE 2) +FLAGS (\\Seen)\r\n"),
        "* 1 FETCH (FLAGS (\\Seen) MODSEQ (3))\r\ng OK STORE completed\r\n"
    );
    assert_eq!(h.say("h UNSELECT\r\n"), "h OK UNSELECT completed\r\n");
}

fn script() -> Vec<u8> {
    let mut s = b"a LOGIN {15}\r\nbob@example.org {6+}\r\nsecret\r\nb SELECT INBOX\r\n".to_vec();
    s.extend_from_slice(
        b"c FETCH 1 (FLAGS BODY[])\r\nd APPEND INBOX {5+}\r\nhello\r\ne SEARCH ALL\r\n",
    );
    s.extend_from_slice(b"f NOOP\r\ng LOGOUT\r\n");
    s
}

#[test]
fn split_input_gives_identical_output() {
    let mut h = Harness::new(true);
    h.deliver(MSG1, &[]);
    let whole = h.send(&script(), 4096);
    assert!(whole.contains("c OK FETCH completed"), "{whole}");
    assert!(whole.ends_with("g OK LOGOUT completed\r\n"), "{whole}");
    for chunk in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] {
        let mut h = Harness::new(true);
        h.deliver(MSG1, &[]);
        let out = h.send(&script(), chunk);
        // The only difference split input may make is none at all.
        assert_eq!(out, whole, "chunk {chunk}");
    }
}

#[test]
fn hostile_input() {
    let mut h = logged_in();
    // Oversize line: tagged BAD, the rest of the line is discarded.
    let mut long = b"x1 NOOP ".to_vec();
    long.extend(std::iter::repeat_n(b'a', 5000));
    long.extend_from_slice(b"\r\nx2 NOOP\r\n");
    assert_eq!(
        h.send(&long, 700),
        "x1 BAD Command line too long\r\nx2 OK NOOP completed\r\n"
    );
    // A synchronizing literal above the limit is refused before any data is read.
    assert_eq!(
        h.say("x3 APPEND INBOX {999999999}\r\n"),
        "x3 NO [TOOBIG] Literal too large\r\n"
    );
    // A literal count that lies: the next command is swallowed as literal data, and the
    // malformed result gets one BAD; nothing is stored.
    assert_eq!(h.say("x4 APPEND INBOX {10+}\r\nab\r\n"), "");
    assert_eq!(
        h.say("x5 NOOP\r\n"),
        "x4 BAD Unknown command or invalid arguments\r\n"
    );
    assert_eq!(h.store.messages(USER, "INBOX").unwrap().len(), 0);
    assert_eq!(h.say("x5 NOOP\r\n"), "x5 OK NOOP completed\r\n");
    let mut h = logged_in();
    assert_eq!(
        h.say("x6 NOOP\0\r\n"),
        "x6 BAD Unknown command or invalid arguments\r\n"
    );
    assert_eq!(
        h.say("x7 NOOP\n"),
        "x7 BAD Unknown command or invalid arguments\r\n"
    );
    // A non-synchronizing literal above the limit: BAD and close.
    assert_eq!(
        h.say("x8 APPEND INBOX {99999+}\r\n"),
        "x8 BAD [TOOBIG] Literal too large\r\n* BYE Literal too large\r\n"
    );
    assert!(h.closed);
}

#[test]
fn pipelined_noops() {
    let mut h = logged_in();
    let mut input = Vec::new();
    let mut want = String::new();
    for i in 0..1000 {
        input.extend_from_slice(format!("n{i} NOOP\r\n").as_bytes());
        want.push_str(&format!("n{i} OK NOOP completed\r\n"));
    }
    assert_eq!(h.send(&input, 1 << 20), want);
}

#[test]
fn too_many_errors_close() {
    let mut h = logged_in();
    let out = h.say(&"z BOGUS\r\n".repeat(25));
    assert!(out.ends_with(
        "z BAD Unknown command or invalid arguments\r\n* BYE Too many invalid commands\r\n"
    ));
    assert_eq!(out.matches("z BAD").count(), 20);
    assert!(h.closed);
}

#[test]
fn fetch_reads_bodies_in_chunks_and_examine_is_read_only() {
    let mut h = logged_in();
    for _ in 0..40 {
        h.deliver(MSG1, &[]);
    }
    h.say("a EXAMINE INBOX\r\n");
    let out = h.say("b FETCH 1:* BODY[]\r\n");
    // EXAMINE: BODY[] does not set \Seen, so no FLAGS are added.
    assert_eq!(out.matches(" FETCH (BODY[] {55}\r\nFrom: Ann").count(), 40);
    assert!(!out.contains("FLAGS"));
    assert!(out.ends_with(")\r\nb OK FETCH completed\r\n"));
    assert_eq!(
        h.say("c STORE 1 +FLAGS (\\Seen)\r\n"),
        "c NO Mailbox is read-only\r\n"
    );
    assert_eq!(h.say("d EXPUNGE\r\n"), "d NO Mailbox is read-only\r\n");
    assert_eq!(h.say("e CLOSE\r\n"), "e OK CLOSE completed\r\n");
    h.say("f SELECT INBOX\r\n");
    let out = h.say("g UID FETCH 39:* (RFC822.HEADER)\r\n");
    assert_eq!(
        out,
        "* 39 FETCH (UID 39 RFC822.HEADER {47}\r\nFrom: Ann <ann@example.org>\r\nSubject: hello\r\n\r\n)\r\n\
         * 40 FETCH (UID 40 RFC822.HEADER {47}\r\nFrom: Ann <ann@example.org>\r\nSubject: hello\r\n\r\n)\r\n\
         g OK FETCH completed\r\n"
    );
}

fn esearch_script() -> Vec<u8> {
    let mut s = b"a LOGIN bob@example.org secret\r\nb SELECT INBOX\r\n".to_vec();
    s.extend_from_slice(b"c SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN\r\n");
    s.extend_from_slice(b"d UID SEARCH RETURN () ALL\r\n");
    s.extend_from_slice(b"e uid search return (count min) CHARSET UTF-8 BODY {5+}\r\nPizza\r\n");
    s.extend_from_slice(b"f SEARCH RETURN (MIN MAX COUNT ALL) DELETED\r\n");
    s.extend_from_slice(b"g SEARCH RETURN (SAVED) ALL\r\nh SEARCH RETURN (MIN\r\n");
    s.extend_from_slice(b"i SEARCH 2:3\r\nj LOGOUT\r\n");
    s
}

#[test]
fn esearch_return_options_with_split_input() {
    let expected =
        "* ESEARCH (TAG \"c\") MIN 1 MAX 4 COUNT 3 ALL 1,3:4\r\nc OK SEARCH completed\r\n\
         * ESEARCH (TAG \"d\") UID ALL 1:4\r\nd OK SEARCH completed\r\n\
         * ESEARCH (TAG \"e\") UID MIN 2 COUNT 1\r\ne OK SEARCH completed\r\n\
         * ESEARCH (TAG \"f\") COUNT 0\r\nf OK SEARCH completed\r\n\
         g BAD Invalid SEARCH RETURN options\r\nh BAD Invalid SEARCH RETURN options\r\n\
         * SEARCH 2 3\r\ni OK SEARCH completed\r\n\
         * BYE Logging out\r\nj OK LOGOUT completed\r\n";
    for chunk in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] {
        let mut h = Harness::new(true);
        h.deliver(MSG1, &[]);
        h.deliver(MSG2, &["\\Seen"]);
        h.deliver(MSG1, &[]);
        h.deliver(MSG1, &[]);
        let out = h.send(&esearch_script(), chunk);
        let from = out.find("* ESEARCH").unwrap();
        assert_eq!(&out[from..], expected, "chunk {chunk}");
    }
}

#[path = "tests_ext.rs"]
mod ext;
