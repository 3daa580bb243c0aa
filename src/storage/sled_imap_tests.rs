//! Tests of the IMAP operations only the sled backend can fail: everything survives a
//! restart, APPEND bodies share the spool's reclaim, concurrent APPEND/STORE/EXPUNGE keep
//! the counters consistent.

use std::sync::Arc;

use bytes::Bytes;

use super::spool::list_segments;
use super::*;

use super::sled_tests::open;

fn draft(body: &'static str, flags: &[&str]) -> AppendMessage {
    AppendMessage {
        body: Bytes::from_static(body.as_bytes()),
        flags: flags.iter().map(|f| (*f).to_owned()).collect(),
        internal_date: 1_700_000_000,
        summary: Some(body.as_bytes().to_vec()),
    }
}

#[test]
fn imap_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (entries, messages, history, modseq) = {
        let store = open(dir.path());
        store.create_mailbox("u", "INBOX").unwrap();
        store
            .create_mailbox_with("u", "Sent", Some("\\Sent".into()))
            .unwrap();
        store.subscribe("u", "Sent").unwrap();
        for body in ["one", "two", "three"] {
            store.append("u", "INBOX", draft(body, &[])).unwrap();
        }
        let seen = vec!["\\Seen".to_owned()];
        store
            .store_flags("u", "INBOX", &[1], FlagOp::Add, &seen, None)
            .unwrap();
        store.expunge("u", "INBOX", &[2]).unwrap();
        store
            .set_summary("u", "INBOX", 3, b"later".to_vec())
            .unwrap();
        store.sync().unwrap();
        (
            store.list_mailboxes("u").unwrap(),
            store.messages("u", "INBOX").unwrap(),
            store.expunged_since("u", "INBOX", 0).unwrap(),
            store.mailbox("u", "INBOX").unwrap().unwrap().highest_modseq,
        )
    };
    let store = open(dir.path());
    assert_eq!(store.list_mailboxes("u").unwrap(), entries);
    assert_eq!(store.subscriptions("u").unwrap(), vec!["Sent".to_owned()]);
    let again = store.messages("u", "INBOX").unwrap();
    assert_eq!(again, messages);
    assert_eq!(again[0].flags, vec!["\\Seen".to_owned()]);
    assert_eq!(
        store.summaries("u", "INBOX", &[1, 3]).unwrap(),
        vec![Some(b"one".to_vec()), Some(b"later".to_vec())]
    );
    assert_eq!(
        store.read_blob(again[1].blob).unwrap(),
        Bytes::from("three")
    );
    assert_eq!(store.expunged_since("u", "INBOX", 0).unwrap(), history);
    assert_eq!(history, vec![2]);
    assert!(store
        .mailbox_changes_since("u", "INBOX", modseq)
        .unwrap()
        .is_empty());
    // Ids go on after the restart: a new APPEND never reuses a blob id.
    let (_, uid) = store.append("u", "INBOX", draft("four", &[])).unwrap();
    assert_eq!(uid, 4);
    let last = store.messages("u", "INBOX").unwrap().pop().unwrap();
    assert!(again.iter().all(|m| m.blob != last.blob));
}

#[test]
fn appended_bodies_are_reclaimed_with_their_segment() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open_with(
        dir.path(),
        SledOptions {
            cache_capacity_bytes: 8 << 20,
            segment_max_bytes: 64,
        },
    )
    .unwrap();
    store.create_mailbox("u", "Drafts").unwrap();
    let body = "a draft long enough to fill a tiny segment at once.......";
    store.append("u", "Drafts", draft(body, &[])).unwrap();
    let first = list_segments(&dir.path().join("spool")).unwrap()[0].0;
    store.append("u", "Drafts", draft("next", &[])).unwrap();
    store.copy("u", "Drafts", &[1], "Drafts").unwrap();
    store.expunge("u", "Drafts", &[1]).unwrap();
    let segments: Vec<u64> = list_segments(&dir.path().join("spool"))
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert!(segments.contains(&first), "the copy still references it");
    store.expunge("u", "Drafts", &[3]).unwrap();
    let segments: Vec<u64> = list_segments(&dir.path().join("spool"))
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert!(!segments.contains(&first), "last reference gone: reclaimed");
    let left = store.messages("u", "Drafts").unwrap();
    assert_eq!(store.read_blob(left[0].blob).unwrap(), Bytes::from("next"));
}

#[test]
fn concurrent_appends_stores_and_expunges_stay_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    store.create_mailbox("u", "INBOX").unwrap();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for _ in 0..10 {
                    let (_, uid) = store.append("u", "INBOX", draft("m", &[])).unwrap();
                    let deleted = vec!["\\Deleted".to_owned()];
                    store
                        .store_flags("u", "INBOX", &[uid], FlagOp::Add, &deleted, None)
                        .unwrap();
                    mine.push(uid);
                }
                let gone = store
                    .expunge_deleted("u", "INBOX", Some(&mine[..5]))
                    .unwrap();
                assert_eq!(gone, mine[..5].to_vec());
                mine
            })
        })
        .collect();
    let mut all: Vec<u32> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 40, "every APPEND got its own UID");
    let info = store.mailbox("u", "INBOX").unwrap().unwrap();
    let left = store.messages("u", "INBOX").unwrap();
    assert_eq!(info.exists, 20);
    assert_eq!(left.len(), 20);
    assert_eq!(info.uidnext, 41);
    assert_eq!(store.expunged_since("u", "INBOX", 0).unwrap().len(), 20);
    assert!(left.iter().all(|m| m.modseq <= info.highest_modseq));
}
