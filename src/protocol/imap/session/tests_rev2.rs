//! IMAP4rev2 (RFC 9051) after `ENABLE IMAP4rev2`, STATUS SIZE and DELETED, and SEARCHRES
//! (RFC 5182: `SEARCH RETURN (SAVE)` and `$`): split input and hostile input.

use super::tests::{logged_in, Harness, MSG1, MSG2, USER};
use super::MailboxEvent;
use crate::storage::Store;

const FLAGS: &str = "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n";
const PERM: &str =
    "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n";

/// INBOX with MSG1 (unseen), MSG2 (`\Seen`) and MSG1 (`\Deleted`): UIDs 1, 2, 3.
fn three(h: &Harness) {
    h.deliver(MSG1, &[]);
    h.deliver(MSG2, &["\\Seen"]);
    h.deliver(MSG1, &["\\Deleted"]);
}

fn counters(h: &Harness) -> (u32, u32, u64) {
    let i = h.store.mailbox(USER, "INBOX").unwrap().unwrap();
    (i.uidvalidity, i.uidnext, i.highest_modseq)
}

fn rev2_script() -> Vec<u8> {
    concat!(
        "a LOGIN bob@example.org secret\r\n",
        "b ENABLE IMAP4rev2\r\n",
        "c STATUS INBOX (MESSAGES SIZE DELETED UNSEEN)\r\n",
        "d SELECT INBOX\r\n",
        "e SEARCH UNSEEN\r\n",
        "f UID SEARCH RETURN (SAVE) SUBJECT {5+}\r\nhello\r\n",
        "g FETCH $ (UID)\r\n",
        "h SEARCH NOT $\r\n",
        "i UID SEARCH UID $ DELETED\r\n",
        "j SEARCH RETURN (SAVE MAX) SUBJECT \"$\"\r\n",
        "k UID FETCH $ (FLAGS)\r\n",
        "l SEARCH RETURN (MIN SAVE) ALL\r\n",
        "m UID STORE $ +FLAGS.SILENT ($)\r\n",
        "n FETCH 1 (FLAGS)\r\n",
        "o SEARCH KEYWORD $ RETURN\r\n",
        "p FETCH $,1 (UID)\r\n",
        "q FETCH $ (UID)\r\n",
        "r SEARCH RETURN (SAVE) CHARSET KOI8-R ALL\r\n",
        "s FETCH $ (UID)\r\n",
        "t UNSELECT\r\n",
        "u FETCH $ (UID)\r\n",
    )
    .as_bytes()
    .to_vec()
}

#[test]
fn rev2_select_search_status_and_searchres_with_split_input() {
    for chunk in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] {
        let mut h = Harness::new(true);
        three(&h);
        let (v, next, high) = counters(&h);
        let size = 2 * MSG1.len() + MSG2.len();
        let out = h.send(&rev2_script(), chunk);
        let expected = format!(
            "* ENABLED IMAP4rev2\r\nb OK ENABLE completed\r\n\
             * STATUS \"INBOX\" (MESSAGES 3 SIZE {size} DELETED 1 UNSEEN 2)\r\nc OK STATUS completed\r\n\
             {FLAGS}{PERM}* 3 EXISTS\r\n* OK [UIDVALIDITY {v}] UIDs valid\r\n\
             * OK [UIDNEXT {next}] Predicted next UID\r\n* OK [HIGHESTMODSEQ {high}] Highest\r\n\
             * LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\nd OK [READ-WRITE] SELECT completed\r\n\
             * ESEARCH (TAG \"e\") ALL 1,3\r\ne OK SEARCH completed\r\n\
             f OK SEARCH completed\r\n\
             * 1 FETCH (UID 1)\r\n* 3 FETCH (UID 3)\r\ng OK FETCH completed\r\n\
             * ESEARCH (TAG \"h\") ALL 2\r\nh OK SEARCH completed\r\n\
             * ESEARCH (TAG \"i\") UID ALL 3\r\ni OK SEARCH completed\r\n\
             * ESEARCH (TAG \"j\")\r\nj OK SEARCH completed\r\n\
             k OK FETCH completed\r\n\
             * ESEARCH (TAG \"l\") MIN 1\r\nl OK SEARCH completed\r\n\
             m OK STORE completed\r\n\
             * 1 FETCH (FLAGS ($))\r\nn OK FETCH completed\r\n\
             o BAD Unknown command or invalid arguments\r\n\
             p BAD Unknown command or invalid arguments\r\n\
             * 1 FETCH (UID 1)\r\nq OK FETCH completed\r\n\
             r NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n\
             s OK FETCH completed\r\n\
             t OK UNSELECT completed\r\n\
             u BAD Unknown command or invalid arguments\r\n"
        );
        let from = out.find("* ENABLED").unwrap_or(0);
        assert_eq!(&out[from..], expected, "chunk {chunk}");
    }
}

#[test]
fn rev1_keeps_search_and_recent_and_offers_status_size() {
    let mut h = logged_in();
    three(&h);
    assert_eq!(
        h.say("b STATUS INBOX (SIZE DELETED)\r\n"),
        format!(
            "* STATUS \"INBOX\" (SIZE {} DELETED 1)\r\nb OK STATUS completed\r\n",
            2 * MSG1.len() + MSG2.len()
        )
    );
    let select = h.say("c SELECT INBOX\r\n");
    assert!(select.contains("* 0 RECENT\r\n* OK [UNSEEN 1] First unseen\r\n"));
    assert!(!select.contains("* LIST"), "{select}");
    assert_eq!(
        h.say("d SEARCH UNSEEN\r\n"),
        "* SEARCH 1 3\r\nd OK SEARCH completed\r\n"
    );
    // A delivery seen while selected is \Recent in IMAP4rev1.
    let uid = h.deliver(MSG2, &[]);
    let meta = h.store.messages_by_uid(USER, "INBOX", &[uid]).unwrap();
    h.session
        .mailbox_changed("INBOX", MailboxEvent::Appended(meta));
    assert_eq!(
        h.say("e NOOP\r\n"),
        "* 4 EXISTS\r\n* 1 RECENT\r\ne OK NOOP completed\r\n"
    );
    assert_eq!(
        h.say("e FETCH 4 (FLAGS)\r\n"),
        "* 4 FETCH (FLAGS (\\Recent))\r\ne OK FETCH completed\r\n"
    );
    // ENABLE while selected (RFC 5161 wants it before SELECT): from the next EXISTS on,
    // nothing is \Recent and no RECENT is sent.
    h.say("f ENABLE IMAP4rev2\r\n");
    let uid = h.deliver(MSG2, &[]);
    let meta = h.store.messages_by_uid(USER, "INBOX", &[uid]).unwrap();
    h.session
        .mailbox_changed("INBOX", MailboxEvent::Appended(meta));
    assert_eq!(h.say("g NOOP\r\n"), "* 5 EXISTS\r\ng OK NOOP completed\r\n");
    assert_eq!(
        h.say("g FETCH 4:5 (FLAGS)\r\n"),
        "* 4 FETCH (FLAGS ())\r\n* 5 FETCH (FLAGS ())\r\ng OK FETCH completed\r\n"
    );
}

#[test]
fn saved_result_follows_expunges_and_resets_on_select() {
    let mut h = logged_in();
    three(&h);
    h.say("b SELECT INBOX\r\n");
    assert_eq!(
        h.say("c SEARCH RETURN (SAVE COUNT) SUBJECT hello\r\n"),
        "* ESEARCH (TAG \"c\") COUNT 2\r\nc OK SEARCH completed\r\n"
    );
    // UID 3 (\Deleted) goes: `$` is then UID 1 only, now message 1 of 2.
    assert_eq!(
        h.say("d EXPUNGE\r\n"),
        "* 3 EXPUNGE\r\nd OK EXPUNGE completed\r\n"
    );
    assert_eq!(
        h.say("e UID FETCH $ (FLAGS)\r\n"),
        "* 1 FETCH (UID 1 FLAGS ())\r\ne OK FETCH completed\r\n"
    );
    h.say("f CREATE Keep\r\n");
    let keep = h.store.mailbox(USER, "Keep").unwrap().unwrap().uidvalidity;
    assert_eq!(
        h.say("f COPY $ Keep\r\n"),
        format!("f OK [COPYUID {keep} 1 1] COPY completed\r\n")
    );
    h.say("g SELECT INBOX\r\n");
    assert_eq!(h.say("h FETCH $ (UID)\r\n"), "h OK FETCH completed\r\n");
    // A SEARCH (SAVE) that fails with BAD empties `$` too.
    h.say("i SEARCH RETURN (SAVE) ALL\r\n");
    assert_eq!(
        h.say("j SEARCH RETURN (SAVE) BOGUS\r\n"),
        "j BAD Unknown command or invalid arguments\r\n"
    );
    assert_eq!(h.say("k FETCH $ (UID)\r\n"), "k OK FETCH completed\r\n");
}
