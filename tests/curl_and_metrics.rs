//! curl as the client: POP3 listing and retrieval (plain and pop3s), and the Prometheus
//! endpoint with every metric the spine promises.

mod common;

use std::process::Command;

use common::{message, send_raw, Server, PASSWORD};

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn curl_reads_mail_over_pop3_and_pop3s() {
    let server = Server::start();
    let reply = send_raw(
        &server,
        "sender@client.test",
        &["alice@example.test"],
        &message("curl-test", "read me with curl"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(server.wait_for_messages("alice@example.test", 1), 1);
    let user = format!("alice@example.test:{PASSWORD}");
    let list = curl(&[
        "-u",
        &user,
        &format!("pop3://127.0.0.1:{}/", server.port("pop3")),
    ]);
    assert!(list.starts_with("1 "), "{list}");
    let body = curl(&[
        "-u",
        &user,
        &format!("pop3://127.0.0.1:{}/1", server.port("pop3")),
    ]);
    assert!(body.contains("Subject: curl-test"), "{body}");
    assert!(body.contains("read me with curl"), "{body}");
    let tls = curl(&[
        "-k",
        "-u",
        &user,
        &format!("pop3s://127.0.0.1:{}/1", server.port("pop3s")),
    ]);
    assert_eq!(tls, body);
}

#[test]
fn metrics_endpoint_exports_the_spine_metrics() {
    let server = Server::start();
    let reply = send_raw(
        &server,
        "sender@client.test",
        &["alice@example.test"],
        &message("metrics", "count me"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(server.wait_for_messages("alice@example.test", 1), 1);
    let text = curl(&[&format!("http://127.0.0.1:{}/metrics", server.port("http"))]);
    for name in [
        "hermod_build_info{",
        "hermod_sessions{",
        "hermod_smtp_connections_total{",
        "hermod_smtp_messages_total{listener=\"smtp\",result=\"accepted\"}",
        "hermod_spool_commit_duration_seconds_bucket{",
        "hermod_spool_commit_batch_size_bucket{",
        "hermod_delivery_attempts_total{",
        "hermod_pop3_commands_total{",
        "hermod_smtp_command_duration_seconds_bucket{command=\"DATA\",",
        "hermod_pop3_command_duration_seconds_bucket{command=\"STAT\",",
        "hermod_actor_mailbox_depth{",
        "hermod_auth_attempts_total{",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    // Every actor kind with a queue reports its depth, and every restartable kind its
    // restarts, from the start (at 0 until something happens).
    for kind in [
        "spool_writer",
        "queue_manager",
        "domain_queue",
        "mailbox",
        "imap_session",
    ] {
        let depth = format!("hermod_actor_mailbox_depth{{kind=\"{kind}\"}}");
        assert!(text.contains(&depth), "{depth} missing");
    }
    for kind in [
        "spool_writer",
        "queue_manager",
        "mailbox",
        "delivery_worker",
    ] {
        let restarts = format!("hermod_actor_restarts_total{{kind=\"{kind}\"}} 0");
        assert!(text.contains(&restarts), "{restarts} missing");
    }
    for line in text.lines().filter(|l| l.starts_with("hermod_")) {
        assert!(
            !line.contains("example.test"),
            "an address in a label: {line}"
        );
        assert!(!line.contains("127.0.0.1"), "an IP in a label: {line}");
    }
    let missing = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{}/nope", server.port("http")))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&missing.stdout), "404");
}
