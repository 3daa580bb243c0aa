//! Large IMAP APPENDs stream through a temporary file in `<data_dir>/tmp/` to the store:
//! a ~20 MiB message sent with imaplib comes back exact; a client that leaves mid-literal,
//! or announces more than it sends and goes quiet, leaves neither a message nor a file;
//! and six clients sending 16 MiB literals at once barely raise the server's memory.

mod common;

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{Client, Server, PASSWORD};

const USER: &str = "alice@example.test";

/// The files in the server's literal directory, with their sizes.
fn literal_files(server: &Server) -> Vec<(PathBuf, u64)> {
    let dir = server.data_dir().join("tmp");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| (e.path(), e.metadata().map_or(0, |m| m.len())))
        .collect()
}

/// Waits (up to two minutes) until `done` holds; the server works asynchronously.
fn wait_until(server: &Server, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "gave up waiting until {what}; server log:\n{}",
            server.log()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Lines up to the tagged one, which is returned.
fn tagged(c: &mut Client, tag: &str) -> String {
    loop {
        let line = c.line();
        assert!(!line.is_empty(), "connection closed before {tag} completed");
        if line.starts_with(&format!("{tag} ")) {
            return line;
        }
    }
}

fn login(server: &Server) -> Client {
    let mut c = Client::connect(server.addr("imap"));
    assert!(c.line().starts_with("* OK"));
    c.send(&format!("l LOGIN {USER} {PASSWORD}\r\n"));
    let done = tagged(&mut c, "l");
    assert!(done.starts_with("l OK"), "{done}");
    c
}

/// Sends `APPEND INBOX {size}` and waits for the continuation request.
fn start_append(c: &mut Client, tag: &str, size: usize) {
    c.send(&format!("{tag} APPEND INBOX {{{size}}}\r\n"));
    let go = c.line();
    assert!(go.starts_with("+ "), "{go}");
}

/// A fresh session's view of INBOX: `* n EXISTS`.
fn inbox_exists(server: &Server) -> String {
    let mut c = login(server);
    c.send("s EXAMINE INBOX\r\n");
    let mut exists = String::new();
    loop {
        let line = c.line();
        if line.ends_with(" EXISTS") {
            exists = line;
        } else if line.starts_with("s ") {
            assert!(line.starts_with("s OK"), "{line}");
            return exists;
        }
    }
}

/// Resident memory of a process, from `/proc/<pid>/status`.
fn vm_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status");
    kib * 1024
}

/// A message of exactly `size` octets.
fn message(subject: &str, size: usize) -> Vec<u8> {
    let mut m = format!("Subject: {subject}\r\n\r\n").into_bytes();
    let line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n";
    m.extend(line.iter().cycle().take(size - m.len()));
    m
}

#[test]
fn imaplib_appends_twenty_mebibytes_exactly() {
    let server = Server::start_with(&[USER], "", "");
    let args = [server.port("imap").to_string(), PASSWORD.to_string()];
    assert_eq!(server.python("imap_large_append.py", &args).trim(), "ok");
    assert!(literal_files(&server).is_empty(), "the literal file stays");
}

#[test]
fn a_client_that_leaves_mid_literal_leaves_nothing() {
    let server = Server::start_with(&[USER], "", "");
    let mut c = login(&server);
    start_append(&mut c, "a", 20_000_000);
    c.send_bytes(&message("left", 5 << 20));
    wait_until(&server, "the literal streams to its file", || {
        literal_files(&server)
            .iter()
            .any(|(_, len)| *len >= 4 << 20)
    });
    drop(c);
    wait_until(&server, "the literal file is removed", || {
        literal_files(&server).is_empty()
    });
    assert_eq!(inbox_exists(&server), "* 0 EXISTS");
    // The server goes on serving large APPENDs.
    let mut c = login(&server);
    let body = message("after", 300_000);
    start_append(&mut c, "b", body.len());
    c.send_bytes(&body);
    c.send("\r\n");
    let done = tagged(&mut c, "b");
    assert!(done.starts_with("b OK [APPENDUID "), "{done}");
    assert_eq!(inbox_exists(&server), "* 1 EXISTS");
    assert!(literal_files(&server).is_empty(), "a literal file stays");
}

#[test]
fn a_lying_count_ends_at_the_idle_timeout() {
    let server = Server::start_with(&[USER], "", "[timeouts]\nimap_idle = \"2s\"\n");
    let mut c = login(&server);
    start_append(&mut c, "a", 1_000_000);
    c.send_bytes(&message("short", 600_000));
    wait_until(&server, "the literal streams to its file", || {
        literal_files(&server)
            .iter()
            .any(|(_, len)| *len >= 500_000)
    });
    // Nothing more comes: the idle timeout ends the session as for any silent client.
    assert_eq!(tagged(&mut c, "*"), "* BYE Autologout; idle for too long");
    wait_until(&server, "the literal file is removed", || {
        literal_files(&server).is_empty()
    });
    assert_eq!(inbox_exists(&server), "* 0 EXISTS");
}

#[test]
fn concurrent_large_literals_stay_out_of_memory() {
    const CLIENTS: usize = 6;
    const SIZE: usize = 16 << 20;
    const PIECE: usize = 256 << 10;
    let server = Server::start_with(&[USER], "", "");
    let pid = server.pid();
    let mut clients: Vec<Client> = (0..CLIENTS).map(|_| login(&server)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        start_append(c, &format!("a{i}"), SIZE);
    }
    let baseline = vm_rss(pid);

    // Each client sends its literal slowly, all but the final CRLF, then waits for `go`:
    // the server holds every literal in full, and none is complete.
    let mut senders = Vec::new();
    let mut threads = Vec::new();
    for (i, mut c) in clients.into_iter().enumerate() {
        let (go, wait) = mpsc::channel::<()>();
        senders.push(go);
        threads.push(thread::spawn(move || {
            let body = message(&format!("client {i}"), SIZE);
            for piece in body.chunks(PIECE) {
                c.send_bytes(piece);
                thread::sleep(Duration::from_millis(2));
            }
            wait.recv().ok()?;
            c.send("\r\n");
            Some(tagged(&mut c, &format!("a{i}")))
        }));
    }
    let mut peak = baseline;
    wait_until(&server, "every literal is on disk", || {
        peak = peak.max(vm_rss(pid));
        let files = literal_files(&server);
        files.len() == CLIENTS && files.iter().all(|(_, len)| *len == SIZE as u64)
    });
    peak = peak.max(vm_rss(pid));
    let growth = peak - baseline;
    // Gathered in memory, the literals would be 96 MiB by now.
    assert!(
        growth < 48 << 20,
        "resident memory grew by {} MiB (from {} MiB) while {CLIENTS} literals of {} MiB \
         were in flight",
        growth >> 20,
        baseline >> 20,
        SIZE >> 20
    );

    for go in senders {
        let _ = go.send(());
    }
    for (i, t) in threads.into_iter().enumerate() {
        let done = t.join().unwrap().expect("go");
        assert!(done.starts_with(&format!("a{i} OK [APPENDUID ")), "{done}");
    }
    assert!(literal_files(&server).is_empty(), "a literal file stays");
    assert_eq!(inbox_exists(&server), format!("* {CLIENTS} EXISTS"));
    let mut c = login(&server);
    c.send("s EXAMINE INBOX\r\nf FETCH 1:* (RFC822.SIZE)\r\n");
    tagged(&mut c, "s");
    let mut sizes = 0;
    loop {
        let line = c.line();
        if line.starts_with("f ") {
            break;
        }
        assert!(line.ends_with(&format!("(RFC822.SIZE {SIZE})")), "{line}");
        sizes += 1;
    }
    assert_eq!(sizes, CLIENTS);
}
