//! A scripted SMTP server on 127.0.0.1:0 that accepts, defers, refuses, stalls or drops.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::crypto::ring;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// How the sink answers.
#[derive(Clone)]
pub struct Script {
    /// Greeting line with CRLF; `None` never greets.
    pub greeting: Option<&'static str>,
    /// EHLO keywords after the greeting line; an empty list refuses EHLO with 502.
    pub extensions: Vec<&'static str>,
    pub mail: &'static str,
    /// The RCPT reply for an address.
    pub rcpt: fn(&str) -> &'static str,
    pub data: &'static str,
    pub end: &'static str,
    /// STARTTLS: `None` refuses; with an acceptor, the handshake runs.
    pub tls: Option<TlsAcceptor>,
    /// Close right after `220` to STARTTLS (a failed handshake).
    pub break_tls: bool,
    /// Close after reading this many octets of message.
    pub drop_in_data: Option<usize>,
    /// Never answer the final dot.
    pub stall_end: bool,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            greeting: Some("220 sink.test ESMTP\r\n"),
            extensions: vec!["8BITMIME", "ENHANCEDSTATUSCODES"],
            mail: "250 2.1.0 ok",
            rcpt: |_| "250 2.1.5 ok",
            data: "354 go ahead",
            end: "250 2.0.0 queued",
            tls: None,
            break_tls: false,
            drop_in_data: None,
            stall_end: false,
        }
    }
}

/// What the sink saw.
#[derive(Default)]
pub struct Seen {
    pub connections: AtomicUsize,
    pub commands: Mutex<Vec<String>>,
    pub messages: Mutex<Vec<Vec<u8>>>,
    /// Commands that arrived before the previous reply while PIPELINING was not offered.
    pub pipelining_violations: AtomicUsize,
    pub tls_sessions: AtomicUsize,
}

impl Seen {
    pub fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }
}

/// Starts the sink; it runs until the test's runtime ends.
pub async fn start(script: Script) -> (std::net::SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let shared = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            shared.connections.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(tcp, script.clone(), shared.clone()));
        }
    });
    (addr, seen)
}

/// A TLS acceptor with a fresh self-signed certificate for `localhost`.
pub fn acceptor() -> TlsAcceptor {
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![generated.cert.der().clone()], key)
        .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

async fn serve(tcp: TcpStream, script: Script, seen: Arc<Seen>) {
    let Some(tcp) = session(tcp, &script, &seen, false).await else {
        return;
    };
    if let Some(acceptor) = &script.tls {
        if let Ok(tls) = acceptor.accept(tcp).await {
            seen.tls_sessions.fetch_add(1, Ordering::SeqCst);
            session(tls, &script, &seen, true).await;
        }
    }
}

struct Lines<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Lines<S> {
    async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(String::from_utf8_lossy(&line).into_owned());
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    async fn say(&mut self, text: &str) -> Option<()> {
        self.stream.write_all(text.as_bytes()).await.ok()?;
        self.stream.flush().await.ok()
    }
}

/// Serves one session; returns the stream when the client asked for STARTTLS.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    script: &Script,
    seen: &Seen,
    tls: bool,
) -> Option<S> {
    let mut io = Lines {
        stream,
        buf: Vec::new(),
    };
    if !tls {
        let Some(greeting) = script.greeting else {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return None;
        };
        io.say(greeting).await?;
    }
    let pipelining = script.extensions.contains(&"PIPELINING");
    // Replies held back until DATA when pipelining: a lock-step client would stall here.
    let mut held = String::new();
    let (mut mail_ok, mut accepted) = (false, 0);
    loop {
        let line = io.line().await?;
        if !pipelining && !io.buf.is_empty() {
            seen.pipelining_violations.fetch_add(1, Ordering::SeqCst);
        }
        let command = line.trim_end().to_string();
        seen.commands.lock().unwrap().push(command.clone());
        let verb = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let reply = |text: &str| format!("{text}\r\n");
        match verb.as_str() {
            "EHLO" if script.extensions.is_empty() => io.say("502 5.5.1 no EHLO\r\n").await?,
            "EHLO" => {
                let mut text = String::from("250-sink.test\r\n");
                let offered: Vec<_> = script
                    .extensions
                    .iter()
                    .filter(|e| !(tls && **e == "STARTTLS"))
                    .collect();
                for (i, e) in offered.iter().enumerate() {
                    let sep = if i + 1 == offered.len() { ' ' } else { '-' };
                    text.push_str(&format!("250{sep}{e}\r\n"));
                }
                if offered.is_empty() {
                    text = String::from("250 sink.test\r\n");
                }
                io.say(&text).await?;
            }
            "HELO" => io.say("250 sink.test\r\n").await?,
            "STARTTLS" if script.tls.is_none() && !script.break_tls => {
                io.say("454 4.7.0 not now\r\n").await?
            }
            "STARTTLS" => {
                io.say("220 2.0.0 go\r\n").await?;
                if script.break_tls {
                    return None;
                }
                return Some(io.stream);
            }
            "AUTH" => io.say("235 2.7.0 ok\r\n").await?,
            "MAIL" => {
                mail_ok = script.mail.starts_with('2');
                accepted = 0;
                held.push_str(&reply(script.mail));
            }
            "RCPT" => {
                let address = command
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map_or("", |(a, _)| a);
                let answer = if mail_ok {
                    (script.rcpt)(address)
                } else {
                    "503 5.5.1 no MAIL"
                };
                if answer.starts_with('2') {
                    accepted += 1;
                }
                held.push_str(&reply(answer));
            }
            "DATA" => {
                let answer = if mail_ok && accepted > 0 {
                    script.data
                } else {
                    "554 5.5.1 no valid recipients"
                };
                held.push_str(&reply(answer));
                io.say(&std::mem::take(&mut held)).await?;
                if answer.starts_with("354") {
                    let mut message = Vec::new();
                    loop {
                        let line = io.line().await?;
                        if line == ".\r\n" {
                            break;
                        }
                        let line = line.strip_prefix('.').unwrap_or(&line);
                        message.extend_from_slice(line.as_bytes());
                        if script.drop_in_data.is_some_and(|n| message.len() >= n) {
                            return None;
                        }
                    }
                    seen.messages.lock().unwrap().push(message);
                    if script.stall_end {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    io.say(&reply(script.end)).await?;
                }
                mail_ok = false;
            }
            "RSET" => {
                mail_ok = false;
                io.say("250 2.0.0 reset\r\n").await?
            }
            "QUIT" => {
                io.say("221 2.0.0 bye\r\n").await?;
                return None;
            }
            _ => io.say("500 5.5.2 what\r\n").await?,
        }
        if !pipelining && !held.is_empty() {
            io.say(&std::mem::take(&mut held)).await?;
        }
    }
}
