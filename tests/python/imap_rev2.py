#!/usr/bin/env python3
"""IMAP4rev2 (RFC 9051) after ENABLE, STATUS SIZE/DELETED and SEARCHRES with imaplib.

usage: imap_rev2.py IMAP PASSWORD

Raises on any failure; prints "ok" at the end.
"""
import imaplib
import sys

HOST = "127.0.0.1"
imap_port = int(sys.argv[1])
password = sys.argv[2]
USER = "bob@example.test"
HELLO = b"From: Ann <ann@example.test>\r\nSubject: hello\r\n\r\nHi Bob\r\n"
LUNCH = b"From: Cy <cy@example.test>\r\nSubject: lunch\r\n\r\nPizza?\r\n"


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def run(m, *args):
    """Runs a command; returns its untagged responses by name."""
    m.untagged_responses.clear()
    ok(m._simple_command(*args))
    got = dict(m.untagged_responses)
    m.untagged_responses.clear()
    return got


m = imaplib.IMAP4(HOST, imap_port)
ok(m.login(USER, password))
caps = ok(m.capability())[0].split()
for cap in (b"IMAP4rev1", b"IMAP4rev2", b"SEARCHRES", b"STATUS=SIZE", b"ESEARCH"):
    assert cap in caps, caps

ok(m.append("INBOX", None, None, HELLO))
ok(m.append("INBOX", r"(\Seen)", None, LUNCH))
ok(m.append("INBOX", r"(\Deleted)", None, HELLO))

# Before ENABLE: IMAP4rev1 answers, STATUS SIZE/DELETED already offered.
got = run(m, "STATUS", "INBOX", "(MESSAGES SIZE DELETED UNSEEN)")
size = 2 * len(HELLO) + len(LUNCH)
assert got["STATUS"] == [b'"INBOX" (MESSAGES 3 SIZE %d DELETED 1 UNSEEN 2)' % size], got
ok(m.select("INBOX"))
assert "RECENT" in m.untagged_responses, m.untagged_responses
got = run(m, "SEARCH", "UNSEEN")
assert got == {"SEARCH": [b"1 3"]}, got
ok(m.unselect())

# ENABLE IMAP4rev2.
got = run(m, "ENABLE", "IMAP4rev2")
assert got.get("ENABLED") == [b"IMAP4rev2"], got
m.untagged_responses.clear()
ok(m.select("INBOX"))
sel = dict(m.untagged_responses)
assert sel["EXISTS"] == [b"3"], sel
assert "RECENT" not in sel and "UNSEEN" not in sel, sel
assert sel["LIST"] == [b'(\\HasNoChildren) "/" "INBOX"'], sel
assert "UIDVALIDITY" in sel and "UIDNEXT" in sel, sel

got = run(m, "SEARCH", "UNSEEN")
assert list(got) == ["ESEARCH"] and got["ESEARCH"][0].endswith(b") ALL 1,3"), got
got = run(m, "UID", "SEARCH", "SUBJECT", "nothing")
assert list(got) == ["ESEARCH"] and got["ESEARCH"][0].endswith(b") UID"), got

# SEARCHRES: save, then use `$` in FETCH, SEARCH and STORE.
got = run(m, "UID", "SEARCH", "RETURN", "(SAVE)", "SUBJECT", "hello")
assert "ESEARCH" not in got, got
got = run(m, "FETCH", "$", "(UID)")
assert got["FETCH"] == [b"1 (UID 1)", b"3 (UID 3)"], got
got = run(m, "SEARCH", "NOT", "$")
assert got["ESEARCH"][0].endswith(b") ALL 2"), got
got = run(m, "UID", "STORE", "$", "+FLAGS", r"(\Flagged)")
assert len(got["FETCH"]) == 2, got
got = run(m, "SEARCH", "RETURN", "(COUNT)", "FLAGGED")
assert got["ESEARCH"][0].endswith(b") COUNT 2"), got

# STATUS SIZE/DELETED after an EXPUNGE.
ok(m.expunge())
got = run(m, "STATUS", "INBOX", "(MESSAGES SIZE DELETED)")
assert got["STATUS"] == [b'"INBOX" (MESSAGES 2 SIZE %d DELETED 0)'
                         % (len(HELLO) + len(LUNCH))], got
got = run(m, "FETCH", "$", "(UID)")
assert got["FETCH"] == [b"1 (UID 1)"], got
assert m.logout()[0] == "BYE"
print("ok")
