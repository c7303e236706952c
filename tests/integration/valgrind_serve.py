#!/usr/bin/env python3
# tests/integration/valgrind_serve.py - no leak that grows with traffic:
# `mailsim serve` (real sockets, threads) runs under valgrind
# --leak-check=full twice, once with SMALL and once with LARGE messages
# sent with smtplib, delivered, and read back with imaplib, then stops on
# SIGTERM; then `mailsim run` (the simulated world: two MTAs, DNS, relay,
# LMTP) on a scenario with SMALL_SIM and then LARGE_SIM messages.  The
# "definitely lost" bytes of each larger run must not exceed the smaller
# one's: a leak per message, per session or per delivery grows with
# traffic and fails this.  A fixed leak
# at exit (the same in both runs) is reported and tolerated: it costs
# nothing while the server runs, and some of it is the libraries' own
# (GLib's type system and thread pools, GnuTLS, SQLite keep what they made
# until the process ends).  Memory errors (invalid reads or writes, uses of
# uninitialised values in our code) fail it at any count.
#
# Also `make valgrind`.  VALGRIND_SMALL / VALGRIND_LARGE change the amounts.
import imaplib
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.dont_write_bytecode = True   # no __pycache__ left in tests/
import lib  # noqa: E402  (moves to the top of the tree)
from lib import check, free_ports  # noqa: E402
MAILSIM = os.environ.get("MAILSIM", "./mailsim")
SMALL = int(os.environ.get("VALGRIND_SMALL", "10"))
LARGE = int(os.environ.get("VALGRIND_LARGE", "100"))
SMALL_SIM, LARGE_SIM = 2, 20
START_SECONDS = 60      # valgrind starts slowly
DELIVERY_SECONDS = 120
STOP_SECONDS = 60

LOST = re.compile(r"(definitely|indirectly|possibly) lost: ([\d,]+) bytes in ([\d,]+) blocks")
ERRORS = re.compile(r"ERROR SUMMARY: ([\d,]+) errors")


wait_port = lib.wait_port


def count_new(state):
    d = os.path.join(state, "mail", "example.org", "bob", "new")
    return len(os.listdir(d)) if os.path.isdir(d) else 0


def valgrind_report(log):
    """(lost bytes by kind, memory errors) from a valgrind log."""
    text = open(log, errors="replace").read() if os.path.exists(log) else ""
    lost = {"definitely": 0, "indirectly": 0, "possibly": 0}
    for kind, nbytes, _ in LOST.findall(text):
        lost[kind] = int(nbytes.replace(",", ""))
    m = ERRORS.search(text)
    return lost, int(m.group(1).replace(",", "")) if m else -1


def keep_log(log, name):
    """valgrind's report, kept in build/valgrind/ for reading."""
    os.makedirs(os.path.join("build", "valgrind"), exist_ok=True)
    kept = os.path.join("build", "valgrind", "%s.log" % name)
    if os.path.exists(log):
        shutil.copyfile(log, kept)
    return kept


VALGRIND = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=none", "--num-callers=30"]


def run(messages):
    """One run of serve under valgrind; returns (definitely, indirectly,
    possibly lost bytes, memory errors, delivered, fetched, log path)."""
    state = tempfile.mkdtemp(prefix="mailsim-vg-")
    log = os.path.join(state, "valgrind.log")
    ports = free_ports(10)
    names = ["smtp", "submission", "smtps", "imap", "imaps", "pop3", "pop3s", "dns", "lmtp", "auth"]
    args = VALGRIND + ["--log-file=" + log, MAILSIM, "serve", "--state", state, "--allow-plaintext-auth", "--no-fsync"]
    for name, port in zip(names, ports):
        args += ["--%s-port" % name, str(port)]
    smtp_port, imap_port = ports[0], ports[3]
    out = open(os.path.join(state, "serve.log"), "w")
    p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    delivered = fetched = 0
    try:
        if not wait_port(smtp_port, START_SECONDS) or not wait_port(imap_port, START_SECONDS):
            raise RuntimeError("mailsim serve did not listen under valgrind")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as s:
            for i in range(messages):
                msg = ("From: a@client.test\r\nTo: bob@example.org\r\nSubject: leak %d\r\n"
                       "Message-ID: <vg-%d-%d@client.test>\r\n\r\n%s\r\n" % (i, messages, i, "x" * 200))
                s.sendmail("a@client.test", ["bob@example.org"], msg.encode())
        end = time.time() + DELIVERY_SECONDS
        while time.time() < end and count_new(state) < messages:
            time.sleep(0.3)
        delivered = count_new(state)
        imap = imaplib.IMAP4("127.0.0.1", imap_port, timeout=60)
        imap.login("bob@example.org", "secret")
        imap.select("INBOX")
        typ, data = imap.fetch("1:*", "(FLAGS RFC822)")
        fetched = sum(1 for part in data if isinstance(part, tuple))
        imap.logout()
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    lost, errors = valgrind_report(log)
    kept = keep_log(log, "serve-%d" % messages)
    shutil.rmtree(state, ignore_errors=True)
    return lost, errors, delivered, fetched, kept


SCENARIO_HEAD = """title "valgrind: N messages relayed"
seed 1
host mail.example.com   192.0.2.10    runs mta mda
host mx.example.org     198.51.100.20 runs mta mda mra
host ns.example.net     203.0.113.53  runs dns
zone example.com on ns.example.net <<
  $ORIGIN example.com.
  @     MX 10 mail
  mail  A  192.0.2.10
>>
zone example.org on ns.example.net <<
  $ORIGIN example.org.
  @     MX 10 mx
  mx    A  198.51.100.20
>>
user alice@example.com  password "wonderland"  on mail.example.com
user bob@example.org    password "builder"     on mx.example.org
"""

SCENARIO_SEND = """at %ds client 192.0.2.77 connects to mail.example.com port 587 and sends <<
  EHLO home-pc
  AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHdvbmRlcmxhbmQ=
  MAIL FROM:<alice@example.com>
  RCPT TO:<bob@example.org>
  DATA
  Subject: leak %d

  body %d
  .
  QUIT
>>
"""


def run_sim(messages):
    """`mailsim run` under valgrind on a scenario of that many messages;
    returns (lost, errors, exit status, log path)."""
    work = tempfile.mkdtemp(prefix="mailsim-vg-sim-")
    scn = os.path.join(work, "relay.scn")
    with open(scn, "w") as f:
        f.write(SCENARIO_HEAD)
        for i in range(messages):
            f.write(SCENARIO_SEND % (1 + i, i, i))
        f.write('expect bob@example.org INBOX has %d messages\n' % messages)
    log = os.path.join(work, "valgrind.log")
    r = subprocess.run(VALGRIND + ["--log-file=" + log, MAILSIM, "run", "-q", scn],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lost, errors = valgrind_report(log)
    kept = keep_log(log, "run-%d" % messages)
    shutil.rmtree(work, ignore_errors=True)
    return lost, errors, r.returncode, kept


if not shutil.which("valgrind"):
    check(False, "valgrind is installed (make deps)")
    sys.exit(1)

results = {}
for n in (SMALL, LARGE):
    t0 = time.time()
    lost, errors, delivered, fetched, log = run(n)
    results[n] = lost
    print("note: %d messages: definitely lost %d bytes, indirectly %d, possibly %d; %d memory error(s); "
          "%.0f s (valgrind's report: %s)" % (n, lost["definitely"], lost["indirectly"], lost["possibly"],
                                            errors, time.time() - t0, log))
    check(delivered == n and fetched == n, "%d messages: %d delivered, %d read back over IMAP" % (n, delivered, fetched))
    check(errors == 0, "%d messages: no memory error (valgrind's ERROR SUMMARY: %d)" % (n, errors))

for kind in ("definitely", "indirectly"):
    small, large = results[SMALL][kind], results[LARGE][kind]
    check(large <= small, "serve: %s lost does not grow with traffic: %d bytes after %d messages, %d after %d"
          % (kind, small, SMALL, large, LARGE))

sim = {}
for n in (SMALL_SIM, LARGE_SIM):
    t0 = time.time()
    lost, errors, rc, log = run_sim(n)
    sim[n] = lost
    print("note: run, %d messages: definitely lost %d bytes, indirectly %d, possibly %d; %d memory error(s); "
          "%.0f s (valgrind's report: %s)" % (n, lost["definitely"], lost["indirectly"], lost["possibly"],
                                            errors, time.time() - t0, log))
    check(rc == 0, "run, %d messages: the scenario's expectation holds (exit %d)" % (n, rc))
    check(errors == 0, "run, %d messages: no memory error (valgrind's ERROR SUMMARY: %d)" % (n, errors))
for kind in ("definitely", "indirectly"):
    small, large = sim[SMALL_SIM][kind], sim[LARGE_SIM][kind]
    check(large <= small, "run: %s lost does not grow with traffic: %d bytes after %d messages, %d after %d"
          % (kind, small, SMALL_SIM, large, LARGE_SIM))
sys.exit(lib.finish())
