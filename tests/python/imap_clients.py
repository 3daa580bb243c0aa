#!/usr/bin/env python3
"""Hermod's IMAP server with Python's imaplib (and smtplib to deliver).

usage: imap_clients.py SMTP IMAP IMAPS PASSWORD

Raises on any failure; the exit status tells the Rust test runner the result.
"""
import email
import imaplib
import smtplib
import socket
import ssl
import sys
import time

HOST = "127.0.0.1"
smtp_port, imap_port, imaps_port = map(int, sys.argv[1:4])
password = sys.argv[4]
USER = "alice@example.test"

tls = ssl.create_default_context()
tls.check_hostname = False
tls.verify_mode = ssl.CERT_NONE


def deliver(subject, body="hello"):
    with smtplib.SMTP(HOST, smtp_port, timeout=10) as s:
        s.sendmail("sender@client.test", [USER],
                   f"From: sender@client.test\r\nTo: {USER}\r\nSubject: {subject}\r\n\r\n{body}\r\n")


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def noop_until(imap, key, predicate=lambda data: True):
    """NOOP until an untagged response arrives: changes reach other sessions
    asynchronously, through the account's mailbox actor."""
    deadline = time.time() + 10
    while time.time() < deadline:
        imap.noop()
        data = imap.untagged_responses.pop(key, None)
        if data and predicate(data):
            return data
        time.sleep(0.02)
    raise AssertionError(f"no untagged {key}: {imap.untagged_responses}")


def wait_exists(imap, n):
    deadline = time.time() + 20
    while time.time() < deadline:
        count = int(ok(imap.select("INBOX"))[0])
        if count >= n:
            return count
        time.sleep(0.05)
    raise AssertionError(f"INBOX has fewer than {n} messages")


deliver("first", "first body")
deliver("second", "second body with needle")

# --- login over plain IMAP from loopback, the basics ------------------------------------
m = imaplib.IMAP4(HOST, imap_port)
caps = m.capabilities
for cap in ("IMAP4REV1", "IDLE", "UIDPLUS", "MOVE", "STARTTLS"):
    assert cap in caps, (cap, caps)
ok(m.login(USER, password))
assert wait_exists(m, 2) == 2
typ, data = m.fetch("1:2", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert typ == "OK"
subjects = [part[1].decode() for part in data if isinstance(part, tuple)]
assert any("first" in s for s in subjects) and any("second" in s for s in subjects), subjects
typ, data = m.fetch("2", "(BODY[])")
msg = email.message_from_bytes(data[0][1])
assert msg["Subject"] == "second"
assert msg["Received"].startswith("from"), msg["Received"]
# A non-PEEK fetch set \Seen.
flags = ok(m.fetch("2", "(FLAGS)"))[0].decode()
assert "\\Seen" in flags, flags
assert ok(m.search(None, "BODY", "needle"))[0].split() == [b"2"]
assert ok(m.search(None, "UNSEEN"))[0].split() == [b"1"]
ok(m.store("1", "+FLAGS", "(\\Flagged)"))
assert ok(m.search(None, "FLAGGED"))[0].split() == [b"1"]
# RFC 4731 ESEARCH.
assert "ESEARCH" in m.capabilities or b"ESEARCH" in ok(m.capability())[0], m.capabilities
typ, data = m._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
assert typ == "OK", data
esearch = m.untagged_responses.pop("ESEARCH")[0]
assert b"MIN 1 MAX 2 COUNT 2" in esearch, esearch

# --- mailboxes: create, list, copy, move, append with APPENDUID -------------------------
ok(m.create("Archive"))
boxes = b"\n".join(ok(m.list()))
assert b"Archive" in boxes and b"INBOX" in boxes, boxes
# RFC 6154: every new account has the special-use mailboxes.
for special in (b"\\Sent", b"\\Drafts", b"\\Trash", b"\\Junk"):
    assert special in boxes, boxes
typ, data = m.uid("COPY", ok(m.uid("SEARCH", None, "ALL"))[0].split()[0], "Archive")
assert typ == "OK", data
typ, data = m.append("Archive", "(\\Seen)", None, b"Subject: appended\r\n\r\nappended body\r\n")
assert typ == "OK" and b"APPENDUID" in data[0], data
assert int(ok(m.select("Archive"))[0]) == 2
ok(m.select("INBOX"))
typ, data = m._simple_command("MOVE", "1", "Archive")
assert typ == "OK", data
assert int(ok(m.select("Archive"))[0]) == 3
assert int(ok(m.select("INBOX"))[0]) == 1

# --- two sessions see each other's changes ---------------------------------------------
other = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=tls)
ok(other.login(USER, password))
ok(other.select("INBOX"))
ok(m.store("1", "+FLAGS", "(\\Answered)"))
noop_until(other, "FETCH", lambda data: any(b"\\Answered" in d for d in data if isinstance(d, bytes)))

# --- IDLE: a delivery over SMTP reaches the idling session without polling --------------
tag = b"I1"
other.send(tag + b" IDLE\r\n")
line = other.readline()
assert line.startswith(b"+"), line
deliver("while idling")
other.sock.settimeout(20)
line = other.readline()
assert b"EXISTS" in line, line
other.send(b"DONE\r\n")
while True:
    line = other.readline()
    if line.startswith(tag):
        assert b"OK" in line, line
        break

# --- expunge in one session shows up in the other --------------------------------------
ok(m.select("INBOX"))
ok(m.store("1", "+FLAGS", "(\\Deleted)"))
ok(m.expunge())
noop_until(other, "EXPUNGE")
other.logout()

# --- STARTTLS, then a wrong password -----------------------------------------------------
s = imaplib.IMAP4(HOST, imap_port)
s.starttls(ssl_context=tls)
try:
    s.login(USER, "wrong")
    raise AssertionError("wrong password accepted")
except imaplib.IMAP4.error:
    pass
s.logout()
m.logout()
print("ok")
