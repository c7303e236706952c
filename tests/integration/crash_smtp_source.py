#!/usr/bin/env python3
# tests/integration/crash_smtp_source.py - crash safety under Postfix's
# smtp-source: a steady load on `mailsim serve` (fsync on), kill -9 at a
# random moment, five times, restarting on the same state directory; then
# one more crash while the MDA is stuck, so every message sits between the
# queue and the Maildir.  At the end every message that got a 250 must be
# in the Maildir exactly once: lost 0, duplicated 0.
#
# Which message is which: smtp-source's Message-Ids are not unique (its
# pid, a descriptor and a count-down), so the identity is the queue id of
# the "250 2.0.0 Ok: queued as ID" that smtp-source -v prints, which the
# MTA also wrote in the Received field it put on top of the message.
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.dont_write_bytecode = True   # no __pycache__ left in tests/
import lib  # noqa: E402  (moves to the top of the tree)
from lib import check, free_ports  # noqa: E402
MAILSIM = os.environ.get("MAILSIM", "./mailsim")
ROUNDS = 5
SESSIONS = 4            # smtp-source -s: sessions in parallel
PAYLOAD = 4000          # smtp-source -l: octets of body per message
STUCK_MESSAGES = 20     # sent while the MDA is stuck
DRAIN_SECONDS = 90      # for the last start to deliver what is queued

ACK = re.compile(r"<<< 250 2\.0\.0 Ok: queued as ([0-9A-F]+)")
QUEUE_ID = re.compile(rb"\(mailsim\) with E?SMTPS?A? id ([0-9A-F]+)")


if not shutil.which("smtp-source"):
    check(False, "smtp-source is installed (Debian package postfix: make deps)")
    sys.exit(1)

state = tempfile.mkdtemp(prefix="mailsim-crash-src-")
ports = free_ports(10)
args = [MAILSIM, "serve", "--state", state]
for name, port in zip(["smtp", "submission", "smtps", "imap", "imaps", "pop3", "pop3s", "dns", "lmtp", "auth"], ports):
    args += ["--%s-port" % name, str(port)]
smtp_port = ports[0]
maildir = os.path.join(state, "mail", "example.org", "bob")
sieve_dir = os.path.join(state, "sieve", "example.org")
stuck_path = os.path.join(sieve_dir, "bob.sieve")


def start():
    log = open(os.path.join(state, "serve.log"), "a")
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    end = time.time() + 10
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", smtp_port), timeout=0.2).close()
            return p
        except OSError:
            time.sleep(0.05)
    return p


def source(messages, out_path):
    """smtp-source on its own pid, its transcript (-v) in out_path."""
    out = open(out_path, "w")
    return subprocess.Popen(["smtp-source", "-v", "-s", str(SESSIONS), "-m", str(messages), "-l", str(PAYLOAD),
                             "-f", "a@client.test", "-t", "bob@example.org", "127.0.0.1:%d" % smtp_port],
                            stdout=out, stderr=subprocess.STDOUT)


def stop(p, timeout=10):
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def acked_in(path):
    with open(path, errors="replace") as fh:
        return ACK.findall(fh.read())


def queued_now():
    d = os.path.join(state, "queue")
    return sum(1 for f in os.listdir(d) if f.endswith(".env")) if os.path.isdir(d) else 0


def delivered():
    """Queue id of every message in bob's Maildir (new/ and cur/), one per file."""
    ids = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            with open(os.path.join(d, f), "rb") as fh:
                m = QUEUE_ID.search(fh.read(4096))
            ids.append(m.group(1).decode() if m else "?" + f)
    return ids


acked = []
queued_at_kill = []
rng = random.Random(int(os.environ.get("CRASH_SEED", "11")))

# ---- five crashes under a steady load -------------------------------------
for rnd in range(ROUNDS):
    p = start()
    transcript = os.path.join(state, "source-%d.txt" % rnd)
    src = source(1000000, transcript)          # more than it can send: load until the crash
    time.sleep(rng.uniform(0.5, 2.0))
    p.send_signal(signal.SIGKILL)
    p.wait()
    queued_at_kill.append(queued_now())
    stop(src)                                  # it ends on the broken connections
    got = acked_in(transcript)
    acked += got
    print("note: round %d: %d acknowledged, %d in the queue at the kill" % (rnd, len(got), queued_at_kill[-1]))

# ---- a crash between queue and delivery -----------------------------------
# bob's Sieve script is a FIFO: the MDA's read of it blocks (a hung file
# system), so the MTA accepts and queues, and no delivery ends.
os.makedirs(sieve_dir, exist_ok=True)
os.mkfifo(stuck_path)
before = len(delivered())
p = start()
transcript = os.path.join(state, "source-stuck.txt")
src = source(STUCK_MESSAGES, transcript)
stop(src, timeout=60)
got = acked_in(transcript)
time.sleep(0.5)
stuck_queued = queued_now()
stuck_delivered = len(delivered()) - before
p.send_signal(signal.SIGKILL)
p.wait()
os.unlink(stuck_path)
acked += got
check(len(got) == STUCK_MESSAGES, "MDA stuck: %d of %d messages acknowledged" % (len(got), STUCK_MESSAGES))
check(stuck_queued >= STUCK_MESSAGES and stuck_delivered == 0,
      "MDA stuck: at the kill %d message(s) in the queue, %d in the Maildir" % (stuck_queued, stuck_delivered))

# ---- a last start without a crash drains the queue ------------------------
p = start()
want = set(acked)
end = time.time() + DRAIN_SECONDS
while time.time() < end and not want.issubset(delivered()):
    time.sleep(0.3)
time.sleep(1)
left = queued_now()
p.send_signal(signal.SIGTERM)
stop(p, timeout=15)

ids = delivered()
counts = {}
for i in ids:
    counts[i] = counts.get(i, 0) + 1
lost = [i for i in acked if i not in counts]
dups = sorted(i for i, n in counts.items() if n > 1)
unacked = [i for i in counts if i not in want]
check(len(acked) > STUCK_MESSAGES, "%d messages acknowledged over %d kill -9 rounds under smtp-source, %d more "
      "with the MDA stuck" % (len(acked) - STUCK_MESSAGES, ROUNDS, STUCK_MESSAGES))
check(len(set(acked)) == len(acked), "every 250 names its own queue id")
check(not lost, "lost: %d (every acknowledged message is in the Maildir)" % len(lost))
check(not dups, "duplicated: %d (every message is in the Maildir once, by queue id)" % len(dups))
check(left == 0, "the queue is empty at the end (%d left)" % left)
print("note: %d message(s) were between queue and delivery at the five random kills (%s)"
      % (sum(queued_at_kill), ", ".join(map(str, queued_at_kill))))
print("note: %d delivered without a 250 seen by smtp-source (its reply was lost in the crash; "
      "RFC 5321 6.1 lets the server deliver those)" % len(unacked))
with open(os.path.join(state, "serve.log"), errors="replace") as fh:
    suppressed = sum("was filed before: not filed again" in line for line in fh)
print("note: %d redelivery(ies) after a crash answered 250 without filing again (events that reached "
      "serve.log before each kill)" % suppressed)
if lost:
    print("lost:", lost[:5])
if dups:
    print("duplicated:", dups[:5])
if lib.failed:
    print("note: state kept in", state)
else:
    shutil.rmtree(state, ignore_errors=True)
sys.exit(lib.finish())
