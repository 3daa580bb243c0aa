//! The contract tests of the IMAP summaries, stored apart from the message records: they
//! are opaque, read per UID, and follow their message through every change (COPY, MOVE,
//! EXPUNGE, rename, deletion), run on every backend by `contract_tests!`.

use bytes::Bytes;

use super::contract::{deliver, local, message, to_inbox};
use super::*;

/// APPEND a message with an optional summary, returning its UID.
fn add(store: &dyn Store, user: &str, mailbox: &str, summary: Option<&[u8]>) -> u32 {
    let (_, uid) = store
        .append(
            user,
            mailbox,
            AppendMessage {
                body: Bytes::from_static(b"Subject: s\r\n\r\nbody\r\n"),
                flags: vec!["\\Deleted".to_owned()],
                internal_date: 1_600_000_000,
                summary: summary.map(<[u8]>::to_vec),
            },
        )
        .unwrap();
    uid
}

fn some(summary: &[u8]) -> Option<Vec<u8>> {
    Some(summary.to_vec())
}

pub(super) fn summary_is_stored_opaquely(store: &dyn Store) {
    let id = store
        .spool(vec![message("x", vec![local("u@example.org", "u")])])
        .unwrap()[0];
    deliver(store, to_inbox(id, 0, "u"));
    let before = store.messages("u", "INBOX").unwrap()[0].clone();
    assert_eq!(store.summaries("u", "INBOX", &[1]).unwrap(), vec![None]);
    let blob = vec![0u8, 255, 1, 2];
    store.set_summary("u", "INBOX", 1, blob.clone()).unwrap();
    let after = store.messages("u", "INBOX").unwrap()[0].clone();
    assert_eq!(after, before, "a summary is not a change");
    // One entry per UID asked for, in the order given; unknown UIDs answer None.
    assert_eq!(
        store.summaries("u", "INBOX", &[9, 1, 1]).unwrap(),
        vec![None, Some(blob.clone()), Some(blob.clone())]
    );
    assert_eq!(store.summaries("u", "INBOX", &[]).unwrap(), vec![]);
    // Runs of UIDs and sparse lists alike (a backend may scan the one, look up the other).
    assert_eq!(
        store.summaries("u", "INBOX", &[1, 2]).unwrap(),
        vec![Some(blob.clone()), None]
    );
    assert_eq!(
        store.summaries("u", "INBOX", &[1, 90]).unwrap(),
        vec![Some(blob), None]
    );
    store.set_summary("u", "INBOX", 1, b"new".to_vec()).unwrap();
    assert_eq!(
        store.summaries("u", "INBOX", &[1]).unwrap(),
        vec![some(b"new")]
    );
    assert!(matches!(
        store.set_summary("u", "INBOX", 2, Vec::new()),
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.summaries("u", "INBOX", &[2]).unwrap(), vec![None]);
    assert!(matches!(
        store.set_summary("u", "Nope", 1, Vec::new()),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.summaries("u", "Nope", &[1]),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn summaries_follow_their_messages(store: &dyn Store) {
    store.create_mailbox("u", "INBOX").unwrap();
    store.create_mailbox("u", "A").unwrap();
    assert_eq!(add(store, "u", "INBOX", Some(b"one")), 1);
    assert_eq!(add(store, "u", "INBOX", None), 2);
    assert_eq!(add(store, "u", "INBOX", Some(b"three")), 3);
    assert_eq!(add(store, "u", "A", None), 1);

    // COPY carries each summary to the new UID; the source keeps its own.
    let copied = store.copy("u", "INBOX", &[1, 2], "A").unwrap();
    assert_eq!(copied.pairs, vec![(1, 2), (2, 3)]);
    assert_eq!(
        store.summaries("u", "A", &[1, 2, 3]).unwrap(),
        vec![None, some(b"one"), None]
    );
    assert_eq!(
        store.summaries("u", "INBOX", &[1]).unwrap(),
        vec![some(b"one")]
    );

    // MOVE carries it over and leaves nothing behind under the old UID.
    let moved = store.move_messages("u", "INBOX", &[3], "A").unwrap();
    assert_eq!(moved.pairs, vec![(3, 4)]);
    assert_eq!(
        store.summaries("u", "A", &[4]).unwrap(),
        vec![some(b"three")]
    );
    assert_eq!(store.summaries("u", "INBOX", &[3]).unwrap(), vec![None]);

    // A MOVE within one mailbox too.
    let again = store.move_messages("u", "A", &[4], "A").unwrap();
    assert_eq!(again.pairs, vec![(4, 5)]);
    assert_eq!(
        store.summaries("u", "A", &[4, 5]).unwrap(),
        vec![None, some(b"three")]
    );

    // EXPUNGE (plain and of \Deleted messages) removes them.
    store.expunge("u", "A", &[2]).unwrap();
    assert_eq!(store.summaries("u", "A", &[2]).unwrap(), vec![None]);
    assert_eq!(
        store.expunge_deleted("u", "A", Some(&[5])).unwrap(),
        vec![5]
    );
    assert_eq!(store.summaries("u", "A", &[5]).unwrap(), vec![None]);
    assert_eq!(
        store.expunge_deleted("u", "INBOX", None).unwrap(),
        vec![1, 2]
    );
    assert_eq!(
        store.summaries("u", "INBOX", &[1, 2, 3]).unwrap(),
        vec![None, None, None]
    );
}

pub(super) fn summaries_go_with_their_mailbox_and_account(store: &dyn Store) {
    store.create_mailbox("u", "INBOX").unwrap();
    store.create_mailbox("u", "A").unwrap();
    store.create_mailbox("u", "A/B").unwrap();
    add(store, "u", "INBOX", Some(b"inbox"));
    add(store, "u", "A", Some(b"a"));
    add(store, "u", "A/B", Some(b"b"));

    // Renaming moves the mailbox's summaries and its inferiors' with it.
    store.rename_mailbox("u", "A", "C").unwrap();
    assert_eq!(store.summaries("u", "C", &[1]).unwrap(), vec![some(b"a")]);
    assert_eq!(store.summaries("u", "C/B", &[1]).unwrap(), vec![some(b"b")]);
    store.create_mailbox("u", "A").unwrap();
    assert_eq!(store.summaries("u", "A", &[1]).unwrap(), vec![None]);

    // Renaming INBOX moves its messages (same UIDs) and their summaries.
    store.rename_mailbox("u", "INBOX", "Old").unwrap();
    assert_eq!(
        store.summaries("u", "Old", &[1]).unwrap(),
        vec![some(b"inbox")]
    );
    assert_eq!(store.summaries("u", "INBOX", &[1]).unwrap(), vec![None]);

    // A deleted mailbox created again starts over at UID 1: no summary survives.
    store.delete_mailbox("u", "C").unwrap();
    store.create_mailbox("u", "C").unwrap();
    assert_eq!(add(store, "u", "C", None), 1);
    assert_eq!(store.summaries("u", "C", &[1]).unwrap(), vec![None]);

    // So does an account deleted and created again.
    store.delete_user("u").unwrap();
    store.create_mailbox("u", "Old").unwrap();
    assert_eq!(add(store, "u", "Old", None), 1);
    assert_eq!(store.summaries("u", "Old", &[1]).unwrap(), vec![None]);
}
