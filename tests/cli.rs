//! The `hermod` command line: accounts with and without a running server, and
//! `check-config` reporting every problem at once.

mod common;

use common::{hermod, Server, PASSWORD};

#[test]
fn user_commands_work_with_and_without_a_running_server() {
    let mut server = Server::start_with(&["alice@example.test"], "", "");
    // While the server runs, through its admin socket.
    server.cli(&["user", "add", "carol@example.org", "--password", "pw1"]);
    let list = server.cli(&["user", "list"]);
    assert_eq!(list, "alice@example.test\ncarol@example.org\n");
    // The running server knows the new account at once: it receives mail and logs in.
    let reply = common::send_raw(
        &server,
        "x@client.test",
        &["carol@example.org"],
        &common::message("hi", "hello"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(
        server.wait_for_messages_pw("carol@example.org", "pw1", 1),
        1
    );

    let dup = server.cli_output(&["user", "add", "carol@example.org", "--password", "x"]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    let foreign = server.cli_output(&["user", "add", "dave@elsewhere.test", "--password", "x"]);
    assert!(!foreign.status.success());

    // Password from standard input, then the old one stops working.
    let mut child = hermod()
        .args([
            "user",
            "passwd",
            "carol@example.org",
            "--password-stdin",
            "--config",
        ])
        .arg(&server.config)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"pw2\n").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        server.wait_for_messages_pw("carol@example.org", "pw2", 1),
        1
    );

    server.cli(&["user", "del", "carol@example.org"]);
    assert_eq!(server.cli(&["user", "list"]), "alice@example.test\n");

    // With the server stopped, the CLI opens the store itself.
    assert!(server.stop());
    server.cli(&["user", "add", "erin@example.test", "--password", PASSWORD]);
    assert_eq!(
        server.cli(&["user", "list"]),
        "alice@example.test\nerin@example.test\n"
    );
    server.spawn();
    assert_eq!(server.pop3_count("erin@example.test"), 0);
}

#[test]
fn check_config_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "hostname = \"mail.example.test\"\nbogus = 1\n[listen]\nsmpt = \"127.0.0.1:25\"\n[limits]\nmax_message_size = \"25 parsecs\"\n",
    )
    .unwrap();
    let out = hermod()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bogus"), "{text}");
    assert!(text.contains("listen.smpt"), "{text}");
    assert!(text.contains("max_message_size"), "{text}");

    let good = dir.path().join("good.toml");
    std::fs::write(&good, hermod::config::example_toml()).unwrap();
    let out = hermod()
        .args(["check-config", "--config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
