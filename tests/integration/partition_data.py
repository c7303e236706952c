#!/usr/bin/env python3
# tests/integration/partition_data.py - the network between two MTAs cut in
# the middle of a transaction, in the simulated world (tests/scenarios/):
#   partition-during-data.scn  cut while the message is on the wire: the
#                              sender retries, Bob gets it exactly once;
#   partition-after-dot.scn    cut after the final "." reached Bob's server,
#                              before its 250 reached the sender: the retry
#                              is the one duplicate SMTP allows (RFC 1047).
# Each scenario's expectations must hold, and its events must show that the
# cut fell where the scenario says (the timings are virtual, so a change of
# protocol timing that moves the window makes this fail, not lie).
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.dont_write_bytecode = True   # no __pycache__ left in tests/
import lib  # noqa: E402  (moves to the top of the tree)
from lib import check, free_ports  # noqa: E402
MAILSIM = os.environ.get("MAILSIM", "./mailsim")
SENDER, MX = "mail.example.com", "mx.example.org"


def run(name):
    path = "tests/scenarios/%s.scn" % name
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as ev:
        r = subprocess.run([MAILSIM, "run", "-q", "--events", ev.name, path], capture_output=True, text=True)
        events = [json.loads(line) for line in open(ev.name) if line.strip()]
    check(r.returncode == 0, "%s: every expectation holds (exit %d)%s"
          % (name, r.returncode, "" if r.returncode == 0 else ": " + (r.stdout + r.stderr).strip()[-300:]))
    return events


def first(events, pred):
    return next((e["t_us"] for e in events if pred(e)), None)


def times(events, pred):
    return [e["t_us"] for e in events if pred(e)]


def is_cut(e):
    return e["kind"] == "HOST" and "cut" in e["text"] and SENDER in e["text"] and MX in e["text"]


def relay_data(e):   # the sender starts the message's bytes towards the MX
    return e["from"] == SENDER and e["to"] == MX and e["text"].startswith("C: (message")


def mx_queued(e):
    return e["kind"] == "STORE" and e["from"] == MX and e["text"].startswith("queued ")


def bob_stored(e):
    return e["kind"] == "STORE" and e["to"] == "bob@example.org" and "in INBOX" in e["text"]


def reset(e):
    return e["kind"] == "ERROR" and "connection reset: network partition" in e["text"]


# ---- cut during DATA ------------------------------------------------------
ev = run("partition-during-data")
cut, data, queued = first(ev, is_cut), first(ev, relay_data), times(ev, mx_queued)
check(None not in (cut, data) and queued and data < cut < queued[0],
      "during DATA: the cut (%s us) falls after the message started (%s us) and before Bob's server "
      "queued anything (%s us)" % (cut, data, queued[0] if queued else None))
check(len(times(ev, reset)) >= 1, "during DATA: the connection is reset by the partition")
check(len(queued) == 1 and len(times(ev, bob_stored)) == 1,
      "during DATA: Bob's server queued %d and stored %d copy(ies) (want 1, 1)"
      % (len(queued), len(times(ev, bob_stored))))
check(any("deferred" in e["text"] and e["from"] == SENDER for e in ev),
      "during DATA: the sender deferred the message and retried")

# ---- cut after the final dot ----------------------------------------------
ev = run("partition-after-dot")
cut, queued = first(ev, is_cut), times(ev, mx_queued)
delivered = first(ev, lambda e: e["from"] == SENDER and "delivered (" in e["text"])
check(cut is not None and queued and delivered and queued[0] < cut < delivered,
      "after the dot: the cut (%s us) falls after Bob's server queued the message (%s us), before the "
      "sender saw its 250" % (cut, queued[0] if queued else None))
check(len(queued) == 2 and len(times(ev, bob_stored)) == 2,
      "after the dot: %d copies queued and %d stored: the one duplicate RFC 1047 allows, no more"
      % (len(queued), len(times(ev, bob_stored))))

sys.exit(lib.finish())
