//! The pure SMTP server session (`protocol::smtp::Session`), without sockets or storage:
//!
//! - `smtp_transaction`: a pipelined MX transaction (EHLO; MAIL FROM with SIZE and BODY,
//!   N × RCPT TO and DATA in one write, as RFC 2920 allows; a 1 KiB body; QUIT), the
//!   recipient checks and the spool answered at once. Throughput in commands.
//! - `smtp_data`: a 1 KiB, 64 KiB and 1 MiB body through the DATA receiver (dot-unstuffing,
//!   line-length and bare-LF checks), fed in 16 KiB reads as a socket delivers it; the
//!   envelope before DATA is set up outside the measurement. Throughput in bytes.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use hermod::protocol::smtp::{
    Action, ListenerKind, RcptVerdict, Session, SessionConfig, SpoolVerdict, Transaction,
};

/// One socket read, as the connection actor does it.
const READ_SIZE: usize = 16 * 1024;

fn session_config() -> Arc<SessionConfig> {
    Arc::new(SessionConfig {
        hostname: "mx.example.org".into(),
        listener: ListenerKind::Mx,
        max_message_size: 32 << 20,
        max_recipients: 100,
        max_errors: 10,
        max_auth_failures: 3,
    })
}

/// A plausible message of about `size` octets: headers, then 76-column text lines, with
/// a dot-stuffed line every 40 lines so that unstuffing has work to do.
fn message(size: usize) -> Vec<u8> {
    let mut body = concat!(
        "Received: from client.example.net (client.example.net [192.0.2.7])\r\n",
        "From: Alice Example <alice@example.net>\r\n",
        "To: Bob <bob@example.org>\r\n",
        "Subject: Quarterly figures and the plan for next week\r\n",
        "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n",
        "Message-ID: <20231114221320.4711@client.example.net>\r\n",
        "MIME-Version: 1.0\r\n",
        "Content-Type: text/plain; charset=utf-8\r\n",
        "\r\n"
    )
    .as_bytes()
    .to_vec();
    let text = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempo";
    let mut line = 0;
    while body.len() + 80 < size {
        line += 1;
        if line % 40 == 0 {
            body.extend_from_slice(b"..a line that began with a dot before stuffing\r\n");
        } else {
            body.extend_from_slice(text.as_bytes());
            body.extend_from_slice(b"\r\n");
        }
    }
    body
}

/// Runs the session until it wants input; returns the transaction if one was spooled.
fn drive(session: &mut Session) -> Option<Transaction> {
    let mut spooled = None;
    loop {
        match session.next_action() {
            Action::Write(bytes) => {
                black_box(bytes);
            }
            Action::Read | Action::Close => return spooled,
            Action::CheckRecipient(address) => {
                black_box(address);
                session.rcpt_verdict(RcptVerdict::Local { user: "bob".into() });
            }
            Action::Spool(tx) => {
                spooled = Some(tx);
                session.spool_verdict(SpoolVerdict::Queued {
                    id: "0000000000000001".into(),
                });
            }
            Action::Authenticate { .. } | Action::StartTls => {
                unreachable!("the script uses neither AUTH nor STARTTLS")
            }
        }
    }
}

/// The client's writes for one transaction with `rcpts` recipients: EHLO alone, the
/// pipelined envelope ending in DATA, the body (as 16 KiB reads), then QUIT.
fn transaction_writes(rcpts: usize, body: &[u8]) -> Vec<Vec<u8>> {
    let mut envelope = format!(
        "MAIL FROM:<alice@example.net> SIZE={} BODY=8BITMIME\r\n",
        body.len()
    );
    for i in 0..rcpts {
        envelope.push_str(&format!("RCPT TO:<user{i}@example.org>\r\n"));
    }
    envelope.push_str("DATA\r\n");
    let mut writes = vec![
        b"EHLO client.example.net\r\n".to_vec(),
        envelope.into_bytes(),
    ];
    let mut data = body.to_vec();
    data.extend_from_slice(b".\r\n");
    writes.extend(data.chunks(READ_SIZE).map(<[u8]>::to_vec));
    writes.push(b"QUIT\r\n".to_vec());
    writes
}

fn run_transaction(config: &Arc<SessionConfig>, writes: &[Vec<u8>]) -> Option<Transaction> {
    let mut session = Session::new(Arc::clone(config), false, false);
    black_box(session.greeting());
    let mut spooled = None;
    for write in writes {
        session.receive(write);
        spooled = drive(&mut session).or(spooled);
    }
    spooled
}

fn smtp_transaction(c: &mut Criterion) {
    let config = session_config();
    let body = message(1024);
    let mut group = c.benchmark_group("smtp_transaction");
    for rcpts in [1usize, 10] {
        let writes = transaction_writes(rcpts, &body);
        let spooled = run_transaction(&config, &writes).expect("the transaction is spooled");
        assert_eq!(spooled.recipients.len(), rcpts);
        // EHLO, MAIL, RCPT × n, DATA, QUIT.
        group.throughput(Throughput::Elements(rcpts as u64 + 4));
        group.bench_with_input(BenchmarkId::new("rcpts", rcpts), &writes, |b, writes| {
            b.iter(|| black_box(run_transaction(&config, black_box(writes))));
        });
    }
    group.finish();
}

/// A session that has answered 354 to DATA and waits for the body.
fn session_in_data(config: &Arc<SessionConfig>) -> Session {
    let mut session = Session::new(Arc::clone(config), false, false);
    session.receive(
        b"EHLO client.example.net\r\nMAIL FROM:<alice@example.net> BODY=8BITMIME\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n",
    );
    drive(&mut session);
    session
}

fn receive_body(mut session: Session, body: &[u8]) -> Option<Transaction> {
    let mut spooled = None;
    for read in body.chunks(READ_SIZE) {
        session.receive(read);
        spooled = drive(&mut session).or(spooled);
    }
    spooled
}

fn smtp_data(c: &mut Criterion) {
    let config = session_config();
    let mut group = c.benchmark_group("smtp_data");
    for (label, size) in [
        ("1KiB", 1usize << 10),
        ("64KiB", 64 << 10),
        ("1MiB", 1 << 20),
    ] {
        let message = message(size);
        let mut wire = message.clone();
        wire.extend_from_slice(b".\r\n");
        let spooled = receive_body(session_in_data(&config), &wire).expect("the body is spooled");
        let stuffed = message.windows(4).filter(|w| w == b"\r\n..").count();
        assert_eq!(spooled.body.len(), message.len() - stuffed);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(label), &wire, |b, wire| {
            b.iter_batched(
                || session_in_data(&config),
                |session| black_box(receive_body(session, black_box(wire))),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::short_config();
    targets = smtp_transaction, smtp_data
}
criterion_main!(benches);
