//! QRESYNC (RFC 7162 §3.2) conversations: ENABLE, SELECT/EXAMINE with the QRESYNC
//! parameter, VANISHED in place of EXPUNGE, UID FETCH (CHANGEDSINCE n VANISHED), CLOSED;
//! split input and hostile parameters.

use super::tests::{logged_in, Harness, MSG1, MSG2, USER};
use super::MailboxEvent;
use crate::storage::{FlagOp, Store};

const FLAGS: &str = "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n";
const CLOSED: &str = "* OK [CLOSED] Previous mailbox closed\r\n";

fn uidvalidity(h: &Harness) -> u32 {
    h.store.mailbox(USER, "INBOX").unwrap().unwrap().uidvalidity
}

fn highest(h: &Harness) -> u64 {
    h.store
        .mailbox(USER, "INBOX")
        .unwrap()
        .unwrap()
        .highest_modseq
}

fn modseq_of(h: &Harness, uid: u32) -> u64 {
    h.store.messages_by_uid(USER, "INBOX", &[uid]).unwrap()[0].modseq
}

/// The untagged data of a SELECT (`read_only`: EXAMINE) of INBOX, all messages unseen.
fn head(h: &Harness, exists: u32, read_only: bool) -> String {
    let info = h.store.mailbox(USER, "INBOX").unwrap().unwrap();
    let perm = if read_only {
        "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n"
    } else {
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n"
    };
    let unseen = if exists > 0 {
        "* OK [UNSEEN 1] First unseen\r\n"
    } else {
        ""
    };
    format!(
        "{FLAGS}{perm}* {exists} EXISTS\r\n* 0 RECENT\r\n{unseen}* OK [UIDVALIDITY {}] UIDs valid\r\n\
         * OK [UIDNEXT {}] Predicted next UID\r\n* OK [HIGHESTMODSEQ {}] Highest\r\n",
        info.uidvalidity, info.uidnext, info.highest_modseq
    )
}

#[test]
fn select_qresync_reports_vanished_and_changed_messages() {
    let mut h = logged_in();
    for body in [MSG1, MSG2, MSG1] {
        h.deliver(body, &[]);
    }
    let v = uidvalidity(&h);
    let known = highest(&h);
    // Changes made while the client was away: a flag on UID 2, UID 1 expunged.
    h.store
        .store_flags(
            USER,
            "INBOX",
            &[2],
            FlagOp::Add,
            &["\\Flagged".into()],
            None,
        )
        .unwrap();
    h.store.expunge(USER, "INBOX", &[1]).unwrap();
    let (m2, m3) = (modseq_of(&h, 2), modseq_of(&h, 3));
    assert!(m2 > known && m3 <= known);
    assert_eq!(
        h.say("b ENABLE QRESYNC\r\n"),
        "* ENABLED QRESYNC\r\nb OK ENABLE completed\r\n"
    );
    let changed = format!("* 1 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ ({m2}))\r\n");
    assert_eq!(
        h.say(&format!("c SELECT INBOX (QRESYNC ({v} {known} 1:3))\r\n")),
        format!(
            "{}* VANISHED (EARLIER) 1\r\n{changed}c OK [READ-WRITE] SELECT completed\r\n",
            head(&h, 2, false)
        )
    );
    // Only UID 3 known: neither the expunge of 1 nor the change of 2 concerns the client.
    assert_eq!(
        h.say(&format!("d EXAMINE INBOX (QRESYNC ({v} {known} 3))\r\n")),
        format!(
            "{CLOSED}{}d OK [READ-ONLY] EXAMINE completed\r\n",
            head(&h, 2, true)
        )
    );
    // Another UIDVALIDITY: the client's cache is void, nothing to resynchronize.
    assert_eq!(
        h.say(&format!("e SELECT INBOX (QRESYNC ({} 1))\r\n", v + 1)),
        format!(
            "{CLOSED}{}e OK [READ-WRITE] SELECT completed\r\n",
            head(&h, 2, false)
        )
    );
    // No known UIDs: every UID; modseq 1 makes every message changed.
    assert_eq!(
        h.say(&format!("f SELECT inbox (QRESYNC ({v} 1) CONDSTORE)\r\n")),
        format!(
            "{CLOSED}{}* VANISHED (EARLIER) 1\r\n{changed}* 2 FETCH (UID 3 FLAGS () MODSEQ ({m3}))\r\n\
             f OK [READ-WRITE] SELECT completed\r\n",
            head(&h, 2, false)
        )
    );
    // Sequence match data is checked and accepted.
    assert_eq!(
        h.say(&format!(
            "g SELECT INBOX (QRESYNC ({v} {known} 1:3 (1:2 1,3)))\r\n"
        )),
        format!(
            "{CLOSED}{}* VANISHED (EARLIER) 1\r\n{changed}g OK [READ-WRITE] SELECT completed\r\n",
            head(&h, 2, false)
        )
    );
    // A failing SELECT closes the previous mailbox too (RFC 3501 §6.3.1).
    assert_eq!(
        h.say(&format!("h SELECT Nope (QRESYNC ({v} 1))\r\n")),
        format!("{CLOSED}h NO [NONEXISTENT] Mailbox does not exist\r\n")
    );
    assert_eq!(h.session.selected_mailbox(), None);
    assert_eq!(
        h.say("i SELECT INBOX\r\n"),
        format!(
            "{}i OK [READ-WRITE] SELECT completed\r\n",
            head(&h, 2, false)
        )
    );
}

#[test]
fn vanished_replaces_expunge_once_enabled() {
    let mut h = logged_in();
    for body in [MSG1, MSG2, MSG1, MSG2] {
        h.deliver(body, &[]);
    }
    assert_eq!(
        h.say("a ENABLE qresync CONDSTORE\r\n"),
        "* ENABLED QRESYNC CONDSTORE\r\na OK ENABLE completed\r\n"
    );
    h.say("b SELECT INBOX\r\n");
    h.say("c UID STORE 1 +FLAGS.SILENT (\\Deleted)\r\n");
    let before = h
        .store
        .mailbox(USER, "INBOX")
        .unwrap()
        .unwrap()
        .highest_modseq;
    let reply = h.say("d EXPUNGE\r\n");
    // The expunge is a change of its own, and the tagged OK says where it brought the
    // mailbox.
    let after = h
        .store
        .mailbox(USER, "INBOX")
        .unwrap()
        .unwrap()
        .highest_modseq;
    assert!(after > before);
    assert_eq!(
        reply,
        format!("* VANISHED 1\r\nd OK [HIGHESTMODSEQ {after}] EXPUNGE completed\r\n")
    );
    // Another session expunges UID 3: not announced during FETCH, then as VANISHED.
    let m3 = modseq_of(&h, 3);
    h.store.expunge(USER, "INBOX", &[3]).unwrap();
    h.session
        .mailbox_changed("INBOX", MailboxEvent::Expunged(vec![3]));
    h.drive();
    assert_eq!(
        h.say("e FETCH 2 (FLAGS)\r\n"),
        format!("* 2 FETCH (UID 3 FLAGS () MODSEQ ({m3}))\r\ne OK FETCH completed\r\n")
    );
    assert_eq!(
        h.say("f NOOP\r\n"),
        "* VANISHED 3\r\nf OK NOOP completed\r\n"
    );
    h.say("g CREATE Archive\r\n");
    let va = h
        .store
        .mailbox(USER, "Archive")
        .unwrap()
        .unwrap()
        .uidvalidity;
    assert_eq!(
        h.say("h MOVE 1 Archive\r\n"),
        format!("* OK [COPYUID {va} 2 1] Moved\r\n* VANISHED 2\r\nh OK MOVE completed\r\n")
    );
    // One message left (UID 4): the count went down with each VANISHED.
    let m4 = modseq_of(&h, 4);
    assert_eq!(
        h.say("i FETCH 1:* (UID)\r\n"),
        format!("* 1 FETCH (UID 4 MODSEQ ({m4}))\r\ni OK FETCH completed\r\n")
    );
    assert_eq!(
        h.say("j UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n"),
        format!(
            "* VANISHED (EARLIER) 1:3\r\n* 1 FETCH (UID 4 FLAGS () MODSEQ ({m4}))\r\nj OK FETCH completed\r\n"
        )
    );
    assert_eq!(
        h.say(&format!(
            "k UID FETCH 2,4 (FLAGS) (VANISHED CHANGEDSINCE {m4})\r\n"
        )),
        "* VANISHED (EARLIER) 2\r\nk OK FETCH completed\r\n"
    );
    // During IDLE an expunge elsewhere is announced at once.
    assert_eq!(h.say("l IDLE\r\n"), "+ idling\r\n");
    h.store.expunge(USER, "INBOX", &[4]).unwrap();
    h.session
        .mailbox_changed("INBOX", MailboxEvent::Expunged(vec![4]));
    h.drive();
    assert_eq!(h.say(""), "* VANISHED 4\r\n");
    assert_eq!(h.say("DONE\r\n"), "l OK IDLE terminated\r\n");
}

#[test]
fn without_enable_expunge_stays_and_qresync_is_refused() {
    let mut h = logged_in();
    h.deliver(MSG1, &[]);
    h.deliver(MSG2, &[]);
    let v = uidvalidity(&h);
    // RFC 7162 §3.2.5: QRESYNC before ENABLE QRESYNC is a BAD; nothing gets selected.
    assert_eq!(
        h.say(&format!("a SELECT INBOX (QRESYNC ({v} 1))\r\n")),
        "a BAD QRESYNC is not enabled\r\n"
    );
    assert_eq!(h.session.selected_mailbox(), None);
    h.say("b SELECT INBOX (CONDSTORE)\r\n");
    assert_eq!(
        h.say("c UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n"),
        "c BAD VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC\r\n"
    );
    let next = highest(&h) + 1;
    assert_eq!(
        h.say("d STORE 1 +FLAGS.SILENT (\\Deleted)\r\ne EXPUNGE\r\n"),
        format!(
            "* 1 FETCH (MODSEQ ({next}))\r\nd OK STORE completed\r\n* 1 EXPUNGE\r\ne OK EXPUNGE completed\r\n"
        )
    );
    // Switching mailboxes always draws the CLOSED boundary (QRESYNC is advertised).
    assert_eq!(
        h.say("f EXAMINE INBOX\r\n"),
        format!(
            "{CLOSED}{}f OK [READ-ONLY] EXAMINE completed\r\n",
            head(&h, 1, true)
        )
    );
}

#[test]
fn hostile_qresync_parameters() {
    let mut h = Harness::new(true);
    assert_eq!(
        h.say("x ENABLE QRESYNC\r\n"),
        "x BAD Command not valid in this state\r\n"
    );
    h.say("a LOGIN bob@example.org secret\r\n");
    h.deliver(MSG1, &[]);
    let v = uidvalidity(&h);
    h.say("b ENABLE QRESYNC\r\nc SELECT INBOX\r\n");
    let invalid = "BAD Unknown command or invalid arguments";
    let cases: Vec<(String, String)> = vec![
        (
            "d SELECT INBOX (QRESYNC (0 1))".into(),
            format!("d {invalid}"),
        ),
        (
            format!("e SELECT INBOX (QRESYNC ({v} 0))"),
            format!("e {invalid}"),
        ),
        (
            format!("f SELECT INBOX (QRESYNC ({v}))"),
            format!("f {invalid}"),
        ),
        (
            format!("g SELECT INBOX (QRESYNC {v} 1)"),
            format!("g {invalid}"),
        ),
        (
            format!("h SELECT INBOX (QRESYNC ({v} 99999999999999999999999))"),
            format!("h {invalid}"),
        ),
        (
            format!("i SELECT INBOX (QRESYNC ({v} 1 1:*))"),
            "i BAD Invalid SELECT parameters: * is not allowed in QRESYNC sets".into(),
        ),
        (
            format!("j SELECT INBOX (QRESYNC ({v} 1 1:5 (1:2 1:3)))"),
            "j BAD Invalid SELECT parameters: QRESYNC seq-match-data sets differ in size".into(),
        ),
        (
            format!("k SELECT INBOX (QRESYNC ({v} 1) QRESYNC ({v} 1))"),
            "k BAD Invalid SELECT parameters: QRESYNC given twice".into(),
        ),
        (
            format!("l SELECT INBOX (QRESYNC ({v} 1 1:3 (1 1))"),
            format!("l {invalid}"),
        ),
        (
            "m UID FETCH 1 FLAGS (VANISHED)".into(),
            "m BAD VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC".into(),
        ),
        (
            "n FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)".into(),
            "n BAD VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC".into(),
        ),
        (
            "o UID FETCH 1 FLAGS (CHANGEDSINCE 0 VANISHED)".into(),
            format!("o {invalid}"),
        ),
    ];
    for (line, reply) in cases {
        assert_eq!(
            h.say(&format!("{line}\r\n")),
            format!("{reply}\r\n"),
            "{line}"
        );
    }
    // NUL and 8-bit bytes inside the parameter list.
    for (i, bad) in [&b"\0"[..], b"\xff\xfe", b"1\r"].iter().enumerate() {
        let mut line = format!("p{i} SELECT INBOX (QRESYNC ({v} ").into_bytes();
        line.extend_from_slice(bad);
        line.extend_from_slice(b"))\r\n");
        assert_eq!(h.send(&line, 7), format!("p{i} {invalid}\r\n"));
    }
    // A refused SELECT is not executed: INBOX stays selected, no CLOSED was sent.
    assert_eq!(h.session.selected_mailbox(), Some("INBOX"));
    assert_eq!(h.say("q NOOP\r\n"), "q OK NOOP completed\r\n");
}

fn qresync_script(v: u32) -> Vec<u8> {
    format!(
        "a LOGIN bob@example.org secret\r\nb ENABLE QRESYNC\r\n\
         c SELECT INBOX (QRESYNC ({v} 2 1:3 (1:2 1:2)))\r\n\
         d UID STORE 3 +FLAGS.SILENT (\\Deleted)\r\ne UID EXPUNGE 3\r\n\
         f UID FETCH 1:* (FLAGS) (CHANGEDSINCE 2 VANISHED)\r\n\
         g SELECT INBOX (QRESYNC ({v} 1 1:3 (1:2 1:2)))\r\nh LOGOUT\r\n"
    )
    .into_bytes()
}

fn qresync_harness() -> Harness {
    let h = Harness::new(true);
    for body in [MSG1, MSG2, MSG1] {
        h.deliver(body, &[]);
    }
    h.store.expunge(USER, "INBOX", &[1]).unwrap();
    h
}

#[test]
fn qresync_split_input_gives_identical_output() {
    // UIDVALIDITY comes from the clock: each run's own value is masked.
    let run = |chunk: usize| {
        let mut h = qresync_harness();
        let v = uidvalidity(&h);
        h.send(&qresync_script(v), chunk)
            .replace(&v.to_string(), "V")
    };
    let whole = run(4096);
    assert!(whole.contains("* VANISHED (EARLIER) 1\r\n"), "{whole}");
    assert!(whole.contains("* VANISHED 3\r\ne OK"), "{whole}");
    assert!(whole.contains("* VANISHED (EARLIER) 1,3\r\n"), "{whole}");
    assert!(whole.ends_with("h OK LOGOUT completed\r\n"), "{whole}");
    for chunk in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] {
        assert_eq!(run(chunk), whole, "chunk {chunk}");
    }
}
