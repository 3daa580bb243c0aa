//! Scripted conversations with the POP3 session: exact replies for every rule, each script
//! replayed in chunks of 1, 2, 4 … 512 bytes, plus hostile input.

use std::collections::VecDeque;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use proptest::prelude::*;

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

#[test]
fn capa_in_authorization_depends_on_tls_and_plaintext_policy() {
    let base = [
        "+OK Capability list follows",
        "TOP",
        "UIDL",
        "RESP-CODES",
        "PIPELINING",
        "AUTH-RESP-CODE",
    ];
    let run = converse(false, false, "CAPA\r\n", &[]);
    let expected: Vec<&str> = [&base[..], &["STLS", "IMPLEMENTATION Hermod", "."]].concat();
    assert_eq!(run.output, transcript(&expected));

    let run = converse(false, true, "capa\r\n", &[]);
    let expected: Vec<&str> = [
        &base[..],
        &["USER", "SASL PLAIN", "STLS", "IMPLEMENTATION Hermod", "."],
    ]
    .concat();
    assert_eq!(run.output, transcript(&expected));

    let run = converse(true, false, "Capa\r\n", &[]);
    let expected: Vec<&str> = [
        &base[..],
        &["USER", "SASL PLAIN", "IMPLEMENTATION Hermod", "."],
    ]
    .concat();
    assert_eq!(run.output, transcript(&expected));
}

#[test]
fn login_without_tls_is_refused_when_plaintext_is_not_allowed() {
    let need_tls = "-ERR [AUTH] Plaintext authentication requires TLS: use STLS first";
    let input = format!(
        "USER alice\r\nPASS pw\r\nAUTH PLAIN {}\r\nAUTH PLAIN\r\nAUTH\r\n",
        plain("\0alice\0pw")
    );
    let run = converse(false, false, &input, &[]);
    assert_eq!(
        run.output,
        transcript(&[need_tls, need_tls, need_tls, need_tls, "+OK", "."])
    );
    assert!(run.requests.is_empty());
}

#[test]
fn full_transaction_session() {
    let input = format!(
        "{LOGIN}STAT\r\nLIST\r\nLIST 2\r\nUIDL\r\nUIDL 3\r\nRETR 1\r\nTOP 2 1\r\n\
         DELE 1\r\nDELE 1\r\nLIST 1\r\nUIDL 1\r\nRETR 1\r\nTOP 1 0\r\nSTAT\r\nRSET\r\n\
         STAT\r\nDELE 3\r\nDELE 1\r\nNOOP\r\nCAPA\r\nQUIT\r\nNOOP\r\n"
    );
    let mut answers = login_answers();
    answers.extend([
        Answer::Content(MSG1),
        Answer::Content(MSG2),
        Answer::Update(true),
    ]);
    let run = converse(false, true, &input, &answers);
    let mut expected = LOGGED_IN.to_vec();
    expected.extend([
        "+OK 3 1079",
        "+OK 3 messages (1079 octets)",
        "1 51",
        "2 28",
        "3 1000",
        ".",
        "+OK 2 28",
        "+OK Unique-ID listing follows",
        "1 uid-one",
        "2 uid-two",
        "3 uid-three",
        ".",
        "+OK 3 uid-three",
        "+OK 51 octets",
        "From: a@example.org",
        "Subject: one",
        "",
        "body 1",
        "..dot",
        ".",
        "+OK Top of message follows",
        "Subject: two",
        "",
        "l1",
        ".",
        "+OK Message 1 deleted",
        "-ERR Message is deleted",
        "-ERR Message is deleted",
        "-ERR Message is deleted",
        "-ERR Message is deleted",
        "-ERR Message is deleted",
        "+OK 2 1028",
        "+OK 3 messages (1079 octets)",
        "+OK 3 1079",
        "+OK Message 3 deleted",
        "+OK Message 1 deleted",
        "+OK",
        "+OK Capability list follows",
        "TOP",
        "UIDL",
        "RESP-CODES",
        "PIPELINING",
        "AUTH-RESP-CODE",
        "IMPLEMENTATION Hermod",
        ".",
        "+OK Bye",
    ]);
    assert_eq!(run.output, transcript(&expected));
    assert!(run.closed);
    assert_eq!(
        run.requests,
        vec![
            Action::Authenticate {
                authzid: None,
                user: "alice".into(),
                password: "secret pw".into()
            },
            Action::OpenMaildrop {
                user: "alice".into()
            },
            Action::Retrieve {
                index: 0,
                top_lines: None
            },
            Action::Retrieve {
                index: 1,
                top_lines: Some(1)
            },
            Action::Update {
                deleted: vec![0, 2]
            },
        ]
    );
}

#[test]
fn events_record_each_command_once() {
    let input = format!("{LOGIN}RETR 2\r\nBOGUS\r\nQUIT\r\n");
    let mut answers = login_answers();
    answers.extend([Answer::Unavailable, Answer::Update(true)]);
    let run = converse(false, true, &input, &answers);
    assert!(run
        .output
        .ends_with("-ERR Message is no longer available\r\n-ERR Unknown command\r\n+OK Bye\r\n"));
    let events: Vec<(&str, bool)> = run.events.iter().map(|e| (e.command, e.ok)).collect();
    assert_eq!(
        events,
        vec![
            ("USER", true),
            ("PASS", true),
            ("RETR", false),
            ("UNKNOWN", false),
            ("QUIT", true)
        ]
    );
}

#[test]
fn quit_in_authorization_closes_without_update() {
    let run = converse(false, false, "QUIT\r\nNOOP\r\n", &[]);
    assert_eq!(run.output, transcript(&["+OK Bye"]));
    assert!(run.closed);
    assert!(run.requests.is_empty());
}

#[test]
fn failed_update_reports_sys_temp_and_closes() {
    let input = format!("{LOGIN}DELE 2\r\nQUIT\r\n");
    let mut answers = login_answers();
    answers.push(Answer::Update(false));
    let run = converse(false, true, &input, &answers);
    let mut expected = LOGGED_IN.to_vec();
    expected.extend([
        "+OK Message 2 deleted",
        "-ERR [SYS/TEMP] Some deleted messages not removed",
    ]);
    assert_eq!(run.output, transcript(&expected));
    assert!(run.closed);
    assert_eq!(run.requests[2], Action::Update { deleted: vec![1] });
}

#[test]
fn pass_without_user_and_commands_out_of_state() {
    let input =
        "PASS pw\r\nSTAT\r\nLIST\r\nRETR 1\r\nDELE 1\r\nRSET\r\nUSER bob\r\nPASS\r\nNOOP\r\n";
    let run = converse(false, true, input, &[]);
    let bad = "-ERR Command not valid in this state";
    assert_eq!(
        run.output,
        transcript(&[
            "-ERR Send USER first",
            bad,
            bad,
            bad,
            bad,
            bad,
            "+OK Send PASS",
            "-ERR Missing argument",
            "+OK",
        ])
    );
}

#[test]
fn login_commands_are_refused_in_transaction() {
    let input = format!("{LOGIN}USER bob\r\nPASS x\r\nAUTH PLAIN\r\nSTLS\r\nNOOP\r\n");
    let run = converse(false, true, &input, &login_answers());
    let bad = "-ERR Command not valid in this state";
    let mut expected = LOGGED_IN.to_vec();
    expected.extend([bad, bad, bad, bad, "+OK"]);
    assert_eq!(run.output, transcript(&expected));
}

#[test]
fn auth_failures_close_after_the_limit_and_tempfail_does_not_count() {
    let input =
        "USER a\r\nPASS 1\r\nUSER a\r\nPASS 2\r\nUSER a\r\nPASS 3\r\nUSER a\r\nPASS 4\r\nNOOP\r\n";
    let answers = [
        Answer::Auth(AuthVerdict::Invalid),
        Answer::Auth(AuthVerdict::TempFail),
        Answer::Auth(AuthVerdict::Invalid),
        Answer::Auth(AuthVerdict::Invalid),
    ];
    let run = converse(false, true, input, &answers);
    assert_eq!(
        run.output,
        transcript(&[
            "+OK Send PASS",
            "-ERR [AUTH] Invalid credentials",
            "+OK Send PASS",
            "-ERR [SYS/TEMP] Authentication temporarily unavailable",
            "+OK Send PASS",
            "-ERR [AUTH] Invalid credentials",
            "+OK Send PASS",
            "-ERR [AUTH] Too many authentication failures",
        ])
    );
    assert!(run.closed);
}

#[test]
fn pass_after_a_failed_pass_needs_a_new_user() {
    let run = converse(
        false,
        true,
        "USER a\r\nPASS 1\r\nPASS 2\r\n",
        &[Answer::Auth(AuthVerdict::Invalid)],
    );
    assert_eq!(
        run.output,
        transcript(&[
            "+OK Send PASS",
            "-ERR [AUTH] Invalid credentials",
            "-ERR Send USER first"
        ])
    );
}

#[test]
fn maildrop_in_use_or_failed_returns_to_authorization() {
    let input = format!("{LOGIN}STAT\r\n{LOGIN}{LOGIN}STAT\r\n");
    let ok = || {
        Answer::Auth(AuthVerdict::Ok {
            user: "alice".into(),
        })
    };
    let answers = [
        ok(),
        Answer::Maildrop(MaildropResult::InUse),
        ok(),
        Answer::Maildrop(MaildropResult::Failed),
        ok(),
        Answer::Maildrop(MaildropResult::Opened(Vec::new())),
    ];
    let run = converse(false, true, &input, &answers);
    assert_eq!(
        run.output,
        transcript(&[
            "+OK Send PASS",
            "-ERR [IN-USE] Mailbox is locked by another session",
            "-ERR Command not valid in this state",
            "+OK Send PASS",
            "-ERR [SYS/TEMP] Unable to open mailbox",
            "+OK Send PASS",
            "+OK Logged in, 0 messages (0 octets)",
            "+OK 0 0",
        ])
    );
}

#[test]
fn auth_plain_with_and_without_initial_response() {
    let input = format!(
        "AUTH PLAIN {}\r\nQUIT\r\n",
        plain("boss\0alice\0pw with space")
    );
    let mut answers = login_answers();
    answers.push(Answer::Update(true));
    let run = converse(true, false, &input, &answers);
    assert_eq!(
        run.requests[0],
        Action::Authenticate {
            authzid: Some("boss".into()),
            user: "alice".into(),
            password: "pw with space".into()
        }
    );
    assert!(run.output.contains("+OK Logged in, 3 messages"));

    let input = format!("auth plain\r\n{}\r\nSTAT\r\n", plain("\0alice\0pw"));
    let run = converse(true, false, &input, &login_answers());
    assert_eq!(
        run.output,
        transcript(&[
            "+ ",
            "+OK Logged in, 3 messages (1079 octets)",
            "+OK 3 1079"
        ])
    );
    assert_eq!(
        run.requests[0],
        Action::Authenticate {
            authzid: None,
            user: "alice".into(),
            password: "pw".into()
        }
    );
}

#[test]
fn auth_plain_cancel_bad_responses_and_mechanisms() {
    let long = "A".repeat(2000);
    let input = format!(
        "AUTH PLAIN\r\n*\r\nAUTH PLAIN\r\n!!!\r\nAUTH PLAIN =\r\nAUTH PLAIN {}\r\n\
         AUTH CRAM-MD5\r\nAUTH PLAIN\r\n{long}\r\nAUTH\r\nNOOP\r\n",
        plain("\0alice")
    );
    let run = converse(false, true, &input, &[]);
    assert_eq!(
        run.output,
        transcript(&[
            "+ ",
            "-ERR Authentication cancelled",
            "+ ",
            "-ERR Invalid base64 in SASL response",
            "-ERR Malformed PLAIN response",
            "-ERR Malformed PLAIN response",
            "-ERR Unsupported SASL mechanism",
            "+ ",
            "-ERR Line too long",
            "+OK",
            "PLAIN",
            ".",
            "+OK",
        ])
    );
}

#[test]
fn stls_upgrades_and_drops_pipelined_input() {
    // One chunk: the CAPA pipelined behind STLS must be discarded (RFC 2595 §4).
    let cfg = config();
    let input = b"STLS\r\nCAPA\r\n";
    let mut session = Session::new(cfg, false, false);
    session.receive(input);
    assert_eq!(
        session.next_action(),
        Action::Write(b"+OK Begin TLS negotiation\r\n".to_vec())
    );
    assert_eq!(session.next_action(), Action::StartTls);
    assert_eq!(session.next_action(), Action::Read);
    session.receive(b"USER injected\r\n");
    session.tls_established();
    assert_eq!(session.next_action(), Action::Read);
    session.receive(b"CAPA\r\nSTLS\r\nUSER alice\r\n");
    let Action::Write(bytes) = session.next_action() else {
        panic!("expected a write");
    };
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.contains("USER\r\nSASL PLAIN\r\nIMPLEMENTATION"),
        "{text}"
    );
    assert!(!text.contains("STLS\r\n"));
    assert!(text.ends_with(".\r\n-ERR TLS is already active\r\n+OK Send PASS\r\n"));
    assert_eq!(session.next_action(), Action::Read);
}

#[test]
fn stls_script_agrees_across_chunk_sizes_when_client_waits() {
    let run = converse(false, false, "STLS\r\n", &[Answer::Tls]);
    assert_eq!(run.output, transcript(&["+OK Begin TLS negotiation"]));
    assert_eq!(run.requests, vec![Action::StartTls]);
}

#[test]
fn stls_on_pop3s_is_refused() {
    let run = converse(true, false, "STLS\r\n", &[]);
    assert_eq!(run.output, transcript(&["-ERR TLS is already active"]));
}

#[test]
fn bad_message_numbers() {
    let input = format!(
        "{LOGIN}RETR 0\r\nRETR -1\r\nRETR 4\r\nLIST 99999999999999999999999999\r\n\
         DELE abc\r\nTOP 1\r\nTOP 1 -1\r\nTOP 1 18446744073709551616\r\nUIDL 1 2\r\nNOOP\r\n"
    );
    let run = converse(false, true, &input, &login_answers());
    let mut expected = LOGGED_IN.to_vec();
    expected.extend([
        "-ERR Invalid number",
        "-ERR Invalid number",
        "-ERR No such message",
        "-ERR Invalid number",
        "-ERR Invalid number",
        "-ERR Missing argument",
        "-ERR Invalid number",
        "-ERR Invalid number",
        "-ERR Too many arguments",
        "+OK",
    ]);
    assert_eq!(run.output, transcript(&expected));
}

#[test]
fn hostile_lines_get_errors_and_the_session_stays_usable() {
    let mut input = b"NOOP\0\r\nUSER \xff\xfe\r\n\x80\x81\x82\r\n".to_vec();
    input.extend(vec![b'X'; 10 * 1024]);
    input.extend_from_slice(b"\r\nNO\rOP\r\nNOOP\nnoop\r\n");
    let run = converse_with(config(), false, true, &input, &[]);
    assert_eq!(
        run.output,
        transcript(&[
            "-ERR Control characters are not allowed",
            "-ERR Line is not valid UTF-8",
            "-ERR Line is not valid UTF-8",
            "-ERR Line too long",
            "-ERR Control characters are not allowed",
            "+OK",
            "+OK",
        ])
    );
    assert!(!run.closed);
}

#[test]
fn too_many_errors_close_the_session() {
    let input = "BAD\r\n".repeat(12);
    let run = converse(false, false, &input, &[]);
    let mut expected = vec!["-ERR Unknown command"; 9];
    expected.push("-ERR Too many errors, closing connection");
    assert_eq!(run.output, transcript(&expected));
    assert!(run.closed);
}

#[test]
fn pipelined_burst_of_a_thousand_commands_is_answered_in_order() {
    let mut input = LOGIN.to_string();
    let mut expected = LOGGED_IN.to_vec();
    for i in 0..1000 {
        match i % 4 {
            0 => input.push_str("NOOP\r\n"),
            1 => input.push_str("STAT\r\n"),
            2 => input.push_str("LIST 2\r\n"),
            _ => input.push_str("UIDL 1\r\n"),
        }
        expected.push(["+OK", "+OK 3 1079", "+OK 2 28", "+OK 1 uid-one"][i % 4]);
    }
    input.push_str("QUIT\r\n");
    expected.push("+OK Bye");
    let mut answers = login_answers();
    answers.push(Answer::Update(true));
    let run = converse(false, true, &input, &answers);
    assert_eq!(run.output, transcript(&expected));
    assert_eq!(run.events.len(), 1003);
}

#[test]
fn large_pipelined_output_is_flushed_in_bounded_writes() {
    let mut session = Session::new(config(), true, false);
    session.receive("CAPA\r\n".repeat(400).as_bytes());
    let mut writes = 0;
    let mut total = 0;
    while let Action::Write(bytes) = session.next_action() {
        assert!(bytes.len() < 20 * 1024);
        writes += 1;
        total += bytes.len();
    }
    assert!(writes > 1);
    assert_eq!(total, 400 * 124);
}

#[test]
fn read_while_a_request_is_outstanding_holds_input() {
    let mut session = Session::new(config(), true, false);
    session.receive(b"USER a\r\nPASS b\r\nNOOP\r\n");
    assert_eq!(
        session.next_action(),
        Action::Write(b"+OK Send PASS\r\n".to_vec())
    );
    assert!(matches!(session.next_action(), Action::Authenticate { .. }));
    assert_eq!(session.next_action(), Action::Read);
    // Answers nobody asked for are ignored.
    session.maildrop_opened(MaildropResult::Failed);
    session.update_done(true);
    session.message_content(b"x");
    session.tls_established();
    assert_eq!(session.next_action(), Action::Read);
    session.auth_verdict(AuthVerdict::Invalid);
    assert_eq!(
        session.next_action(),
        Action::Write(b"-ERR [AUTH] Invalid credentials\r\n+OK\r\n".to_vec())
    );
    assert_eq!(session.next_action(), Action::Read);
}

#[test]
fn timeout_and_shutdown_close_without_update() {
    let mut session = Session::new(config(), true, false);
    session.receive(b"USER a\r\n");
    assert_eq!(
        session.next_action(),
        Action::Write(b"+OK Send PASS\r\n".to_vec())
    );
    assert_eq!(session.timeout_reply(), Vec::<u8>::new());
    session.receive(b"NOOP\r\n");
    assert_eq!(session.next_action(), Action::Close);
    assert_eq!(session.next_action(), Action::Close);

    let mut session = Session::new(config(), true, false);
    let input = format!("{LOGIN}DELE 1\r\n");
    session.receive(input.as_bytes());
    let mut run = Run {
        output: String::new(),
        requests: Vec::new(),
        closed: false,
        events: Vec::new(),
    };
    pump(&mut session, &mut run, &mut login_answers().into());
    assert_eq!(
        session.shutdown_reply(),
        b"-ERR [SYS/TEMP] mail.example.org server shutting down\r\n".to_vec()
    );
    assert_eq!(session.next_action(), Action::Close);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_input_never_panics_and_replies_are_well_formed(
        input in proptest::collection::vec(any::<u8>(), 0..2048),
        chunk in 1usize..64,
    ) {
        let mut session = Session::new(config(), false, true);
        let mut output = Vec::new();
        'feed: for piece in input.chunks(chunk) {
            session.receive(piece);
            loop {
                match session.next_action() {
                    Action::Write(bytes) => output.extend(bytes),
                    Action::Read => break,
                    Action::Close => break 'feed,
                    Action::Authenticate { .. } => session.auth_verdict(AuthVerdict::Invalid),
                    Action::StartTls => session.tls_established(),
                    other => prop_assert!(false, "unexpected {other:?}"),
                }
            }
        }
        prop_assert!(output.is_empty() || output.ends_with(b"\r\n"));
    }
}
