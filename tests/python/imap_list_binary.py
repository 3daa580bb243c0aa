#!/usr/bin/env python3
"""LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and BINARY (RFC 3516) with imaplib.

usage: imap_list_binary.py IMAP PASSWORD

Raises on any failure; prints "ok" at the end.
"""
import base64
import imaplib
import sys

HOST = "127.0.0.1"
imap_port = int(sys.argv[1])
password = sys.argv[2]
USER = "bob@example.test"


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def untagged(m, command, *args):
    """Runs a command and returns its untagged LIST and STATUS lines, in arrival order."""
    m.untagged_responses.clear()
    typ, data = m._simple_command(command, *args)
    assert typ == "OK", (typ, data)
    lines = []
    for name in ("LIST", "STATUS"):
        for item in m.untagged_responses.pop(name, []):
            lines.append((name, item if isinstance(item, bytes) else item[0]))
    return lines


m = imaplib.IMAP4(HOST, imap_port)
ok(m.login(USER, password))
caps = ok(m.capability())[0].split()
for cap in (b"LIST-EXTENDED", b"LIST-STATUS", b"BINARY"):
    assert cap in caps, caps

# --- LIST-EXTENDED ----------------------------------------------------------------------
ok(m.create("Fruit"))
ok(m.create("Fruit/Apple"))
ok(m.subscribe("Fruit/Apple"))
ok(m.subscribe("Ghost/Box"))
lines = [l for _, l in untagged(m, "LIST", "(SUBSCRIBED)", '""', '"*"')]
assert b'(\\HasNoChildren \\Subscribed) "/" "Fruit/Apple"' in lines, lines
assert b'(\\NonExistent \\Subscribed) "/" "Ghost/Box"' in lines, lines
assert not any(b'"INBOX"' in l for l in lines), lines
lines = [l for _, l in untagged(m, "LIST", "(SUBSCRIBED RECURSIVEMATCH)", '""', '"%"')]
assert lines == [
    b'(\\HasChildren) "/" "Fruit" ("CHILDINFO" ("SUBSCRIBED"))',
    b'(\\NonExistent) "/" "Ghost" ("CHILDINFO" ("SUBSCRIBED"))',
], lines
lines = [l for _, l in untagged(m, "LIST", "(SPECIAL-USE)", '""', '"*"')]
assert len(lines) == 4 and all(b"\\Sent" in l or b"\\Drafts" in l or b"\\Trash" in l
                               or b"\\Junk" in l for l in lines), lines
for args in (("(BOGUS)", '""', '"*"'), ('""', '("INBOX"'), ("(RECURSIVEMATCH)", '""', "*")):
    try:
        m._simple_command("LIST", *args)
        raise AssertionError(f"LIST {args} was accepted")
    except imaplib.IMAP4.error as e:
        assert "BAD" in str(e) and "LIST-EXTENDED" in str(e), e

# --- LIST-STATUS, with messages in INBOX ------------------------------------------------
ok(m.append("INBOX", "(\\Seen)", None, b"Subject: one\r\n\r\nseen\r\n"))
attachment = bytes([0, 1, 2, 255]) * 64
mime = (b"From: a@example.test\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
        b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n"
        b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(attachment).replace(b"\n", b"\r\n")
        + b"--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nzzz\r\n"
        b"--XX--\r\n")
ok(m.append("INBOX", None, None, mime))
lines = untagged(m, "LIST", '""', '("INBOX" "Fruit*")', "RETURN", "(CHILDREN STATUS (MESSAGES UNSEEN))")
assert [k for k, _ in lines].count("LIST") == 3, lines
statuses = {l for k, l in lines if k == "STATUS"}
assert b'"INBOX" (MESSAGES 2 UNSEEN 1)' in statuses, lines
assert b'"Fruit" (MESSAGES 0 UNSEEN 0)' in statuses, lines
assert b'"Fruit/Apple" (MESSAGES 0 UNSEEN 0)' in statuses, lines

# --- BINARY -----------------------------------------------------------------------------
ok(m.select("INBOX"))
data = ok(m.fetch("2", "(BINARY.SIZE[2] BINARY.PEEK[2] BINARY.PEEK[1]<0.4>)"))
head, payload = data[0]
assert b"BINARY.SIZE[2] 256" in head and b"BINARY[2] ~{256}" in head, head
assert payload == attachment, payload[:16]
assert data[1][1] == "café".encode()[:4], data
flags = ok(m.fetch("2", "(FLAGS)"))[0]
assert b"\\Seen" not in flags, flags
data = ok(m.fetch("2", "(BINARY[1])"))
assert data[0][1] == "café".encode(), data
assert b"\\Seen" in b" ".join(d if isinstance(d, bytes) else d[0] for d in data), data
typ, data = m.fetch("2", "(BINARY.PEEK[3])")
assert typ == "NO" and b"UNKNOWN-CTE" in data[0], (typ, data)

# APPEND with a literal8 holding NUL (RFC 3516 §4.4).
body = b"Subject: nul\r\n\r\na\0b\r\n"
m.send(b"X1 APPEND INBOX ~{%d}\r\n" % len(body))
line = m.readline()
assert line.startswith(b"+"), line
m.send(body + b"\r\n")
while True:
    line = m.readline()
    if line.startswith(b"X1 "):
        break
assert line.startswith(b"X1 OK [APPENDUID"), line
uid = line.split()[4].rstrip(b"]")
# This session's own APPEND is not announced with EXISTS: select again to see it.
ok(m.select("INBOX"))
data = ok(m.uid("FETCH", uid.decode(), "(BINARY.PEEK[1] BINARY.SIZE[1])"))
assert data[0][1] == b"a\0b\r\n", data
assert b"BINARY.SIZE[1] 5" in data[0][0] + data[1], data
m.logout()
print("ok")
