//! Contract tests of the queue state: DSN parameters, deferrals and attempts, delay
//! notices, deletion and "retry now". Instantiated per backend by `contract_tests!` in
//! `contract`.

use bytes::Bytes;

use super::contract::{deliver, local, message, remote, to_inbox};
use super::*;

pub(super) fn update(queue_id: QueueId, rcpt: u32, outcome: RecipientOutcome) -> RecipientUpdate {
    RecipientUpdate {
        queue_id,
        rcpt,
        outcome,
    }
}

pub(super) fn delivered() -> RecipientOutcome {
    RecipientOutcome::Delivered {
        reply: "250 2.0.0 ok".into(),
    }
}

pub(super) fn failed() -> RecipientOutcome {
    RecipientOutcome::Failed {
        reply: "550 5.1.1 no such user".into(),
    }
}

pub(super) fn deferred(next_attempt: i64) -> RecipientOutcome {
    RecipientOutcome::Deferred {
        reply: "451 4.3.0 try later".into(),
        next_attempt,
    }
}

/// Apply updates expecting the call to succeed; the per-item results.
pub(super) fn apply(store: &dyn Store, items: &[RecipientUpdate]) -> Vec<Result<bool, StoreError>> {
    store.update_recipients(items).unwrap()
}

pub(super) fn status(store: &dyn Store, id: QueueId, rcpt: usize) -> RecipientStatus {
    store.queued_message(id).unwrap().unwrap().recipients[rcpt]
        .1
        .clone()
}

pub(super) fn dsn_parameters_round_trip(store: &dyn Store) {
    let mut rcpt = remote("r@far.example", "far.example");
    rcpt.notify = Some(Notify {
        success: false,
        failure: true,
        delay: true,
    });
    rcpt.orcpt = Some("rfc822;R@far.example".into());
    let msg = NewMessage {
        ret: Some(Ret::Headers),
        envid: Some("QQ314159".into()),
        ..message("dsn", vec![rcpt.clone(), local("a@example.org", "a")])
    };
    let id = store.spool(vec![msg]).unwrap()[0];
    let q = store.queued_message(id).unwrap().unwrap();
    assert_eq!(q.ret, Some(Ret::Headers));
    assert_eq!(q.envid.as_deref(), Some("QQ314159"));
    assert_eq!(q.recipients[0].0, rcpt);
    assert_eq!(q.recipients[1].0.notify, None);
    assert_eq!(q.recipients[1].0.orcpt, None);
    assert_eq!(store.queued().unwrap(), vec![q]);
}

pub(super) fn deferral_keeps_pending_and_counts_attempts(store: &dyn Store) {
    let id = store
        .spool(vec![message(
            "later",
            vec![
                remote("r@far.example", "far.example"),
                remote("s@far.example", "far.example"),
            ],
        )])
        .unwrap()[0];
    let out = apply(
        store,
        &[
            update(id, 0, deferred(1_700_000_300)),
            update(id, 0, deferred(1_700_000_900)),
        ],
    );
    assert!(matches!(out[..], [Ok(true), Ok(true)]));
    let st = status(store, id, 0);
    assert_eq!(st.state, RecipientState::Pending);
    assert_eq!(st.attempts, 2);
    assert_eq!(st.next_attempt, 1_700_000_900);
    assert_eq!(st.last_reply.as_deref(), Some("451 4.3.0 try later"));
    assert!(!st.delay_notified);
    assert_eq!(status(store, id, 1), RecipientStatus::default());
    assert_eq!(store.queued().unwrap().len(), 1);

    // A reply past the limit is cut on a character boundary.
    let long = "é".repeat(MAX_LAST_REPLY + 10);
    let out = apply(
        store,
        &[update(
            id,
            1,
            RecipientOutcome::Failed {
                reply: long.clone(),
            },
        )],
    );
    assert!(matches!(out[..], [Ok(true)]));
    let st = status(store, id, 1);
    assert_eq!(st.state, RecipientState::Failed);
    assert_eq!(st.attempts, 1);
    assert_eq!(st.last_reply.as_deref(), Some(&long[..MAX_LAST_REPLY * 2]));

    // The body stays readable until the last pending recipient is finished.
    let blob = store.queued_message(id).unwrap().unwrap().blob;
    assert_eq!(store.read_blob(blob).unwrap(), Bytes::from("later"));
    let out = apply(store, &[update(id, 0, delivered())]);
    assert!(matches!(out[..], [Ok(true)]));
    assert_eq!(store.queued_message(id).unwrap(), None);
    assert!(matches!(store.read_blob(blob), Err(StoreError::NotFound)));
    assert!(matches!(
        apply(store, &[update(id, 0, deferred(1))])[..],
        [Ok(false)]
    ));
}

pub(super) fn delay_notice_is_recorded_once(store: &dyn Store) {
    let id = store
        .spool(vec![message(
            "slow",
            vec![
                remote("r@far.example", "far.example"),
                remote("s@far.example", "far.example"),
            ],
        )])
        .unwrap()[0];
    let notified = |rcpt| update(id, rcpt, RecipientOutcome::DelayNotified);
    let out = apply(store, &[notified(0), notified(0)]);
    assert!(matches!(out[..], [Ok(true), Ok(false)]));
    let st = status(store, id, 0);
    assert!(st.delay_notified);
    assert!(st.is_pending());
    assert_eq!(st.attempts, 0, "a notice is not a delivery attempt");
    // A finished recipient gets no notice; the message stays queued for the other one.
    apply(store, &[update(id, 1, failed())]);
    assert!(matches!(apply(store, &[notified(1)])[..], [Ok(false)]));
    assert!(!status(store, id, 1).delay_notified);
    assert!(store.queued_message(id).unwrap().is_some());
}

pub(super) fn delete_queued_drops_the_record(store: &dyn Store) {
    let ids = store
        .spool(vec![
            message("remote only", vec![remote("r@far.example", "far.example")]),
            message(
                "mixed",
                vec![
                    local("a@example.org", "a"),
                    remote("r@far.example", "far.example"),
                ],
            ),
        ])
        .unwrap();
    let blob0 = store.queued_message(ids[0]).unwrap().unwrap().blob;
    assert!(store.delete_queued(ids[0]).unwrap());
    assert!(!store.delete_queued(ids[0]).unwrap());
    assert_eq!(store.queued_message(ids[0]).unwrap(), None);
    assert!(matches!(store.read_blob(blob0), Err(StoreError::NotFound)));
    assert!(matches!(
        apply(store, &[update(ids[0], 0, delivered())])[..],
        [Ok(false)]
    ));

    // The mailbox copy keeps the body after the queue record goes.
    deliver(store, to_inbox(ids[1], 0, "a"));
    assert!(store.delete_queued(ids[1]).unwrap());
    let queued: Vec<QueueId> = store.queued().unwrap().iter().map(|m| m.id).collect();
    assert!(queued.is_empty());
    let blob1 = store.messages("a", "INBOX").unwrap()[0].blob;
    assert_eq!(store.read_blob(blob1).unwrap(), Bytes::from("mixed"));
    assert!(!store.delete_queued(u64::MAX).unwrap());
}

pub(super) fn retry_now_makes_pending_recipients_due(store: &dyn Store) {
    let id = store
        .spool(vec![message(
            "again",
            vec![
                remote("r@far.example", "far.example"),
                remote("s@far.example", "far.example"),
                remote("t@far.example", "far.example"),
            ],
        )])
        .unwrap()[0];
    apply(
        store,
        &[
            update(id, 0, deferred(1_700_009_999)),
            update(id, 1, deferred(1_700_009_999)),
            update(id, 2, delivered()),
        ],
    );
    assert!(store.retry_now(id).unwrap());
    let q = store.queued_message(id).unwrap().unwrap();
    assert_eq!(q.recipients[0].1.next_attempt, 0);
    assert_eq!(q.recipients[1].1.next_attempt, 0);
    assert_eq!(q.recipients[0].1.attempts, 1, "attempts are kept");
    assert_eq!(q.recipients[2].1.state, RecipientState::Delivered);
    assert!(!store.retry_now(u64::MAX).unwrap());
    apply(store, &[update(id, 0, failed()), update(id, 1, failed())]);
    assert!(!store.retry_now(id).unwrap());
}

/// Outcomes for several messages come in one list: two recipients of one message in the
/// same list both count, and a bad item fails alone while the rest are applied.
pub(super) fn outcome_batch_applies_each_item(store: &dyn Store) {
    let ids = store
        .spool(vec![
            message(
                "two",
                vec![
                    remote("a@far.example", "far.example"),
                    remote("b@far.example", "far.example"),
                ],
            ),
            message("one", vec![remote("c@near.example", "near.example")]),
        ])
        .unwrap();
    let blob = store.queued_message(ids[0]).unwrap().unwrap().blob;
    let out = apply(
        store,
        &[
            update(ids[0], 0, delivered()),
            update(ids[1], 9, delivered()),
            update(ids[0], 1, failed()),
            update(ids[1], 0, deferred(1_000)),
        ],
    );
    assert!(
        matches!(
            out[..],
            [Ok(true), Err(StoreError::NotFound), Ok(true), Ok(true)]
        ),
        "{out:?}"
    );
    assert_eq!(store.queued_message(ids[0]).unwrap(), None);
    assert!(matches!(store.read_blob(blob), Err(StoreError::NotFound)));
    let left = status(store, ids[1], 0);
    assert!(left.is_pending());
    assert_eq!((left.attempts, left.next_attempt), (1, 1_000));
}
