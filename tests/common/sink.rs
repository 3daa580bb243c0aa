//! A scripted SMTP server on loopback for outbound tests. What it answers depends on the
//! recipient's local part: `reject…` gets 550, `defer…` gets 451, `flaky…` gets 451 the
//! first time and 250 after, `stall…` gets no answer at all, anything else 250. It counts connections and keeps every
//! accepted message.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A message the sink accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<Received>>,
    connections: AtomicUsize,
    seen_flaky: Mutex<Vec<String>>,
    stop: AtomicBool,
    /// Offer STARTTLS, then drop the connection when a client tries it.
    broken_starttls: AtomicBool,
    starttls_attempts: AtomicUsize,
}

pub struct Sink {
    pub addr: SocketAddr,
    state: Arc<State>,
}

impl Sink {
    /// Listens on `ip` port `port` (0 = any).
    pub fn start(ip: &str, port: u16) -> Sink {
        let listener = TcpListener::bind((ip, port)).expect("bind sink");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !shared.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        shared.connections.fetch_add(1, Ordering::Relaxed);
                        let state = Arc::clone(&shared);
                        std::thread::spawn(move || {
                            let _ = serve(stream, &state);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Sink { addr, state }
    }

    /// Makes the sink offer STARTTLS and then fail every handshake.
    pub fn break_starttls(&self) {
        self.state.broken_starttls.store(true, Ordering::Relaxed);
    }

    /// STARTTLS commands seen.
    pub fn starttls_attempts(&self) -> usize {
        self.state.starttls_attempts.load(Ordering::Relaxed)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::Relaxed)
    }

    /// Waits until `n` messages have arrived (or 30 s pass); returns them.
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, state: &State) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_nonblocking(false)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    out.write_all(b"220 sink.test ESMTP\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let broken = state.broken_starttls.load(Ordering::Relaxed);
        let reply: String = if upper.starts_with("EHLO") && broken {
            "250-sink.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n".into()
        } else if upper.starts_with("STARTTLS") && broken {
            state.starttls_attempts.fetch_add(1, Ordering::Relaxed);
            out.write_all(b"220 2.0.0 go ahead\r\n")?;
            // Not a TLS server after all: read the ClientHello and hang up.
            let mut hello = [0u8; 512];
            let _ = std::io::Read::read(&mut reader, &mut hello);
            return Ok(());
        } else if upper.starts_with("EHLO") {
            "250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10000000\r\n".into()
        } else if upper.starts_with("HELO") {
            "250 sink.test\r\n".into()
        } else if upper.starts_with("MAIL FROM:") {
            from = path(&line);
            to.clear();
            "250 2.1.0 ok\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = path(&line);
            let local = rcpt
                .split('@')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if local.starts_with("stall") {
                // A server that stops answering: the client's timeout must end the wait.
                std::thread::sleep(Duration::from_secs(30));
                return Ok(());
            }
            if local.starts_with("reject") {
                "550 5.1.1 no such user here\r\n".into()
            } else if local.starts_with("defer") {
                "451 4.2.0 try again later\r\n".into()
            } else if local.starts_with("flaky") && {
                let mut seen = state.seen_flaky.lock().unwrap();
                let first = !seen.contains(&rcpt);
                if first {
                    seen.push(rcpt.clone());
                }
                first
            } {
                "451 4.3.0 first attempt deferred\r\n".into()
            } else {
                to.push(rcpt);
                "250 2.1.5 ok\r\n".into()
            }
        } else if upper.starts_with("DATA") {
            if to.is_empty() {
                "554 5.5.1 no valid recipients\r\n".into()
            } else {
                out.write_all(b"354 go ahead\r\n")?;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    if reader.read_line(&mut l)? == 0 {
                        return Ok(());
                    }
                    if l == ".\r\n" {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                state.received.lock().unwrap().push(Received {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data,
                });
                "250 2.0.0 queued\r\n".into()
            }
        } else if upper.starts_with("RSET") {
            to.clear();
            "250 2.0.0 ok\r\n".into()
        } else if upper.starts_with("QUIT") {
            out.write_all(b"221 2.0.0 bye\r\n")?;
            return Ok(());
        } else if upper.starts_with("NOOP") {
            "250 2.0.0 ok\r\n".into()
        } else {
            "502 5.5.2 not implemented\r\n".into()
        };
        out.write_all(reply.as_bytes())?;
    }
}

fn path(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line[start..].find('>').map_or(line.len(), |i| start + i);
    line[start..end].to_string()
}
