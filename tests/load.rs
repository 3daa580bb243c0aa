//! `hermod-load` against a real Hermod (SMTP plain, reused connections, submission with
//! STARTTLS and AUTH, then POP3 to see the messages arrived), against a dead port, a
//! server that answers garbage, and one that never answers (bounded by --max-time).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, PASSWORD};
use serde_json::Value;

/// Runs `hermod-load` with `args` and `--json`; returns the report and whether it exited 0.
fn load(args: &[&str]) -> (Value, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_hermod-load"))
        .args(args)
        .arg("--json")
        .output()
        .expect("run hermod-load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.success())
}

fn smtp(target: &str, extra: &[&str]) -> (Value, bool) {
    let mut args = vec!["smtp", "--target", target, "--to", "alice@example.test"];
    args.extend_from_slice(extra);
    load(&args)
}

fn assert_all_accepted(report: &Value, n: u64) {
    assert_eq!(report["accepted"], n, "{report:#}");
    assert_eq!(report["errors"], 0, "{report:#}");
    assert_eq!(report["rejected"]["4xx"], 0, "{report:#}");
    assert_eq!(report["rejected"]["5xx"], 0, "{report:#}");
    for step in [
        "connect",
        "greeting",
        "ehlo",
        "mail",
        "rcpt",
        "data",
        "end_of_data",
        "message",
    ] {
        let summary = &report["latency"][step];
        assert!(summary["count"].as_u64().unwrap() > 0, "{step}: {report:#}");
        assert!(summary["p99_ms"].as_f64().unwrap() <= summary["max_ms"].as_f64().unwrap() + 0.01);
    }
}

#[test]
fn messages_sent_every_way_arrive_in_the_mailbox() {
    let server = Server::start_with(&["alice@example.test"], "", "");
    let mx = server.addr("smtp").to_string();
    let submission = server.addr("submission").to_string();

    let (plain, ok) = smtp(&mx, &["--messages", "200", "--concurrency", "8"]);
    assert!(ok);
    assert_all_accepted(&plain, 200);
    assert_eq!(plain["connections"], 200);

    let (reused, ok) = smtp(
        &mx,
        &[
            "--messages",
            "200",
            "--concurrency",
            "4",
            "--reuse",
            "--pipelining",
        ],
    );
    assert!(ok);
    assert_all_accepted(&reused, 200);
    assert_eq!(reused["connections"], 4, "{reused:#}");

    let auth = format!("alice@example.test:{PASSWORD}");
    let (secure, ok) = smtp(
        &submission,
        &[
            "--messages",
            "40",
            "--concurrency",
            "4",
            "--starttls",
            "--auth",
            &auth,
            "--from",
            "alice@example.test",
            "--size",
            "10KiB",
        ],
    );
    assert!(ok);
    assert_all_accepted(&secure, 40);
    assert_eq!(secure["latency"]["starttls"]["count"], 40);
    assert_eq!(secure["latency"]["auth"]["count"], 40);

    // A scenario file sets the options; the command line overrides its message count.
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/loadtest/scenarios/smtp-reuse-1k.toml"
    );
    let (preset, ok) = smtp(&mx, &["--scenario", scenario, "--messages", "20"]);
    assert!(ok);
    assert_all_accepted(&preset, 20);

    // Deliveries finish after 250; wait, then look through hermod-load's own POP3 mode.
    assert_eq!(server.wait_for_messages("alice@example.test", 460), 460);
    let pop3 = server.addr("pop3").to_string();
    let (mailbox, ok) = load(&[
        "pop3",
        "--target",
        &pop3,
        "--users",
        "alice@example.test",
        "--password",
        PASSWORD,
        "--clients",
        "1",
        "--duration",
        "300ms",
    ]);
    assert!(ok, "{mailbox:#}");
    assert_eq!(mailbox["maildrop_max"], 460, "{mailbox:#}");
    assert_eq!(mailbox["maildrop_min"], 460, "{mailbox:#}");
    assert_eq!(mailbox["errors"], 0, "{mailbox:#}");
    assert!(mailbox["sessions_completed"].as_u64().unwrap() >= 1);
    assert!(mailbox["messages_retrieved"].as_u64().unwrap() >= 1);
    assert_eq!(mailbox["commands"]["RETR"]["err"], 0);
    assert!(
        mailbox["commands"]["RETR"]["latency"]["count"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[test]
fn pop3_deletes_and_counts_wrong_passwords() {
    let server = Server::start_with(&["u00001@example.test", "u00002@example.test"], "", "");
    let mx = server.addr("smtp").to_string();
    for user in ["u00001@example.test", "u00002@example.test"] {
        let (r, ok) = load(&["smtp", "--target", &mx, "--to", user, "--messages", "5"]);
        assert!(ok, "{r:#}");
        assert_eq!(server.wait_for_messages_pw(user, PASSWORD, 5), 5);
    }
    let pop3 = server.addr("pop3").to_string();
    let (r, ok) = load(&[
        "pop3",
        "--target",
        &pop3,
        "--users",
        "u%05d@example.test",
        "--user-count",
        "2",
        "--password",
        PASSWORD,
        "--clients",
        "2",
        "--duration",
        "1s",
        "--delete-ratio",
        "1.0",
    ]);
    assert!(ok, "{r:#}");
    assert_eq!(r["users"], 2);
    assert_eq!(r["maildrop_max"], 5, "{r:#}");
    let deleted = r["messages_deleted"].as_u64().unwrap();
    assert!(deleted >= 2, "{r:#}");
    let left = server.pop3_count("u00001@example.test") + server.pop3_count("u00002@example.test");
    assert_eq!(left as u64, 10 - deleted);

    let (r, ok) = load(&[
        "pop3",
        "--target",
        &pop3,
        "--users",
        "u00001@example.test",
        "--password",
        "wrong",
        "--clients",
        "1",
        "--duration",
        "300ms",
    ]);
    assert!(!ok, "nothing succeeded: exit status must say so");
    assert!(r["sessions_rejected"].as_u64().unwrap() >= 1, "{r:#}");
    assert_eq!(r["commands"]["PASS"]["ok"], 0, "{r:#}");
}

#[test]
fn nothing_listening_is_reported_not_hung() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let target = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let (r, ok) = smtp(
        &target,
        &["--messages", "30", "--concurrency", "3", "--timeout", "2s"],
    );
    assert!(!ok);
    assert_eq!(r["accepted"], 0);
    assert_eq!(r["connection_errors"], 30, "{r:#}");
    assert_eq!(r["errors"], 30);
    assert!(r["error_samples"]
        .as_object()
        .unwrap()
        .keys()
        .any(|k| k.starts_with("connect:")));
    let (r, ok) = load(&[
        "pop3",
        "--target",
        &target,
        "--users",
        "a",
        "--password",
        "b",
        "--duration",
        "200ms",
    ]);
    assert!(!ok);
    assert!(r["connection_errors"].as_u64().unwrap() >= 1, "{r:#}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A server that greets every connection with `greeting` and then reads until EOF.
fn fake_server(greeting: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let _ = stream.write_all(greeting);
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    addr
}

#[test]
fn garbage_replies_are_protocol_violations() {
    let target = fake_server(b"hello\r\n");
    let (r, ok) = smtp(&target, &["--messages", "20", "--concurrency", "2"]);
    assert!(!ok);
    assert_eq!(r["protocol_violations"], 20, "{r:#}");
    assert_eq!(r["accepted"], 0);
    let (r, ok) = load(&[
        "pop3",
        "--target",
        &target,
        "--users",
        "a",
        "--password",
        "b",
        "--duration",
        "200ms",
    ]);
    assert!(!ok);
    assert!(r["protocol_violations"].as_u64().unwrap() >= 1, "{r:#}");
    assert_eq!(r["sessions_completed"], 0);

    // A bare LF and an out-of-range code are violations too.
    let target = fake_server(b"220 ok\n");
    let (r, _) = smtp(&target, &["--messages", "3"]);
    assert_eq!(r["protocol_violations"], 3, "{r:#}");
    let target = fake_server(b"999 what\r\n");
    let (r, _) = smtp(&target, &["--messages", "3"]);
    assert_eq!(r["protocol_violations"], 3, "{r:#}");
}

#[test]
fn a_silent_server_is_cut_off_at_max_time() {
    let target = fake_server(b"");
    let started = Instant::now();
    let (r, ok) = smtp(
        &target,
        &[
            "--messages",
            "1000",
            "--concurrency",
            "4",
            "--timeout",
            "60s",
            "--max-time",
            "1s",
        ],
    );
    assert!(!ok);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r["interrupted"], 4, "{r:#}");
    assert_eq!(r["accepted"], 0);
}

fn imap(target: &str, extra: &[&str]) -> (Value, bool) {
    let mut args = vec![
        "imap",
        "--target",
        target,
        "--users",
        "alice@example.test",
        "--password",
        PASSWORD,
    ];
    args.extend_from_slice(extra);
    load(&args)
}

#[test]
fn imap_mix_runs_clean_sessions() {
    let server = Server::start_with(&["alice@example.test"], "", "");
    let mx = server.addr("smtp").to_string();
    let (r, ok) = smtp(&mx, &["--messages", "5"]);
    assert!(ok, "{r:#}");
    assert_eq!(server.wait_for_messages("alice@example.test", 5), 5);
    let target = server.addr("imap").to_string();
    let (r, ok) = imap(&target, &["--clients", "2", "--duration", "3s"]);
    assert!(ok, "{r:#}");
    assert_eq!(r["mode"], "imap");
    assert_eq!(r["protocol_violations"], 0, "{r:#}");
    assert_eq!(r["errors"], 0, "{r:#}");
    let commands = r["commands"].as_object().unwrap();
    let mut total_ok = 0;
    for (name, c) in commands {
        assert_eq!(c["bad"], 0, "{name}: {r:#}");
        total_ok += c["ok"].as_u64().unwrap();
    }
    assert!(total_ok > 0, "{r:#}");
    for step in [
        "LOGIN",
        "SELECT",
        "FETCH",
        "FETCH_BODY",
        "STORE",
        "APPEND",
        "LOGOUT",
    ] {
        assert!(
            r["commands"][step]["ok"].as_u64().unwrap() >= 1,
            "{step}: {r:#}"
        );
        let lat = &r["commands"][step]["latency"];
        assert!(lat["p50_ms"].as_f64().unwrap() <= lat["max_ms"].as_f64().unwrap() + 0.01);
    }
    assert!(r["sessions_completed"].as_u64().unwrap() >= 2, "{r:#}");
    assert!(r["mailbox_min"].as_u64().unwrap() >= 5, "{r:#}");
    assert!(r["bytes_fetched"].as_u64().unwrap() > 0, "{r:#}");
    assert!(r["commands_per_sec"].as_f64().unwrap() > 0.0, "{r:#}");

    // The scenario sets the workload; the command line narrows it to one account.
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/loadtest/scenarios/imap-mix.toml"
    );
    let (r, ok) = imap(
        &target,
        &[
            "--scenario",
            scenario,
            "--user-count",
            "1",
            "--clients",
            "1",
            "--duration",
            "500ms",
            "--starttls",
        ],
    );
    assert!(ok, "{r:#}");
    assert_eq!(r["errors"], 0, "{r:#}");
    assert!(
        r["commands"]["STARTTLS"]["ok"].as_u64().unwrap() >= 1,
        "{r:#}"
    );
    assert_eq!(
        r["commands"]["STARTTLS"]["latency"]["count"], r["commands"]["STARTTLS"]["ok"],
        "{r:#}"
    );
}

#[test]
fn imap_single_rate_modes_isolate_their_commands() {
    let server = Server::start_with(&["alice@example.test"], "", "");
    let target = server.addr("imap").to_string();

    // An empty INBOX cannot be fetched from: said, not hung.
    let (r, ok) = imap(&target, &["--mode", "fetch", "--duration", "300ms"]);
    assert!(!ok, "{r:#}");
    assert_eq!(r["workload"], "fetch");
    assert!(
        r["error_samples"].to_string().contains("INBOX is empty"),
        "{r:#}"
    );

    let (r, ok) = imap(
        &target,
        &["--mode", "append", "--clients", "2", "--duration", "1s"],
    );
    assert!(ok, "{r:#}");
    assert_eq!(r["errors"], 0, "{r:#}");
    let appended = r["messages_appended"].as_u64().unwrap();
    assert!(appended >= 2, "{r:#}");
    assert_eq!(r["commands"]["APPEND"]["ok"], appended, "{r:#}");
    // One login per client: the session lasts the whole run.
    assert_eq!(r["commands"]["LOGIN"]["ok"], 2, "{r:#}");
    assert!(r["commands"].get("FETCH").is_none(), "{r:#}");

    let (r, ok) = imap(
        &target,
        &["--mode", "fetch", "--clients", "2", "--duration", "1s"],
    );
    assert!(ok, "{r:#}");
    assert_eq!(r["errors"], 0, "{r:#}");
    assert_eq!(r["commands"]["LOGIN"]["ok"], 2, "{r:#}");
    assert!(r["commands"]["FETCH"]["ok"].as_u64().unwrap() >= 2, "{r:#}");
    assert!(r["bytes_fetched"].as_u64().unwrap() > 0, "{r:#}");
    assert!(r["commands"].get("APPEND").is_none(), "{r:#}");
    assert_eq!(r["mailbox_min"], appended, "{r:#}");

    let (r, ok) = imap(
        &target,
        &["--mode", "login", "--clients", "2", "--duration", "1s"],
    );
    assert!(ok, "{r:#}");
    assert_eq!(r["errors"], 0, "{r:#}");
    let logins = r["commands"]["LOGIN"]["ok"].as_u64().unwrap();
    assert!(logins >= 2, "{r:#}");
    assert_eq!(r["commands"]["LOGOUT"]["ok"], logins, "{r:#}");
    assert!(r["commands"].get("SELECT").is_none(), "{r:#}");
}

#[test]
fn imap_idle_sessions_hear_of_a_delivery() {
    let server = Server::start_with(&["alice@example.test"], "", "");
    let target = server.addr("imap").to_string();
    let child = Command::new(env!("CARGO_BIN_EXE_hermod-load"))
        .args([
            "imap",
            "--target",
            &target,
            "--users",
            "alice@example.test",
            "--password",
            PASSWORD,
            "--mode",
            "idle",
            "--idle-sessions",
            "20",
            "--duration",
            "3s",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run hermod-load");
    // Deliver only once every session is in IDLE (the server's gauge says so): a message
    // that arrives before a session's SELECT is counted there, not announced to it.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !server
        .metrics()
        .lines()
        .any(|l| l == "hermod_imap_idle_sessions 20")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "sessions never all idle"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mx = server.addr("smtp").to_string();
    let (sent, ok) = smtp(&mx, &["--messages", "1"]);
    assert!(ok, "{sent:#}");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let r: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(out.status.success(), "{r:#}");
    assert_eq!(r["sessions_idling"], 20, "{r:#}");
    assert!(r["exists_seen"].as_u64().unwrap() >= 20, "{r:#}");
    assert_eq!(r["sessions_completed"], 20, "{r:#}");
    assert_eq!(r["errors"], 0, "{r:#}");
    assert_eq!(r["commands"]["IDLE"]["ok"], 20, "{r:#}");
    // Every change sent to a session was taken by it, or dropped with it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !server
        .metrics()
        .lines()
        .any(|l| l == "hermod_actor_mailbox_depth{kind=\"imap_session\"} 0")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "IMAP session depth never back to 0"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn imap_garbage_is_counted_not_fatal() {
    let target = fake_server(b"hello\r\n");
    for mode in ["mix", "idle"] {
        let (r, ok) = imap(
            &target,
            &[
                "--mode",
                mode,
                "--duration",
                "200ms",
                "--idle-sessions",
                "3",
            ],
        );
        assert!(!ok, "{r:#}");
        assert!(r["protocol_violations"].as_u64().unwrap() >= 1, "{r:#}");
        assert_eq!(r["sessions_completed"], 0, "{r:#}");
    }
    // A greeting, then an answer with the wrong tag.
    let target = fake_server(b"* OK ready\r\nzz9 OK what\r\n");
    let (r, ok) = imap(&target, &["--duration", "200ms", "--clients", "1"]);
    assert!(!ok);
    assert!(r["protocol_violations"].as_u64().unwrap() >= 1, "{r:#}");
    assert!(
        r["error_samples"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.contains("another tag")),
        "{r:#}"
    );
}
