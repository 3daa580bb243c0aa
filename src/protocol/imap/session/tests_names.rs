//! Mailbox names: modified UTF-7 in IMAP4rev1 sessions, UTF-8 after `ENABLE IMAP4rev2`,
//! UTF-8 in the store (RFC 3501 §5.1.3, RFC 9051 §5.1); split and hostile input.

use std::sync::Arc;

use super::tests::{logged_in, test_config, Harness, MSG1, USER};
use super::Session;
use crate::storage::Store;

/// A new logged-in session on the same store, as a second connection would be.
fn reconnect(h: &mut Harness, rev2: bool) {
    h.session = Session::new(Arc::new(test_config()), false, true);
    h.say("a LOGIN bob@example.org secret\r\n");
    if rev2 {
        assert_eq!(
            h.say("b ENABLE IMAP4rev2\r\n"),
            "* ENABLED IMAP4rev2\r\nb OK ENABLE completed\r\n"
        );
    }
}

fn stored_names(h: &Harness) -> Vec<String> {
    let mut names: Vec<String> = h
        .store
        .list_mailboxes(USER)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    names.sort();
    names
}

#[test]
fn rev1_creates_in_mutf7_and_rev2_sees_utf8_with_split_input() {
    let script = "c CREATE Entw&APw-rfe\r\n\
                  d CREATE &ZeVnLIqe-\r\n\
                  d CREATE &ZeVnLIqe-/&U,BTFw-\r\n\
                  e LIST \"\" *\r\n";
    for chunk in [1, 2, 4, 7, 16, 512] {
        let mut h = logged_in();
        let out = h.send(script.as_bytes(), chunk);
        assert_eq!(
            out,
            "c OK CREATE completed\r\n\
             d OK CREATE completed\r\n\
             d OK CREATE completed\r\n\
             * LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe\"\r\n\
             * LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n\
             * LIST (\\HasChildren) \"/\" \"&ZeVnLIqe-\"\r\n\
             * LIST (\\HasNoChildren) \"/\" \"&ZeVnLIqe-/&U,BTFw-\"\r\n\
             e OK LIST completed\r\n",
            "chunk {chunk}"
        );
        assert_eq!(
            stored_names(&h),
            ["Entwürfe", "INBOX", "日本語", "日本語/台北"]
        );
        reconnect(&mut h, true);
        let out = h.send("f LIST \"\" *\r\n".as_bytes(), chunk);
        assert_eq!(
            out,
            "* LIST (\\HasNoChildren) \"/\" \"Entwürfe\"\r\n\
             * LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n\
             * LIST (\\HasChildren) \"/\" \"日本語\"\r\n\
             * LIST (\\HasNoChildren) \"/\" \"日本語/台北\"\r\n\
             f OK LIST completed\r\n",
            "chunk {chunk}"
        );
    }
}

#[test]
fn rev2_creates_in_utf8_and_rev1_sees_mutf7() {
    let mut h = logged_in();
    reconnect(&mut h, true);
    assert_eq!(
        h.say("c CREATE \"Grüße & mehr\"\r\n"),
        "c OK CREATE completed\r\n"
    );
    // A literal carries UTF-8 too; `&...-` is just text in IMAP4rev2.
    assert_eq!(
        h.send("d CREATE {12+}\r\nEntw&APw-rfe\r\n".as_bytes(), 3),
        "d OK CREATE completed\r\n"
    );
    assert_eq!(stored_names(&h), ["Entw&APw-rfe", "Grüße & mehr", "INBOX"]);
    assert_eq!(
        h.say("e STATUS \"Grüße & mehr\" (MESSAGES)\r\n"),
        "* STATUS \"Grüße & mehr\" (MESSAGES 0)\r\ne OK STATUS completed\r\n"
    );
    reconnect(&mut h, false);
    assert_eq!(
        h.say("f LIST \"\" *\r\n"),
        "* LIST (\\HasNoChildren) \"/\" \"Entw&-APw-rfe\"\r\n\
         * LIST (\\HasNoChildren) \"/\" \"Gr&APwA3w-e &- mehr\"\r\n\
         * LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n\
         f OK LIST completed\r\n"
    );
    assert_eq!(
        h.say("g STATUS \"Gr&APwA3w-e &- mehr\" (MESSAGES)\r\n"),
        "* STATUS \"Gr&APwA3w-e &- mehr\" (MESSAGES 0)\r\ng OK STATUS completed\r\n"
    );
}

#[test]
fn invalid_mutf7_is_refused_and_never_stored() {
    let mut h = logged_in();
    for (tag, name) in [
        ("c", "\"Entw\u{fc}rfe\""),
        ("d", "Entw&APw"),
        ("e", "&AGE-"),
        ("f", "&APx-"),
        ("g", "&APw-&APw-"),
        ("h", "a&AAk-b"),
    ] {
        let out = h.say(&format!("{tag} CREATE {name}\r\n"));
        assert!(
            out.starts_with(&format!("{tag} NO [CANNOT] Mailbox name ")),
            "{name}: {out}"
        );
    }
    // 8-bit octets in a literal are not modified UTF-7 either.
    let out = h.send(b"i CREATE {3}\r\n\xc3\xbc!\r\n", 512);
    assert!(out.ends_with("i NO [CANNOT] Mailbox name is not valid modified UTF-7: octet 0xc3 at 0 is not printable US-ASCII\r\n"), "{out}");
    assert_eq!(stored_names(&h), ["INBOX"]);
    // Every command that names a mailbox decodes it first.
    h.say("j CREATE Entw&APw-rfe\r\n");
    for cmd in [
        "SELECT &APx-",
        "EXAMINE &APx-",
        "DELETE &APx-",
        "RENAME Entw&APw-rfe &APx-",
        "RENAME &APx- Other",
        "SUBSCRIBE &APx-",
        "UNSUBSCRIBE &APx-",
        "LIST \"\" &APx-*",
        "LIST &APx- *",
        "LIST \"\" (\"*\" \"&APx-\")",
        "LSUB \"\" &APx-",
        "STATUS &APx- (MESSAGES)",
        "APPEND &APx- {3+}\r\nabc",
    ] {
        let out = h.say(&format!("k {cmd}\r\n"));
        assert!(
            out.starts_with("k NO [CANNOT] Mailbox name is"),
            "{cmd}: {out}"
        );
    }
    h.say("l SELECT INBOX\r\n");
    h.deliver(MSG1, &[]);
    h.say("m NOOP\r\n");
    for cmd in ["COPY 1 &APx-", "MOVE 1 &APx-", "UID COPY 1 &APx-"] {
        let out = h.say(&format!("n {cmd}\r\n"));
        assert!(
            out.starts_with("n NO [CANNOT] Mailbox name is"),
            "{cmd}: {out}"
        );
    }
    assert_eq!(stored_names(&h), ["Entwürfe", "INBOX"]);
    // In IMAP4rev2 the same octets are names, but 8-bit garbage is not UTF-8.
    reconnect(&mut h, true);
    let out = h.send(b"o CREATE {2}\r\n\xff\xfe\r\n", 512);
    assert!(
        out.ends_with("o NO [CANNOT] Mailbox name is not valid UTF-8\r\n"),
        "{out}"
    );
    assert_eq!(h.say("p CREATE &APx-\r\n"), "p OK CREATE completed\r\n");
}

#[test]
fn list_patterns_match_decoded_names() {
    let mut h = logged_in();
    for name in [
        "Entw&APw-rfe",
        "Entw&APw-rfe/alt",
        "&ZeVnLIqe-",
        "&ZeVnLIqe-/&U,BTFw-",
    ] {
        assert!(h.say(&format!("c CREATE {name}\r\n")).starts_with("c OK"));
    }
    // `%` stops at the separator inside decoded names; a pattern with a shift matches
    // the characters it encodes.
    assert_eq!(
        h.say("d LIST \"\" Entw&APw-%\r\n"),
        "* LIST (\\HasChildren) \"/\" \"Entw&APw-rfe\"\r\nd OK LIST completed\r\n"
    );
    assert_eq!(
        h.say("e LIST &ZeVnLIqe-/ %\r\n"),
        "* LIST (\\HasNoChildren) \"/\" \"&ZeVnLIqe-/&U,BTFw-\"\r\ne OK LIST completed\r\n"
    );
    assert_eq!(
        h.say("f LIST \"\" (\"*&U,BTFw-\" \"Entw*/%\")\r\n"),
        "* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe/alt\"\r\n\
         * LIST (\\HasNoChildren) \"/\" \"&ZeVnLIqe-/&U,BTFw-\"\r\n\
         f OK LIST completed\r\n"
    );
    // A wildcard between `Entw` and `rfe` matches the decoded `ü`.
    assert_eq!(
        h.say("g LIST \"\" Entw%rfe\r\n"),
        "* LIST (\\HasChildren) \"/\" \"Entw&APw-rfe\"\r\ng OK LIST completed\r\n"
    );
    h.say("h SUBSCRIBE &ZeVnLIqe-/&U,BTFw-\r\n");
    assert_eq!(
        h.say("i LSUB \"\" *&U,BTFw-\r\n"),
        "* LSUB (\\HasNoChildren) \"/\" \"&ZeVnLIqe-/&U,BTFw-\"\r\ni OK LSUB completed\r\n"
    );
    reconnect(&mut h, true);
    assert_eq!(
        h.say("j LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"日本%\" RETURN (STATUS (MESSAGES))\r\n"),
        "* LIST (\\HasChildren) \"/\" \"日本語\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n\
         * STATUS \"日本語\" (MESSAGES 0)\r\n\
         j OK LIST completed\r\n"
    );
    assert_eq!(
        h.say("k LIST \"\" \"*北\" RETURN (STATUS (MESSAGES))\r\n"),
        "* LIST (\\HasNoChildren) \"/\" \"日本語/台北\"\r\n\
         * STATUS \"日本語/台北\" (MESSAGES 0)\r\n\
         k OK LIST completed\r\n"
    );
}

#[test]
fn rename_keeps_the_hierarchy_and_select_lists_the_utf8_name() {
    let mut h = logged_in();
    for name in [
        "Entw&APw-rfe",
        "Entw&APw-rfe/alt",
        "Entw&APw-rfe/alt/&ZeVnLIqe-",
    ] {
        assert!(h.say(&format!("c CREATE {name}\r\n")).starts_with("c OK"));
    }
    assert_eq!(
        h.say("d RENAME Entw&APw-rfe &ZeVnLIqe-\r\n"),
        "d OK RENAME completed\r\n"
    );
    assert_eq!(
        stored_names(&h),
        ["INBOX", "日本語", "日本語/alt", "日本語/alt/日本語"]
    );
    reconnect(&mut h, true);
    assert_eq!(
        h.say("e RENAME 日本語/alt \"Entwürfe\"\r\n").lines().last(),
        Some("e BAD Unknown command or invalid arguments"),
        "an 8-bit atom is no name: it must be quoted"
    );
    assert_eq!(
        h.say("e RENAME \"日本語/alt\" \"Entwürfe\"\r\n"),
        "e OK RENAME completed\r\n"
    );
    assert_eq!(
        stored_names(&h),
        ["Entwürfe", "Entwürfe/日本語", "INBOX", "日本語"]
    );
    h.store
        .append(
            USER,
            "Entwürfe/日本語",
            crate::storage::AppendMessage {
                body: MSG1.as_bytes().to_vec().into(),
                flags: vec![],
                internal_date: 1_700_000_000,
                summary: None,
            },
        )
        .unwrap();
    let out = h.say("f EXAMINE \"Entwürfe/日本語\"\r\n");
    assert!(out.contains("* 1 EXISTS\r\n"), "{out}");
    assert!(
        out.contains("* LIST (\\HasNoChildren) \"/\" \"Entwürfe/日本語\"\r\n"),
        "{out}"
    );
    assert!(
        out.ends_with("f OK [READ-ONLY] EXAMINE completed\r\n"),
        "{out}"
    );
    // COPY and APPEND to a UTF-8 name, then the rev1 spelling sees the messages.
    assert!(h.say("g COPY 1 \"日本語\"\r\n").contains("g OK [COPYUID"));
    reconnect(&mut h, false);
    assert_eq!(
        h.say("h STATUS &ZeVnLIqe- (MESSAGES)\r\n"),
        "* STATUS \"&ZeVnLIqe-\" (MESSAGES 1)\r\nh OK STATUS completed\r\n"
    );
    assert!(h
        .say("i APPEND &ZeVnLIqe- {3+}\r\nabc\r\n")
        .starts_with("i OK [APPENDUID"));
    assert_eq!(h.store.messages(USER, "日本語").unwrap().len(), 2);
}
