//! LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and BINARY (RFC 3516) conversations,
//! with split and hostile input.

use super::*;

/// Mailboxes `Fruit`, `Fruit/Apple`, `Fruit/Banana`, `Sent` (`\Sent`); subscribed:
/// INBOX, `Fruit/Banana` and `Vegetable/Carrot` (which does not exist); two messages in
/// INBOX, one of them seen.
fn fruit_store(h: &Harness) {
    for name in ["Fruit", "Fruit/Apple", "Fruit/Banana"] {
        h.store.create_mailbox(USER, name).unwrap();
    }
    h.store
        .create_mailbox_with(USER, "Sent", Some("\\Sent".to_owned()))
        .unwrap();
    for name in ["INBOX", "Fruit/Banana", "Vegetable/Carrot"] {
        h.store.subscribe(USER, name).unwrap();
    }
    h.deliver(MSG1, &[]);
    h.deliver(MSG2, &["\\Seen"]);
}

fn list_script() -> Vec<u8> {
    let mut s = b"a LOGIN bob@example.org secret\r\n".to_vec();
    s.extend_from_slice(b"b LIST (SUBSCRIBED) \"\" \"*\"\r\n");
    s.extend_from_slice(b"c list (subscribed recursivematch) \"\" %\r\n");
    s.extend_from_slice(b"d LIST \"\" (\"INBOX\" {3+}\r\nFr* \"Nope\") RETURN (CHILDREN STATUS (MESSAGES UNSEEN UIDNEXT))\r\n");
    s.extend_from_slice(b"e LIST (SPECIAL-USE) \"\" * RETURN (STATUS (UIDVALIDITY))\r\n");
    s.extend_from_slice(b"f LIST \"\" % RETURN (SUBSCRIBED)\r\n");
    s.extend_from_slice(b"g LIST (BOGUS) \"\" *\r\nh LIST \"\" (\"a\" \r\n");
    s.extend_from_slice(b"i LIST (RECURSIVEMATCH) \"\" *\r\n");
    s.extend_from_slice(b"j LIST \"\" * RETURN (STATUS (MESSAGES)\r\n");
    s.extend_from_slice(b"k LIST \"\" (\"\" INBOX) RETURN ()\r\nl LOGOUT\r\n");
    s
}

const LIST_EXPECTED: &str = "\
* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Fruit/Banana\"\r\n\
* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\r\n\
* LIST (\\NonExistent \\Subscribed) \"/\" \"Vegetable/Carrot\"\r\n\
b OK LIST completed\r\n\
* LIST (\\HasChildren) \"/\" \"Fruit\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n\
* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\r\n\
* LIST (\\NonExistent) \"/\" \"Vegetable\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n\
c OK LIST completed\r\n\
* LIST (\\HasChildren) \"/\" \"Fruit\"\r\n\
* STATUS \"Fruit\" (MESSAGES 0 UNSEEN 0 UIDNEXT 1)\r\n\
* LIST (\\HasNoChildren) \"/\" \"Fruit/Apple\"\r\n\
* STATUS \"Fruit/Apple\" (MESSAGES 0 UNSEEN 0 UIDNEXT 1)\r\n\
* LIST (\\HasNoChildren) \"/\" \"Fruit/Banana\"\r\n\
* STATUS \"Fruit/Banana\" (MESSAGES 0 UNSEEN 0 UIDNEXT 1)\r\n\
* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n\
* STATUS \"INBOX\" (MESSAGES 2 UNSEEN 1 UIDNEXT 3)\r\n\
d OK LIST completed\r\n\
* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n\
* STATUS \"Sent\" (UIDVALIDITY VALIDITY)\r\n\
e OK LIST completed\r\n\
* LIST (\\HasChildren) \"/\" \"Fruit\"\r\n\
* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\r\n\
* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\"\r\n\
f OK LIST completed\r\n\
g BAD Invalid LIST-EXTENDED arguments\r\n\
h BAD Invalid LIST-EXTENDED arguments\r\n\
i BAD Invalid LIST-EXTENDED arguments\r\n\
j BAD Invalid LIST-EXTENDED arguments\r\n\
* LIST (\\Noselect) \"/\" \"\"\r\n\
* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n\
k OK LIST completed\r\n\
* BYE Logging out\r\n\
l OK LOGOUT completed\r\n";

#[test]
fn list_extended_and_list_status_with_split_input() {
    for chunk in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] {
        let mut h = Harness::new(true);
        fruit_store(&h);
        let validity = h.store.mailbox(USER, "Sent").unwrap().unwrap().uidvalidity;
        let out = h.send(&list_script(), chunk);
        let from = out.find("* LIST").unwrap();
        let expected = LIST_EXPECTED.replace("VALIDITY)", &format!("{validity})"));
        assert_eq!(&out[from..], expected, "chunk {chunk}");
    }
}

#[test]
fn list_extended_needs_login_and_rejects_bad_patterns() {
    let mut h = Harness::new(true);
    assert_eq!(
        h.say("a LIST (SUBSCRIBED) \"\" *\r\n"),
        "a BAD Command not valid in this state\r\n"
    );
    h.say("b LOGIN bob@example.org secret\r\n");
    assert_eq!(
        h.say("c LIST \"\" (INBOX a\"b)\r\n"),
        "c BAD Invalid LIST-EXTENDED arguments\r\n"
    );
    assert_eq!(
        h.say("d LIST \"\" (INBOX \"\\xff\")\r\n"),
        "d BAD Invalid LIST pattern\r\n"
    );
    assert_eq!(
        h.say("e LIST \"\" INBOX junk\r\n"),
        "e BAD Unknown command or invalid arguments\r\n"
    );
    // Eight wildcards at most per pattern; the other pattern still lists.
    assert_eq!(
        h.say("f LIST \"\" (\"*%*%*%*%*\" INBOX)\r\n"),
        "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\nf OK LIST completed\r\n"
    );
    let mut bytes = b"g LIST (SUBSCRIBED) \"\" (".to_vec();
    bytes.extend(std::iter::repeat_n(b'\0', 40));
    bytes.extend_from_slice(b")\r\n");
    assert_eq!(
        h.send(&bytes, 7),
        "g BAD Invalid LIST-EXTENDED arguments\r\n"
    );
}
