//! Group-commit cost of `SledStore::spool`: batches of 1, 8, 64 and 256 messages of 1 KiB,
//! each batch made durable with two fsyncs (segment, then sled's log). Throughput is in
//! messages, so the per-message cost of a bigger batch shows directly.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hermod::storage::{DeliveryTarget, NewMessage, QueuedRecipient, SledStore, Store};

fn batch(size: usize, body: &Bytes) -> Vec<NewMessage> {
    (0..size)
        .map(|i| NewMessage {
            sender: "sender@example.org".into(),
            recipients: vec![QueuedRecipient::new(
                format!("rcpt{i}@far.example"),
                DeliveryTarget::Remote {
                    domain: "far.example".into(),
                },
            )],
            body: body.clone(),
            received_at: 1_700_000_000,
            ..NewMessage::default()
        })
        .collect()
}

fn spool_commit(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SledStore::open(dir.path(), 64 << 20).expect("open store");
    let body = Bytes::from(vec![b'x'; 1024]);
    let mut group = c.benchmark_group("spool_commit");
    for size in [1usize, 8, 64, 256] {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
            b.iter_batched(
                || batch(size, &body),
                |messages| black_box(store.spool(messages).expect("spool")),
                criterion::BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, spool_commit);
criterion_main!(benches);
