//! `hermod sink`: scripted answers by recipient, counting, and metrics over HTTP.

mod common;

use common::sink_process::SinkProcess;
use common::{hermod, Client};

fn start_sink() -> SinkProcess {
    SinkProcess::start(&["--delay", "100ms"])
}

#[test]
fn scripted_answers_and_counts() {
    let sink = start_sink();
    let mut c = Client::connect(sink.smtp);
    c.expect("220");
    c.send("EHLO load.test\r\nMAIL FROM:<a@load.test>\r\n");
    c.expect("250");
    c.expect("250");
    for (rcpt, code) in [
        ("ok@dest.test", "250"),
        ("reject-1@dest.test", "550"),
        ("defer-1@dest.test", "451"),
        ("delay-1@dest.test", "250"),
    ] {
        c.send(&format!("RCPT TO:<{rcpt}>\r\n"));
        c.expect(code);
    }
    c.send("DATA\r\n");
    c.expect("354");
    c.send("Subject: to the sink\r\n\r\nhello\r\n.\r\n");
    c.expect("250");
    c.send("MAIL FROM:<a@load.test>\r\n");
    c.expect("250");
    c.send("RCPT TO:<disconnect@dest.test>\r\n");
    assert!(c.closed(), "disconnect@ must drop the connection");

    let metrics = sink.metrics();
    for line in [
        "hermod_sink_messages_total 1",
        "hermod_sink_recipients_total{result=\"accepted\"} 1",
        "hermod_sink_recipients_total{result=\"rejected\"} 1",
        "hermod_sink_recipients_total{result=\"deferred\"} 1",
        "hermod_sink_recipients_total{result=\"delayed\"} 1",
        "hermod_sink_recipients_total{result=\"disconnected\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} not in:\n{metrics}");
    }
}

#[test]
fn bad_percentages_are_refused() {
    let out = hermod()
        .args([
            "sink",
            "--listen",
            "127.0.0.1:0",
            "--defer-percent",
            "80",
            "--reject-percent",
            "30",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("percentages"));
}

#[test]
fn starttls_works_with_a_throwaway_certificate() {
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    use lettre::{Message, SmtpTransport, Transport};
    let sink = start_sink();
    let tls = TlsParameters::builder("sink.hermod".into())
        .dangerous_accept_invalid_certs(true)
        .build_rustls()
        .unwrap();
    let transport = SmtpTransport::builder_dangerous("127.0.0.1")
        .port(sink.smtp.port())
        .tls(Tls::Required(tls))
        .build();
    let email = Message::builder()
        .from("a@load.test".parse().unwrap())
        .to("b@dest.test".parse().unwrap())
        .subject("tls")
        .body("over TLS\n".to_string())
        .unwrap();
    let sent = transport.send(&email);
    assert!(sent.is_ok(), "{sent:?}");
}
