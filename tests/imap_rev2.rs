//! IMAP4rev2 (RFC 9051) next to IMAP4rev1: Python's imaplib sends `ENABLE IMAP4rev2` and
//! checks the SELECT, SEARCH (ESEARCH form) and STATUS (SIZE, DELETED) answers and
//! SEARCHRES (RFC 5182 `$`) over a real socket; mailbox names made in modified UTF-7 by one
//! connection and seen in UTF-8 by another after `ENABLE IMAP4rev2`, and the reverse.

mod common;

use common::{Server, PASSWORD};

#[test]
fn imaplib_enables_imap4rev2() {
    let server = Server::start();
    let args = [server.port("imap").to_string(), PASSWORD.to_string()];
    assert_eq!(
        server.python("imap_rev2.py", &args).trim(),
        "ok",
        "{}",
        server.log()
    );
}

#[test]
fn imaplib_sees_mutf7_names_as_utf8_after_enable_imap4rev2() {
    let server = Server::start();
    let args = [server.port("imap").to_string(), PASSWORD.to_string()];
    assert_eq!(
        server.python("imap_names.py", &args).trim(),
        "ok",
        "{}",
        server.log()
    );
}
