//! Mailbox operations of `SledStore` (in a temporary directory) with 1 KiB messages that
//! carry their IMAP summary, as delivery and APPEND store them:
//!
//! - `mailbox_append`: IMAP APPEND of one message (durable on return: two fsyncs).
//! - `mailbox_deliver`: `deliver_local` batches of 1, 32 and 256 spooled messages (the
//!   mailbox actor's batches; not durable on return, no fsync). The messages are spooled
//!   beforehand, outside the measurement.
//! - `mailbox_read`: in a 10,000-message INBOX: `messages` (what SELECT loads),
//!   `messages_by_uid` for 100 scattered UIDs, and `read_blob` of a 1 KiB and a 64 KiB body.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use hermod::protocol::imap::encoded_summary;
use hermod::storage::{
    AppendMessage, BlobId, DeliveryTarget, LocalDelivery, NewMessage, QueuedRecipient, SledStore,
    Store,
};

const NOW: i64 = 1_700_000_000;
/// Spool batches while preparing messages: the spool writer's large group commits.
const SPOOL_BATCH: usize = 256;
const MAILBOX_SIZE: usize = 10_000;

fn body(size: usize) -> Bytes {
    let mut text = concat!(
        "From: Alice Example <alice@example.net>\r\n",
        "To: Bob <bob@example.org>\r\n",
        "Subject: Quarterly figures\r\n",
        "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n",
        "Message-ID: <20231114221320.4711@client.example.net>\r\n",
        "MIME-Version: 1.0\r\n",
        "Content-Type: text/plain; charset=utf-8\r\n",
        "\r\n"
    )
    .as_bytes()
    .to_vec();
    while text.len() < size {
        text.extend_from_slice(b"Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n");
    }
    text.truncate(size - 2);
    text.extend_from_slice(b"\r\n");
    Bytes::from(text)
}

/// Spools `count` messages for local `user` and returns their deliveries (not yet done).
fn spool_for(store: &SledStore, user: &str, count: usize, body: &Bytes) -> Vec<LocalDelivery> {
    let summary = encoded_summary(body);
    let mut items = Vec::with_capacity(count);
    let mut left = count;
    while left > 0 {
        let n = left.min(SPOOL_BATCH);
        left -= n;
        let batch = (0..n)
            .map(|_| NewMessage {
                sender: "alice@example.net".into(),
                recipients: vec![QueuedRecipient::new(
                    user.to_owned(),
                    DeliveryTarget::Local {
                        user: user.to_owned(),
                    },
                )],
                body: body.clone(),
                received_at: NOW,
                summary: summary.clone(),
                ..NewMessage::default()
            })
            .collect();
        let ids = store.spool(batch).expect("spool");
        items.extend(ids.into_iter().map(|queue_id| LocalDelivery {
            queue_id,
            rcpt: 0,
            user: user.to_owned(),
            mailbox: "INBOX".into(),
            summary: None,
        }));
    }
    items
}

fn mailbox_append(c: &mut Criterion, store: &SledStore) {
    let user = "append@example.org";
    store.create_mailbox(user, "INBOX").expect("create");
    let body = body(1024);
    let message = AppendMessage {
        summary: encoded_summary(&body),
        body,
        flags: vec!["\\Seen".into()],
        internal_date: NOW,
    };
    let mut group = c.benchmark_group("mailbox_append");
    group.throughput(Throughput::Elements(1));
    group.bench_function("1KiB", |b| {
        b.iter(|| {
            black_box(
                store
                    .append(user, "INBOX", message.clone())
                    .expect("append"),
            )
        });
    });
    group.finish();
}

fn mailbox_deliver(c: &mut Criterion, store: &SledStore) {
    let body = body(1024);
    let mut group = c.benchmark_group("mailbox_deliver");
    // A 256-message batch takes milliseconds: flat sampling keeps to the time budget.
    group.sampling_mode(SamplingMode::Flat);
    for size in [1usize, 32, 256] {
        let user = format!("deliver{size}@example.org");
        group.throughput(Throughput::Elements(size as u64));
        group.bench_function(BenchmarkId::from_parameter(size), |b| {
            // Spooling is not measured: each measured call delivers fresh messages.
            b.iter_custom(|iters| {
                let items = spool_for(store, &user, size * iters as usize, &body);
                let started = Instant::now();
                for batch in items.chunks(size) {
                    black_box(store.deliver_local(batch).expect("deliver"));
                }
                started.elapsed()
            });
        });
    }
    group.finish();
}

fn mailbox_read(c: &mut Criterion, store: &SledStore) {
    let user = "reader@example.org";
    let small = body(1024);
    let items = spool_for(store, user, MAILBOX_SIZE, &small);
    for batch in items.chunks(SPOOL_BATCH) {
        store.deliver_local(batch).expect("deliver");
    }
    let big = body(64 << 10);
    let big_item = spool_for(store, user, 1, &big);
    store.deliver_local(&big_item).expect("deliver");
    store.sync().expect("sync");
    let messages = store.messages(user, "INBOX").expect("messages");
    assert_eq!(messages.len(), MAILBOX_SIZE + 1);
    let big_blob = messages[MAILBOX_SIZE].blob;
    let blobs: Vec<BlobId> = messages[..MAILBOX_SIZE].iter().map(|m| m.blob).collect();
    // Scattered, as a client's FETCH of its unseen messages would be.
    let uids: Vec<u32> = (0..100)
        .map(|i| messages[(i * 97) % MAILBOX_SIZE].uid)
        .collect();

    let mut group = c.benchmark_group("mailbox_read");
    group.throughput(Throughput::Elements(MAILBOX_SIZE as u64 + 1));
    group.bench_function("messages_10k", |b| {
        b.iter(|| black_box(store.messages(user, "INBOX").expect("messages")));
    });
    group.throughput(Throughput::Elements(uids.len() as u64));
    group.bench_function("messages_by_uid_100", |b| {
        b.iter(|| black_box(store.messages_by_uid(user, "INBOX", &uids).expect("by uid")));
    });
    group.throughput(Throughput::Bytes(small.len() as u64));
    let mut next = 0;
    group.bench_function("read_blob_1KiB", |b| {
        b.iter(|| {
            next = (next + 1) % blobs.len();
            black_box(store.read_blob(blobs[next]).expect("read"))
        });
    });
    group.throughput(Throughput::Bytes(big.len() as u64));
    group.bench_function("read_blob_64KiB", |b| {
        b.iter(|| black_box(store.read_blob(big_blob).expect("read")));
    });
    group.finish();
}

fn mailbox_store(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SledStore::open(dir.path(), 64 << 20).expect("open store");
    mailbox_append(c, &store);
    mailbox_deliver(c, &store);
    mailbox_read(c, &store);
}

criterion_group! {
    name = benches;
    config = support::short_config();
    targets = mailbox_store
}
criterion_main!(benches);
