//! Hostile and stressful input: bad numbers, NUL, 8-bit junk, endless lines, error limits,
//! pipelined bursts, out-of-order answers and arbitrary bytes.

use proptest::prelude::*;

use super::*;

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
