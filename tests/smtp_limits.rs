//! Every SMTP limit and hostile input, over a real socket: the exact reply, the session
//! still usable where it should be, and nothing spooled that should not be.

mod common;

use common::{message, Client, Server};

const LIMITS: &str = r#"[limits]
max_message_size = "4KiB"
max_recipients = 3
max_errors = 5
max_auth_failures = 2
max_connections_per_ip = 4
[timeouts]
smtp_idle = "1s"
pop3_idle = "1s"
shutdown_grace = "2s"
"#;

fn server() -> Server {
    Server::start_with(&["alice@example.test"], "", LIMITS)
}

fn greeted(server: &Server) -> Client {
    let mut c = Client::connect(server.addr("smtp"));
    c.expect("220");
    c.send("EHLO client.test\r\n");
    c.expect("250");
    c
}

#[test]
fn long_command_line_is_refused_and_session_goes_on() {
    let server = server();
    let mut c = greeted(&server);
    c.send(&format!("MAIL FROM:<{}@client.test>\r\n", "a".repeat(600)));
    c.expect("500 5.5.2");
    c.send("NOOP\r\n");
    c.expect("250");
}

#[test]
fn oversized_message_is_refused_and_session_goes_on() {
    let server = server();
    let mut c = greeted(&server);
    c.send("MAIL FROM:<a@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
    c.expect("250");
    c.expect("250");
    c.expect("354");
    let line = format!("{}\r\n", "x".repeat(76));
    for _ in 0..200 {
        c.send(&line);
    }
    c.send(".\r\n");
    c.expect("552 5.3.4");
    // The session is usable: a small message goes through.
    c.send("MAIL FROM:<a@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
    c.expect("250");
    c.expect("250");
    c.expect("354");
    c.send(&message("small", "fits"));
    c.send(".\r\n");
    c.expect("250 2.0.0");
    assert_eq!(server.wait_for_messages("alice@example.test", 1), 1);
}

#[test]
fn declared_size_over_limit_is_refused_at_mail() {
    let server = server();
    let mut c = greeted(&server);
    c.send("MAIL FROM:<a@client.test> SIZE=999999\r\n");
    c.expect("552 5.3.4");
}

#[test]
fn text_line_over_998_octets_is_refused() {
    let server = server();
    let mut c = greeted(&server);
    c.send("MAIL FROM:<a@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
    c.expect("250");
    c.expect("250");
    c.expect("354");
    c.send(&format!(
        "Subject: long\r\n\r\n{}\r\n.\r\n",
        "y".repeat(1200)
    ));
    c.expect("550 5.6.0");
    c.send("NOOP\r\n");
    c.expect("250");
    assert_eq!(server.pop3_count("alice@example.test"), 0);
}

#[test]
fn smuggled_endings_never_end_data() {
    let server = server();
    let mut c = greeted(&server);
    c.send("MAIL FROM:<a@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
    c.expect("250");
    c.expect("250");
    c.expect("354");
    // Each of these would end DATA in a lenient server and start a second, forged message.
    c.send("Subject: smuggle\r\n\r\nbody\r\n");
    for ending in ["\n.\n", "\r.\n", "\n.\r\n", "\r\n.\n"] {
        c.send(ending);
        c.send("MAIL FROM:<forged@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
        c.send("Subject: forged\r\n\r\nforged\r\n");
    }
    c.send("\r\n.\r\n");
    // Bare LFs in the body make the message invalid: refused whole, never split.
    c.expect("550 5.6.0");
    c.send("NOOP\r\n");
    c.expect("250");
    assert_eq!(server.pop3_count("alice@example.test"), 0);
}

#[test]
fn too_many_recipients() {
    let server = server();
    let mut c = greeted(&server);
    c.send("MAIL FROM:<a@client.test>\r\n");
    c.expect("250");
    for _ in 0..3 {
        c.send("RCPT TO:<alice@example.test>\r\n");
        c.expect("250");
    }
    c.send("RCPT TO:<alice@example.test>\r\n");
    c.expect("452 4.5.3");
}

#[test]
fn bad_sequences_unknown_commands_and_too_many_errors() {
    let server = server();
    let mut c = Client::connect(server.addr("smtp"));
    c.expect("220");
    c.send("MAIL FROM:<a@client.test>\r\n");
    c.expect("503 5.5.1");
    c.send("EHLO client.test\r\nDATA\r\n");
    c.expect("250");
    c.expect("503 5.5.1");
    c.send("FROB\r\n");
    c.expect("500 5.5.1");
    c.send_bytes(b"\x00\xff\xfe garbage\r\n");
    c.expect("500 5.5.2");
    c.send("RCPT TO:<alice@example.test>\r\n");
    c.expect("503 5.5.1");
    // The fifth error closes the session.
    c.expect("421 4.7.0");
    assert!(c.closed());
}

#[test]
fn idle_client_is_disconnected() {
    let server = server();
    let mut c = greeted(&server);
    // smtp_idle is 1 s here.
    c.expect("421 4.4.2");
    assert!(c.closed());
}

#[test]
fn auth_needs_tls_and_failures_close_the_session() {
    let server = server();
    let mut c = Client::connect(server.addr("submission"));
    c.expect("220");
    c.send("EHLO client.test\r\nAUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n");
    c.expect("250");
    // RFC 4954 §6: AUTH before TLS is refused with 538 5.7.11 on submission.
    c.expect("538 5.7.11");
    // Over TLS (smtplib), max_auth_failures = 2 wrong passwords end the session with 421.
    let port = server.port("submissions").to_string();
    assert_eq!(server.python("auth_limit.py", &[port]).trim(), "ok");
}

#[test]
fn per_ip_connection_limit() {
    let server = server();
    let held: Vec<Client> = (0..4)
        .map(|_| {
            let mut c = Client::connect(server.addr("smtp"));
            c.expect("220");
            c
        })
        .collect();
    let mut extra = Client::connect(server.addr("smtp"));
    extra.expect("421 4.7.0");
    drop(held);
    // Slots come back when sessions end.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut c = Client::connect(server.addr("smtp"));
        if c.reply().starts_with("220") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "slots were not released"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn pipelined_transaction_and_bdat() {
    let server = server();
    let mut c = greeted(&server);
    // PIPELINING: the whole envelope in one write, replies in order.
    c.send("MAIL FROM:<a@client.test>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<nobody@example.test>\r\nDATA\r\n");
    c.expect("250");
    c.expect("250");
    c.expect("550 5.1.1");
    c.expect("354");
    c.send(&message("piped", "..dot-stuffed line"));
    c.send(".\r\n");
    c.expect("250 2.0.0");
    // CHUNKING: BDAT bytes are data even when they look like commands.
    let chunk = "Subject: bdat\r\n\r\nQUIT\r\n.\r\n";
    c.send("MAIL FROM:<a@client.test>\r\nRCPT TO:<alice@example.test>\r\n");
    c.expect("250");
    c.expect("250");
    c.send(&format!("BDAT {} LAST\r\n{chunk}", chunk.len()));
    c.expect("250 2.0.0");
    c.send("QUIT\r\n");
    c.expect("221");
    assert_eq!(server.wait_for_messages("alice@example.test", 2), 2);
}
