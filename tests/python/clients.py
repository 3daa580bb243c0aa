#!/usr/bin/env python3
"""Hermod with Python's standard SMTP and POP3 clients (smtplib, poplib).

usage: clients.py SMTP SUBMISSION SUBMISSIONS POP3 POP3S PASSWORD

Every check raises on failure; the exit status tells the Rust test runner the result.
"""
import email.message
import poplib
import smtplib
import ssl
import sys
import time

HOST = "127.0.0.1"
smtp_port, sub_port, subs_port, pop3_port, pop3s_port = map(int, sys.argv[1:6])
password = sys.argv[6]

# The server's certificate is self-signed: these clients check the protocol, not the PKI.
tls = ssl.create_default_context()
tls.check_hostname = False
tls.verify_mode = ssl.CERT_NONE


def msg(subject, to="alice@example.test", body="Hello from Python.\n"):
    m = email.message.EmailMessage()
    m["From"] = "sender@client.test"
    m["To"] = to
    m["Subject"] = subject
    m.set_content(body)
    return m


def expect_refused(fn, code):
    try:
        fn()
    except smtplib.SMTPRecipientsRefused as e:
        got = list(e.recipients.values())[0][0]
        assert got == code, f"expected {code}, got {e.recipients}"
        return
    except smtplib.SMTPSenderRefused as e:
        assert e.smtp_code == code, f"expected {code}, got {e.smtp_code} {e.smtp_error}"
        return
    raise AssertionError(f"expected refusal {code}")


def pop3_count(user):
    p = poplib.POP3(HOST, pop3_port, timeout=10)
    p.user(user)
    p.pass_(password)
    n = p.stat()[0]
    p.quit()
    return n


def wait_count(user, n):
    deadline = time.time() + 20
    while time.time() < deadline:
        if pop3_count(user) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{user} has {pop3_count(user)} messages, expected {n}")


# --- MX: local recipients only, no AUTH -------------------------------------------------
with smtplib.SMTP(HOST, smtp_port, timeout=10) as s:
    code, _ = s.ehlo("client.test")
    assert code == 250
    for ext in ["pipelining", "8bitmime", "smtputf8", "size", "enhancedstatuscodes",
                "chunking", "starttls"]:
        assert s.has_extn(ext), f"EHLO lacks {ext}: {s.esmtp_features}"
    assert not s.has_extn("auth"), "MX must not offer AUTH"
    s.send_message(msg("mx-1"))
    # user+tag@ reaches the user; domains are case-insensitive.
    s.send_message(msg("mx-2", to="alice+lists@EXAMPLE.TEST"))
    expect_refused(lambda: s.sendmail("a@client.test", ["nobody@example.test"], "x"), 550)
    expect_refused(lambda: s.sendmail("a@client.test", ["x@elsewhere.test"], "x"), 554)

# --- Submission: STARTTLS, then AUTH, then anyone ----------------------------------------
with smtplib.SMTP(HOST, sub_port, timeout=10) as s:
    s.ehlo("client.test")
    assert not s.has_extn("auth"), "AUTH must wait for TLS"
    expect_refused(lambda: s.sendmail("alice@example.test", ["bob@example.test"], "x"), 530)
    s.starttls(context=tls)
    s.ehlo("client.test")
    assert "PLAIN" in s.esmtp_features.get("auth", "").upper()
    try:
        s.login("alice@example.test", "wrong password")
        raise AssertionError("bad password accepted")
    except smtplib.SMTPAuthenticationError as e:
        assert e.smtp_code == 535, e
    s.login("alice@example.test", password)
    refused = s.sendmail("alice@example.test", ["bob@example.test", "someone@remote.test"],
                         msg("sub-1", to="bob@example.test").as_string())
    assert refused == {}, refused

# --- Submissions: implicit TLS, AUTH LOGIN ------------------------------------------------
with smtplib.SMTP_SSL(HOST, subs_port, timeout=10, context=tls) as s:
    s.ehlo("client.test")
    s.user, s.password = "bob@example.test", password
    code, _ = s.auth("LOGIN", s.auth_login)
    assert code == 235, code
    s.send_message(msg("subs-1", to="alice@example.test"), from_addr="bob@example.test",
                   to_addrs=["alice@example.test"])

wait_count("alice@example.test", 3)
wait_count("bob@example.test", 1)

# --- POP3: the whole TRANSACTION state --------------------------------------------------
p = poplib.POP3(HOST, pop3_port, timeout=10)
caps = p.capa()
for cap in ["TOP", "UIDL", "RESP-CODES", "PIPELINING", "USER", "STLS"]:
    assert cap in caps, f"CAPA lacks {cap}: {caps}"
p.user("alice@example.test")
p.pass_(password)
count, size = p.stat()
assert count == 3, count
listing = p.list()[1]
assert len(listing) == 3
uidls = [line.split()[1] for line in p.uidl()[1]]
assert len(set(uidls)) == 3
first = b"\r\n".join(p.retr(1)[1])
assert first.startswith(b"Received: from client.test"), first[:200]
assert b"Subject: mx-1" in first
top = p.top(2, 0)[1]
assert any(b"Subject: mx-2" in line for line in top)
assert b"Hello from Python." not in b"\n".join(top)
p.dele(1)
try:
    p.retr(1)
    raise AssertionError("a deleted message was retrieved")
except poplib.error_proto:
    pass
p.quit()

# UIDLs survive sessions; the deleted message is gone for good.
p = poplib.POP3(HOST, pop3_port, timeout=10)
p.user("alice@example.test")
p.pass_(password)
assert p.stat()[0] == 2
again = [line.split()[1] for line in p.uidl()[1]]
assert again == uidls[1:], (again, uidls)
# One session at a time: a second login gets [IN-USE].
q = poplib.POP3(HOST, pop3_port, timeout=10)
q.user("alice@example.test")
try:
    q.pass_(password)
    raise AssertionError("second session got the maildrop")
except poplib.error_proto as e:
    assert b"[IN-USE]" in e.args[0], e
q.quit()
p.rset()
p.quit()

# --- POP3 over TLS: pop3s and STLS --------------------------------------------------------
p = poplib.POP3_SSL(HOST, pop3s_port, timeout=10, context=tls)
p.user("bob@example.test")
p.pass_(password)
assert p.stat()[0] == 1
p.quit()
p = poplib.POP3(HOST, pop3_port, timeout=10)
p.stls(context=tls)
p.user("bob@example.test")
p.pass_(password)
assert b"Subject: sub-1" in b"\n".join(p.retr(1)[1])
p.quit()
print("ok")
