//! `hermod sink`: an SMTP server that accepts, defers, refuses, delays or drops mail by a
//! script, counts what it gets and exports it as metrics. For load-testing sending systems
//! (ours included) without a real destination. It speaks SMTP through the same pure
//! session as the server; only the answers are scripted.

mod script;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use metrics::counter;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

pub use script::{Outcome, Script};

use crate::net::Stream;
use crate::protocol::smtp::{self, Action, ListenerKind, RcptVerdict, SessionConfig, SpoolVerdict};

/// Idle time after which a sink session is dropped.
const IDLE: Duration = Duration::from_secs(300);

/// Runs the sink on `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    script: Arc<Script>,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    let config = Arc::new(SessionConfig {
        hostname: "sink.hermod".into(),
        listener: ListenerKind::Mx,
        max_message_size: 100 << 20,
        max_recipients: 1000,
        max_errors: 100,
        max_auth_failures: 3,
    });
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = crate::shutdown::requested(&mut stop) => return,
        };
        counter!("hermod_sink_connections_total").increment(1);
        let _ = tcp.set_nodelay(true);
        tokio::spawn(session(
            tcp,
            Arc::clone(&config),
            Arc::clone(&script),
            tls.clone(),
        ));
    }
}

async fn session(
    tcp: TcpStream,
    config: Arc<SessionConfig>,
    script: Arc<Script>,
    tls: Option<TlsAcceptor>,
) -> io::Result<()> {
    let mut tcp = Stream::Plain(tcp);
    // Every peer may "relay": the sink takes mail for any domain.
    let mut session = smtp::Session::new(config, false, true);
    let mut out = session.greeting();
    let mut input = vec![0u8; 64 * 1024];
    loop {
        match session.next_action() {
            Action::Write(bytes) => out.extend_from_slice(&bytes),
            Action::Read => {
                tcp.write_all(&out).await?;
                out.clear();
                let n = match tokio::time::timeout(IDLE, tcp.read(&mut input)).await {
                    Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Ok(()),
                    Ok(Ok(n)) => n,
                };
                session.receive(&input[..n]);
            }
            Action::CheckRecipient(address) => {
                let outcome = script.for_recipient(&address.to_string());
                counter!("hermod_sink_recipients_total", "result" => outcome.label()).increment(1);
                if let Outcome::Delay(pause) = outcome {
                    tokio::time::sleep(pause).await;
                }
                match outcome {
                    Outcome::Accept | Outcome::Delay(_) => {
                        session.rcpt_verdict(RcptVerdict::NotLocal)
                    }
                    Outcome::Defer => session.rcpt_verdict(RcptVerdict::TempFail),
                    Outcome::Reject => session.rcpt_verdict(RcptVerdict::NoSuchUser),
                    // Replies already due go out; this recipient gets none.
                    Outcome::Disconnect => break,
                }
            }
            Action::Spool(tx) => {
                counter!("hermod_sink_messages_total").increment(1);
                counter!("hermod_sink_bytes_total").increment(tx.body.len() as u64);
                let id = format!("{:016X}", rand::random::<u64>());
                session.spool_verdict(SpoolVerdict::Queued { id });
            }
            Action::Authenticate { .. } => session.auth_verdict(smtp::AuthVerdict::Invalid),
            Action::StartTls => {
                tcp.write_all(&out).await?;
                out.clear();
                let Some(acceptor) = &tls else { break };
                tcp = tcp.into_tls(acceptor, Duration::from_secs(30)).await?;
                session.tls_established();
            }
            Action::Close => break,
        }
    }
    let _ = tcp.write_all(&out).await;
    let _ = tcp.shutdown().await;
    Ok(())
}

/// Binds the sink's listener.
pub async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
