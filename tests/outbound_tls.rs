//! Per-destination TLS policy against a real STARTTLS server (`hermod sink`, whose
//! certificate is a throwaway self-signed one): opportunistic TLS delivers without
//! checking the certificate, while a domain in `verify_tls_domains` is deferred, even over a
//! connection the same destination already has open.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::sink_process::SinkProcess;
use common::{message, send_raw, Server};
use hermod::dns::testing::{TestDnsServer, TestRecords};

#[test]
fn verified_domains_refuse_a_certificate_that_does_not_verify() {
    let sink = SinkProcess::start(&[]);
    // Both domains share one MX, hence one destination queue and its connections.
    let records = TestRecords::new()
        .mx("shop.test", 10, "mx.shared.test")
        .mx("bank.test", 10, "mx.shared.test")
        .a("mx.shared.test", Ipv4Addr::LOCALHOST);
    let (_dns, dns_addr) = TestDnsServer::start(records).unwrap();
    let server = Server::start_with(
        &["alice@example.test"],
        "",
        &format!(
            "[relay]\ntrusted_networks = [\"127.0.0.0/8\"]\n[delivery]\ndns_servers = [\"{dns_addr}\"]\nmx_port = {}\nverify_tls_domains = [\"Bank.test\"]\ncommand_timeout = \"5s\"\n[queue]\nretry_intervals = [\"1h\"]\n",
            sink.smtp.port()
        ),
    );

    let reply = send_raw(
        &server,
        "alice@example.test",
        &["x@shop.test"],
        &message("shop", "x"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    wait_until("shop mail delivered", || sink.messages() == 1);

    let reply = send_raw(
        &server,
        "alice@example.test",
        &["y@bank.test"],
        &message("bank", "y"),
    );
    assert!(reply.starts_with("250"), "{reply}");
    let mut list = String::new();
    wait_until("bank mail deferred", || {
        list = server.cli(&["queue", "list"]);
        list.lines()
            .any(|l| l.contains("y@bank.test") && l.contains("deferred"))
    });
    let id = list
        .lines()
        .find(|l| l.contains("y@bank.test"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let show = server.cli(&["queue", "show", &id]);
    assert!(show.to_ascii_lowercase().contains("certificate"), "{show}");
    assert_eq!(
        sink.messages(),
        1,
        "the unverified server got the bank mail"
    );
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
