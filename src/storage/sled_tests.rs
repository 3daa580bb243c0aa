//! Tests only the sled backend can fail: restart, spool segment reclaim and cleanup,
//! concurrent group commits.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::spool::{list_segments, segment_path};
use super::*;

fn local_message(body: &str, user: &str) -> NewMessage {
    NewMessage {
        sender: String::new(),
        recipients: vec![QueuedRecipient::new(
            format!("{user}@example.org"),
            DeliveryTarget::Local { user: user.into() },
        )],
        body: Bytes::copy_from_slice(body.as_bytes()),
        received_at: 1_700_000_000,
        ..NewMessage::default()
    }
}

fn to_inbox(queue_id: QueueId, user: &str) -> LocalDelivery {
    LocalDelivery {
        queue_id,
        rcpt: 0,
        user: user.into(),
        mailbox: "INBOX".into(),
        summary: None,
    }
}

fn segment_ids(dir: &Path) -> Vec<u64> {
    list_segments(&dir.join("spool"))
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// Opens the store, waiting for a previous in-process instance to let go: sled's flusher
/// thread holds the file lock for a moment after the `Db` is dropped. (Across processes,
/// as the CLI and the server use it, the lock goes with the process.)
pub(super) fn open(dir: &Path) -> SledStore {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match SledStore::open(dir, 8 << 20) {
            Ok(store) => return store,
            Err(e)
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => panic!("open: {e}"),
        }
    }
}

#[test]
fn reopen_finds_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (ids, info) = {
        let store = open(dir.path());
        let ids = store
            .spool(vec![
                local_message("delivered", "a"),
                local_message("still queued", "a"),
            ])
            .unwrap();
        store.deliver_local(&[to_inbox(ids[0], "a")]).unwrap()[0]
            .as_ref()
            .unwrap();
        store
            .put_user(UserRecord {
                address: "a".into(),
                password_hash: "h".into(),
                created_at: 1,
            })
            .unwrap();
        let info = store.mailbox("a", "INBOX").unwrap().unwrap();
        (ids, info)
    };
    let store = open(dir.path());
    let queued = store.queued().unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].id, ids[1]);
    assert_eq!(
        store.read_blob(queued[0].blob).unwrap(),
        Bytes::from("still queued")
    );
    assert_eq!(store.mailbox("a", "INBOX").unwrap(), Some(info));
    let msgs = store.messages("a", "INBOX").unwrap();
    assert_eq!(
        store.read_blob(msgs[0].blob).unwrap(),
        Bytes::from("delivered")
    );
    assert!(store.user("a").unwrap().is_some());
    // Ids keep growing across restarts.
    let next = store.spool(vec![local_message("after", "a")]).unwrap();
    assert!(next[0] > ids[1]);
    // UIDs too: the restart does not reset UIDNEXT.
    let out = store.deliver_local(&[to_inbox(ids[1], "a")]).unwrap();
    assert_eq!(
        out[0].as_ref().unwrap(),
        &LocalOutcome::Delivered { uid: 2 }
    );
}

#[test]
fn segment_is_reclaimed_after_its_blobs_are_expunged() {
    let dir = tempfile::tempdir().unwrap();
    let first_segment = {
        let store = open(dir.path());
        let ids = store.spool(vec![local_message("old", "a")]).unwrap();
        store.deliver_local(&[to_inbox(ids[0], "a")]).unwrap();
        store.sync().unwrap();
        segment_ids(dir.path())[0]
    };
    let store = open(dir.path());
    let segments = segment_ids(dir.path());
    assert_eq!(segments.len(), 2, "a new segment on every open");
    assert_eq!(segments[0], first_segment);
    store.expunge("a", "INBOX", &[1]).unwrap();
    assert!(!segment_path(&dir.path().join("spool"), first_segment).exists());
    assert_eq!(segment_ids(dir.path()).len(), 1);
}

#[test]
fn rotation_reclaims_segments_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = SledOptions {
        cache_capacity_bytes: 8 << 20,
        segment_max_bytes: 1,
    };
    let store = SledStore::open_with(dir.path(), options).unwrap();
    let a = store.spool(vec![local_message("a", "a")]).unwrap()[0];
    let b = store.spool(vec![local_message("b", "a")]).unwrap()[0];
    // Every batch started a new segment (past the 1-byte limit).
    let segments = segment_ids(dir.path());
    assert_eq!(segments.len(), 2);
    store
        .deliver_local(&[to_inbox(a, "a"), to_inbox(b, "a")])
        .unwrap();
    store.expunge("a", "INBOX", &[1]).unwrap();
    assert_eq!(segment_ids(dir.path()), vec![segments[1]]);
    // The current segment is kept even when empty; the next rotation removes it.
    store.expunge("a", "INBOX", &[2]).unwrap();
    assert_eq!(segment_ids(dir.path()), vec![segments[1]]);
    let c = store.spool(vec![local_message("c", "a")]).unwrap()[0];
    assert_eq!(segment_ids(dir.path()).len(), 1);
    assert_ne!(segment_ids(dir.path())[0], segments[1]);
    let blob = store.queued_message(c).unwrap().unwrap().blob;
    assert_eq!(store.read_blob(blob).unwrap(), Bytes::from("c"));
}

#[test]
fn orphan_segments_are_removed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let store = open(dir.path());
        store.spool(vec![local_message("kept", "a")]).unwrap()[0]
    };
    // A segment whose batch never reached sled, as after a crash between the two fsyncs.
    let spool_dir = dir.path().join("spool");
    let orphan = segment_path(&spool_dir, 0xfff0);
    std::fs::write(&orphan, b"torn batch").unwrap();
    let store = open(dir.path());
    assert!(!orphan.exists());
    // The previous run's (still referenced) segment and the new one remain.
    assert_eq!(segment_ids(dir.path()).len(), 2);
    let blob = store.queued_message(id).unwrap().unwrap().blob;
    assert_eq!(store.read_blob(blob).unwrap(), Bytes::from("kept"));
    // The new segment's id is past the orphan's: ids are never reused.
    assert!(segment_ids(dir.path())[1] > 0xfff0);
}

#[test]
fn concurrent_spools_are_durable_and_distinct() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for b in 0..10 {
                    let batch = (0..4)
                        .map(|i| local_message(&format!("{t}-{b}-{i}"), "a"))
                        .collect();
                    ids.extend(store.spool(batch).unwrap());
                }
                ids
            })
        })
        .collect();
    let mut all: Vec<QueueId> = threads
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 160);
    drop(store);
    let store = open(dir.path());
    let queued = store.queued().unwrap();
    assert_eq!(queued.iter().map(|m| m.id).collect::<Vec<_>>(), all);
    let mut bodies: Vec<Bytes> = queued
        .iter()
        .map(|m| store.read_blob(m.blob).unwrap())
        .collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 160);
}

#[test]
fn disk_usage_counts_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .spool(vec![local_message(&"x".repeat(10_000), "a")])
        .unwrap();
    let usage = store.disk_usage().unwrap();
    let spool = usage.iter().find(|(k, _)| *k == "spool").unwrap().1;
    let metadata = usage.iter().find(|(k, _)| *k == "metadata").unwrap().1;
    assert!(spool >= 10_000);
    assert!(metadata > 0);
}

#[test]
fn store_is_object_safe_and_shareable() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<SledStore>();
    assert_send_sync::<MemoryStore>();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(open(dir.path()));
    assert!(store.queued().unwrap().is_empty());
}

#[test]
fn reopen_keeps_retry_state() {
    let dir = tempfile::tempdir().unwrap();
    let (ids, deleted_blob) = {
        let store = open(dir.path());
        let mut rcpt = QueuedRecipient::new(
            "r@far.example",
            DeliveryTarget::Remote {
                domain: "far.example".into(),
            },
        );
        rcpt.notify = Some(Notify {
            success: true,
            failure: true,
            delay: false,
        });
        rcpt.orcpt = Some("rfc822;r@far.example".into());
        let msg = NewMessage {
            sender: "s@example.org".into(),
            recipients: vec![rcpt.clone(), rcpt],
            body: Bytes::from_static(b"retry me"),
            received_at: 1_700_000_000,
            ret: Some(Ret::Full),
            envid: Some("E1".into()),
            summary: None,
        };
        let ids = store.spool(vec![msg.clone(), msg.clone(), msg]).unwrap();
        let id = ids[0];
        let updates = [
            RecipientUpdate {
                queue_id: id,
                rcpt: 0,
                outcome: RecipientOutcome::Deferred {
                    reply: "421 4.7.0 busy".into(),
                    next_attempt: 1_700_000_600,
                },
            },
            RecipientUpdate {
                queue_id: id,
                rcpt: 0,
                outcome: RecipientOutcome::DelayNotified,
            },
            RecipientUpdate {
                queue_id: id,
                rcpt: 1,
                outcome: RecipientOutcome::Failed {
                    reply: "550 5.1.1 unknown".into(),
                },
            },
        ];
        let out = store.update_recipients(&updates).unwrap();
        assert!(out.iter().all(|r| matches!(r, Ok(true))));
        let later = RecipientUpdate {
            queue_id: ids[1],
            ..updates[0].clone()
        };
        store.update_recipients(&[later]).unwrap();
        assert!(store.retry_now(ids[1]).unwrap());
        let blob = store.queued_message(ids[2]).unwrap().unwrap().blob;
        assert!(store.delete_queued(ids[2]).unwrap());
        // Dropped without sync: all three calls are durable on return.
        (ids, blob)
    };
    let store = open(dir.path());
    let queued = store.queued().unwrap();
    assert_eq!(queued.len(), 2);
    let q = &queued[0];
    assert_eq!(q.id, ids[0]);
    assert_eq!(q.ret, Some(Ret::Full));
    assert_eq!(q.envid.as_deref(), Some("E1"));
    assert_eq!(
        q.recipients[0].0.orcpt.as_deref(),
        Some("rfc822;r@far.example")
    );
    assert_eq!(
        q.recipients[0].1,
        RecipientStatus {
            state: RecipientState::Pending,
            attempts: 1,
            next_attempt: 1_700_000_600,
            last_reply: Some("421 4.7.0 busy".into()),
            delay_notified: true,
        }
    );
    assert_eq!(q.recipients[1].1.state, RecipientState::Failed);
    assert_eq!(
        q.recipients[1].1.last_reply.as_deref(),
        Some("550 5.1.1 unknown")
    );
    assert_eq!(store.read_blob(q.blob).unwrap(), Bytes::from("retry me"));

    let again = &queued[1];
    assert_eq!(again.id, ids[1]);
    assert_eq!(again.recipients[0].1.next_attempt, 0, "retry_now survived");
    assert_eq!(again.recipients[0].1.attempts, 1);
    assert_eq!(store.queued_message(ids[2]).unwrap(), None);
    assert!(matches!(
        store.read_blob(deleted_blob),
        Err(StoreError::NotFound)
    ));
}

/// A lingering commit is covered by another caller's flush: it returns when that flush
/// completes, long before its own linger (an hour here) would end.
#[test]
fn lingering_commit_rides_on_another_flush() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let waiter = Arc::clone(&store);
    let thread = std::thread::spawn(move || {
        let result = waiter.durable_commit_lingering(Vec::new(), Duration::from_secs(3600));
        let _ = done_tx.send(result.is_ok());
    });
    // Until the waiter has taken its ticket, a flush may not cover it: keep flushing
    // until it reports back. A waiter never woken would sit out its hour: give up on it
    // long before.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let answer = loop {
        store.durable_commit(Vec::new()).unwrap();
        match done_rx.recv_timeout(Duration::from_millis(50)) {
            Ok(ok) => break ok,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no flush released the lingering commit"
                );
            }
            Err(e) => panic!("waiter gone: {e}"),
        }
    };
    assert!(answer);
    thread.join().unwrap();
}

/// With nobody else flushing, a lingering commit makes its own flush after the linger.
#[test]
fn lingering_commit_flushes_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .durable_commit_lingering(Vec::new(), Duration::from_millis(1))
        .unwrap();
    let (covered, taken) = store.sync_state();
    assert_eq!(covered, taken, "every ticket is covered after the commit");
}
