#!/usr/bin/env python3
"""Prints each mailbox of alice with its message count and flags (for the mbsync test).

usage: imap_state.py IMAP_PORT PASSWORD
"""
import imaplib
import sys

m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice@example.test", sys.argv[2])
for line in m.list()[1]:
    name = line.decode().rsplit(" ", 1)[-1].strip('"')
    count = int(m.select(name)[1][0])
    flags = m.fetch("1:*", "(FLAGS)")[1] if count else []
    print(name, count, b" ".join(f for f in flags if isinstance(f, bytes)).decode())
m.logout()
