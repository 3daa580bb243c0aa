//! The pure IMAP server session (`protocol::imap::session`) and FETCH rendering, without
//! sockets or storage:
//!
//! - `imap_session/mix`: a client session (LOGIN; SELECT INBOX of 100 messages; UID FETCH
//!   1:* (FLAGS BODY.PEEK[HEADER.FIELDS (...)]); UID STORE; UID SEARCH; APPEND of 1 KiB
//!   with a synchronizing literal; LOGOUT), each command a separate client write, storage
//!   answered at once from prepared data. Parsing, dispatch, header-field extraction and
//!   reply formatting together. Throughput in commands.
//! - `imap_decode/mix`: the same commands through the framer and imap-codec only (the
//!   parse a command takes before dispatch).
//! - `imap_render`: one `* n FETCH (UID FLAGS ENVELOPE BODYSTRUCTURE)` response from a
//!   stored summary, for a text/plain and a multipart message; and `summarize`, the
//!   one-time cost at delivery and APPEND that makes this rendering cheap.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use imap_codec::decode::Decoder;
use imap_codec::CommandCodec;

use hermod::protocol::imap::session::fetch::{render, Item};
use hermod::protocol::imap::session::framer::{Frame, Framer};
use hermod::protocol::imap::session::view::Msg;
use hermod::protocol::imap::session::{
    Action, Reply, Request, Session, SessionConfig, StoreErrorKind,
};
use hermod::protocol::imap::{encoded_summary, summarize};
use hermod::storage::{BlobId, FlagChange, FlagsUpdate, MailboxInfo, MessageMeta};

const USER: &str = "bob@example.org";
const MESSAGES: u32 = 100;
const NOW: i64 = 1_700_000_000;

fn text_message(n: u32) -> Vec<u8> {
    let mut m = format!(
        "Return-Path: <alice@example.net>\r\n\
         Received: from client.example.net (client.example.net [192.0.2.7])\r\n\
         \tby mx.example.org with ESMTP id {n:016x}; Tue, 14 Nov 2023 22:13:20 +0000\r\n\
         From: Alice Example <alice@example.net>\r\n\
         To: Bob <bob@example.org>, \"Carol C.\" <carol@example.org>\r\n\
         Cc: team@example.org\r\n\
         Subject: Quarterly figures, part {n}\r\n\
         Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
         Message-ID: <{n}.4711@client.example.net>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n"
    )
    .into_bytes();
    while m.len() < 1000 {
        m.extend_from_slice(b"Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n");
    }
    m
}

fn multipart_message() -> Vec<u8> {
    concat!(
        "From: Alice Example <alice@example.net>\r\n",
        "To: Bob <bob@example.org>\r\n",
        "Subject: =?utf-8?q?Rapport_trimestriel?=\r\n",
        "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n",
        "Message-ID: <mp.4711@client.example.net>\r\n",
        "MIME-Version: 1.0\r\n",
        "Content-Type: multipart/mixed; boundary=\"outer\"\r\n",
        "\r\n",
        "--outer\r\n",
        "Content-Type: multipart/alternative; boundary=\"inner\"\r\n",
        "\r\n",
        "--inner\r\n",
        "Content-Type: text/plain; charset=utf-8\r\n",
        "\r\n",
        "The figures are attached.\r\n",
        "--inner\r\n",
        "Content-Type: text/html; charset=utf-8\r\n",
        "\r\n",
        "<p>The figures are attached.</p>\r\n",
        "--inner--\r\n",
        "--outer\r\n",
        "Content-Type: application/pdf; name=\"q3.pdf\"\r\n",
        "Content-Disposition: attachment; filename=\"q3.pdf\"\r\n",
        "Content-Transfer-Encoding: base64\r\n",
        "\r\n",
        "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29kZT4+\r\n",
        "--outer--\r\n"
    )
    .as_bytes()
    .to_vec()
}

/// The selected mailbox and bodies the prepared storage answers come from.
struct Mailbox {
    metas: Vec<MessageMeta>,
    bodies: Vec<Bytes>,
    summaries: Vec<Option<Vec<u8>>>,
}

impl Mailbox {
    fn new() -> Mailbox {
        let bodies: Vec<Bytes> = (1..=MESSAGES).map(|n| text_message(n).into()).collect();
        let metas = bodies
            .iter()
            .zip(1..)
            .map(|(body, uid)| MessageMeta {
                uid,
                size: body.len() as u64,
                internal_date: NOW,
                flags: if uid % 3 == 0 {
                    vec!["\\Seen".into()]
                } else {
                    Vec::new()
                },
                modseq: u64::from(uid),
                blob: BlobId(u64::from(uid)),
            })
            .collect();
        let summaries = bodies.iter().map(|b| encoded_summary(b)).collect();
        Mailbox {
            metas,
            bodies,
            summaries,
        }
    }

    fn answer(&self, request: Request) -> Result<Reply, StoreErrorKind> {
        Ok(match request {
            Request::Open { .. } => Reply::Mailbox {
                info: MailboxInfo {
                    uidvalidity: 1,
                    uidnext: MESSAGES + 1,
                    highest_modseq: u64::from(MESSAGES),
                    exists: MESSAGES,
                },
                messages: self.metas.clone(),
                first_recent_uid: MESSAGES + 1,
            },
            Request::ReadBlobs(ids) => Reply::Blobs(
                ids.iter()
                    .map(|id| self.bodies.get(id.0 as usize - 1).cloned())
                    .collect(),
            ),
            Request::StoreFlags { uids, flags, .. } => Reply::Flags(FlagsUpdate {
                updated: uids
                    .iter()
                    .map(|&uid| FlagChange {
                        uid,
                        flags: flags.clone(),
                        modseq: u64::from(MESSAGES) + 1,
                        changed: true,
                    })
                    .collect(),
                modified: Vec::new(),
            }),
            Request::Summaries { uids, .. } => Reply::Summaries(
                uids.iter()
                    .map(|uid| self.summaries.get(*uid as usize - 1).cloned().flatten())
                    .collect(),
            ),
            Request::Append { .. } => Reply::Appended(1, MESSAGES + 1),
            _ => Reply::Done,
        })
    }
}

/// The client's writes: one per command, the APPEND literal after the continuation.
fn client_writes() -> Vec<Vec<u8>> {
    let append = text_message(0);
    vec![
        format!("a1 LOGIN {USER} secret\r\n").into_bytes(),
        b"a2 SELECT INBOX\r\n".to_vec(),
        b"a3 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID)])\r\n".to_vec(),
        b"a4 UID STORE 10:40 +FLAGS.SILENT (\\Seen)\r\n".to_vec(),
        b"a5 UID SEARCH UNSEEN SINCE 1-Nov-2023\r\n".to_vec(),
        format!("a6 APPEND Sent (\\Seen) {{{}}}\r\n", append.len()).into_bytes(),
        [append.as_slice(), b"\r\n"].concat(),
        b"a7 LOGOUT\r\n".to_vec(),
    ]
}

const COMMANDS: u64 = 7;

/// Plays the writes through a new session; returns everything the server wrote.
fn run_session(config: &Arc<SessionConfig>, mailbox: &Mailbox, writes: &[Vec<u8>]) -> Vec<u8> {
    let mut session = Session::new(Arc::clone(config), true, true);
    let mut out = session.greeting();
    for write in writes {
        session.receive(write);
        loop {
            match session.next_action() {
                Action::Write(bytes) => out.extend_from_slice(&bytes),
                Action::Read | Action::Close => break,
                Action::Authenticate { user, .. } => session.auth_done(Some(user)),
                Action::Storage(request) => session.storage_done(mailbox.answer(request)),
                Action::StartTls => unreachable!("the script does not use STARTTLS"),
                Action::Literal(_) => unreachable!("the script has no large literal"),
            }
        }
    }
    out
}

fn imap_session(c: &mut Criterion) {
    let config = Arc::new(SessionConfig {
        hostname: "mx.example.org".into(),
        ..SessionConfig::default()
    });
    let mailbox = Mailbox::new();
    let writes = client_writes();
    let transcript = String::from_utf8(run_session(&config, &mailbox, &writes)).expect("utf-8");
    for tag in ["a1", "a2", "a3", "a4", "a5", "a6", "a7"] {
        assert!(
            transcript.contains(&format!("\r\n{tag} OK")),
            "{tag} failed:\n{transcript}"
        );
    }
    assert_eq!(transcript.matches(" FETCH (").count(), MESSAGES as usize);

    let mut group = c.benchmark_group("imap_session");
    group.throughput(Throughput::Elements(COMMANDS));
    group.bench_function("mix", |b| {
        b.iter(|| black_box(run_session(&config, &mailbox, black_box(&writes))));
    });
    group.finish();
}

/// Frames and decodes every command of `input`; returns how many decoded.
fn decode_all(input: &[u8]) -> usize {
    // SessionConfig::default()'s limits.
    let mut framer = Framer::new(64 * 1024, 32 << 20);
    framer.push(input);
    let mut decoded = 0;
    while let Some(frame) = framer.next_frame() {
        match frame {
            Frame::Command(bytes) => {
                if let Ok((b"", command)) = CommandCodec::default().decode(&bytes) {
                    black_box(command);
                    decoded += 1;
                }
            }
            Frame::Continue => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
    decoded
}

fn imap_decode(c: &mut Criterion) {
    let input = client_writes().concat();
    assert_eq!(decode_all(&input), COMMANDS as usize);
    let mut group = c.benchmark_group("imap_decode");
    group.throughput(Throughput::Elements(COMMANDS));
    group.bench_function("mix", |b| {
        b.iter(|| black_box(decode_all(black_box(&input))));
    });
    group.finish();
}

fn imap_render(c: &mut Criterion) {
    let items = [Item::Uid, Item::Flags, Item::Envelope, Item::BodyStructure];
    let mut group = c.benchmark_group("imap_render");
    group.throughput(Throughput::Elements(1));
    for (label, raw) in [
        ("text", text_message(1)),
        ("multipart", multipart_message()),
    ] {
        let msg = Msg {
            uid: 42,
            flags: vec!["\\Seen".into(), "$Forwarded".into()],
            modseq: 7,
            size: raw.len() as u64,
            internal_date: NOW,
            blob: BlobId(42),
            recent: false,
        };
        let summary = encoded_summary(&raw);
        let summary = summary.as_deref();
        let line = render(17, &msg, &items, summary, None, true, false).expect("no BINARY item");
        assert!(line.starts_with(b"* 17 FETCH (UID 42 FLAGS (\\Seen $Forwarded) ENVELOPE ("));
        group.bench_function(
            BenchmarkId::new("fetch_envelope_bodystructure", label),
            |b| {
                b.iter(|| {
                    black_box(render(
                        17,
                        black_box(&msg),
                        &items,
                        summary,
                        None,
                        true,
                        false,
                    ))
                });
            },
        );
        group.bench_function(BenchmarkId::new("summarize", label), |b| {
            b.iter(|| black_box(summarize(black_box(&raw))));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::short_config();
    targets = imap_session, imap_decode, imap_render
}
criterion_main!(benches);
