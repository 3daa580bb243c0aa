#!/usr/bin/env python3
"""Holds N IMAP IDLE sessions on one account, then delivers one message over SMTP and
measures how long it takes to reach every session, and the server's resident memory.

usage: idle_sessions.py N SERVER_PID [IMAP_PORT=1143] [SMTP_PORT=2525] [USER=idle@example.test] [PASS=pass]

Loopback only. The server needs max_connections and max_connections_per_ip >= N and the
account with that password. Stops by itself (30 s after the delivery at most).
"""
import asyncio
import smtplib
import sys
import time

N = int(sys.argv[1])
PID = sys.argv[2]
IMAP = int(sys.argv[3]) if len(sys.argv) > 3 else 1143
SMTP = int(sys.argv[4]) if len(sys.argv) > 4 else 2525
USER = sys.argv[5] if len(sys.argv) > 5 else "idle@example.test"
PASS = sys.argv[6] if len(sys.argv) > 6 else "pass"
ready = 0


def rss():
    with open(f"/proc/{PID}/status") as status:
        return next(l.split(None, 1)[1].strip() for l in status if l.startswith("VmRSS"))


async def session(got, go):
    global ready
    r, w = await asyncio.open_connection("127.0.0.1", IMAP)
    await r.readline()
    w.write(f"a LOGIN {USER} {PASS}\r\nb SELECT INBOX\r\nc IDLE\r\n".encode())
    while True:
        line = await r.readline()
        if not line:
            return
        if line.startswith(b"+"):
            break
    ready += 1
    await go.wait()
    while True:
        line = await r.readline()
        if not line:
            break
        if b"EXISTS" in line:
            got.append(time.monotonic())
            break
    w.close()


async def main():
    got, go = [], asyncio.Event()
    tasks = []
    for i in range(N):
        tasks.append(asyncio.create_task(session(got, go)))
        if i % 200 == 199:
            await asyncio.sleep(0.05)
    deadline = time.monotonic() + 300
    while ready < N and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    print(f"{ready} of {N} sessions idling; server RSS {rss()}", flush=True)
    go.set()
    start = time.monotonic()
    with smtplib.SMTP("127.0.0.1", SMTP) as s:
        s.sendmail("load@client.test", [USER], "Subject: wake up\r\n\r\nIDLE test\r\n")
    await asyncio.wait(tasks, timeout=30)
    waits = sorted(t - start for t in got)
    if waits:
        print(f"{len(got)} of {N} saw EXISTS: p50 {waits[len(waits) // 2] * 1000:.0f} ms, "
              f"max {waits[-1] * 1000:.0f} ms")
    else:
        print("no session saw the delivery")


asyncio.run(main())
