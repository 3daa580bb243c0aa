//! The IMAP server driven by Python's imaplib: login, FETCH/SEARCH/STORE, mailboxes with
//! COPY, MOVE and APPEND, two sessions seeing each other's changes, IDLE woken by an SMTP
//! delivery, STARTTLS and implicit TLS.

mod common;

use common::{Server, PASSWORD};

#[test]
fn imaplib_end_to_end() {
    let server = Server::start();
    let args = ["smtp", "imap", "imaps"]
        .iter()
        .map(|l| server.port(l).to_string())
        .chain([PASSWORD.to_string()])
        .collect::<Vec<_>>();
    assert_eq!(server.python("imap_clients.py", &args).trim(), "ok");
    let metrics = server.metrics();
    for line in [
        "hermod_imap_commands_total{command=\"SELECT\",result=\"ok\"}",
        "hermod_imap_commands_total{command=\"FETCH\",result=\"ok\"}",
        "hermod_imap_commands_total{command=\"IDLE\",result=\"ok\"}",
        "hermod_imap_commands_total{command=\"LOGIN\",result=\"error\"}",
        "hermod_imap_idle_sessions 0",
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }
}
