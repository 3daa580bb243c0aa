#!/usr/bin/env python3
"""Mailbox names across IMAP4rev1 (modified UTF-7) and IMAP4rev2 (UTF-8) with imaplib.

usage: imap_names.py IMAP PASSWORD

Raises on any failure; prints "ok" at the end.
"""
import imaplib
import sys

HOST = "127.0.0.1"
imap_port = int(sys.argv[1])
password = sys.argv[2]
USER = "bob@example.test"
HELLO = b"From: Ann <ann@example.test>\r\nSubject: hello\r\n\r\nHi Bob\r\n"
ENTWUERFE = "Entwürfe".encode()


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


def names(m, pattern="*"):
    """The names a LIST returns, as the octets on the wire."""
    return sorted(line.rsplit(b' "/" ', 1)[1].strip(b'"') for line in ok(m.list('""', pattern)))


# An IMAP4rev1 client: names in modified UTF-7.
rev1 = imaplib.IMAP4(HOST, imap_port)
ok(rev1.login(USER, password))
ok(rev1.create("Entw&APw-rfe"))
ok(rev1.create("Entw&APw-rfe/&ZeVnLIqe-"))
ok(rev1.append("Entw&APw-rfe", None, None, HELLO))
assert rev1.create("Entw&APx-")[0] == "NO"
# Raw UTF-8 is not modified UTF-7: refused before ENABLE IMAP4rev2.
assert rev1.create('"Entwü"'.encode())[0] == "NO"
assert names(rev1, "Entw*") == [b"Entw&APw-rfe", b"Entw&APw-rfe/&ZeVnLIqe-"], names(rev1)
assert names(rev1, "Entw&APw-rfe/%") == [b"Entw&APw-rfe/&ZeVnLIqe-"]

# A second connection enables IMAP4rev2: the same mailboxes in UTF-8.
rev2 = imaplib.IMAP4(HOST, imap_port)
ok(rev2.login(USER, password))
got = run(rev2, "ENABLE", "IMAP4rev2")
assert got.get("ENABLED") == [b"IMAP4rev2"], got
assert names(rev2, "Entw*") == [ENTWUERFE, ENTWUERFE + "/日本語".encode()], names(rev2)
got = run(rev2, "STATUS", b'"' + ENTWUERFE + b'"', "(MESSAGES)")
assert got["STATUS"] == [b'"' + ENTWUERFE + b'" (MESSAGES 1)'], got
rev2.untagged_responses.clear()
ok(rev2._simple_command("SELECT", b'"' + ENTWUERFE + b'"'))
sel = dict(rev2.untagged_responses)
assert sel["EXISTS"] == [b"1"], sel
assert sel["LIST"] == [b'(\\HasChildren) "/" "' + ENTWUERFE + b'"'], sel
# A UTF-8 name made here reaches the IMAP4rev1 client in modified UTF-7.
ok(rev2._simple_command("CREATE", '"Grüße"'.encode()))
rev2.logout()

assert names(rev1, "Gr*") == [b"Gr&APwA3w-e"], names(rev1)
ok(rev1.select("Gr&APwA3w-e"))
rev1.logout()
print("ok")
