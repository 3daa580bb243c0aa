#!/usr/bin/env python3
"""AUTH failures over TLS end the session once max_auth_failures (2 in the test) is reached.

usage: auth_limit.py SUBMISSIONS_PORT
"""
import smtplib
import ssl
import sys

tls = ssl.create_default_context()
tls.check_hostname = False
tls.verify_mode = ssl.CERT_NONE

s = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), timeout=10, context=tls)
s.ehlo("client.test")
code, _ = s.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==")  # alice / wrong
assert code == 535, code
code, _ = s.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==")
assert code == 535, code
# The second failure reached the limit: 421 follows at once, then the connection closes.
code, _ = s.getreply()
assert code == 421, code
try:
    s.noop()
    raise AssertionError("session still open after the auth failure limit")
except smtplib.SMTPServerDisconnected:
    pass
print("ok")
