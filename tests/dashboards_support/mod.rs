//! Shared by `tests/dashboards.rs` and `tests/prometheus_e2e.rs`: the panel expressions of
//! every dashboard in `dashboards/`, and a Hermod with traffic on every path the dashboards
//! draw (local and outbound delivery, a deferral, a bounce, refused connections, protocol
//! errors, failed and good logins over SMTP, POP3 and IMAP, TLS handshakes, DNS lookups).

#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hermod::dns::testing::{TestDnsServer, TestRecords};

use crate::common::sink::Sink;
use crate::common::{message, send_raw, Client, Server, PASSWORD};

/// Metrics another branch adds while this one is written: a dashboard may name them before
/// they exist here. They are checked like any other as soon as a scrape has them; remove an
/// entry once its branch is merged.
pub const ADDED_IN_PARALLEL: &[&str] = &[];

/// The `dashboards/` directory.
pub fn dashboards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")
}

/// Every `dashboards/*.json`, sorted, with its parsed JSON.
pub fn dashboards() -> Vec<(PathBuf, serde_json::Value)> {
    let mut out: Vec<_> = std::fs::read_dir(dashboards_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", p.display()));
            (p, json)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// One query of a dashboard: where it is, and its PromQL as Grafana stores it.
#[derive(Debug, Clone)]
pub struct PanelQuery {
    pub dashboard: String,
    pub panel: String,
    pub expr: String,
}

/// Every `expr` of every panel (rows' nested panels included) and every `label_values`
/// template variable, the latter as the equivalent `count by (label) (metric)`.
pub fn panel_queries() -> Vec<PanelQuery> {
    let mut out = Vec::new();
    for (path, json) in dashboards() {
        let dashboard = path.file_name().unwrap().to_string_lossy().into_owned();
        collect_exprs(&json["panels"], &dashboard, "", &mut out);
        for var in json["templating"]["list"].as_array().into_iter().flatten() {
            if let Some(definition) = var["definition"].as_str() {
                out.push(PanelQuery {
                    dashboard: dashboard.clone(),
                    panel: format!("variable {}", var["name"].as_str().unwrap_or("?")),
                    expr: label_values_query(definition),
                });
            }
        }
    }
    out
}

fn collect_exprs(
    value: &serde_json::Value,
    dashboard: &str,
    panel: &str,
    out: &mut Vec<PanelQuery>,
) {
    match value {
        serde_json::Value::Object(map) => {
            let panel = map.get("title").and_then(|t| t.as_str()).unwrap_or(panel);
            if let Some(expr) = map.get("expr").and_then(|e| e.as_str()) {
                out.push(PanelQuery {
                    dashboard: dashboard.to_string(),
                    panel: panel.to_string(),
                    expr: expr.to_string(),
                });
            }
            for v in map.values() {
                collect_exprs(v, dashboard, panel, out);
            }
        }
        serde_json::Value::Array(items) => {
            for v in items {
                collect_exprs(v, dashboard, panel, out);
            }
        }
        _ => {}
    }
}

/// Grafana's `label_values(metric, label)` as plain PromQL; other definitions unchanged.
fn label_values_query(definition: &str) -> String {
    let inner = definition
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(')'));
    match inner.and_then(|i| i.rsplit_once(',')) {
        Some((metric, label)) => format!("count by ({}) ({})", label.trim(), metric.trim()),
        None => definition.to_string(),
    }
}

/// A Grafana expression as Prometheus gets it: the interval macros replaced by fixed
/// windows (wide enough to span the whole test), template variables matching everything.
pub fn substitute(expr: &str) -> String {
    let mut out = expr.to_string();
    for (from, to) in [
        ("$__rate_interval", "1m"),
        ("${__rate_interval}", "1m"),
        ("$__interval", "15s"),
        ("${__interval}", "15s"),
        ("$__range", "5m"),
        ("${__range}", "5m"),
        ("${instance}", ".*"),
        ("$instance", ".*"),
        ("${job}", ".*"),
        ("$job", ".*"),
    ] {
        out = out.replace(from, to);
    }
    out
}

/// `hermod_*` metric names in `text`, histogram suffixes folded into the base name.
pub fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("hermod_") {
        let start = i + pos;
        let mut end = start;
        while end < bytes.len()
            && (bytes[end].is_ascii_lowercase()
                || bytes[end].is_ascii_digit()
                || bytes[end] == b'_')
        {
            end += 1;
        }
        let name = &text[start..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        names.insert(base.to_string());
        i = end;
    }
    names
}

/// A Hermod relaying for loopback clients to a scripted sink, with its DNS server.
pub struct Traffic {
    pub server: Server,
    pub sink: Sink,
    _dns: TestDnsServer,
    rounds: usize,
}

/// The most connections a client IP may hold per listener: low, so one test can exceed it.
const PER_IP: usize = 3;

impl Traffic {
    /// Starts the DNS server, the sink and Hermod (retries an hour away, so a deferred
    /// message stays queued).
    pub fn start() -> Traffic {
        let sink = Sink::start("127.0.0.1", 0);
        let records = TestRecords::new()
            .mx("remote.test", 10, "mx.remote.test")
            .mx("remote2.test", 10, "mx.remote.test")
            .a("mx.remote.test", Ipv4Addr::LOCALHOST);
        let (dns, dns_addr) = TestDnsServer::start(records).unwrap();
        let server = Server::start_with(
            &["alice@example.test", "bob@example.test"],
            "",
            &format!(
                "[relay]\ntrusted_networks = [\"127.0.0.0/8\"]\n\
                 [delivery]\ndns_servers = [\"{dns_addr}\"]\nmx_port = {}\ndns_timeout = \"1s\"\n\
                 connect_timeout = \"2s\"\ncommand_timeout = \"5s\"\n\
                 [queue]\nretry_intervals = [\"1h\"]\n\
                 [limits]\nmax_connections_per_ip = {PER_IP}\n\
                 [timeouts]\nsmtp_idle = \"5s\"\npop3_idle = \"5s\"\nshutdown_grace = \"2s\"\n",
                sink.addr.port()
            ),
        );
        Traffic {
            server,
            sink,
            _dns: dns,
            rounds: 0,
        }
    }

    /// One round of traffic on every path; waits until its deliveries are done. Each round
    /// relays to a domain of its own (remote.test, remote2.test, then the cached one), so
    /// later rounds look up DNS again.
    pub fn round(&mut self) {
        self.rounds += 1;
        let round = self.rounds;
        let server = &self.server;
        let domain = if round == 2 {
            "remote2.test"
        } else {
            "remote.test"
        };
        self.refused_connection();

        // Local delivery, one message each.
        for to in ["alice@example.test", "bob@example.test"] {
            let reply = send_raw(
                server,
                "s@client.test",
                &[to],
                &message(&format!("local-{round}"), "x"),
            );
            assert!(reply.starts_with("250"), "{reply}");
        }

        // Protocol errors: DATA before any transaction (a rejected message), an unknown verb.
        let mut c = Client::connect(server.addr("smtp"));
        c.expect("220");
        c.send("EHLO client.test\r\n");
        c.expect("250");
        c.send("DATA\r\n");
        c.expect("503");
        c.send("FROBNICATE\r\n");
        c.expect("5");
        c.send("QUIT\r\n");
        c.expect("221");

        // Relay on one session: two delivered (the second over the same connection), one
        // deferred (stays queued), one refused (a bounce to alice).
        let mut c = Client::connect(server.addr("smtp"));
        c.expect("220");
        c.send("EHLO client.test\r\n");
        c.expect("250");
        for rcpt in ["ok1", "ok2", "defer", "reject"] {
            c.send(&format!(
                "MAIL FROM:<alice@example.test>\r\nRCPT TO:<{rcpt}-{round}@{domain}>\r\nDATA\r\n"
            ));
            c.expect("250");
            c.expect("250");
            c.expect("354");
            c.send(&message(&format!("relay-{rcpt}-{round}"), "outbound"));
            c.send(".\r\n");
            c.expect("250");
        }
        c.send("QUIT\r\n");
        c.expect("221");

        // Python's clients: STARTTLS, a failed and a good AUTH, IMAPS, POP3S, a bad PASS.
        let out = Command::new("python3")
            .arg("-c")
            .arg(PYTHON_CLIENTS)
            .args(
                ["submission", "imaps", "pop3s", "pop3"]
                    .iter()
                    .map(|l| server.port(l).to_string()),
            )
            .args([PASSWORD, &round.to_string()])
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "python clients failed:\n{}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            server.log()
        );

        // alice: her local message and the bounce; bob: his local and submitted ones.
        let delivered = self.sink.wait_for(2 * round).len();
        assert_eq!(delivered, 2 * round, "{}", server.log());
        let want = 2 * round;
        assert_eq!(
            server.wait_for_messages("alice@example.test", want),
            want,
            "{}",
            server.log()
        );
        assert_eq!(
            server.wait_for_messages("bob@example.test", want),
            want,
            "{}",
            server.log()
        );
    }

    /// Opens SMTP connections until the per-IP limit refuses one (sessions of the previous
    /// round may still count), lets all go and waits until the listener admits again.
    fn refused_connection(&self) {
        let addr = self.server.addr("smtp");
        let mut held = Vec::new();
        let mut refused = false;
        for _ in 0..=PER_IP {
            let mut c = Client::connect(addr);
            let greeting = c.reply();
            if greeting.starts_with("421") {
                refused = true;
                break;
            }
            assert!(greeting.starts_with("220"), "{greeting}");
            held.push(c);
        }
        assert!(
            refused,
            "{} connections admitted, limit {PER_IP}",
            held.len()
        );
        for c in &mut held {
            c.send("QUIT\r\n");
            c.expect("221");
        }
        drop(held);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut c = Client::connect(addr);
            let greeting = c.reply();
            if greeting.starts_with("220") {
                c.send("QUIT\r\n");
                let _ = c.reply();
                break;
            }
            assert!(Instant::now() < deadline, "SMTP still refuses: {greeting}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Standard-library clients: argv is SUBMISSION IMAPS POP3S POP3 PASSWORD ROUND.
const PYTHON_CLIENTS: &str = r#"
import imaplib, poplib, smtplib, ssl, sys
HOST = "127.0.0.1"
sub, imaps, pop3s, pop3 = map(int, sys.argv[1:5])
password, rnd = sys.argv[5], sys.argv[6]
tls = ssl.create_default_context()
tls.check_hostname = False
tls.verify_mode = ssl.CERT_NONE

with smtplib.SMTP(HOST, sub, timeout=10) as s:
    s.ehlo("client.test")
    s.starttls(context=tls)
    s.ehlo("client.test")
    try:
        s.login("alice@example.test", "wrong password")
        raise SystemExit("a wrong SMTP password was accepted")
    except smtplib.SMTPAuthenticationError:
        pass
    s.login("alice@example.test", password)
    s.sendmail("alice@example.test", ["bob@example.test"],
               f"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: sub-{rnd}\r\n\r\nhi\r\n")

imap = imaplib.IMAP4_SSL(HOST, imaps, ssl_context=tls, timeout=10)
imap.login("alice@example.test", password)
typ, _ = imap.select("INBOX")
assert typ == "OK", typ
imap.search(None, "ALL")
imap.noop()
try:
    imap.xatom("FROBNICATE")
except imaplib.IMAP4.error:
    pass
imap.logout()

p = poplib.POP3_SSL(HOST, pop3s, context=tls, timeout=10)
p.user("bob@example.test")
p.pass_(password)
p.stat()
p.quit()

p = poplib.POP3(HOST, pop3, timeout=10)
p.user("bob@example.test")
try:
    p.pass_("wrong password")
    raise SystemExit("a wrong POP3 password was accepted")
except poplib.error_proto:
    pass
p.quit()
"#;
