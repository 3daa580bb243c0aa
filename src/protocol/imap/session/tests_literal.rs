//! Large APPEND literals, streamed to the actor through `Action::Literal`: the same
//! answers and the same stored message as a literal gathered in memory, at any split of
//! the input; a literal kept only for an APPEND that can succeed, and dropped when its
//! command fails.

use super::tests::{logged_in, test_config, Harness, USER};
use super::SessionConfig;
use crate::storage::Store;

/// A message of `n` octets (n > 100) whose body holds what would be framing, were it read
/// as commands, and 8-bit octets.
fn message(n: usize) -> Vec<u8> {
    let mut m = b"From: Ann <ann@example.org>\r\nSubject: large\r\n\r\n".to_vec();
    let filler = b"x NOOP\r\ny APPEND INBOX {5+}\r\n\xc3\xa9t\xc3\xa9 ~{9}\r\n";
    m.extend(filler.iter().cycle().take(n - m.len()));
    m
}

/// `head` (the command up to its literal, announcement and CRLF included), the literal and
/// `end`.
fn command(head: &str, literal: &[u8], end: &str) -> Vec<u8> {
    let mut c = head.as_bytes().to_vec();
    c.extend_from_slice(literal);
    c.extend_from_slice(end.as_bytes());
    c
}

fn uidvalidity(h: &Harness) -> u32 {
    h.store.mailbox(USER, "INBOX").unwrap().unwrap().uidvalidity
}

fn exists(h: &Harness) -> u32 {
    h.store.mailbox(USER, "INBOX").unwrap().unwrap().exists
}

const FETCH: &str = "f FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE BODY[])\r\n";

#[test]
fn a_streamed_append_stores_what_a_gathered_one_does() {
    let body = message(2000);
    let append = command(
        "a APPEND INBOX (\\Seen $Work) \"05-Mar-2024 10:00:00 +0100\" {2000}\r\n",
        &body,
        "\r\n",
    );
    let mut gathered = Harness::with_config(
        SessionConfig {
            stream_literal: u32::MAX,
            ..test_config()
        },
        true,
    );
    gathered.say("l LOGIN bob@example.org secret\r\n");
    let answer = gathered.send(&append, 512);
    assert!(answer.ends_with(" 1] APPEND completed\r\n"), "{answer}");
    assert!(
        gathered.literal_steps.is_empty(),
        "below the threshold nothing streams"
    );
    gathered.say("s SELECT INBOX\r\n");
    let want = gathered.say(FETCH);
    assert!(want.contains("RFC822.SIZE 2000 ENVELOPE"), "{want}");

    for split in [1, 2, 7, 512] {
        let mut h = logged_in();
        let out = h.send(&append, split);
        let v = uidvalidity(&h);
        assert_eq!(
            out,
            format!("+ Ready for literal data\r\na OK [APPENDUID {v} 1] APPEND completed\r\n"),
            "split {split}"
        );
        assert_eq!(
            h.literal_steps,
            ["begin", "chunk 2000", "append"],
            "split {split}"
        );
        assert!(h.store.summaries(USER, "INBOX", &[1]).unwrap()[0].is_some());
        h.say("s SELECT INBOX\r\n");
        assert_eq!(h.say(FETCH), want, "split {split}");
    }
}

#[test]
fn non_synchronizing_and_binary_literals() {
    let body = message(1500);
    let mut binary = message(1500);
    binary[100] = 0;
    for split in [1, 7, 512] {
        let mut h = logged_in();
        let v = uidvalidity(&h);
        let mut script = command("b APPEND INBOX {1500+}\r\n", &body, "\r\n");
        script.extend(command("c APPEND INBOX ~{1500}\r\n", &binary, "\r\n"));
        // RFC 3501 §9: CHAR8 excludes NUL outside a literal8.
        script.extend(command("d APPEND INBOX {1500+}\r\n", &binary, "\r\n"));
        assert_eq!(
            h.send(&script, split),
            format!(
                "b OK [APPENDUID {v} 1] APPEND completed\r\n\
                 + Ready for literal data\r\n\
                 c OK [APPENDUID {v} 2] APPEND completed\r\n\
                 d BAD Unknown command or invalid arguments\r\n"
            ),
            "split {split}"
        );
        assert_eq!(
            h.literal_steps,
            [
                "begin",
                "chunk 1500",
                "append",
                "begin",
                "chunk 1500",
                "append",
                "begin",
                "discard"
            ],
            "split {split}"
        );
        let stored: Vec<Vec<u8>> = h
            .store
            .messages(USER, "INBOX")
            .unwrap()
            .iter()
            .map(|m| h.store.read_blob(m.blob).unwrap().to_vec())
            .collect();
        assert_eq!(stored, [body.clone(), binary.clone()]);
    }
}

#[test]
fn failing_commands_keep_nothing_or_drop_what_they_kept() {
    let body = message(2000);
    let mut script = command("a APPEND INBOX {2000+}\r\n", &body, "\r\n");
    script.extend_from_slice(b"l LOGIN bob@example.org secret\r\n");
    script.extend(command("b APPEND INBOX (\\Seen {2000+}\r\n", &body, "\r\n"));
    script.extend(command("c APPEND Nope {2000+}\r\n", &body, "\r\n"));
    script.extend(command("d APPEND INBOX {2000+}\r\n", &body, " extra\r\n"));
    script.extend_from_slice(b"e APPEND INBOX {5000}\r\n");
    let long_rest: String = std::iter::repeat_n('y', 1100).collect();
    script.extend(command("f APPEND INBOX {2000+}\r\n", &body, &long_rest));
    script.extend_from_slice(b"\r\ng NOOP\r\n");
    let want = "a BAD Command not valid in this state\r\n\
                l OK [CAPABILITY ";
    for split in [1, 2, 7, 512] {
        let mut h = Harness::new(true);
        let out = h.send(&script, split);
        assert!(out.starts_with(want), "split {split}: {out}");
        let after_login = &out[out.find("Logged in\r\n").unwrap() + 11..];
        assert_eq!(
            after_login,
            "b BAD Unknown command or invalid arguments\r\n\
             c NO [TRYCREATE] Mailbox does not exist\r\n\
             d BAD Unknown command or invalid arguments\r\n\
             e NO [TOOBIG] Literal too large\r\n\
             f BAD Command line too long\r\n\
             g OK NOOP completed\r\n",
            "split {split}"
        );
        // Unauthenticated and malformed: nothing kept. No mailbox: kept, the APPEND ran
        // and failed. A rest after the message or an overlong one: kept, then dropped.
        assert_eq!(
            h.literal_steps,
            [
                "begin",
                "chunk 2000",
                "append",
                "begin",
                "chunk 2000",
                "discard",
                "begin",
                "chunk 2000",
                "discard"
            ],
            "split {split}"
        );
        assert_eq!(exists(&h), 0);
        assert!(h.kept.is_none());
    }
}

#[test]
fn pipelined_commands_follow_a_streamed_literal() {
    let one = message(1200);
    let two = message(3000);
    let mut script = command("a APPEND INBOX {1200+}\r\n", &one, "\r\n");
    script.extend_from_slice(b"b NOOP\r\n");
    script.extend(command("c APPEND INBOX {3000+}\r\n", &two, "\r\n"));
    script.extend_from_slice(b"d NOOP\r\n");
    for split in [1, 2, 7, 512] {
        let mut h = logged_in();
        let v = uidvalidity(&h);
        assert_eq!(
            h.send(&script, split),
            format!(
                "a OK [APPENDUID {v} 1] APPEND completed\r\n\
                 b OK NOOP completed\r\n\
                 c OK [APPENDUID {v} 2] APPEND completed\r\n\
                 d OK NOOP completed\r\n"
            ),
            "split {split}"
        );
        let sizes: Vec<u64> = h
            .store
            .messages(USER, "INBOX")
            .unwrap()
            .iter()
            .map(|m| m.size)
            .collect();
        assert_eq!(sizes, [1200, 3000]);
    }
}
