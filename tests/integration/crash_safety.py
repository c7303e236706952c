#!/usr/bin/env python3
# tests/integration/crash_safety.py - nothing acknowledged is lost: messages
# are submitted to `mailsim serve` (fsync on) and the process is killed with
# SIGKILL right after a 250, five times, restarting on the same state
# directory each time.  At the end every message that got a 250 is in the
# Maildir (counted by Message-ID) exactly once: none lost, none twice.  A
# crash right after a delivery and before the queue's update makes the MTA
# send it again; the MDA's log of copies filed (agents/mda/dedup.h) must
# answer 250 without filing it again.
import os
import random
import shutil
import signal
import smtplib
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.dont_write_bytecode = True   # no __pycache__ left in tests/
import lib  # after the path; it moves to the top of the tree
from lib import check

ROUNDS = 5

state = tempfile.mkdtemp(prefix="mailsim-crash-")
ports = lib.serve_ports()
smtp_port = ports["smtp"]


def start():
    """serve on the same ports and state each time (fsync on), its output
    added to one log."""
    p = lib.start_serve(state, ports, append=True)
    lib.wait_port(smtp_port)
    return p


def delivered_ids():
    ids = []
    for sub in ("new", "cur"):
        d = os.path.join(state, "mail", "example.org", "bob", sub)
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            with open(os.path.join(d, f), "rb") as fh:
                for line in fh.read().split(b"\r\n"):
                    if line.lower().startswith(b"message-id:"):
                        ids.append(line.split(b":", 1)[1].strip().decode())
                        break
    return ids


acked = []
rng = random.Random(1)
for rnd in range(ROUNDS):
    p = start()
    n = rng.randint(5, 20)
    try:
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as s:
            for i in range(n):
                mid = "<crash-%d-%d@client.test>" % (rnd, i)
                msg = ("From: a@client.test\r\nTo: bob@example.org\r\nSubject: crash %d/%d\r\n"
                       "Message-ID: %s\r\n\r\nbody %d\r\n" % (rnd, i, mid, i))
                s.sendmail("a@client.test", ["bob@example.org"], msg.encode())
                acked.append(mid)   # only after the 250
    except (smtplib.SMTPException, OSError) as e:
        print("note: round %d: %s" % (rnd, e))
    # kill -9 right after the last 250, while deliveries are still under way
    p.send_signal(signal.SIGKILL)
    p.wait()

# a last start without a crash lets the recovered queue drain
p = start()
end = time.time() + 20
while time.time() < end and len(set(delivered_ids())) < len(acked):
    time.sleep(0.2)
time.sleep(1)
p.send_signal(signal.SIGTERM)
p.wait(timeout=15)

ids = delivered_ids()
lost = [m for m in acked if m not in ids]
dups = sorted({m for m in ids if ids.count(m) > 1})
check(len(acked) > 0, "%d messages were acknowledged over %d kill -9 rounds" % (len(acked), ROUNDS))
check(not lost, "lost: %d (every acknowledged message is in the Maildir)" % len(lost))
# RFC 5321 6.1 would allow one when a crash falls between the MDA's 250
# and the queue's update; the MDA's duplicate log closes that window.
check(not dups, "duplicated: %d (every message is in the Maildir once)" % len(dups))
with open(os.path.join(state, "serve.log"), errors="replace") as fh:
    suppressed = sum("was filed before: not filed again" in line for line in fh)
print("note: %d redelivery(ies) after a crash answered without filing again" % suppressed)
if lost:
    print("lost:", lost[:5])
if dups:
    print("duplicated:", dups[:5])
shutil.rmtree(state, ignore_errors=True)
sys.exit(lib.finish())
