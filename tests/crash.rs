//! Crash safety: messages are sent from several sessions while the server is killed with
//! SIGKILL mid-stream; after a restart every message that was answered `250` is in the
//! mailbox exactly once, and nothing appears twice.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Client, Server, PASSWORD};

fn sender(
    server_addr: std::net::SocketAddr,
    worker: usize,
    acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
) {
    let mut n = 0;
    'connections: while !stop.load(Ordering::Relaxed) {
        if std::net::TcpStream::connect(server_addr).is_err() {
            return;
        }
        let mut c = Client::connect(server_addr);
        if !c.reply().starts_with("220") {
            return;
        }
        c.send("EHLO client.test\r\n");
        if !c.reply().starts_with("250") {
            return;
        }
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let id = format!("w{worker}-m{n}");
            c.send("MAIL FROM:<s@client.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n");
            if !(c.reply().starts_with("250")
                && c.reply().starts_with("250")
                && c.reply().starts_with("354"))
            {
                return;
            }
            c.send(&format!(
                "Subject: {id}\r\nX-Id: {id}\r\n\r\ncrash test body {id}\r\n.\r\n"
            ));
            let reply = c.reply();
            if reply.starts_with("250") {
                acked.lock().unwrap().push(id);
            } else if reply.is_empty() {
                // Killed before the answer: the message may or may not be kept.
                return;
            } else {
                continue 'connections;
            }
        }
    }
}

/// Every X-Id header in alice's maildrop, with its count.
fn mailbox_ids(server: &Server) -> HashMap<String, usize> {
    let mut c = server.pop3_login("alice@example.test", PASSWORD);
    c.send("STAT\r\n");
    let stat = c.line();
    let count: usize = stat.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut ids = HashMap::new();
    for i in 1..=count {
        c.send(&format!("TOP {i} 0\r\n"));
        assert!(c.line().starts_with("+OK"));
        loop {
            let line = c.line();
            if line == "." {
                break;
            }
            if let Some(id) = line.strip_prefix("X-Id: ") {
                *ids.entry(id.to_string()).or_insert(0) += 1;
            }
        }
    }
    c.send("QUIT\r\n");
    let _ = c.line();
    ids
}

#[test]
fn kill_9_mid_stream_loses_and_duplicates_nothing() {
    let mut server = Server::start_with(&["alice@example.test"], "", "");
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let addr = server.addr("smtp");
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (acked, stop) = (Arc::clone(&acked), Arc::clone(&stop));
            std::thread::spawn(move || sender(addr, w, acked, stop))
        })
        .collect();
    // Let a few hundred messages through, then kill while the senders are still going.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 1000 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill_hard();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    eprintln!("{} messages acknowledged before SIGKILL", acked.len());
    assert!(
        acked.len() >= 300,
        "only {} messages acknowledged",
        acked.len()
    );

    server.spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let ids = loop {
        let ids = mailbox_ids(&server);
        if acked.iter().all(|id| ids.contains_key(id)) || std::time::Instant::now() > deadline {
            break ids;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let missing: Vec<_> = acked.iter().filter(|id| !ids.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged messages lost: {missing:?}",
        missing.len()
    );
    eprintln!("{} messages in the mailbox after restart", ids.len());
    let doubled: Vec<_> = ids.iter().filter(|(_, &n)| n > 1).collect();
    assert!(doubled.is_empty(), "delivered twice: {doubled:?}");
    // Restart again: the queue is empty now, nothing is redelivered.
    assert!(server.stop(), "graceful stop failed:\n{}", server.log());
    server.spawn();
    std::thread::sleep(Duration::from_millis(500));
    let after = mailbox_ids(&server);
    assert_eq!(after, ids, "a restart changed the mailbox");
}
