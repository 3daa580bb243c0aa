//! Address handling over a real socket: aliases with several targets, a per-domain
//! catch-all, `user+tag`, case-insensitive domains, and one delivery per account however
//! many recipients of a message reach it.

mod common;

use common::{message, send_raw, Server};

const ADDRESSING: &str = r#"[aliases]
"team@example.test" = ["alice@example.test", "bob@example.test"]
"postmaster@example.test" = ["alice@example.test"]
[catch_all]
"example.org" = "bob@example.test"
"#;

#[test]
fn aliases_catch_all_and_tags() {
    let server = Server::start_with(&["alice@example.test", "bob@example.test"], "", ADDRESSING);
    let reply = send_raw(
        &server,
        "s@client.test",
        &["team@example.test"],
        &message("team", "to both"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(server.wait_for_messages("alice@example.test", 1), 1);
    assert_eq!(server.wait_for_messages("bob@example.test", 1), 1);

    let reply = send_raw(
        &server,
        "s@client.test",
        &["whoever@EXAMPLE.ORG"],
        &message("catch", "all"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(server.wait_for_messages("bob@example.test", 2), 2);

    // alice directly, by tag, and through two aliases: one copy.
    let to = [
        "alice@example.test",
        "Alice+news@Example.Test",
        "team@example.test",
        "postmaster@example.test",
    ];
    let reply = send_raw(&server, "s@client.test", &to, &message("once", "dedup"));
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(server.wait_for_messages("bob@example.test", 3), 3);
    assert_eq!(server.wait_for_messages("alice@example.test", 2), 2);
    // RFC 5321 §4.5.1: the bare `postmaster` is always accepted.
    let reply = send_raw(
        &server,
        "s@client.test",
        &["postmaster"],
        &message("pm", "hi"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(server.wait_for_messages("alice@example.test", 3), 3);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        server.pop3_count("alice@example.test"),
        3,
        "alice got a duplicate"
    );
}
