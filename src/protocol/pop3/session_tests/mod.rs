//! Test harness for the POP3 session: a scripted actor that answers requests in order and
//! replays every script in chunks of 1, 2, 4 … 512 bytes, asserting identical results.

mod conversation;
mod hostile;

use std::collections::VecDeque;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::*;

const GREETING: &str = "+OK Hermod POP3 server ready\r\n";
const CHUNKS: [usize; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
const MSG1: &[u8] = b"From: a@example.org\r\nSubject: one\r\n\r\nbody 1\r\n.dot\r\n";
const MSG2: &[u8] = b"Subject: two\r\n\r\nl1\r\nl2\r\nl3\r\n";

/// The actor's answer to the next request.
#[derive(Debug, Clone)]
enum Answer {
    Auth(AuthVerdict),
    Maildrop(MaildropResult),
    Content(&'static [u8]),
    Unavailable,
    Update(bool),
    Tls,
}

#[derive(Debug, PartialEq)]
struct Run {
    output: String,
    requests: Vec<Action>,
    closed: bool,
    events: Vec<CommandEvent>,
}

fn config() -> Arc<SessionConfig> {
    Arc::new(SessionConfig {
        hostname: "mail.example.org".into(),
        max_auth_failures: 3,
        max_errors: 10,
    })
}

fn entries() -> Vec<MaildropEntry> {
    vec![
        MaildropEntry {
            uidl: "uid-one".into(),
            size: MSG1.len() as u64,
        },
        MaildropEntry {
            uidl: "uid-two".into(),
            size: MSG2.len() as u64,
        },
        MaildropEntry {
            uidl: "uid-three".into(),
            size: 1000,
        },
    ]
}

/// Runs until the session wants input, answering requests from `answers`.
fn pump(session: &mut Session, run: &mut Run, answers: &mut VecDeque<Answer>) {
    loop {
        let action = session.next_action();
        match &action {
            Action::Write(bytes) => {
                assert!(!bytes.is_empty(), "empty write");
                run.output.push_str(&String::from_utf8_lossy(bytes));
                continue;
            }
            Action::Read => return,
            Action::Close => {
                run.closed = true;
                return;
            }
            _ => {}
        }
        let answer = answers
            .pop_front()
            .unwrap_or_else(|| panic!("no answer for {action:?}"));
        run.requests.push(action);
        match answer {
            Answer::Auth(v) => session.auth_verdict(v),
            Answer::Maildrop(r) => session.maildrop_opened(r),
            Answer::Content(c) => session.message_content(c),
            Answer::Unavailable => session.message_unavailable(),
            Answer::Update(ok) => session.update_done(ok),
            Answer::Tls => session.tls_established(),
        }
    }
}

fn run_chunked(
    cfg: Arc<SessionConfig>,
    tls: bool,
    plaintext: bool,
    input: &[u8],
    answers: &[Answer],
    chunk: usize,
) -> Run {
    let mut session = Session::new(cfg, tls, plaintext);
    let mut answers: VecDeque<Answer> = answers.iter().cloned().collect();
    let mut run = Run {
        output: String::from_utf8_lossy(&session.greeting()).into_owned(),
        requests: Vec::new(),
        closed: false,
        events: Vec::new(),
    };
    for piece in input.chunks(chunk.max(1)) {
        if run.closed {
            break;
        }
        session.receive(piece);
        pump(&mut session, &mut run, &mut answers);
    }
    assert!(answers.is_empty(), "unused answers: {answers:?}");
    run.events = session.take_events();
    run
}

/// Replays the script in every chunk size and checks all runs agree.
fn converse(tls: bool, plaintext: bool, input: &str, answers: &[Answer]) -> Run {
    converse_with(config(), tls, plaintext, input.as_bytes(), answers)
}

fn converse_with(
    cfg: Arc<SessionConfig>,
    tls: bool,
    plaintext: bool,
    input: &[u8],
    answers: &[Answer],
) -> Run {
    let whole = run_chunked(cfg.clone(), tls, plaintext, input, answers, input.len());
    for chunk in CHUNKS {
        let run = run_chunked(cfg.clone(), tls, plaintext, input, answers, chunk);
        assert_eq!(run, whole, "chunk size {chunk} differs");
    }
    whole
}

fn transcript(lines: &[&str]) -> String {
    let mut out = String::from(GREETING);
    for line in lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

fn login_answers() -> Vec<Answer> {
    vec![
        Answer::Auth(AuthVerdict::Ok {
            user: "alice".into(),
        }),
        Answer::Maildrop(MaildropResult::Opened(entries())),
    ]
}

const LOGIN: &str = "USER alice\r\nPASS secret pw\r\n";
const LOGGED_IN: [&str; 2] = ["+OK Send PASS", "+OK Logged in, 3 messages (1079 octets)"];

fn plain(raw: &str) -> String {
    STANDARD.encode(raw)
}
