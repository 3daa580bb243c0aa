//! `hermod sink`: scripted answers by recipient, counting, and metrics over HTTP.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};

use common::{hermod, Client};

struct Sink {
    child: Child,
    smtp: SocketAddr,
    http: SocketAddr,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sink() -> Sink {
    let mut child = hermod()
        .args([
            "sink",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--delay",
            "100ms",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let smtp = lines.next().unwrap().unwrap();
    let http = lines.next().unwrap().unwrap();
    Sink {
        child,
        smtp: smtp.rsplit(' ').next().unwrap().parse().unwrap(),
        http: http
            .trim_start_matches("metrics on http://")
            .trim_end_matches("/metrics")
            .parse()
            .unwrap(),
    }
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

    let mut http = TcpStream::connect(sink.http).unwrap();
    http.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
    let mut metrics = String::new();
    http.read_to_string(&mut metrics).unwrap();
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
