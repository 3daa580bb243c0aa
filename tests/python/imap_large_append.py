#!/usr/bin/env python3
"""A ~20 MiB APPEND with Python's imaplib, read back exactly.

usage: imap_large_append.py IMAP PASSWORD

Raises on any failure; the exit status tells the Rust test runner the result.
"""
import hashlib
import imaplib
import re
import sys
import time

HOST = "127.0.0.1"
imap_port = int(sys.argv[1])
password = sys.argv[2]
USER = "alice@example.test"
LINES = 318_000  # 66 octets each: about 20 MiB


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def message():
    head = (b"From: Ann <ann@client.test>\r\nTo: " + USER.encode() +
            b"\r\nSubject: twenty mebibytes\r\nMessage-ID: <large@client.test>\r\n\r\n")
    lines = (hashlib.sha256(b"%d" % i).hexdigest().encode() + b"\r\n" for i in range(LINES))
    return head + b"".join(lines)


def noop_until_exists(imap, n):
    """Other sessions hear of an APPEND asynchronously, through the mailbox actor."""
    deadline = time.time() + 30
    while time.time() < deadline:
        imap.noop()
        if str(n).encode() in imap.untagged_responses.pop("EXISTS", []):
            return
        time.sleep(0.02)
    raise AssertionError(f"no * {n} EXISTS: {imap.untagged_responses}")


msg = message()
assert 20 << 20 < len(msg) < 21 << 20, len(msg)

# Another session has INBOX selected: the large APPEND reaches it like any other.
watcher = imaplib.IMAP4(HOST, imap_port, timeout=300)
ok(watcher.login(USER, password))
assert ok(watcher.select("INBOX")) == [b"0"]

m = imaplib.IMAP4(HOST, imap_port, timeout=300)
ok(m.login(USER, password))
appended = ok(m.append("INBOX", r"(\Seen)", '"05-Mar-2024 10:00:00 +0100"', msg))
code = re.search(rb"\[APPENDUID (\d+) (\d+)\]", appended[0])
assert code, appended
validity, uid = code.group(1), code.group(2)
assert uid == b"1", appended
noop_until_exists(watcher, 1)
watcher.logout()

assert ok(m.select("INBOX")) == [b"1"]
assert m.response("UIDVALIDITY")[1] == [validity], m.response("UIDVALIDITY")

meta = ok(m.uid("FETCH", uid, "(RFC822.SIZE FLAGS INTERNALDATE ENVELOPE)"))[0]
assert b"RFC822.SIZE %d " % len(msg) in meta, meta
assert b"FLAGS (\\Seen)" in meta, meta
# The server keeps the instant, in UTC.
assert b'INTERNALDATE "05-Mar-2024 09:00:00 +0000"' in meta, meta
assert b'"twenty mebibytes"' in meta, meta

data = ok(m.uid("FETCH", uid, "(BODY.PEEK[])"))
body = data[0][1]
assert len(body) == len(msg), (len(body), len(msg))
assert hashlib.sha256(body).digest() == hashlib.sha256(msg).digest(), "BODY[] differs"

m.logout()
print("ok")
