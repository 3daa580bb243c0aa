//! The contract test suite: every [`Store`] backend must pass each function here. The
//! `contract_tests!` macro at the bottom instantiates the suite once per backend; the
//! queue-state tests (deferrals, DSN fields, delete, retry) live in `contract_queue`, the
//! IMAP mailbox operations in `contract_imap`.

use bytes::Bytes;

use super::contract_imap::*;
use super::contract_queue::*;
use super::contract_summaries::*;
use super::*;

pub(super) fn local(address: &str, user: &str) -> QueuedRecipient {
    QueuedRecipient::new(address, DeliveryTarget::Local { user: user.into() })
}

pub(super) fn remote(address: &str, domain: &str) -> QueuedRecipient {
    QueuedRecipient::new(
        address,
        DeliveryTarget::Remote {
            domain: domain.into(),
        },
    )
}

pub(super) fn message(body: &str, recipients: Vec<QueuedRecipient>) -> NewMessage {
    NewMessage {
        sender: "sender@example.org".into(),
        recipients,
        body: Bytes::copy_from_slice(body.as_bytes()),
        received_at: 1_700_000_000,
        ..NewMessage::default()
    }
}

pub(super) fn to_inbox(queue_id: QueueId, rcpt: u32, user: &str) -> LocalDelivery {
    LocalDelivery {
        queue_id,
        rcpt,
        user: user.into(),
        mailbox: "INBOX".into(),
        summary: None,
    }
}

/// Deliver one item, expecting success of the call and of the item.
pub(super) fn deliver(store: &dyn Store, item: LocalDelivery) -> LocalOutcome {
    let mut out = store.deliver_local(&[item]).unwrap();
    assert_eq!(out.len(), 1);
    out.remove(0).unwrap()
}

fn user(address: &str, hash: &str) -> UserRecord {
    UserRecord {
        address: address.into(),
        password_hash: hash.into(),
        created_at: 1_700_000_000,
    }
}

pub(super) fn round_trip(store: &dyn Store) {
    let body = "Subject: hi\r\n\r\nhello\r\n";
    let ids = store
        .spool(vec![message(body, vec![local("bob@example.org", "bob")])])
        .unwrap();
    assert_eq!(ids.len(), 1);
    let queued = store.queued().unwrap();
    assert_eq!(queued.len(), 1);
    let q = &queued[0];
    assert_eq!(q.id, ids[0]);
    assert_eq!(q.sender, "sender@example.org");
    assert_eq!(q.size, body.len() as u64);
    assert_eq!(q.recipients[0].1, RecipientStatus::default());
    assert_eq!(q.ret, None);
    assert_eq!(q.envid, None);
    assert_eq!(store.queued_message(ids[0]).unwrap().as_ref(), Some(q));
    assert_eq!(store.read_blob(q.blob).unwrap(), Bytes::from(body));

    assert_eq!(
        deliver(store, to_inbox(ids[0], 0, "bob")),
        LocalOutcome::Delivered { uid: 1 }
    );
    let msgs = store.messages("bob", "INBOX").unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].uid, 1);
    assert_eq!(msgs[0].size, body.len() as u64);
    assert_eq!(msgs[0].internal_date, 1_700_000_000);
    assert!(msgs[0].flags.is_empty());
    assert_eq!(store.read_blob(msgs[0].blob).unwrap(), Bytes::from(body));
    let info = store.mailbox("bob", "INBOX").unwrap().unwrap();
    assert_eq!(info.exists, 1);
    assert_eq!(info.uidnext, 2);
    assert_ne!(info.uidvalidity, 0);
    assert_eq!(info.highest_modseq, msgs[0].modseq);
    // The last recipient is done: the queue record is gone.
    assert!(store.queued().unwrap().is_empty());
    assert_eq!(store.queued_message(ids[0]).unwrap(), None);
    store.sync().unwrap();
    let usage = store.disk_usage().unwrap();
    assert!(usage.iter().any(|(kind, _)| *kind == "metadata"));
    assert!(usage.iter().any(|(kind, _)| *kind == "spool"));
}

pub(super) fn batch_ids_increase_in_order(store: &dyn Store) {
    assert!(store.spool(Vec::new()).unwrap().is_empty());
    let batch = (0..5)
        .map(|i| {
            message(
                &format!("body {i}"),
                vec![remote("x@far.example", "far.example")],
            )
        })
        .collect();
    let ids = store.spool(batch).unwrap();
    assert_eq!(ids.len(), 5);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let more = store
        .spool(vec![message(
            "later",
            vec![remote("y@far.example", "far.example")],
        )])
        .unwrap();
    assert!(more[0] > ids[4]);
    let queued = store.queued().unwrap();
    let queued_ids: Vec<QueueId> = queued.iter().map(|m| m.id).collect();
    assert_eq!(queued_ids, [ids.clone(), more].concat());
    for (i, m) in queued.iter().take(5).enumerate() {
        assert_eq!(
            store.read_blob(m.blob).unwrap(),
            Bytes::from(format!("body {i}"))
        );
    }
}

/// A delivery batch: copies to one mailbox take consecutive UIDs, a second copy of the
/// same recipient is already done, and a bad item fails alone.
pub(super) fn delivery_batch_applies_each_item(store: &dyn Store) {
    let ids = store
        .spool(vec![
            message("first", vec![local("a@example.org", "a")]),
            message("second", vec![local("a@example.org", "a")]),
            message("third", vec![local("b@example.org", "b")]),
        ])
        .unwrap();
    let out = store
        .deliver_local(&[
            to_inbox(ids[0], 0, "a"),
            to_inbox(ids[1], 0, "a"),
            to_inbox(ids[1], 0, "a"),
            to_inbox(ids[2], 7, "b"),
            to_inbox(ids[2], 0, "b"),
        ])
        .unwrap();
    assert!(
        matches!(
            out[..],
            [
                Ok(LocalOutcome::Delivered { uid: 1 }),
                Ok(LocalOutcome::Delivered { uid: 2 }),
                Ok(LocalOutcome::AlreadyDone),
                Err(_),
                Ok(LocalOutcome::Delivered { uid: 1 }),
            ]
        ),
        "{out:?}"
    );
    let bodies: Vec<Bytes> = store
        .messages("a", "INBOX")
        .unwrap()
        .iter()
        .map(|m| store.read_blob(m.blob).unwrap())
        .collect();
    assert_eq!(bodies, vec![Bytes::from("first"), Bytes::from("second")]);
    assert_eq!(store.mailbox("a", "INBOX").unwrap().unwrap().exists, 2);
    assert_eq!(store.messages("b", "INBOX").unwrap().len(), 1);
    assert!(store.queued().unwrap().is_empty());
}

pub(super) fn multi_recipient_shares_one_blob(store: &dyn Store) {
    let id = store
        .spool(vec![message(
            "shared",
            vec![
                local("a@example.org", "a"),
                local("b@example.org", "b"),
                local("c@example.org", "c"),
            ],
        )])
        .unwrap()[0];
    let blob = store.queued_message(id).unwrap().unwrap().blob;
    let out = store
        .deliver_local(&[
            to_inbox(id, 0, "a"),
            to_inbox(id, 1, "b"),
            to_inbox(id, 2, "c"),
        ])
        .unwrap();
    for result in out {
        assert_eq!(result.unwrap(), LocalOutcome::Delivered { uid: 1 });
    }
    for user in ["a", "b", "c"] {
        let msgs = store.messages(user, "INBOX").unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].blob, blob, "every copy references the one blob");
    }
    assert_eq!(store.queued_message(id).unwrap(), None);
    store.expunge("a", "INBOX", &[1]).unwrap();
    store.expunge("b", "INBOX", &[1]).unwrap();
    assert_eq!(store.read_blob(blob).unwrap(), Bytes::from("shared"));
    store.expunge("c", "INBOX", &[1]).unwrap();
    assert!(matches!(store.read_blob(blob), Err(StoreError::NotFound)));
}

pub(super) fn deliver_twice_is_already_done(store: &dyn Store) {
    let id = store
        .spool(vec![message(
            "once",
            vec![
                local("a@example.org", "a"),
                remote("r@far.example", "far.example"),
            ],
        )])
        .unwrap()[0];
    assert_eq!(
        deliver(store, to_inbox(id, 0, "a")),
        LocalOutcome::Delivered { uid: 1 }
    );
    assert_eq!(
        deliver(store, to_inbox(id, 0, "a")),
        LocalOutcome::AlreadyDone
    );
    // Both in one call: the second sees the first's effect.
    let out = store
        .deliver_local(&[to_inbox(id, 0, "a"), to_inbox(id, 0, "a")])
        .unwrap();
    assert!(out
        .iter()
        .all(|r| matches!(r, Ok(LocalOutcome::AlreadyDone))));
    assert_eq!(store.messages("a", "INBOX").unwrap().len(), 1);
    assert_eq!(store.mailbox("a", "INBOX").unwrap().unwrap().exists, 1);
    let q = store.queued_message(id).unwrap().unwrap();
    assert_eq!(q.recipients[0].1.state, RecipientState::Delivered);
    assert_eq!(q.recipients[0].1.attempts, 1);
    assert_eq!(q.recipients[1].1.state, RecipientState::Pending);
}

pub(super) fn remote_recipient_stays_queued_until_updated(store: &dyn Store) {
    let id = store
        .spool(vec![message(
            "mixed",
            vec![
                remote("r@far.example", "far.example"),
                local("a@example.org", "a"),
            ],
        )])
        .unwrap()[0];
    deliver(store, to_inbox(id, 1, "a"));
    let queued = store.queued().unwrap();
    assert_eq!(queued.len(), 1, "the remote recipient is still pending");
    assert!(queued[0].recipients[0].1.is_pending());
    assert_eq!(queued[0].recipients[1].1.state, RecipientState::Delivered);

    assert!(matches!(
        apply(store, &[update(id, 5, failed())])[..],
        [Err(StoreError::NotFound)]
    ));
    let out = apply(
        store,
        &[update(id, 0, failed()), update(id, 0, delivered())],
    );
    assert!(matches!(out[..], [Ok(true), Ok(false)]));
    assert!(store.queued().unwrap().is_empty());
    assert_eq!(store.queued_message(id).unwrap(), None);
    // The mailbox copy still holds the body.
    let blob = store.messages("a", "INBOX").unwrap()[0].blob;
    assert_eq!(store.read_blob(blob).unwrap(), Bytes::from("mixed"));
    assert!(matches!(
        apply(store, &[update(id, 0, delivered())])[..],
        [Ok(false)]
    ));
}

pub(super) fn remote_only_message_frees_its_blob(store: &dyn Store) {
    let id = store
        .spool(vec![message(
            "bye",
            vec![remote("r@far.example", "far.example")],
        )])
        .unwrap()[0];
    let blob = store.queued_message(id).unwrap().unwrap().blob;
    let out = apply(store, &[update(id, 0, delivered())]);
    assert!(matches!(out[..], [Ok(true)]));
    assert!(matches!(store.read_blob(blob), Err(StoreError::NotFound)));
}

pub(super) fn expunge_drops_references(store: &dyn Store) {
    let ids = store
        .spool(vec![
            message("one", vec![local("a@example.org", "a")]),
            message("two", vec![local("a@example.org", "a")]),
        ])
        .unwrap();
    deliver(store, to_inbox(ids[0], 0, "a"));
    deliver(store, to_inbox(ids[1], 0, "a"));
    let before = store.mailbox("a", "INBOX").unwrap().unwrap();
    let msgs = store.messages("a", "INBOX").unwrap();
    store.expunge("a", "INBOX", &[1, 1, 99]).unwrap();
    assert!(matches!(
        store.read_blob(msgs[0].blob),
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.read_blob(msgs[1].blob).unwrap(), Bytes::from("two"));
    let after = store.mailbox("a", "INBOX").unwrap().unwrap();
    assert_eq!(after.exists, 1);
    assert!(after.highest_modseq > before.highest_modseq);
    assert_eq!(after.uidvalidity, before.uidvalidity);
    let left: Vec<u32> = store
        .messages("a", "INBOX")
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(left, vec![2]);
    // Expunging nothing changes nothing.
    store.expunge("a", "INBOX", &[1]).unwrap();
    assert_eq!(store.mailbox("a", "INBOX").unwrap().unwrap(), after);
    assert!(matches!(
        store.expunge("a", "Nope", &[1]),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.messages("a", "Nope"),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn uids_increase_and_are_never_reused(store: &dyn Store) {
    let mut uids = Vec::new();
    let mut modseqs = Vec::new();
    for i in 0..3 {
        let id = store
            .spool(vec![message(
                &format!("m{i}"),
                vec![local("a@example.org", "a")],
            )])
            .unwrap()[0];
        let LocalOutcome::Delivered { uid } = deliver(store, to_inbox(id, 0, "a")) else {
            panic!("not delivered");
        };
        uids.push(uid);
        modseqs.push(store.mailbox("a", "INBOX").unwrap().unwrap().highest_modseq);
    }
    assert_eq!(uids, vec![1, 2, 3]);
    assert!(modseqs.windows(2).all(|w| w[0] < w[1]));
    store.expunge("a", "INBOX", &[3]).unwrap();
    let id = store
        .spool(vec![message("m3", vec![local("a@example.org", "a")])])
        .unwrap()[0];
    assert_eq!(
        deliver(store, to_inbox(id, 0, "a")),
        LocalOutcome::Delivered { uid: 4 }
    );
    let msgs = store.messages("a", "INBOX").unwrap();
    let listed: Vec<u32> = msgs.iter().map(|m| m.uid).collect();
    assert_eq!(listed, vec![1, 2, 4]);
    assert!(msgs.windows(2).all(|w| w[0].modseq < w[1].modseq));
    assert_eq!(store.mailbox("a", "INBOX").unwrap().unwrap().uidnext, 5);
}

pub(super) fn create_mailbox_rules(store: &dyn Store) {
    let inbox = store.create_mailbox("a", "INBOX").unwrap();
    assert_ne!(inbox.uidvalidity, 0);
    assert_eq!(inbox.uidnext, 1);
    assert_eq!(inbox.exists, 0);
    assert!(matches!(
        store.create_mailbox("a", "INBOX"),
        Err(StoreError::AlreadyExists)
    ));
    let archive = store.create_mailbox("a", "Archive").unwrap();
    assert!(archive.uidvalidity > inbox.uidvalidity);
    assert_eq!(store.mailbox("a", "Archive").unwrap(), Some(archive));
    assert_eq!(store.mailbox("a", "Sent").unwrap(), None);
    assert!(store.messages("a", "Archive").unwrap().is_empty());
    // A delivery to an existing mailbox keeps its UIDVALIDITY.
    let id = store
        .spool(vec![message("x", vec![local("a@example.org", "a")])])
        .unwrap()[0];
    deliver(store, to_inbox(id, 0, "a"));
    assert_eq!(
        store.mailbox("a", "INBOX").unwrap().unwrap().uidvalidity,
        inbox.uidvalidity
    );
}

pub(super) fn invalid_input_is_refused(store: &dyn Store) {
    assert!(matches!(
        store.create_mailbox("a\0b", "INBOX"),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.create_mailbox("a", ""),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.spool(vec![message("x", Vec::new())]),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.put_user(user("a\0", "h")),
        Err(StoreError::Invalid(_))
    ));
    let id = store
        .spool(vec![message("x", vec![local("a@example.org", "a")])])
        .unwrap()[0];
    let out = store
        .deliver_local(&[
            to_inbox(id, 7, "a"),
            to_inbox(id + 1000, 0, "a"),
            to_inbox(id, 0, "a\0"),
        ])
        .unwrap();
    assert!(matches!(out[0], Err(StoreError::NotFound)));
    assert!(matches!(out[1], Ok(LocalOutcome::AlreadyDone)));
    assert!(matches!(out[2], Err(StoreError::Invalid(_))));
    // None of the failures touched the message.
    assert!(store.queued_message(id).unwrap().unwrap().has_pending());
    assert_eq!(store.mailbox("a", "INBOX").unwrap(), None);
    assert!(matches!(
        store.read_blob(BlobId(u64::MAX)),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn user_crud(store: &dyn Store) {
    assert_eq!(store.user("a@example.org").unwrap(), None);
    store.put_user(user("b@example.org", "hash-b")).unwrap();
    store.put_user(user("a@example.org", "hash-1")).unwrap();
    store.put_user(user("a@example.org", "hash-2")).unwrap();
    assert_eq!(
        store.user("a@example.org").unwrap(),
        Some(user("a@example.org", "hash-2"))
    );
    let all: Vec<String> = store
        .users()
        .unwrap()
        .into_iter()
        .map(|u| u.address)
        .collect();
    assert_eq!(all, vec!["a@example.org", "b@example.org"]);
    assert!(store.delete_user("a@example.org").unwrap());
    assert!(!store.delete_user("a@example.org").unwrap());
    assert_eq!(store.user("a@example.org").unwrap(), None);
    assert_eq!(store.users().unwrap().len(), 1);
}

pub(super) fn delete_user_removes_mailboxes(store: &dyn Store) {
    store.put_user(user("a", "h")).unwrap();
    store.put_user(user("ab", "h")).unwrap();
    let ids = store
        .spool(vec![
            message("for a", vec![local("a@example.org", "a")]),
            message("for ab", vec![local("ab@example.org", "ab")]),
        ])
        .unwrap();
    deliver(store, to_inbox(ids[0], 0, "a"));
    deliver(store, to_inbox(ids[1], 0, "ab"));
    store.create_mailbox("a", "Archive").unwrap();
    let blob = store.messages("a", "INBOX").unwrap()[0].blob;
    assert!(store.delete_user("a").unwrap());
    assert_eq!(store.mailbox("a", "INBOX").unwrap(), None);
    assert_eq!(store.mailbox("a", "Archive").unwrap(), None);
    assert!(matches!(
        store.messages("a", "INBOX"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(store.read_blob(blob), Err(StoreError::NotFound)));
    // A user whose name extends the deleted one's is untouched.
    assert_eq!(store.messages("ab", "INBOX").unwrap().len(), 1);
    assert!(store.user("ab").unwrap().is_some());
}

/// Instantiate every contract test for one backend; `$make` returns `(store, guard)`.
/// Point lookups return the asked UIDs in the asked order and skip unknown ones.
pub(super) fn messages_by_uid_looks_up(store: &dyn Store) {
    let body = "Subject: s\r\n\r\nx\r\n";
    for _ in 0..3 {
        let ids = store
            .spool(vec![message(body, vec![local("bob@example.org", "bob")])])
            .unwrap();
        deliver(store, to_inbox(ids[0], 0, "bob"));
    }
    let found = store.messages_by_uid("bob", "INBOX", &[3, 99, 1]).unwrap();
    assert_eq!(found.iter().map(|m| m.uid).collect::<Vec<_>>(), vec![3, 1]);
    let all = store.messages("bob", "INBOX").unwrap();
    assert_eq!(found[1], all[0]);
    assert!(matches!(
        store.messages_by_uid("bob", "Nope", &[1]),
        Err(StoreError::NotFound)
    ));
}

/// A summary given at spool time reaches every delivered copy (IMAP never reparses).
pub(super) fn spooled_summary_reaches_the_mailbox(store: &dyn Store) {
    let mut new = message(
        "Subject: s\r\n\r\nx\r\n",
        vec![
            local("bob@example.org", "bob"),
            local("ann@example.org", "ann"),
        ],
    );
    new.summary = Some(vec![7, 8, 9]);
    let ids = store.spool(vec![new]).unwrap();
    assert_eq!(
        store.queued_message(ids[0]).unwrap().unwrap().summary,
        Some(vec![7, 8, 9])
    );
    deliver(store, to_inbox(ids[0], 0, "bob"));
    deliver(store, to_inbox(ids[0], 1, "ann"));
    for user in ["bob", "ann"] {
        let uid = store.messages(user, "INBOX").unwrap()[0].uid;
        let summaries = store.summaries(user, "INBOX", &[uid]).unwrap();
        assert_eq!(summaries, vec![Some(vec![7, 8, 9])], "{user}");
    }
}

/// A summary computed at delivery is stored with that copy; without one the spooled one
/// (or none) is kept.
pub(super) fn delivery_summary_is_stored_with_the_copy(store: &dyn Store) {
    let new = message(
        "Subject: s\r\n\r\nx\r\n",
        vec![
            local("bob@example.org", "bob"),
            local("ann@example.org", "ann"),
        ],
    );
    let ids = store.spool(vec![new]).unwrap();
    let mut to_bob = to_inbox(ids[0], 0, "bob");
    to_bob.summary = Some(vec![1, 2]);
    deliver(store, to_bob);
    deliver(store, to_inbox(ids[0], 1, "ann"));
    assert_eq!(
        store.summaries("bob", "INBOX", &[1]).unwrap(),
        vec![Some(vec![1, 2])]
    );
    assert_eq!(store.summaries("ann", "INBOX", &[1]).unwrap(), vec![None]);
}

macro_rules! contract_tests {
    ($backend:ident, $make:expr) => {
        mod $backend {
            use super::*;

            contract_tests!(@each $make;
                round_trip,
                spooled_summary_reaches_the_mailbox,
                delivery_summary_is_stored_with_the_copy,
                messages_by_uid_looks_up,
                batch_ids_increase_in_order,
                multi_recipient_shares_one_blob,
                delivery_batch_applies_each_item,
                deliver_twice_is_already_done,
                remote_recipient_stays_queued_until_updated,
                remote_only_message_frees_its_blob,
                expunge_drops_references,
                uids_increase_and_are_never_reused,
                create_mailbox_rules,
                invalid_input_is_refused,
                user_crud,
                delete_user_removes_mailboxes,
                dsn_parameters_round_trip,
                deferral_keeps_pending_and_counts_attempts,
                delay_notice_is_recorded_once,
                delete_queued_drops_the_record,
                retry_now_makes_pending_recipients_due,
                outcome_batch_applies_each_item,
                list_mailboxes_with_special_use,
                delete_mailbox_rules,
                rename_moves_inferiors,
                rename_inbox_moves_its_messages,
                subscriptions_are_per_user,
                store_flags_and_unchangedsince,
                append_stores_body_and_record,
                append_file_takes_the_body_from_the_file,
                concurrent_appends_keep_their_own_uids_and_bodies,
                copy_shares_the_blob,
                move_is_copy_and_expunge,
                expunge_deleted_and_history,
                summary_is_stored_opaquely,
                summaries_follow_their_messages,
                summaries_go_with_their_mailbox_and_account,
            );
        }
    };
    (@each $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                let (store, _guard) = $make;
                super::$name(&*store);
            }
        )+
    };
}

contract_tests!(memory, (Box::new(MemoryStore::new()) as Box<dyn Store>, ()));

contract_tests!(sled, {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), 8 << 20).unwrap();
    (Box::new(store) as Box<dyn Store>, dir)
});
