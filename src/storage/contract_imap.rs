//! The contract tests of the IMAP mailbox operations (mailbox management, STORE, APPEND,
//! COPY/MOVE, EXPUNGE history, summaries), run on every backend by `contract_tests!`.

use bytes::Bytes;

use super::contract::{deliver, local, message, to_inbox};
use super::*;

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// APPEND a message, returning its UID.
fn add(store: &dyn Store, user: &str, mailbox: &str, body: &str, flags: &[&str]) -> u32 {
    let (_, uid) = store
        .append(
            user,
            mailbox,
            AppendMessage {
                body: Bytes::copy_from_slice(body.as_bytes()),
                flags: strings(flags),
                internal_date: 1_600_000_000,
                summary: None,
            },
        )
        .unwrap();
    uid
}

fn uids(store: &dyn Store, user: &str, mailbox: &str) -> Vec<u32> {
    store
        .messages(user, mailbox)
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect()
}

fn names(store: &dyn Store, user: &str) -> Vec<String> {
    store
        .list_mailboxes(user)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect()
}

fn highest(store: &dyn Store, user: &str, mailbox: &str) -> u64 {
    store
        .mailbox(user, mailbox)
        .unwrap()
        .unwrap()
        .highest_modseq
}

pub(super) fn list_mailboxes_with_special_use(store: &dyn Store) {
    store.create_mailbox("u", "INBOX").unwrap();
    let sent = store
        .create_mailbox_with("u", "Sent", Some("\\Sent".into()))
        .unwrap();
    store.create_mailbox("u", "Archive/2024").unwrap();
    store.create_mailbox("uv", "Other").unwrap();
    assert!(matches!(
        store.create_mailbox_with("u", "Sent", None),
        Err(StoreError::AlreadyExists)
    ));
    let list = store.list_mailboxes("u").unwrap();
    let listed: Vec<(&str, Option<&str>)> = list
        .iter()
        .map(|e| (e.name.as_str(), e.special_use.as_deref()))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("Archive/2024", None),
            ("INBOX", None),
            ("Sent", Some("\\Sent"))
        ]
    );
    assert_eq!(list[2].info, sent);
    assert!(store.list_mailboxes("nobody").unwrap().is_empty());
}

pub(super) fn delete_mailbox_rules(store: &dyn Store) {
    store.create_mailbox("u", "INBOX").unwrap();
    let first = store.create_mailbox("u", "Old").unwrap();
    store
        .create_mailbox_with("u", "Old/Child", Some("\\Archive".into()))
        .unwrap();
    let uid = add(store, "u", "Old", "old body", &[]);
    let blob = store.messages("u", "Old").unwrap()[0].blob;
    store.expunge("u", "Old", &[uid]).unwrap();
    add(store, "u", "Old", "second", &[]);
    let blob2 = store.messages("u", "Old").unwrap()[0].blob;
    assert!(matches!(
        store.delete_mailbox("u", "inbox"),
        Err(StoreError::NotPermitted(_))
    ));
    assert!(matches!(
        store.delete_mailbox("u", "Nope"),
        Err(StoreError::NotFound)
    ));
    store.delete_mailbox("u", "Old").unwrap();
    assert!(matches!(store.read_blob(blob), Err(StoreError::NotFound)));
    assert!(matches!(store.read_blob(blob2), Err(StoreError::NotFound)));
    assert_eq!(names(store, "u"), strings(&["INBOX", "Old/Child"]));
    // Recreated: a new UIDVALIDITY, no messages, no expunge history, no SPECIAL-USE.
    let again = store.create_mailbox("u", "Old").unwrap();
    assert!(again.uidvalidity > first.uidvalidity);
    assert!(store.messages("u", "Old").unwrap().is_empty());
    assert!(store.expunged_since("u", "Old", 0).unwrap().is_empty());
    assert_eq!(store.list_mailboxes("u").unwrap()[1].special_use, None);
    assert_eq!(
        store.list_mailboxes("u").unwrap()[2].special_use.as_deref(),
        Some("\\Archive")
    );
}

pub(super) fn rename_moves_inferiors(store: &dyn Store) {
    store.create_mailbox("u", "INBOX").unwrap();
    let a = store
        .create_mailbox_with("u", "a", Some("\\Drafts".into()))
        .unwrap();
    store.create_mailbox("u", "a/b").unwrap();
    store.create_mailbox("u", "ab").unwrap();
    let uid = add(store, "u", "a", "in a", &["\\Seen"]);
    add(store, "u", "a/b", "in a/b", &[]);
    store.expunge("u", "a", &[uid]).unwrap();
    add(store, "u", "a", "in a again", &["\\Flagged"]);
    let before = store.messages("u", "a").unwrap();
    store.rename_mailbox("u", "a", "z").unwrap();
    assert_eq!(names(store, "u"), strings(&["INBOX", "ab", "z", "z/b"]));
    let z = store.mailbox("u", "z").unwrap().unwrap();
    assert_eq!(z.uidvalidity, a.uidvalidity, "a rename keeps UIDVALIDITY");
    assert_eq!(store.messages("u", "z").unwrap(), before);
    assert_eq!(store.expunged_since("u", "z", 0).unwrap(), vec![uid]);
    assert_eq!(uids(store, "u", "z/b"), vec![1]);
    let entry = &store.list_mailboxes("u").unwrap()[2];
    assert_eq!(entry.special_use.as_deref(), Some("\\Drafts"));
    assert_eq!(store.mailbox("u", "a").unwrap(), None);
    assert!(matches!(
        store.messages("u", "a"),
        Err(StoreError::NotFound)
    ));

    assert!(matches!(
        store.rename_mailbox("u", "z", "ab"),
        Err(StoreError::AlreadyExists)
    ));
    store.create_mailbox("u", "y/b").unwrap();
    assert!(
        matches!(
            store.rename_mailbox("u", "z", "y"),
            Err(StoreError::AlreadyExists)
        ),
        "an inferior's new name exists"
    );
    assert_eq!(store.mailbox("u", "y").unwrap(), None, "nothing moved");
    assert!(matches!(
        store.rename_mailbox("u", "z", "z/deeper"),
        Err(StoreError::NotPermitted(_))
    ));
    assert!(matches!(
        store.rename_mailbox("u", "z", "Inbox"),
        Err(StoreError::NotPermitted(_))
    ));
    assert!(matches!(
        store.rename_mailbox("u", "gone", "x"),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn rename_inbox_moves_its_messages(store: &dyn Store) {
    let ids = store
        .spool(vec![
            message("one", vec![local("u@example.org", "u")]),
            message("two", vec![local("u@example.org", "u")]),
        ])
        .unwrap();
    deliver(store, to_inbox(ids[0], 0, "u"));
    deliver(store, to_inbox(ids[1], 0, "u"));
    store.create_mailbox("u", "INBOX/Kept").unwrap();
    store
        .store_flags("u", "INBOX", &[2], FlagOp::Add, &strings(&["\\Seen"]), None)
        .unwrap();
    let inbox = store.mailbox("u", "INBOX").unwrap().unwrap();
    let msgs = store.messages("u", "INBOX").unwrap();
    store.rename_mailbox("u", "INBOX", "Old Mail").unwrap();

    let after = store.mailbox("u", "INBOX").unwrap().unwrap();
    assert_eq!(after.uidvalidity, inbox.uidvalidity);
    assert_eq!(after.uidnext, inbox.uidnext);
    assert_eq!(after.exists, 0);
    assert!(after.highest_modseq > inbox.highest_modseq);
    assert!(store.messages("u", "INBOX").unwrap().is_empty());
    assert_eq!(
        store
            .expunged_since("u", "INBOX", inbox.highest_modseq)
            .unwrap(),
        vec![1, 2]
    );
    let old = store.mailbox("u", "Old Mail").unwrap().unwrap();
    assert_ne!(old.uidvalidity, inbox.uidvalidity);
    assert_eq!(old.exists, 2);
    assert_eq!(old.uidnext, inbox.uidnext);
    assert_eq!(store.messages("u", "Old Mail").unwrap(), msgs);
    assert_eq!(store.read_blob(msgs[0].blob).unwrap(), Bytes::from("one"));
    assert_eq!(
        names(store, "u"),
        strings(&["INBOX", "INBOX/Kept", "Old Mail"])
    );
    // New mail to INBOX continues its UID sequence.
    let id = store
        .spool(vec![message("three", vec![local("u@example.org", "u")])])
        .unwrap()[0];
    assert_eq!(
        deliver(store, to_inbox(id, 0, "u")),
        LocalOutcome::Delivered { uid: 3 }
    );
}

pub(super) fn subscriptions_are_per_user(store: &dyn Store) {
    store.subscribe("u", "b").unwrap();
    store.subscribe("u", "a").unwrap();
    store.subscribe("u", "a").unwrap();
    store.subscribe("uv", "c").unwrap();
    assert_eq!(store.subscriptions("u").unwrap(), strings(&["a", "b"]));
    assert!(store.unsubscribe("u", "b").unwrap());
    assert!(!store.unsubscribe("u", "b").unwrap());
    assert_eq!(store.subscriptions("u").unwrap(), strings(&["a"]));
    assert!(matches!(
        store.subscribe("u", ""),
        Err(StoreError::Invalid(_))
    ));
    store.delete_user("u").unwrap();
    assert!(store.subscriptions("u").unwrap().is_empty());
    assert_eq!(store.subscriptions("uv").unwrap(), strings(&["c"]));
}

pub(super) fn store_flags_and_unchangedsince(store: &dyn Store) {
    store.create_mailbox("u", "INBOX").unwrap();
    for body in ["1", "2", "3"] {
        add(store, "u", "INBOX", body, &[]);
    }
    let start = highest(store, "u", "INBOX");
    let seen = strings(&["\\Seen"]);
    let out = store
        .store_flags("u", "INBOX", &[2, 1, 1, 9], FlagOp::Add, &seen, None)
        .unwrap();
    let now = highest(store, "u", "INBOX");
    assert_eq!(now, start + 1, "one STORE is one change");
    assert!(out.modified.is_empty());
    assert_eq!(
        out.updated,
        vec![
            FlagChange {
                uid: 1,
                flags: seen.clone(),
                modseq: now,
                changed: true
            },
            FlagChange {
                uid: 2,
                flags: seen.clone(),
                modseq: now,
                changed: true
            },
        ]
    );
    // No change: no new modseq.
    let out = store
        .store_flags("u", "INBOX", &[1], FlagOp::Add, &strings(&["\\SEEN"]), None)
        .unwrap();
    assert!(!out.updated[0].changed);
    assert_eq!(out.updated[0].modseq, now);
    assert_eq!(highest(store, "u", "INBOX"), now);
    // UNCHANGEDSINCE: message 1 changed after `start`, message 3 did not.
    let out = store
        .store_flags(
            "u",
            "INBOX",
            &[1, 3],
            FlagOp::Set,
            &strings(&["$Label", "\\Recent"]),
            Some(start),
        )
        .unwrap();
    assert_eq!(out.modified, vec![1]);
    assert_eq!(out.updated.len(), 1);
    assert_eq!(out.updated[0].uid, 3);
    assert_eq!(out.updated[0].flags, strings(&["$Label"]));
    let msgs = store.messages("u", "INBOX").unwrap();
    assert_eq!(msgs[0].flags, seen);
    assert_eq!(msgs[2].flags, strings(&["$Label"]));
    assert_eq!(msgs[2].modseq, highest(store, "u", "INBOX"));
    store
        .store_flags("u", "INBOX", &[1, 2], FlagOp::Remove, &seen, None)
        .unwrap();
    assert!(store.messages("u", "INBOX").unwrap()[1].flags.is_empty());
    // CONDSTORE: what changed after `now`.
    let changed: Vec<u32> = store
        .mailbox_changes_since("u", "INBOX", now)
        .unwrap()
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(changed, vec![1, 2, 3]);
    let last = highest(store, "u", "INBOX");
    assert!(store
        .mailbox_changes_since("u", "INBOX", last)
        .unwrap()
        .is_empty());
    assert!(matches!(
        store.store_flags("u", "Nope", &[1], FlagOp::Add, &seen, None),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.mailbox_changes_since("u", "Nope", 0),
        Err(StoreError::NotFound)
    ));
}

/// Concurrent APPENDs (committed together by the sled backend) each get their own UID,
/// in one increasing sequence per mailbox, and their own body and flags.
pub(super) fn concurrent_appends_keep_their_own_uids_and_bodies(store: &dyn Store) {
    const THREADS: usize = 8;
    const EACH: usize = 25;
    for name in ["INBOX", "Sent"] {
        store.create_mailbox("u", name).unwrap();
    }
    let results: Vec<Vec<(String, u32, String)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    let mailbox = if t % 2 == 0 { "INBOX" } else { "Sent" };
                    (0..EACH)
                        .map(|i| {
                            let body = format!("Subject: {t}-{i}\r\n\r\nfrom {t}\r\n");
                            let flag = format!("$t{t}");
                            let uid = add(store, "u", mailbox, &body, &[flag.as_str()]);
                            (mailbox.to_owned(), uid, body)
                        })
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for name in ["INBOX", "Sent"] {
        let msgs = store.messages("u", name).unwrap();
        let expected: Vec<u32> = (1..=(THREADS / 2 * EACH) as u32).collect();
        assert_eq!(
            msgs.iter().map(|m| m.uid).collect::<Vec<_>>(),
            expected,
            "{name}"
        );
        let info = store.mailbox("u", name).unwrap().unwrap();
        assert_eq!(info.exists as usize, THREADS / 2 * EACH);
        assert_eq!(
            info.highest_modseq,
            msgs.iter().map(|m| m.modseq).max().unwrap()
        );
    }
    for (t, appended) in results.iter().enumerate() {
        // One thread's APPENDs get increasing UIDs, in the order it made them.
        assert!(appended.windows(2).all(|w| w[0].1 < w[1].1), "thread {t}");
        for (mailbox, uid, body) in appended {
            let meta = &store.messages_by_uid("u", mailbox, &[*uid]).unwrap()[0];
            assert_eq!(
                store.read_blob(meta.blob).unwrap(),
                Bytes::from(body.clone())
            );
            assert_eq!(meta.flags, vec![format!("$t{t}")]);
        }
    }
}

pub(super) fn append_file_takes_the_body_from_the_file(store: &dyn Store) {
    let info = store.create_mailbox("u", "INBOX").unwrap();
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("literal");
    let body: Vec<u8> = b"Subject: large\r\n\r\n"
        .iter()
        .chain(b"0123456789\r\n".iter().cycle().take(400_000))
        .copied()
        .collect();
    std::fs::write(&path, &body).unwrap();
    let message = AppendMessage {
        body: Bytes::new(),
        flags: strings(&["\\Seen", "\\Recent"]),
        internal_date: 1_234_567_890,
        summary: Some(b"cached".to_vec()),
    };
    assert_eq!(add(store, "u", "INBOX", "first", &[]), 1);
    let appended = store.append_file("u", "INBOX", &path, message.clone());
    assert_eq!(appended.unwrap(), (info.uidvalidity, 2));
    let m = store.messages("u", "INBOX").unwrap().pop().unwrap();
    assert_eq!((m.uid, m.size), (2, body.len() as u64));
    assert_eq!(m.flags, strings(&["\\Seen"]));
    assert_eq!(m.internal_date, 1_234_567_890);
    assert_eq!(store.read_blob(m.blob).unwrap(), body);
    assert_eq!(
        store.summaries("u", "INBOX", &[2]).unwrap(),
        vec![Some(b"cached".to_vec())]
    );
    assert!(path.exists(), "the file stays the caller's");

    // Refused, and nothing appended: no mailbox, no file, a body given twice.
    assert!(matches!(
        store.append_file("u", "Nope", &path, message.clone()),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.append_file("u", "INBOX", &files.path().join("gone"), message.clone()),
        Err(StoreError::Io(_))
    ));
    let twice = AppendMessage {
        body: Bytes::from_static(b"x"),
        ..message
    };
    assert!(matches!(
        store.append_file("u", "INBOX", &path, twice),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(uids(store, "u", "INBOX"), [1, 2]);
    assert_eq!(add(store, "u", "INBOX", "after", &[]), 3);
}

pub(super) fn append_stores_body_and_record(store: &dyn Store) {
    let info = store.create_mailbox("u", "Drafts").unwrap();
    let (validity, uid) = store
        .append(
            "u",
            "Drafts",
            AppendMessage {
                body: Bytes::from_static(b"Subject: draft\r\n\r\nbody\r\n"),
                flags: strings(&["\\Draft", "\\draft", "\\Recent"]),
                internal_date: 1_234_567_890,
                summary: Some(b"cached".to_vec()),
            },
        )
        .unwrap();
    assert_eq!((validity, uid), (info.uidvalidity, 1));
    assert_eq!(add(store, "u", "Drafts", "second", &[]), 2);
    let msgs = store.messages("u", "Drafts").unwrap();
    let m = &msgs[0];
    assert_eq!(m.flags, strings(&["\\Draft"]));
    assert_eq!(m.internal_date, 1_234_567_890);
    assert_eq!(m.size, 24);
    assert_eq!(
        store.summaries("u", "Drafts", &[1, 2]).unwrap(),
        vec![Some(b"cached".to_vec()), None]
    );
    assert_eq!(
        store.read_blob(m.blob).unwrap(),
        Bytes::from_static(b"Subject: draft\r\n\r\nbody\r\n")
    );
    let after = store.mailbox("u", "Drafts").unwrap().unwrap();
    assert_eq!((after.exists, after.uidnext), (2, 3));
    assert_eq!(after.highest_modseq, msgs[1].modseq);
    assert!(store.queued().unwrap().is_empty(), "APPEND queues nothing");
    assert!(matches!(
        store.append("u", "Nope", AppendMessage::default()),
        Err(StoreError::NotFound)
    ));
    let (_, empty) = store
        .append("u", "Drafts", AppendMessage::default())
        .unwrap();
    let last = store.messages("u", "Drafts").unwrap().pop().unwrap();
    assert_eq!((last.uid, last.size), (empty, 0));
    assert!(store.read_blob(last.blob).unwrap().is_empty());
    // Appended bodies and spooled ones never share an id.
    let id = store
        .spool(vec![message("spooled", vec![local("u@example.org", "u")])])
        .unwrap()[0];
    let blob = store.queued_message(id).unwrap().unwrap().blob;
    assert!(msgs.iter().all(|m| m.blob != blob));
    store.expunge("u", "Drafts", &[1]).unwrap();
    assert!(matches!(store.read_blob(m.blob), Err(StoreError::NotFound)));
}

pub(super) fn copy_shares_the_blob(store: &dyn Store) {
    store.create_mailbox("u", "INBOX").unwrap();
    store.create_mailbox("u", "Archive").unwrap();
    add(store, "u", "Archive", "already there", &[]);
    add(store, "u", "INBOX", "a", &["\\Seen"]);
    add(store, "u", "INBOX", "b", &[]);
    store.set_summary("u", "INBOX", 1, b"sum".to_vec()).unwrap();
    let archive = store.mailbox("u", "Archive").unwrap().unwrap();
    let out = store.copy("u", "INBOX", &[2, 1, 7], "Archive").unwrap();
    assert_eq!(out.uidvalidity, archive.uidvalidity);
    assert_eq!(out.pairs, vec![(1, 2), (2, 3)]);
    let copies = store.messages("u", "Archive").unwrap();
    let originals = store.messages("u", "INBOX").unwrap();
    assert_eq!(copies.len(), 3);
    assert_eq!(copies[1].blob, originals[0].blob);
    assert_eq!(copies[1].flags, strings(&["\\Seen"]));
    assert_eq!(
        store.summaries("u", "Archive", &[2, 3]).unwrap(),
        vec![Some(b"sum".to_vec()), None]
    );
    assert_eq!(copies[1].internal_date, originals[0].internal_date);
    assert_eq!(copies[1].modseq, highest(store, "u", "Archive"));
    assert!(highest(store, "u", "Archive") > archive.highest_modseq);
    assert_eq!(originals.len(), 2, "COPY leaves the source alone");
    store.expunge("u", "INBOX", &[1, 2]).unwrap();
    assert_eq!(store.read_blob(copies[1].blob).unwrap(), Bytes::from("a"));
    store.expunge("u", "Archive", &[2]).unwrap();
    assert!(matches!(
        store.read_blob(copies[1].blob),
        Err(StoreError::NotFound)
    ));
    let none = store.copy("u", "INBOX", &[1], "Archive").unwrap();
    assert!(none.pairs.is_empty());
    assert!(matches!(
        store.copy("u", "INBOX", &[1], "Nope"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.copy("u", "Nope", &[1], "INBOX"),
        Err(StoreError::NotFound)
    ));
}

pub(super) fn move_is_copy_and_expunge(store: &dyn Store) {
    store.create_mailbox("u", "INBOX").unwrap();
    store.create_mailbox("u", "Trash").unwrap();
    for body in ["a", "b", "c"] {
        add(store, "u", "INBOX", body, &[]);
    }
    let before = highest(store, "u", "INBOX");
    let out = store.move_messages("u", "INBOX", &[1, 3], "Trash").unwrap();
    assert_eq!(out.pairs, vec![(1, 1), (3, 2)]);
    assert_eq!(uids(store, "u", "INBOX"), vec![2]);
    assert_eq!(store.mailbox("u", "INBOX").unwrap().unwrap().exists, 1);
    assert_eq!(
        store.expunged_since("u", "INBOX", before).unwrap(),
        vec![1, 3]
    );
    let trash = store.messages("u", "Trash").unwrap();
    assert_eq!(store.read_blob(trash[1].blob).unwrap(), Bytes::from("c"));
    // Moving within one mailbox gives new UIDs.
    let out = store.move_messages("u", "Trash", &[1], "Trash").unwrap();
    assert_eq!(out.pairs, vec![(1, 3)]);
    assert_eq!(uids(store, "u", "Trash"), vec![2, 3]);
    assert_eq!(store.mailbox("u", "Trash").unwrap().unwrap().exists, 2);
    assert_eq!(store.read_blob(trash[0].blob).unwrap(), Bytes::from("a"));
}

pub(super) fn expunge_deleted_and_history(store: &dyn Store) {
    store.create_mailbox("u", "INBOX").unwrap();
    for body in ["1", "2", "3", "4", "5"] {
        add(store, "u", "INBOX", body, &["\\Deleted"]);
    }
    store
        .store_flags("u", "INBOX", &[5], FlagOp::Set, &[], None)
        .unwrap();
    let start = highest(store, "u", "INBOX");
    let gone = store
        .expunge_deleted("u", "INBOX", Some(&[2, 3, 5, 9]))
        .unwrap();
    assert_eq!(
        gone,
        vec![2, 3],
        "UID EXPUNGE keeps what is outside the set"
    );
    let middle = highest(store, "u", "INBOX");
    assert_eq!(
        store.expunge_deleted("u", "INBOX", None).unwrap(),
        vec![1, 4]
    );
    assert_eq!(uids(store, "u", "INBOX"), vec![5]);
    let end = highest(store, "u", "INBOX");
    assert!(start < middle && middle < end);
    assert!(store
        .expunge_deleted("u", "INBOX", None)
        .unwrap()
        .is_empty());
    assert_eq!(
        highest(store, "u", "INBOX"),
        end,
        "nothing expunged, no change"
    );
    store.expunge("u", "INBOX", &[5]).unwrap();
    assert_eq!(
        store.expunged_since("u", "INBOX", start).unwrap(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(
        store.expunged_since("u", "INBOX", middle).unwrap(),
        vec![1, 4, 5]
    );
    assert_eq!(store.expunged_since("u", "INBOX", end).unwrap(), vec![5]);
    assert!(store
        .expunged_since("u", "INBOX", highest(store, "u", "INBOX"))
        .unwrap()
        .is_empty());
    assert!(matches!(
        store.expunge_deleted("u", "Nope", None),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.expunged_since("u", "Nope", 0),
        Err(StoreError::NotFound)
    ));
}
