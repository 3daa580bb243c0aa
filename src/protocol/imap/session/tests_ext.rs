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

const ATTACHED: &str = "From: a@b\r\nSubject: bin\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n\
--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n\
--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC/w==\r\n\
--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-rot13\r\n\r\nnop\r\n--XX--\r\n";

fn binary_script() -> Vec<u8> {
    let mut s = b"a LOGIN bob@example.org secret\r\n".to_vec();
    s.extend_from_slice(b"h APPEND INBOX ~{5}\r\nx\0y\r\n\r\nj APPEND INBOX ~{2+}\r\nzz\r\n");
    s.extend_from_slice(b"b SELECT INBOX\r\n");
    s.extend_from_slice(b"c FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2] BINARY.PEEK[1])\r\n");
    s.extend_from_slice(b"d FETCH 1 (FLAGS BINARY.PEEK[2]<1.2>)\r\n");
    s.extend_from_slice(b"e UID FETCH 1 (BINARY[2])\r\n");
    s.extend_from_slice(b"f FETCH 1 (BINARY.PEEK[3])\r\ng FETCH 1 BINARY.SIZE[3]\r\n");
    s.extend_from_slice(b"i FETCH 2:3 (BINARY.PEEK[] BINARY.SIZE[1])\r\n");
    s.extend_from_slice(b"k FETCH 1 BINARY[1.2.3]\r\n");
    s.extend_from_slice(b"l FETCH 1 BINARY[HEADER]\r\nm LOGOUT\r\n");
    s
}

const BINARY_EXPECTED: &str = "\
* 1 FETCH (BINARY.SIZE[1] 5 BINARY.SIZE[2] 4 BINARY[1] {5}\r\ncafé)\r\n\
c OK FETCH completed\r\n\
* 1 FETCH (FLAGS () BINARY[2]<1> {2}\r\n\x01\x02)\r\n\
d OK FETCH completed\r\n\
* 1 FETCH (UID 1 BINARY[2] ~{4}\r\n\0\x01\x02\u{ff} FLAGS (\\Seen))\r\n\
e OK FETCH completed\r\n\
f NO [UNKNOWN-CTE] Cannot decode the part's encoding\r\n\
g NO [UNKNOWN-CTE] Cannot decode the part's encoding\r\n\
* 2 FETCH (BINARY[] ~{5}\r\nx\0y\r\n BINARY.SIZE[1] 0)\r\n\
* 3 FETCH (BINARY[] {2}\r\nzz BINARY.SIZE[1] 0)\r\n\
i OK FETCH completed\r\n\
* 1 FETCH (BINARY[1.2.3] {0}\r\n)\r\n\
k OK FETCH completed\r\n\
l BAD Unknown command or invalid arguments\r\n\
* BYE Logging out\r\nm OK LOGOUT completed\r\n";

#[test]
fn binary_fetch_and_literal8_append_with_split_input() {
    for chunk in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] {
        let mut h = Harness::new(true);
        h.deliver(ATTACHED, &[]);
        let validity = h.store.mailbox(USER, "INBOX").unwrap().unwrap().uidvalidity;
        let out = h.send(&binary_script(), chunk);
        let appended = format!(
            "+ Ready for literal data\r\nh OK [APPENDUID {validity} 2] APPEND completed\r\n\
             j OK [APPENDUID {validity} 3] APPEND completed\r\n"
        );
        assert!(out.contains(&appended), "chunk {chunk}: {out}");
        // Without a blank line all is header: part 1 (the body) is empty, as for BODY[1].
        let from = out.find("* 1 FETCH (BINARY.SIZE").unwrap();
        let expected = BINARY_EXPECTED.replace('\u{ff}', "\u{fffd}");
        assert_eq!(&out[from..], expected, "chunk {chunk}");
    }
}
