//! The IMAP extensions LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and BINARY
//! (RFC 3516) driven by Python's imaplib over a real socket, and the per-command duration
//! histogram in a /metrics scrape.

mod common;

use common::{Server, PASSWORD};

#[test]
fn imaplib_list_extended_list_status_and_binary() {
    let server = Server::start();
    let args = [server.port("imap").to_string(), PASSWORD.to_string()];
    assert_eq!(
        server.python("imap_list_binary.py", &args).trim(),
        "ok",
        "{}",
        server.log()
    );
    let metrics = server.metrics();
    for line in [
        "# TYPE hermod_imap_command_duration_seconds histogram",
        "hermod_imap_command_duration_seconds_bucket{command=\"LIST\",le=\"60\"}",
        "hermod_imap_command_duration_seconds_count{command=\"FETCH\"}",
        "hermod_imap_command_duration_seconds_count{command=\"APPEND\"}",
        // Pre-registered: present before any such command ran.
        "hermod_imap_command_duration_seconds_count{command=\"MOVE\"} 0",
        "hermod_imap_command_duration_seconds_count{command=\"other\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }
    // LIST ran 4 times; the 2 lines refused by the pre-parse count as INVALID.
    let count = metrics
        .lines()
        .find(|l| l.starts_with("hermod_imap_command_duration_seconds_count{command=\"LIST\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    assert_eq!(count, Some(4), "{metrics}");
    assert!(!metrics.contains("hermod_imap_command_duration_seconds_count{command=\"IDLE\"}"));
}
