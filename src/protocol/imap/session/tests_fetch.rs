//! FETCH of ENVELOPE, BODYSTRUCTURE and BODY from the summaries stored apart from the
//! selected view (read per chunk with `Request::Summaries`), the raw message as fallback,
//! and UID sets over a mailbox with gaps.

use super::tests::{logged_in, Harness, MSG1, MSG2, USER};
use crate::protocol::imap::encoded_summary;
use crate::storage::Store;

/// Stores the summary of `raw` for message `uid` of `mailbox`.
fn store_summary(h: &Harness, mailbox: &str, uid: u32, raw: &str) {
    let summary = encoded_summary(raw.as_bytes()).unwrap();
    h.store.set_summary(USER, mailbox, uid, summary).unwrap();
}

#[test]
fn stored_summaries_answer_like_the_raw_message() {
    let script = "s SELECT INBOX\r\n\
                  f FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY)\r\n\
                  g FETCH 2 (BODY.PEEK[HEADER] ENVELOPE)\r\n\
                  h FETCH 3 (FLAGS BODY[TEXT] BODY)\r\n";
    let bodies = [MSG1, MSG2, MSG1];
    let mut plain = logged_in();
    for raw in bodies {
        plain.deliver(raw, &[]);
    }
    let expected = plain.say(script);
    assert_eq!(expected.matches(" FETCH (").count(), 5, "{expected}");
    assert!(expected.contains("g OK FETCH completed"), "{expected}");
    // Every message stored with its summary, or only some: the same answers.
    for with_summary in [[true, true, true], [false, true, false]] {
        let h = logged_in();
        for (i, raw) in bodies.into_iter().enumerate() {
            let uid = h.deliver(raw, &[]);
            if with_summary[i] {
                store_summary(&h, "INBOX", uid, raw);
            }
        }
        for chunk in [1, 2, 7, 512] {
            let mut again = logged_in();
            again.store = clone_inbox(&h);
            assert_eq!(
                again.send(script.as_bytes(), chunk),
                expected,
                "{with_summary:?} chunk {chunk}"
            );
        }
    }
}

/// A fresh store holding `h`'s INBOX, summaries included.
fn clone_inbox(h: &Harness) -> crate::storage::MemoryStore {
    let store = crate::storage::MemoryStore::new();
    store.create_mailbox(USER, "INBOX").unwrap();
    let messages = h.store.messages(USER, "INBOX").unwrap();
    let uids: Vec<u32> = messages.iter().map(|m| m.uid).collect();
    let summaries = h.store.summaries(USER, "INBOX", &uids).unwrap();
    for (m, summary) in messages.into_iter().zip(summaries) {
        let message = crate::storage::AppendMessage {
            body: h.store.read_blob(m.blob).unwrap(),
            flags: m.flags,
            internal_date: m.internal_date,
            summary,
        };
        store.append(USER, "INBOX", message).unwrap();
    }
    store
}

#[test]
fn the_stored_summary_is_preferred_to_the_body() {
    let mut h = logged_in();
    let uid = h.deliver(MSG1, &[]);
    // Message 1's body says "hello"; its stored summary says "lunch": FETCH reads the
    // summary, also when the body is read for another item.
    store_summary(&h, "INBOX", uid, MSG2);
    h.say("s SELECT INBOX\r\n");
    let out = h.say("f FETCH 1 (ENVELOPE)\r\n");
    assert!(
        out.starts_with("* 1 FETCH (ENVELOPE (NIL \"lunch\""),
        "{out}"
    );
    let out = h.say("g FETCH 1 (BODY.PEEK[] ENVELOPE)\r\n");
    assert!(out.contains("Hi Bob"), "{out}");
    assert!(out.contains("ENVELOPE (NIL \"lunch\""), "{out}");
    assert!(out.ends_with("g OK FETCH completed\r\n"), "{out}");
}

#[test]
fn many_messages_are_answered_in_order_across_chunks() {
    let mut h = logged_in();
    // 2100 messages, a third of them with a stored summary: the summary chunks (1024) and
    // the body chunks (16) for those without one interleave.
    let n = 2100;
    for i in 1..=n {
        let raw = if i % 2 == 0 { MSG2 } else { MSG1 };
        let uid = h.deliver(raw, &[]);
        if i % 3 == 0 {
            store_summary(&h, "INBOX", uid, raw);
        }
    }
    h.say("s SELECT INBOX\r\n");
    let out = h.say("f FETCH 1:* (UID ENVELOPE)\r\n");
    let lines: Vec<&str> = out.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), n + 1, "{out}");
    for (i, line) in lines[..n].iter().enumerate() {
        let seq = i + 1;
        let subject = if seq % 2 == 0 { "lunch" } else { "hello" };
        let head = format!("* {seq} FETCH (UID {seq} ENVELOPE (NIL \"{subject}\"");
        assert!(line.starts_with(&head), "{line}");
    }
    assert_eq!(lines[n], "f OK FETCH completed");
    // A window, as a client scrolling does.
    let out = h.say("g UID FETCH 299:301 (ENVELOPE)\r\n");
    assert!(out.starts_with("* 299 FETCH (UID 299 ENVELOPE (NIL \"hello\""));
    assert!(out.contains("* 300 FETCH (UID 300 ENVELOPE (NIL \"lunch\""));
    assert!(out.ends_with("g OK FETCH completed\r\n"), "{out}");
}

#[test]
fn a_mailbox_renamed_meanwhile_falls_back_to_the_bodies() {
    let mut h = logged_in();
    h.store.create_mailbox(USER, "A").unwrap();
    let message = crate::storage::AppendMessage {
        body: MSG1.as_bytes().to_vec().into(),
        flags: Vec::new(),
        internal_date: 1_700_000_000,
        summary: encoded_summary(MSG2.as_bytes()),
    };
    h.store.append(USER, "A", message).unwrap();
    h.say("s SELECT A\r\n");
    let out = h.say("e FETCH 1 (FLAGS)\r\n");
    assert_eq!(out, "* 1 FETCH (FLAGS ())\r\ne OK FETCH completed\r\n");
    // Another session renames it: the view stays, its summaries are not found under the
    // old name, and the bodies (still referenced) answer.
    h.store.rename_mailbox(USER, "A", "B").unwrap();
    let out = h.say("f FETCH 1 (ENVELOPE)\r\n");
    assert!(
        out.starts_with("* 1 FETCH (ENVELOPE (NIL \"hello\""),
        "{out}"
    );
    assert!(out.ends_with("f OK FETCH completed\r\n"), "{out}");
}

#[test]
fn uid_sets_resolve_over_gaps() {
    let mut h = logged_in();
    for _ in 0..6 {
        h.deliver(MSG1, &[]);
    }
    h.store.expunge(USER, "INBOX", &[2, 5]).unwrap();
    h.say("s SELECT INBOX\r\n");
    assert_eq!(
        h.say("f UID FETCH 5:*,1:2,4 (FLAGS)\r\n"),
        "* 1 FETCH (UID 1 FLAGS ())\r\n\
         * 3 FETCH (UID 4 FLAGS ())\r\n\
         * 4 FETCH (UID 6 FLAGS ())\r\n\
         f OK FETCH completed\r\n"
    );
    assert_eq!(
        h.say("g UID FETCH 7:* (FLAGS)\r\n"),
        "* 4 FETCH (UID 6 FLAGS ())\r\ng OK FETCH completed\r\n"
    );
    assert_eq!(
        h.say("h UID FETCH 2,5 (FLAGS)\r\ni UID STORE 3,6 +FLAGS (\\Flagged)\r\n"),
        "h OK FETCH completed\r\n\
         * 2 FETCH (UID 3 FLAGS (\\Flagged))\r\n\
         * 4 FETCH (UID 6 FLAGS (\\Flagged))\r\n\
         i OK STORE completed\r\n"
    );
}

#[test]
fn summaries_read_once_are_kept_by_the_view() {
    let mut h = logged_in();
    h.store.create_mailbox(USER, "A").unwrap();
    for _ in 0..3 {
        let message = crate::storage::AppendMessage {
            body: MSG1.as_bytes().to_vec().into(),
            flags: Vec::new(),
            internal_date: 1_700_000_000,
            summary: encoded_summary(MSG2.as_bytes()),
        };
        h.store.append(USER, "A", message).unwrap();
    }
    h.say("s SELECT A\r\n");
    let first = h.say("f FETCH 2:3 (ENVELOPE)\r\n");
    assert!(
        first.contains("* 2 FETCH (ENVELOPE (NIL \"lunch\""),
        "{first}"
    );
    // Renamed by another session: what the view read is still answered from memory (the
    // stored summary, not the body's "hello"); message 1 was never read and falls back.
    h.store.rename_mailbox(USER, "A", "B").unwrap();
    assert_eq!(
        h.say("g FETCH 2:3 (ENVELOPE)\r\n"),
        first.replace("f OK", "g OK")
    );
    let out = h.say("h FETCH 1:3 (BODY.PEEK[TEXT] ENVELOPE)\r\n");
    assert!(
        out.starts_with("* 1 FETCH (BODY[TEXT] {8}\r\nHi Bob\r\n ENVELOPE (NIL \"hello\""),
        "{out}"
    );
    assert!(
        out.contains("* 3 FETCH (BODY[TEXT] {8}\r\nHi Bob\r\n ENVELOPE (NIL \"lunch\""),
        "{out}"
    );
}
