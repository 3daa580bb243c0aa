//! SMTP with lettre, a third-party client: MX delivery, submission with STARTTLS + AUTH,
//! submissions over implicit TLS, and the policy refusals as lettre reports them.

mod common;

use common::{Server, PASSWORD};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};

fn email(from: &str, to: &[&str], subject: &str) -> Message {
    let mut builder = Message::builder()
        .from(from.parse::<Mailbox>().unwrap())
        .subject(subject);
    for rcpt in to {
        builder = builder.to(rcpt.parse::<Mailbox>().unwrap());
    }
    builder.body(format!("Body of {subject}\n")).unwrap()
}

fn tls_params() -> TlsParameters {
    // The test server's certificate is self-signed.
    TlsParameters::builder("localhost".into())
        .dangerous_accept_invalid_certs(true)
        .build_rustls()
        .unwrap()
}

fn transport(server: &Server, listener: &str, tls: Tls, auth: Option<&str>) -> SmtpTransport {
    let mut builder = SmtpTransport::builder_dangerous("127.0.0.1")
        .port(server.port(listener))
        .hello_name(lettre::transport::smtp::extension::ClientId::Domain(
            "client.test".into(),
        ))
        .tls(tls);
    if let Some(user) = auth {
        builder = builder.credentials(Credentials::new(user.into(), PASSWORD.into()));
    }
    builder.build()
}

#[test]
fn lettre_over_every_listener() {
    let server = Server::start();

    let mx = transport(&server, "smtp", Tls::None, None);
    let sent = mx.send(&email("sender@client.test", &["alice@example.test"], "mx"));
    assert!(sent.is_ok(), "{sent:?}");
    assert!(sent.unwrap().message().any(|l| l.contains("queued as")));

    // MX never relays, and unknown local users are refused at RCPT.
    let relay = mx.send(&email("a@client.test", &["x@elsewhere.test"], "relay"));
    let err = relay.unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert_eq!(err.status().map(|c| c.to_string()), Some("554".into()));
    let unknown = mx.send(&email("a@client.test", &["ghost@example.test"], "ghost"));
    assert_eq!(
        unknown.unwrap_err().status().map(|c| c.to_string()),
        Some("550".into())
    );

    let submission = transport(
        &server,
        "submission",
        Tls::Required(tls_params()),
        Some("alice@example.test"),
    );
    let to = ["bob@example.test", "friend@remote.test"];
    let sent = submission.send(&email("alice@example.test", &to, "submission"));
    assert!(sent.is_ok(), "{sent:?}");

    let submissions = transport(
        &server,
        "submissions",
        Tls::Wrapper(tls_params()),
        Some("bob@example.test"),
    );
    let sent = submissions.send(&email("bob@example.test", &["alice@example.test"], "subs"));
    assert!(sent.is_ok(), "{sent:?}");

    assert_eq!(server.wait_for_messages("alice@example.test", 2), 2);
    assert_eq!(server.wait_for_messages("bob@example.test", 1), 1);
}

#[test]
fn lettre_sees_auth_policy() {
    let server = Server::start();
    // Submission without credentials: 530 at MAIL.
    let anonymous = transport(&server, "submission", Tls::Required(tls_params()), None);
    let err = anonymous
        .send(&email("alice@example.test", &["bob@example.test"], "anon"))
        .unwrap_err();
    assert_eq!(err.status().map(|c| c.to_string()), Some("530".into()));

    // A wrong password: 535.
    let wrong = SmtpTransport::builder_dangerous("127.0.0.1")
        .port(server.port("submissions"))
        .tls(Tls::Wrapper(tls_params()))
        .credentials(Credentials::new("alice@example.test".into(), "nope".into()))
        .build();
    let err = wrong
        .send(&email("alice@example.test", &["bob@example.test"], "wrong"))
        .unwrap_err();
    assert!(err.is_permanent(), "{err:?}");
    assert_eq!(server.pop3_count("bob@example.test"), 0);
}
