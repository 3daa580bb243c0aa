//! Outbound delivery over real sockets: a loopback DNS server for MX records and scripted
//! loopback SMTP sinks. Relaying with connection reuse, per-recipient results, retries,
//! expiry, MX fallback, null MX and NXDOMAIN bounces, and delivery after a restart.

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::sink::Sink;
use common::{message, send_raw, Client, Server, PASSWORD};
use hermod::dns::testing::{TestDnsServer, TestFault, TestRecords};

const LOCALHOST: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

/// A server relaying for loopback clients, with DNS and MX port pointing at the test.
fn relay_server(dns: std::net::SocketAddr, mx_port: u16, queue: &str) -> Server {
    Server::start_with(
        &["alice@example.test"],
        "",
        &format!(
            "[relay]\ntrusted_networks = [\"127.0.0.0/8\"]\n[delivery]\ndns_servers = [\"{dns}\"]\nmx_port = {mx_port}\ndns_timeout = \"1s\"\nconnect_timeout = \"2s\"\ncommand_timeout = \"5s\"\n{queue}"
        ),
    )
}

fn records() -> TestRecords {
    TestRecords::new()
        .mx("remote.test", 10, "mx.remote.test")
        .a("mx.remote.test", LOCALHOST)
}

#[test]
fn relays_with_connection_reuse_and_per_recipient_results() {
    let sink = Sink::start("127.0.0.1", 0);
    let (_dns, dns_addr) = TestDnsServer::start(records()).unwrap();
    let server = relay_server(dns_addr, sink.addr.port(), "");
    // Five messages on one SMTP session; the outbound side should not need five connections.
    let mut c = Client::connect(server.addr("smtp"));
    c.expect("220");
    c.send("EHLO client.test\r\n");
    c.expect("250");
    for i in 0..5 {
        c.send(&format!(
            "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob{i}@remote.test>\r\nDATA\r\n"
        ));
        c.expect("250");
        c.expect("250");
        c.expect("354");
        c.send(&message(&format!("relay-{i}"), "outbound"));
        c.send(".\r\n");
        c.expect("250");
    }
    c.send("QUIT\r\n");
    let got = sink.wait_for(5);
    assert_eq!(got.len(), 5, "sink got {got:?}\n{}", server.log());
    assert!(
        sink.connections() < 5,
        "{} connections for 5 messages",
        sink.connections()
    );
    assert!(got.iter().all(|m| m.from == "alice@example.test"));
    assert!(got[0].data.contains("Received: from client.test"));

    // One recipient accepted, one refused: the accepted one is delivered, alice gets a DSN.
    let reply = send_raw(
        &server,
        "alice@example.test",
        &["ok@remote.test", "reject-me@remote.test"],
        &message("mixed", "half"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    let got = sink.wait_for(6);
    assert_eq!(got.len(), 6);
    assert_eq!(got[5].to, vec!["ok@remote.test".to_string()]);
    assert_eq!(
        server.wait_for_messages("alice@example.test", 1),
        1,
        "{}",
        server.log()
    );
    let dsn = pop3_first(&server, "alice@example.test");
    assert!(dsn.contains("multipart/report"), "{dsn}");
    assert!(dsn.contains("message/delivery-status"), "{dsn}");
    assert!(
        dsn.contains("Final-Recipient: rfc822; reject-me@remote.test")
            || dsn.contains("Final-Recipient: rfc822;reject-me@remote.test"),
        "{dsn}"
    );
    assert!(dsn.contains("Status: 5.1.1"), "{dsn}");
    assert!(
        dsn.contains("Subject: mixed"),
        "the original is returned:\n{dsn}"
    );

    let metrics = server.metrics();
    assert!(
        metrics
            .contains("hermod_delivery_attempts_total{transport=\"smtp\",result=\"delivered\"} 6"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hermod_outbound_connection_reuse_total"),
        "{metrics}"
    );
}

#[test]
fn deferred_then_delivered_and_survives_a_restart() {
    let sink = Sink::start("127.0.0.1", 0);
    let (_dns, dns_addr) = TestDnsServer::start(records()).unwrap();
    let mut server = relay_server(
        dns_addr,
        sink.addr.port(),
        "[queue]\nretry_intervals = [\"1s\"]\n",
    );
    let reply = send_raw(
        &server,
        "alice@example.test",
        &["flaky@remote.test"],
        &message("flaky", "retry me"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    let got = sink.wait_for(1);
    assert_eq!(got.len(), 1, "{}", server.log());
    assert_eq!(got[0].to, vec!["flaky@remote.test".to_string()]);

    // A message deferred when the server is killed is delivered after the restart.
    let reply = send_raw(
        &server,
        "alice@example.test",
        &["flaky2@remote.test"],
        &message("restart", "x"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    std::thread::sleep(Duration::from_millis(300));
    server.kill_hard();
    server.spawn();
    let got = sink.wait_for(2);
    assert_eq!(got.len(), 2, "{}", server.log());
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(sink.received().len(), 2, "delivered twice");
    assert_eq!(
        server.pop3_count("alice@example.test"),
        0,
        "no DSN for delivered mail"
    );
}

#[test]
fn expiry_bounces_with_a_dsn_and_null_sender_gets_none() {
    let sink = Sink::start("127.0.0.1", 0);
    let (_dns, dns_addr) = TestDnsServer::start(records()).unwrap();
    let server = relay_server(
        dns_addr,
        sink.addr.port(),
        "[queue]\nretry_intervals = [\"1s\"]\nmax_age = \"3s\"\ndelay_notice = \"1s\"\n",
    );
    let reply = send_raw(
        &server,
        "alice@example.test",
        &["defer@remote.test"],
        &message("late", "never"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    // A bounce is never bounced: this one just expires.
    let reply = send_raw(
        &server,
        "",
        &["defer-too@remote.test"],
        &message("bounce", "x"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    // The delay notice, then the failure.
    assert_eq!(
        server.wait_for_messages("alice@example.test", 2),
        2,
        "{}",
        server.log()
    );
    let all = pop3_all(&server, "alice@example.test");
    assert!(all.iter().any(|m| m.contains("Action: delayed")), "{all:?}");
    let failed = all
        .iter()
        .find(|m| m.contains("Action: failed"))
        .expect("a failure DSN");
    assert!(failed.contains("Status: 4.4.7"), "{failed}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(server.pop3_count("alice@example.test"), 2);
    assert!(sink.received().is_empty());
}

#[test]
fn mx_fallback_null_mx_and_nxdomain() {
    let sink = Sink::start("127.0.0.1", 0);
    let records = TestRecords::new()
        // The preferred MX has nothing listening (127.0.0.2); the second one answers.
        .mx("fallback.test", 10, "dead.fallback.test")
        .mx("fallback.test", 20, "live.fallback.test")
        .a("dead.fallback.test", Ipv4Addr::new(127, 0, 0, 2))
        .a("live.fallback.test", LOCALHOST)
        .null_mx("nomail.test")
        .fault("nowhere.test", TestFault::NxDomain);
    let (_dns, dns_addr) = TestDnsServer::start(records).unwrap();
    let server = relay_server(dns_addr, sink.addr.port(), "");
    let reply = send_raw(
        &server,
        "alice@example.test",
        &["x@fallback.test"],
        &message("fb", "x"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(sink.wait_for(1).len(), 1, "{}", server.log());

    let cases = [
        ("x@nomail.test", "Status: 5.1.10"),
        ("x@nowhere.test", "Status: 5.1.2\n"),
    ];
    for (to, _) in cases {
        let reply = send_raw(&server, "alice@example.test", &[to], &message("nomx", "x"));
        assert!(reply.starts_with("250"), "{reply}");
    }
    assert_eq!(
        server.wait_for_messages("alice@example.test", 2),
        2,
        "{}",
        server.log()
    );
    // Each bounce names its own recipient with its own status.
    let dsns = pop3_all(&server, "alice@example.test");
    for (to, status) in cases {
        let dsn = dsns
            .iter()
            .find(|d| d.contains(&format!("Final-Recipient: rfc822; {to}")))
            .unwrap_or_else(|| panic!("no DSN for {to}: {dsns:?}"));
        assert!(dsn.contains(status), "{to}: {dsn}");
    }
}

fn pop3_all(server: &Server, user: &str) -> Vec<String> {
    let mut c = server.pop3_login(user, PASSWORD);
    c.send("STAT\r\n");
    let stat = c.line();
    let n: usize = stat.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut all = Vec::new();
    for i in 1..=n {
        c.send(&format!("RETR {i}\r\n"));
        assert!(c.line().starts_with("+OK"));
        let mut text = String::new();
        loop {
            let line = c.line();
            if line == "." {
                break;
            }
            text.push_str(&line);
            text.push('\n');
        }
        all.push(text);
    }
    c.send("QUIT\r\n");
    let _ = c.line();
    all
}

fn pop3_first(server: &Server, user: &str) -> String {
    pop3_all(server, user)
        .into_iter()
        .next()
        .unwrap_or_default()
}

#[test]
fn queue_cli_lists_shows_retries_and_deletes() {
    let sink = Sink::start("127.0.0.1", 0);
    let (_dns, dns_addr) = TestDnsServer::start(records()).unwrap();
    let mut server = relay_server(
        dns_addr,
        sink.addr.port(),
        "[queue]\nretry_intervals = [\"1h\"]\n",
    );
    let reply = send_raw(
        &server,
        "alice@example.test",
        &["defer@remote.test"],
        &message("stuck", "x"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    let id = reply.rsplit(' ').next().unwrap().to_string();
    // Wait for the first attempt to be recorded.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let list = loop {
        let list = server.cli(&["queue", "list"]);
        if list.contains("deferred") || std::time::Instant::now() > deadline {
            break list;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let row = list
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} not in:\n{list}"));
    assert!(row.contains("alice@example.test"), "{row}");
    assert!(row.contains("defer@remote.test"), "{row}");
    assert!(row.contains("deferred"), "{row}");
    assert!(row.contains("451 4.2.0 try again later"), "{row}");

    let summary = server.cli(&["queue", "summary"]);
    assert!(
        summary
            .lines()
            .any(|l| l.starts_with("remote.test") && l.contains(" 1 ")),
        "{summary}"
    );
    let show = server.cli(&["queue", "show", &id]);
    assert!(show.contains("Subject: stuck"), "{show}");

    // retry: a second attempt happens now, not in an hour.
    server.cli(&["queue", "retry", &id]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list = server.cli(&["queue", "list"]);
        let row = list
            .lines()
            .find(|l| l.starts_with(&id))
            .unwrap_or_default()
            .to_string();
        if row.split_whitespace().nth(4) == Some("2") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no second attempt:\n{list}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let unknown = server.cli_output(&["queue", "retry", "FFFF"]);
    assert!(!unknown.status.success());

    // With the server stopped the CLI reads the store itself.
    assert!(server.stop());
    assert!(server.cli(&["queue", "list"]).contains(&id));
    server.spawn();

    server.cli(&["queue", "delete", &id, "--bounce"]);
    assert!(!server.cli(&["queue", "list"]).contains(&id));
    assert_eq!(server.wait_for_messages("alice@example.test", 1), 1);
    let dsn = pop3_first(&server, "alice@example.test");
    assert!(dsn.contains("Status: 5.3.0"), "{dsn}");
}

#[test]
fn a_stalled_destination_does_not_block_others() {
    let fast = Sink::start("127.0.0.1", 0);
    // The slow destination listens on another loopback address, same port.
    let slow = Sink::start("127.0.0.3", fast.addr.port());
    let records = records()
        .mx("slow.test", 10, "mx.slow.test")
        .a("mx.slow.test", Ipv4Addr::new(127, 0, 0, 3));
    let (_dns, dns_addr) = TestDnsServer::start(records).unwrap();
    // The stalled server never answers within the test: its sessions hang for 30 s and
    // the client would wait 60 s.
    let server = Server::start_with(
        &["alice@example.test"],
        "",
        &format!(
            "[relay]\ntrusted_networks = [\"127.0.0.0/8\"]\n[delivery]\ndns_servers = [\"{dns_addr}\"]\nmx_port = {}\ncommand_timeout = \"60s\"\n",
            fast.addr.port()
        ),
    );
    for i in 0..3 {
        let reply = send_raw(
            &server,
            "alice@example.test",
            &[&format!("stall{i}@slow.test")],
            &message("slow", "x"),
        );
        assert!(reply.starts_with("250"), "{reply}");
    }
    std::thread::sleep(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let reply = send_raw(
        &server,
        "alice@example.test",
        &["ok@remote.test"],
        &message("fast", "x"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(fast.wait_for(1).len(), 1, "{}", server.log());
    // Blocked behind the stalled destination it would have waited 30 s or more.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "waited {:?}",
        started.elapsed()
    );
    assert!(slow.received().is_empty());
}

#[test]
fn smarthost_with_starttls_and_auth() {
    // The smarthost is another Hermod: submission with STARTTLS and AUTH. Its own onward
    // delivery goes nowhere (an MX with nothing listening), so the message stays queued there.
    let records = TestRecords::new()
        .mx("far.test", 10, "mx.far.test")
        .a("mx.far.test", Ipv4Addr::new(127, 0, 0, 5));
    let (_dns, dns_addr) = TestDnsServer::start(records).unwrap();
    let smarthost = Server::start_with(
        &["relay@example.test"],
        "",
        &format!(
            "[delivery]\ndns_servers = [\"{dns_addr}\"]\nmx_port = 9\nconnect_timeout = \"1s\"\n"
        ),
    );
    let upstream = smarthost.addr("submission");
    let server = Server::start_with(
        &["alice@example.test"],
        "",
        &format!(
            "[relay]\ntrusted_networks = [\"127.0.0.0/8\"]\n[delivery]\nsmarthost = \"{upstream}\"\nsmarthost_user = \"relay@example.test\"\nsmarthost_password = \"{PASSWORD}\"\ncommand_timeout = \"5s\"\n"
        ),
    );
    let reply = send_raw(
        &server,
        "alice@example.test",
        &["friend@far.test"],
        &message("via-smarthost", "x"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list = smarthost.cli(&["queue", "list"]);
        if list.contains("friend@far.test") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not relayed:\n{list}\n{}\n{:?}",
            server.cli(&["queue", "list"]),
            pop3_all(&server, "alice@example.test")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let header = smarthost.cli(&["queue", "list"]);
    let id = header
        .lines()
        .find(|l| l.contains("friend@far.test"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let show = smarthost.cli(&["queue", "show", &id]);
    // The smarthost saw an authenticated, encrypted submission (RFC 3848 ESMTPSA).
    assert!(show.contains("with ESMTPSA"), "{show}");
    assert!(show.contains("Subject: via-smarthost"), "{show}");
}

#[test]
fn failed_starttls_falls_back_to_plain_text_unless_required() {
    let sink = Sink::start("127.0.0.1", 0);
    sink.break_starttls();
    let records = records().mx("strict.test", 10, "mx.remote.test");
    let (_dns, dns_addr) = TestDnsServer::start(records).unwrap();
    let server = Server::start_with(
        &["alice@example.test"],
        "",
        &format!(
            "[relay]\ntrusted_networks = [\"127.0.0.0/8\"]\n[delivery]\ndns_servers = [\"{dns_addr}\"]\nmx_port = {}\nrequire_tls_domains = [\"strict.test\"]\ncommand_timeout = \"5s\"\n[queue]\nretry_intervals = [\"1h\"]\n",
            sink.addr.port()
        ),
    );
    let reply = send_raw(
        &server,
        "alice@example.test",
        &["x@remote.test"],
        &message("tls", "x"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(
        sink.wait_for(1).len(),
        1,
        "{}",
        server.cli(&["queue", "list"])
    );
    assert!(sink.starttls_attempts() >= 1);

    // Where TLS is required the message waits instead.
    let reply = send_raw(
        &server,
        "alice@example.test",
        &["y@strict.test"],
        &message("strict", "x"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let list = server.cli(&["queue", "list"]);
        if list
            .lines()
            .any(|l| l.contains("y@strict.test") && l.contains("deferred"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not deferred:\n{list}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sink.received().len(), 1);
}
