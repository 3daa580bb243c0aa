//! POP3 over a real socket: hostile input, limits, idle timeout, DELE at QUIT only, and
//! the goodbye sessions get when the server shuts down.

mod common;

use common::{message, send_raw, Client, Server, PASSWORD};

fn server() -> Server {
    Server::start_with(
        &["alice@example.test"],
        "",
        "[limits]\nmax_errors = 4\n[timeouts]\npop3_idle = \"1s\"\nsmtp_idle = \"30s\"\nshutdown_grace = \"3s\"\n",
    )
}

fn login(server: &Server) -> Client {
    server.pop3_login("alice@example.test", PASSWORD)
}

#[test]
fn hostile_input_gets_err_and_the_session_survives() {
    let server = server();
    let mut c = Client::connect(server.addr("pop3"));
    c.expect("+OK");
    c.send(&format!("{}\r\n", "A".repeat(10_000)));
    c.expect("-ERR");
    c.send_bytes(b"\x00\xff\r\n");
    c.expect("-ERR");
    c.send("CAPA\r\n");
    c.expect("+OK");
    loop {
        if c.line() == "." {
            break;
        }
    }
    c.send("RETR 1\r\n");
    c.expect("-ERR");
    // The fourth error ends the session.
    c.send("FROB\r\n");
    c.expect("-ERR");
    assert!(c.closed());
}

#[test]
fn dele_takes_effect_at_quit_only() {
    let server = server();
    for i in 0..2 {
        let reply = send_raw(
            &server,
            "s@client.test",
            &["alice@example.test"],
            &message(&format!("m{i}"), "x"),
        );
        assert!(reply.starts_with("250"));
    }
    assert_eq!(server.wait_for_messages("alice@example.test", 2), 2);
    let mut c = login(&server);
    c.send("DELE 1\r\n");
    c.expect("+OK");
    c.send("RETR 99999999999999999999\r\nDELE 0\r\nLIST -1\r\n");
    c.expect("-ERR");
    c.expect("-ERR");
    c.expect("-ERR");
    // Connection dropped without QUIT: nothing is deleted (RFC 1939 §6).
    drop(c);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(server.pop3_count("alice@example.test"), 2);
    let mut c = login(&server);
    c.send("DELE 1\r\nQUIT\r\n");
    c.expect("+OK");
    c.expect("+OK");
    assert_eq!(server.pop3_count("alice@example.test"), 1);
}

#[test]
fn idle_session_is_closed_and_lock_released() {
    let server = server();
    let mut c = login(&server);
    // pop3_idle is 1 s: the server closes (RFC 1939 §3 autologout, no deletions).
    assert!(c.closed());
    let mut again = login(&server);
    again.send("QUIT\r\n");
    again.expect("+OK");
}

#[test]
fn shutdown_says_goodbye_and_exits_cleanly() {
    let mut server = server();
    let mut pop = login(&server);
    let mut smtp = Client::connect(server.addr("smtp"));
    smtp.expect("220");
    assert!(
        server.stop(),
        "server did not exit cleanly:\n{}",
        server.log()
    );
    let line = pop.line();
    assert!(line.starts_with("-ERR [SYS/TEMP]"), "{line}");
    smtp.expect("421 4.3.0");
}
