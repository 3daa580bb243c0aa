//! The client against scripted loopback servers: every fault the issue lists.

mod sink;

use std::sync::atomic::Ordering;
use std::time::Duration;

use sink::{acceptor, start, Script};

use super::*;

fn config() -> ClientConfig {
    let mut config = ClientConfig::new("client.test");
    config.connect_timeout = Duration::from_secs(5);
    config.command_timeout = Duration::from_secs(5);
    config.data_timeout = Duration::from_secs(5);
    config
}

fn envelope(recipients: &[&str]) -> OutboundEnvelope {
    OutboundEnvelope {
        sender: "a@example.org".into(),
        recipients: recipients
            .iter()
            .map(|r| OutboundRecipient::new(*r))
            .collect(),
        ..OutboundEnvelope::default()
    }
}

const MESSAGE: &[u8] = b"Subject: hi\r\n\r\n.leading dot\r\nbody\r\n";

fn codes(results: &[RcptResult]) -> Vec<(char, u16)> {
    results
        .iter()
        .map(|r| match r {
            RcptResult::Delivered(r) => ('D', r.code),
            RcptResult::Temporary(r) => ('T', r.code),
            RcptResult::Permanent(r) => ('P', r.code),
        })
        .collect()
}

fn pipelining() -> Script {
    Script {
        extensions: vec!["PIPELINING", "8BITMIME", "SIZE 1000", "DSN"],
        ..Script::default()
    }
}

#[tokio::test]
async fn accepts_all_and_the_message_arrives_intact() {
    let (addr, seen) = start(Script::default()).await;
    let mut conn = Connection::connect(addr, "localhost", &config())
        .await
        .unwrap();
    assert!(conn.capabilities().eightbitmime && !conn.is_tls());
    let results = conn
        .send(&envelope(&["b@x", "c@x"]), MESSAGE)
        .await
        .unwrap();
    assert_eq!(codes(&results), [('D', 250), ('D', 250)]);
    assert_eq!(results[0].reply().to_string(), "250 2.0.0 queued");
    assert!(conn.is_usable());
    conn.quit().await;
    assert_eq!(seen.messages.lock().unwrap()[0], MESSAGE);
    assert_eq!(seen.pipelining_violations.load(Ordering::SeqCst), 0);
    assert_eq!(seen.commands().last().unwrap(), "QUIT");
}

fn one_refused(address: &str) -> &'static str {
    if address.starts_with("bad") {
        "550 5.1.1 no such user"
    } else {
        "250 2.1.5 ok"
    }
}

#[tokio::test]
async fn one_recipient_refused_the_other_delivered_with_and_without_pipelining() {
    for base in [Script::default(), pipelining()] {
        let (addr, seen) = start(Script {
            rcpt: one_refused,
            ..base
        })
        .await;
        let mut conn = Connection::connect(addr, "localhost", &config())
            .await
            .unwrap();
        let results = conn
            .send(&envelope(&["bad@x", "good@x"]), MESSAGE)
            .await
            .unwrap();
        assert_eq!(codes(&results), [('P', 550), ('D', 250)]);
        assert_eq!(results[0].reply().to_string(), "550 5.1.1 no such user");
        assert!(conn.is_usable());
        assert_eq!(seen.pipelining_violations.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn pipelined_commands_go_out_in_one_group() {
    // The sink holds MAIL/RCPT replies until DATA: a lock-step client would time out.
    let (addr, seen) = start(pipelining()).await;
    let mut conn = Connection::connect(addr, "localhost", &config())
        .await
        .unwrap();
    assert!(conn.capabilities().pipelining);
    let mut env = envelope(&["b@x"]);
    env.eight_bit = true;
    env.ret = Some("HDRS".into());
    env.recipients[0].notify = Some("FAILURE".into());
    let results = conn.send(&env, MESSAGE).await.unwrap();
    assert_eq!(codes(&results), [('D', 250)]);
    let commands = seen.commands();
    assert_eq!(
        commands[1..4],
        [
            format!(
                "MAIL FROM:<a@example.org> SIZE={} BODY=8BITMIME RET=HDRS",
                MESSAGE.len()
            ),
            "RCPT TO:<b@x> NOTIFY=FAILURE".to_string(),
            "DATA".to_string(),
        ]
    );
}

#[tokio::test]
async fn eight_bit_mail_is_downgraded_for_a_server_without_8bitmime() {
    // The default script offers 8BITMIME; this one offers nothing but SIZE.
    let (addr, seen) = start(Script {
        extensions: vec!["SIZE 100000"],
        ..Script::default()
    })
    .await;
    let mut conn = Connection::connect(addr, "localhost", &config())
        .await
        .unwrap();
    let mut env = envelope(&["b@x"]);
    env.eight_bit = true;
    let message = "Subject: hi\r\n\r\nCafé\r\n".as_bytes();
    let results = conn.send(&env, message).await.unwrap();
    assert_eq!(codes(&results), [('D', 250)]);
    let sent = seen.messages.lock().unwrap()[0].clone();
    assert!(sent.is_ascii());
    let text = String::from_utf8(sent).unwrap();
    assert!(
        text.ends_with("Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9\r\n"),
        "{text}"
    );
    // SIZE announces what is sent, and no BODY parameter goes to a server without it.
    assert_eq!(
        seen.commands()[1],
        format!("MAIL FROM:<a@example.org> SIZE={}", text.len())
    );

    // 8-bit header fields cannot be converted: refused before MAIL, permanently.
    let message = "Subject: Café\r\n\r\nx\r\n".as_bytes();
    let error = conn.send(&env, message).await.unwrap_err();
    assert!(error.is_permanent(), "{error}");
    assert!(error.to_string().contains("5.6.3"), "{error}");
    assert_eq!(seen.messages.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn temporary_refusal_at_mail_reaches_every_recipient() {
    let (addr, _) = start(Script {
        mail: "451 4.3.0 try later",
        ..Script::default()
    })
    .await;
    let mut conn = Connection::connect(addr, "localhost", &config())
        .await
        .unwrap();
    let results = conn
        .send(&envelope(&["b@x", "c@x"]), MESSAGE)
        .await
        .unwrap();
    assert_eq!(codes(&results), [('T', 451), ('T', 451)]);
    assert!(conn.is_usable());
}

#[tokio::test]
async fn all_recipients_refused_then_rset_and_reuse() {
    let (addr, seen) = start(Script {
        rcpt: one_refused,
        ..pipelining()
    })
    .await;
    let mut conn = Connection::connect(addr, "localhost", &config())
        .await
        .unwrap();
    let results = conn.send(&envelope(&["bad@x"]), MESSAGE).await.unwrap();
    assert_eq!(codes(&results), [('P', 550)]);
    assert!(conn.is_usable());
    let results = conn.send(&envelope(&["good@x"]), MESSAGE).await.unwrap();
    assert_eq!(codes(&results), [('D', 250)]);
    let commands = seen.commands();
    assert!(commands.contains(&"RSET".to_string()), "{commands:?}");
    assert_eq!(seen.messages.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn one_connection_carries_three_messages() {
    let (addr, seen) = start(Script::default()).await;
    let mut conn = Connection::connect(addr, "localhost", &config())
        .await
        .unwrap();
    for _ in 0..3 {
        let results = conn.send(&envelope(&["b@x"]), MESSAGE).await.unwrap();
        assert_eq!(codes(&results), [('D', 250)]);
    }
    conn.quit().await;
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    assert_eq!(seen.messages.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn refusing_greeting_is_a_permanent_rejection() {
    let (addr, _) = start(Script {
        greeting: Some("554 5.7.1 go away\r\n"),
        ..Script::default()
    })
    .await;
    let err = Connection::connect(addr, "localhost", &config())
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&err, ClientError::Rejected(r) if r.code == 554),
        "{err}"
    );
    assert!(err.is_permanent());
}

#[tokio::test]
async fn garbage_greeting_is_a_protocol_error() {
    let (addr, _) = start(Script {
        greeting: Some("hello there\0\r\n"),
        ..Script::default()
    })
    .await;
    let err = Connection::connect(addr, "localhost", &config())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::Protocol(_)), "{err}");
    assert!(!err.is_permanent());
}

#[tokio::test]
async fn silent_server_times_out_at_the_greeting() {
    let (addr, _) = start(Script {
        greeting: None,
        ..Script::default()
    })
    .await;
    let mut config = config();
    config.command_timeout = Duration::from_millis(200);
    let err = Connection::connect(addr, "localhost", &config)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::Timeout("greeting")), "{err}");
}

#[tokio::test]
async fn ehlo_refused_falls_back_to_helo() {
    let (addr, seen) = start(Script {
        extensions: vec![],
        ..Script::default()
    })
    .await;
    let mut conn = Connection::connect(addr, "localhost", &config())
        .await
        .unwrap();
    assert_eq!(conn.capabilities(), &Capabilities::default());
    let results = conn.send(&envelope(&["b@x"]), MESSAGE).await.unwrap();
    assert_eq!(codes(&results), [('D', 250)]);
    assert_eq!(
        seen.commands()[..2],
        ["EHLO client.test", "HELO client.test"]
    );
}

#[tokio::test]
async fn drop_in_the_middle_of_data_is_closed() {
    let (addr, _) = start(Script {
        drop_in_data: Some(5),
        ..Script::default()
    })
    .await;
    let mut conn = Connection::connect(addr, "localhost", &config())
        .await
        .unwrap();
    let err = conn.send(&envelope(&["b@x"]), MESSAGE).await.err().unwrap();
    assert!(matches!(err, ClientError::Closed), "{err}");
    assert!(!conn.is_usable());
    let err = conn.send(&envelope(&["b@x"]), MESSAGE).await.err().unwrap();
    assert!(matches!(err, ClientError::Closed));
}

#[tokio::test]
async fn size_over_the_limit_is_refused_locally() {
    let (addr, seen) = start(pipelining()).await;
    let mut conn = Connection::connect(addr, "localhost", &config())
        .await
        .unwrap();
    let err = conn
        .send(&envelope(&["b@x"]), &[b'x'; 1001])
        .await
        .err()
        .unwrap();
    assert!(err.is_permanent());
    assert!(err.to_string().starts_with("5.3.4 "), "{err}");
    assert!(conn.is_usable());
    assert!(!seen.commands().iter().any(|c| c.starts_with("MAIL")));
}

#[tokio::test]
async fn smtputf8_needed_but_not_offered_is_permanent() {
    let (addr, seen) = start(Script::default()).await;
    let mut conn = Connection::connect(addr, "localhost", &config())
        .await
        .unwrap();
    let err = conn
        .send(&envelope(&["jöran@x"]), MESSAGE)
        .await
        .err()
        .unwrap();
    assert!(err.is_permanent());
    assert!(err.to_string().starts_with("5.6.7 "), "{err}");
    assert!(!seen.commands().iter().any(|c| c.starts_with("MAIL")));
    let (addr, seen) = start(Script {
        extensions: vec!["SMTPUTF8", "8BITMIME"],
        ..Script::default()
    })
    .await;
    let mut conn = Connection::connect(addr, "localhost", &config())
        .await
        .unwrap();
    let results = conn.send(&envelope(&["jöran@x"]), MESSAGE).await.unwrap();
    assert_eq!(codes(&results), [('D', 250)]);
    assert!(seen
        .commands()
        .contains(&"MAIL FROM:<a@example.org> SMTPUTF8".to_string()));
}

#[tokio::test]
async fn starttls_upgrades_and_asks_ehlo_again() {
    let (addr, seen) = start(Script {
        extensions: vec!["STARTTLS", "PIPELINING", "AUTH PLAIN"],
        tls: Some(acceptor()),
        ..Script::default()
    })
    .await;
    let mut config = config();
    config.require_tls = true;
    config.auth = Some(("user".into(), "secret".into()));
    let mut conn = Connection::connect(addr, "localhost", &config)
        .await
        .unwrap();
    assert!(conn.is_tls());
    assert!(!conn.capabilities().starttls && conn.capabilities().pipelining);
    let results = conn.send(&envelope(&["b@x"]), MESSAGE).await.unwrap();
    assert_eq!(codes(&results), [('D', 250)]);
    conn.quit().await;
    assert_eq!(seen.tls_sessions.load(Ordering::SeqCst), 1);
    assert_eq!(
        seen.commands()[..4],
        [
            "EHLO client.test",
            "STARTTLS",
            "EHLO client.test",
            "AUTH PLAIN AHVzZXIAc2VjcmV0"
        ]
    );
}

#[tokio::test]
async fn failed_handshake_is_a_tls_error_and_plain_retry_works() {
    let (addr, seen) = start(Script {
        extensions: vec!["STARTTLS"],
        break_tls: true,
        ..Script::default()
    })
    .await;
    let err = Connection::connect(addr, "localhost", &config())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::Tls(_)), "{err}");
    assert!(!err.is_permanent());
    let mut plain = config();
    plain.starttls = false;
    let mut conn = Connection::connect(addr, "localhost", &plain)
        .await
        .unwrap();
    assert!(!conn.is_tls());
    let results = conn.send(&envelope(&["b@x"]), MESSAGE).await.unwrap();
    assert_eq!(codes(&results), [('D', 250)]);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn tls_required_but_missing_or_refused_fails() {
    let mut config = config();
    config.require_tls = true;
    let (addr, _) = start(Script::default()).await;
    let err = Connection::connect(addr, "localhost", &config)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::Tls(_)), "{err}");
    // Offered but refused with 454: without require_tls the session continues in plain.
    let (addr, _) = start(Script {
        extensions: vec!["STARTTLS"],
        ..Script::default()
    })
    .await;
    let err = Connection::connect(addr, "localhost", &config)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("454"), "{err}");
    config.require_tls = false;
    let conn = Connection::connect(addr, "localhost", &config)
        .await
        .unwrap();
    assert!(!conn.is_tls());
}

#[tokio::test]
async fn credentials_are_never_sent_in_plain_text() {
    let (addr, seen) = start(Script {
        extensions: vec!["AUTH PLAIN"],
        ..Script::default()
    })
    .await;
    let mut config = config();
    config.auth = Some(("user".into(), "secret".into()));
    let err = Connection::connect(addr, "localhost", &config)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::Auth(_)), "{err}");
    assert!(!seen.commands().iter().any(|c| c.starts_with("AUTH")));
}

#[tokio::test]
async fn verified_tls_refuses_a_self_signed_certificate() {
    let (addr, _) = start(Script {
        extensions: vec!["STARTTLS"],
        tls: Some(acceptor()),
        ..Script::default()
    })
    .await;
    let mut config = config();
    config.verify_certificates = true;
    let err = Connection::connect(addr, "localhost", &config)
        .await
        .err()
        .unwrap();
    assert!(matches!(err, ClientError::Tls(_)), "{err}");
}

#[tokio::test]
async fn silent_after_the_final_dot_times_out_there() {
    let (addr, _) = start(Script {
        stall_end: true,
        ..Script::default()
    })
    .await;
    let mut config = config();
    config.data_timeout = Duration::from_millis(200);
    let mut conn = Connection::connect(addr, "localhost", &config)
        .await
        .unwrap();
    let err = conn.send(&envelope(&["b@x"]), MESSAGE).await.err().unwrap();
    assert!(matches!(err, ClientError::Timeout("end of data")), "{err}");
    assert!(!conn.is_usable());
}

#[tokio::test]
async fn garbage_reply_mid_transaction_makes_the_connection_unusable() {
    let (addr, _) = start(Script {
        rcpt: |_| "OK fine",
        ..Script::default()
    })
    .await;
    let mut conn = Connection::connect(addr, "localhost", &config())
        .await
        .unwrap();
    let err = conn.send(&envelope(&["b@x"]), MESSAGE).await.err().unwrap();
    assert!(
        matches!(&err, ClientError::Protocol(text) if text.starts_with("RCPT")),
        "{err}"
    );
    assert!(!conn.is_usable());
}
