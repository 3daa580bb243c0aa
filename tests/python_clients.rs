//! Hermod driven by Python's standard smtplib and poplib: MX, submission with STARTTLS
//! and AUTH, submissions over implicit TLS, and the POP3 session on pop3, STLS and pop3s.

mod common;

use common::{Server, PASSWORD};

#[test]
fn smtplib_and_poplib_end_to_end() {
    let server = Server::start();
    let args = ["smtp", "submission", "submissions", "pop3", "pop3s"]
        .iter()
        .map(|l| server.port(l).to_string())
        .chain([PASSWORD.to_string()])
        .collect::<Vec<_>>();
    let out = server.python("clients.py", &args);
    assert_eq!(out.trim(), "ok");
}
