//! The queue manager's due-time index ([`DueIndex`]) holding 10^5 pending jobs (real
//! [`Job`]s, one recipient each, 1,000 destination domains, due times spread over a day):
//!
//! - `queue_schedule_bulk/insert_100k`: scheduling 10^5 jobs into an empty index (a restart reloading its queue).
//! - `pop_reschedule`: taking the earliest due job and scheduling it again a day later,
//!   the steady state of a deferring queue (the size stays at 10^5).
//! - `retry_now`: moving every job of one message to "due now" (`hermod queue retry`), and
//!   the same with the full scan the queue manager did before the index had a by-message
//!   lookup (`retry_now_scan_baseline`).
//! - `forget_reinsert`: removing one message's jobs (`hermod queue delete`) and putting them
//!   back, so the index stays at 10^5.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use hermod::actors::job::{Job, JobRecipient};
use hermod::queue::{DueIndex, DueKey};
use hermod::storage::{BlobId, QueueId};

const PENDING: u64 = 100_000;
const NOW: i64 = 1_700_000_000;
const DAY: i64 = 86_400;

fn job(id: QueueId) -> Job {
    let domain = format!("d{}.example", id % 1_000);
    Job {
        queue_id: id,
        domain: domain.clone(),
        sender: "alice@example.org".into(),
        blob: BlobId(id),
        inline: None,
        received_at: NOW - 3_600,
        ret: None,
        envid: None,
        recipients: vec![JobRecipient {
            index: 0,
            address: format!("user{id}@{domain}"),
            notify: None,
            orcpt: None,
            attempts: 1,
            delay_notified: false,
        }],
    }
}

/// A due time in the coming day, scattered (7919 is prime) so inserts land all over.
fn due(id: QueueId) -> i64 {
    NOW + (id as i64 * 7_919) % DAY
}

fn entries() -> Vec<(i64, DueKey, Job)> {
    (1..=PENDING)
        .map(|id| {
            let job = job(id);
            (due(id), (id, job.domain.clone()), job)
        })
        .collect()
}

fn full_index() -> DueIndex<Job> {
    let mut index = DueIndex::new();
    for (due, key, job) in entries() {
        index.insert(due, key, job);
    }
    index
}

fn queue_schedule(c: &mut Criterion) {
    // 0.1-0.2 s per iteration: flat sampling keeps it to 10 iterations, plus the
    // (unmeasured) building of the jobs.
    let mut bulk = c.benchmark_group("queue_schedule_bulk");
    bulk.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(6));
    bulk.throughput(Throughput::Elements(PENDING));
    bulk.bench_function("insert_100k", |b| {
        b.iter_batched(
            entries,
            |entries| {
                let mut index = DueIndex::new();
                for (due, key, job) in entries {
                    index.insert(due, key, job);
                }
                black_box(index)
            },
            BatchSize::PerIteration,
        );
    });
    bulk.finish();

    let mut group = c.benchmark_group("queue_schedule");
    group.throughput(Throughput::Elements(1));
    let mut index = full_index();
    let mut later = NOW + DAY;
    group.bench_function("pop_reschedule", |b| {
        b.iter(|| {
            let job = index.pop_due(black_box(i64::MAX)).expect("never empty");
            later += 1;
            let key = (job.queue_id, job.domain.clone());
            index.insert(later, key, job);
        });
    });
    assert_eq!(index.len(), PENDING as usize);

    let mut index = full_index();
    let mut next = 0;
    group.bench_function("retry_now", |b| {
        b.iter(|| {
            next = next % PENDING + 1;
            black_box(index.reschedule_message(black_box(next), NOW))
        });
    });
    assert_eq!(index.len(), PENDING as usize);

    // The queue manager's code before the index: keys scanned for the message's id.
    let mut scheduled: BTreeMap<(i64, QueueId, String), Job> = entries()
        .into_iter()
        .map(|(due, (id, domain), job)| ((due, id, domain), job))
        .collect();
    let mut next = 0;
    group.bench_function("retry_now_scan_baseline", |b| {
        b.iter(|| {
            next = next % PENDING + 1;
            let id = black_box(next);
            let keys: Vec<_> = scheduled.keys().filter(|k| k.1 == id).cloned().collect();
            for key in keys {
                if let Some(job) = scheduled.remove(&key) {
                    scheduled.insert((NOW, key.1, key.2), job);
                }
            }
        });
    });

    let mut index = full_index();
    let mut next = 0;
    group.bench_function("forget_reinsert", |b| {
        b.iter(|| {
            next = next % PENDING + 1;
            for (key, job) in index.remove_message(black_box(next)) {
                index.insert(due(key.0), key, job);
            }
        });
    });
    assert_eq!(index.len(), PENDING as usize);
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::short_config();
    targets = queue_schedule
}
criterion_main!(benches);
