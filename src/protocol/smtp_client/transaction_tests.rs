//! Transactions driven by scripted server bytes fed in chunks of every size.

use super::*;
use crate::protocol::smtp_client::envelope::OutboundRecipient;
use crate::protocol::smtp_client::reply::ReplyParser;

fn envelope(recipients: &[&str]) -> OutboundEnvelope {
    OutboundEnvelope {
        sender: "a@example.org".into(),
        recipients: recipients
            .iter()
            .map(|r| OutboundRecipient::new(*r))
            .collect(),
        ..OutboundEnvelope::default()
    }
}

fn caps(pipelining: bool) -> Capabilities {
    Capabilities {
        pipelining,
        ..Capabilities::default()
    }
}

/// Runs a transaction against the server's replies fed `chunk` bytes at a time; returns
/// what the client wrote (the message as `<msg>`) and the outcome.
fn run(
    env: &OutboundEnvelope,
    caps: &Capabilities,
    server: &[u8],
    chunk: usize,
) -> (String, Outcome) {
    let (mut tx, first) = Transaction::start(env, caps, 10).unwrap();
    let mut wrote = String::from_utf8(first).unwrap();
    let mut parser = ReplyParser::default();
    for piece in server.chunks(chunk) {
        parser.feed(piece);
        while let Some(reply) = parser.next_reply().unwrap() {
            match tx.on_reply(reply) {
                Step::Send(bytes) => wrote.push_str(std::str::from_utf8(&bytes).unwrap()),
                Step::Read => {}
                Step::SendMessage => wrote.push_str("<msg>"),
                Step::Done(outcome) => return (wrote, outcome),
            }
        }
    }
    panic!("script ended before the transaction: wrote {wrote:?}");
}

fn codes(outcome: &Outcome) -> Vec<(char, u16)> {
    outcome
        .results
        .iter()
        .map(|r| match r {
            RcptResult::Delivered(r) => ('D', r.code),
            RcptResult::Temporary(r) => ('T', r.code),
            RcptResult::Permanent(r) => ('P', r.code),
        })
        .collect()
}

fn check_all_chunks(
    env: &OutboundEnvelope,
    pipelining: bool,
    server: &[u8],
    wrote: &str,
    results: &[(char, u16)],
    after: After,
) {
    for chunk in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] {
        let (w, outcome) = run(env, &caps(pipelining), server, chunk);
        assert_eq!(w, wrote, "chunk {chunk}");
        assert_eq!(codes(&outcome), results, "chunk {chunk}");
        assert_eq!(outcome.after, after, "chunk {chunk}");
    }
}

#[test]
fn lock_step_mixed_recipients() {
    check_all_chunks(
        &envelope(&["b@x", "c@x", "d@x"]),
        false,
        b"250 ok\r\n250 ok\r\n550 5.1.1 no\r\n451 4.2.0 later\r\n354 go\r\n250 2.0.0 queued\r\n",
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nRCPT TO:<d@x>\r\nDATA\r\n<msg>",
        &[('D', 250), ('P', 550), ('T', 451)],
        After::Ready,
    );
}

#[test]
fn pipelined_mixed_recipients() {
    check_all_chunks(
        &envelope(&["b@x", "c@x"]),
        true,
        b"250 ok\r\n550 5.1.1 no\r\n250 ok\r\n354 go\r\n250 2.0.0 queued\r\n",
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n<msg>",
        &[('P', 550), ('D', 250)],
        After::Ready,
    );
}

#[test]
fn mail_refused_gives_every_recipient_that_reply() {
    check_all_chunks(
        &envelope(&["b@x", "c@x"]),
        false,
        b"451 4.3.0 busy\r\n",
        "MAIL FROM:<a@example.org>\r\n",
        &[('T', 451), ('T', 451)],
        After::Ready,
    );
    check_all_chunks(
        &envelope(&["b@x", "c@x"]),
        true,
        b"553 5.7.1 go away\r\n503 5.5.1 no MAIL\r\n503 5.5.1 no MAIL\r\n503 no\r\n",
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n",
        &[('P', 553), ('P', 553)],
        After::Reset,
    );
}

#[test]
fn no_valid_recipients_means_no_data() {
    check_all_chunks(
        &envelope(&["b@x", "c@x"]),
        false,
        b"250 ok\r\n550 no\r\n450 no\r\n",
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\n",
        &[('P', 550), ('T', 450)],
        After::Reset,
    );
    // RFC 2920 §3.1: the pipelined DATA's 554 is read and ignored.
    check_all_chunks(
        &envelope(&["b@x"]),
        true,
        b"250 ok\r\n550 no\r\n554 5.5.1 no valid recipients\r\n",
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@x>\r\nDATA\r\n",
        &[('P', 550)],
        After::Reset,
    );
    // A server that says 354 anyway is left alone: the connection is closed.
    check_all_chunks(
        &envelope(&["b@x"]),
        true,
        b"250 ok\r\n550 no\r\n354 go\r\n",
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@x>\r\nDATA\r\n",
        &[('P', 550)],
        After::Close,
    );
}

#[test]
fn data_refusal_and_final_refusal_hit_accepted_recipients_only() {
    check_all_chunks(
        &envelope(&["b@x", "c@x"]),
        false,
        b"250 ok\r\n250 ok\r\n550 no\r\n554 5.7.1 no data for you\r\n",
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n",
        &[('P', 554), ('P', 550)],
        After::Reset,
    );
    check_all_chunks(
        &envelope(&["b@x", "c@x"]),
        true,
        b"250 ok\r\n250 ok\r\n452 full\r\n354 go\r\n451 4.3.0 disk\r\n",
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n<msg>",
        &[('T', 451), ('T', 452)],
        After::Reset,
    );
}

#[test]
fn impossible_replies_close_the_connection() {
    check_all_chunks(
        &envelope(&["b@x"]),
        false,
        b"250 ok\r\n250 ok\r\n250 sure\r\n",
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@x>\r\nDATA\r\n",
        &[('T', 451)],
        After::Close,
    );
    check_all_chunks(
        &envelope(&["b@x"]),
        false,
        b"354 what\r\n",
        "MAIL FROM:<a@example.org>\r\n",
        &[('T', 354)],
        After::Close,
    );
    check_all_chunks(
        &envelope(&["b@x"]),
        false,
        b"250 ok\r\n250 ok\r\n354 go\r\n354 again\r\n",
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@x>\r\nDATA\r\n<msg>",
        &[('T', 354)],
        After::Close,
    );
}

#[test]
fn unsafe_recipient_is_refused_locally_and_never_sent() {
    let env = envelope(&["b@x", "evil>\r\nDATA", "c@x"]);
    check_all_chunks(
        &env,
        true,
        b"250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 done\r\n",
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n<msg>",
        &[('D', 250), ('P', 553), ('D', 250)],
        After::Ready,
    );
    let only_bad = envelope(&["<x>"]);
    assert_eq!(
        Transaction::start(&only_bad, &caps(true), 1).err(),
        Some(EnvelopeError::NoRecipients)
    );
}

#[test]
fn waiting_for_names_the_step() {
    let (mut tx, _) = Transaction::start(&envelope(&["b@x"]), &caps(false), 1).unwrap();
    assert_eq!(tx.waiting_for(), "MAIL");
    let ok = Reply::local(250, "2.0.0", "ok");
    tx.on_reply(ok.clone());
    assert_eq!(tx.waiting_for(), "RCPT");
    tx.on_reply(ok);
    assert_eq!(tx.waiting_for(), "DATA");
    assert_eq!(tx.on_reply(Reply::local(354, "", "go")), Step::SendMessage);
    assert!(tx.awaiting_data_end());
    assert_eq!(tx.waiting_for(), "end of data");
}
