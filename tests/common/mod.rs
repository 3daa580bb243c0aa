//! A real `hermod` process for integration tests: its own data directory, every listener
//! on 127.0.0.1 port 0 (the bound ports are read back from `listen.json`), accounts made
//! with the CLI, and a hard or graceful stop.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod sink;
pub mod sink_process;

pub const PASSWORD: &str = "secret-pw";

/// A running server and its data directory.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    child: Option<Child>,
    pub ports: HashMap<String, SocketAddr>,
}

/// The configuration used by tests; `extra` is appended (top-level keys must come first,
/// so it may only hold tables). Unless `extra` sets `[delivery]`, MX lookups go to a
/// loopback port where nothing answers: tests never query a real DNS server.
pub fn config_text(data_dir: &Path, top: &str, extra: &str) -> String {
    let delivery = if extra.contains("[delivery]") {
        ""
    } else {
        "[delivery]\ndns_servers = [\"127.0.0.1:9\"]\ndns_timeout = \"1s\"\n"
    };
    format!(
        r#"hostname = "mail.example.test"
data_dir = "{}"
domains = ["example.test", "example.org"]
{top}
[listen]
smtp = "127.0.0.1:0"
submission = "127.0.0.1:0"
submissions = "127.0.0.1:0"
pop3 = "127.0.0.1:0"
pop3s = "127.0.0.1:0"
imap = "127.0.0.1:0"
imaps = "127.0.0.1:0"
http = "127.0.0.1:0"
{delivery}{extra}
"#,
        data_dir.display()
    )
}

pub fn hermod() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hermod"))
}

impl Server {
    /// Creates the data directory and config, adds `users` (password [`PASSWORD`]), starts.
    pub fn start_with(users: &[&str], top: &str, extra: &str) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("hermod.toml");
        std::fs::write(&config, config_text(&dir.path().join("data"), top, extra)).unwrap();
        let mut server = Server {
            dir,
            config,
            child: None,
            ports: HashMap::new(),
        };
        for user in users {
            server.cli(&["user", "add", user, "--password", PASSWORD]);
        }
        server.spawn();
        server
    }

    /// A server with the usual test accounts.
    pub fn start() -> Server {
        Server::start_with(
            &["alice@example.test", "bob@example.test"],
            "",
            "[timeouts]\nsmtp_idle = \"3s\"\npop3_idle = \"3s\"\nshutdown_grace = \"2s\"\n",
        )
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts the process and waits until it has written its bound addresses.
    pub fn spawn(&mut self) {
        let listen = self.data_dir().join("listen.json");
        let _ = std::fs::remove_file(&listen);
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let child = hermod()
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start hermod");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(text) = std::fs::read_to_string(&listen) {
                let map: HashMap<String, String> = serde_json::from_str(&text).unwrap();
                self.ports = map
                    .into_iter()
                    .map(|(k, v)| (k, v.parse().unwrap()))
                    .collect();
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("hermod exited with {status} at start:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "hermod did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process id (for reading its `/proc` status).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn addr(&self, listener: &str) -> SocketAddr {
        self.ports[listener]
    }

    pub fn port(&self, listener: &str) -> u16 {
        self.addr(listener).port()
    }

    /// Runs a `hermod` subcommand with this server's config; returns stdout, panics on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self.cli_output(args);
        assert!(
            out.status.success(),
            "hermod {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn cli_output(&self, args: &[&str]) -> std::process::Output {
        hermod()
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .expect("run hermod")
    }

    /// SIGKILL: no shutdown sequence at all.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns whether it exited successfully.
    pub fn stop(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs a Python script from tests/python with arguments; panics with its output on failure.
    pub fn python(&self, script: &str, args: &[String]) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/python")
            .join(script);
        let out = Command::new("python3")
            .arg(path)
            .args(args)
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{script} failed:\n{}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Number of messages in `user`'s maildrop, through POP3 STAT.
    pub fn pop3_count(&self, user: &str) -> usize {
        self.pop3_count_pw(user, PASSWORD)
    }

    /// Like [`Server::pop3_count`] with another password.
    pub fn pop3_count_pw(&self, user: &str, password: &str) -> usize {
        let mut c = self.pop3_login(user, password);
        c.send("STAT\r\n");
        let line = c.line();
        c.send("QUIT\r\n");
        // Wait for the answer: the maildrop is released when the session ends.
        let _ = c.line();
        line.split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad STAT answer {line:?}"))
    }

    /// A POP3 session logged in as `user`. A maildrop still locked by a session that is
    /// ending ([IN-USE]) is tried again, as a real client would.
    pub fn pop3_login(&self, user: &str, password: &str) -> Client {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut c = Client::connect(self.addr("pop3"));
            c.expect("+OK");
            c.send(&format!("USER {user}\r\n"));
            c.expect("+OK");
            c.send(&format!("PASS {password}\r\n"));
            let reply = c.line();
            if reply.contains("[IN-USE]") && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            assert!(reply.starts_with("+OK"), "POP3 login: {reply}");
            return c;
        }
    }

    /// Waits until `user` has `n` messages (deliveries are asynchronous after 250).
    pub fn wait_for_messages(&self, user: &str, n: usize) -> usize {
        self.wait_for_messages_pw(user, PASSWORD, n)
    }

    /// Like [`Server::wait_for_messages`] with another password.
    pub fn wait_for_messages_pw(&self, user: &str, password: &str, n: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let have = self.pop3_count_pw(user, password);
            if have >= n || Instant::now() > deadline {
                return have;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn metrics(&self) -> String {
        let mut c = TcpStream::connect(self.addr("http")).unwrap();
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        c.read_to_string(&mut text).unwrap();
        text
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// A raw line-oriented client for exact protocol assertions and hostile input.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    pub fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    /// One reply line, without CRLF ("" at EOF).
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap_or(0);
        line.trim_end_matches(['\r', '\n']).to_string()
    }

    /// A whole SMTP reply (continuation lines included); returns the last line.
    pub fn reply(&mut self) -> String {
        loop {
            let line = self.line();
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return line;
            }
        }
    }

    /// Reads an SMTP reply and asserts it starts with `prefix`.
    pub fn expect(&mut self, prefix: &str) -> String {
        let line = self.reply();
        assert!(
            line.starts_with(prefix),
            "expected {prefix:?}, got {line:?}"
        );
        line
    }

    /// True once the server has closed the connection.
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0))
    }
}

/// A short RFC 5322 message.
pub fn message(subject: &str, body: &str) -> String {
    format!(
        "From: sender@client.test\r\nTo: alice@example.test\r\nSubject: {subject}\r\nMessage-ID: <{subject}@client.test>\r\n\r\n{body}\r\n"
    )
}

/// Sends one message over the MX listener with a raw client; returns the final reply.
/// Sends messages with subjects m1..mN to `to` over SMTP and waits until all are in.
pub fn deliver_numbered(server: &Server, to: &str, n: usize) {
    for i in 1..=n {
        let reply = send_raw(
            server,
            "s@client.test",
            &[to],
            &message(&format!("m{i}"), "x"),
        );
        assert!(reply.starts_with("250"), "{reply}");
    }
    assert_eq!(server.wait_for_messages(to, n), n);
}

pub fn send_raw(server: &Server, from: &str, to: &[&str], data: &str) -> String {
    let mut c = Client::connect(server.addr("smtp"));
    c.expect("220");
    c.send("EHLO client.test\r\n");
    c.expect("250");
    c.send(&format!("MAIL FROM:<{from}>\r\n"));
    c.expect("250");
    for rcpt in to {
        c.send(&format!("RCPT TO:<{rcpt}>\r\n"));
        c.expect("250");
    }
    c.send("DATA\r\n");
    c.expect("354");
    c.send(data);
    c.send(".\r\n");
    let reply = c.reply();
    c.send("QUIT\r\n");
    reply
}
