//! Scripted POP3 conversations asserting the exact reply to every protocol rule.

use super::*;

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
