#!/usr/bin/env python3
# tests/integration/mta_limits.py - what one client may take from `mailsim
# serve`, with Python's smtplib from loopback addresses outside mynetworks
# (127.0.0.1/32 in serve): the connection count limit answers 421 to the
# extra session while the others are served, counts go down as sessions
# end, mynetworks is spared, the rate limit, and smtpd_timeout; then the
# same settings in a scenario.
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.dont_write_bytecode = True   # no __pycache__ left in tests/
import lib  # after the path; it moves to the top of the tree
from lib import check

COUNT_LIMIT = 3
RATE_LIMIT = 10      # a minute
TIMEOUT = 3          # smtpd_timeout, seconds
retried = 0          # refusals while a closing session still counted


state = tempfile.mkdtemp(prefix="mailsim-limits-")
ports = lib.serve_ports()
logpath = os.path.join(state, "serve.log")
proc = lib.start_serve(state, ports, "--no-fsync",
                       "--smtpd-client-connection-count-limit", str(COUNT_LIMIT),
                       "--smtpd-client-connection-rate-limit", str(RATE_LIMIT),
                       "--smtpd-timeout", str(TIMEOUT), log_path=logpath)


def smtp_from(addr):
    """An SMTP session from addr; raises SMTPConnectError on a refusal."""
    return smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10, source_address=(addr, 0))


def refusal_from(addr):
    """The code and text of a refused connection from addr, or None."""
    try:
        s = smtp_from(addr)
    except smtplib.SMTPConnectError as e:
        return e.smtp_code, e.smtp_error.decode(errors="replace")
    s.quit()
    return None


def events():
    """What serve printed (complete once it stopped: stdout is a file)."""
    with open(logpath, errors="replace") as f:
        return f.read()


def inbox():
    d = os.path.join(state, "mail", "example.org", "bob", "new")
    return len(os.listdir(d)) if os.path.isdir(d) else 0


try:
    check(lib.wait_port(ports["smtp"]), "mailsim serve is up")

    # the count limit: three sessions from 127.0.0.2 are served, the fourth is refused
    held = [smtp_from("127.0.0.2") for _ in range(COUNT_LIMIT)]
    check(all(s.ehlo()[0] == 250 for s in held), "%d sessions at once from 127.0.0.2 are greeted" % COUNT_LIMIT)
    r = refusal_from("127.0.0.2")
    check(r is not None and r[0] == 421 and
          r[1] == "4.7.0 mail.example.org Error: too many connections from 127.0.0.2",
          "one more from 127.0.0.2 gets 421 4.7.0 too many connections (%r)" % (r,))

    # the sessions already open keep being served, and so do other clients
    held[0].sendmail("carol@client.test", ["bob@example.org"], b"Subject: held\r\n\r\nstill served\r\n")
    with smtp_from("127.0.0.3") as s:
        s.sendmail("dave@client.test", ["bob@example.org"], b"Subject: other\r\n\r\nanother client\r\n")
    end = time.time() + 10
    while time.time() < end and inbox() < 2:
        time.sleep(0.1)
    check(inbox() == 2, "a held session and another client still deliver (%d in the inbox)" % inbox())

    # mynetworks (127.0.0.1) is spared the limit
    mine = [smtp_from("127.0.0.1") for _ in range(COUNT_LIMIT + 3)]
    check(all(s.noop()[0] == 250 for s in mine), "%d sessions at once from mynetworks are all served" % len(mine))
    for s in mine:
        s.quit()

    # a session that ends makes room for one more
    held.pop().quit()
    # (the server may read the QUIT's close a moment after smtplib returns:
    # a try in that moment is refused, and is one more refusal event)
    r = "not tried"
    end = time.time() + 5
    while time.time() < end:
        r = refusal_from("127.0.0.2")
        if r is None:
            break
        retried += 1
        time.sleep(0.1)
    check(r is None, "after one session ends 127.0.0.2 is served again (%r)" % (r,))
    for s in held:
        s.quit()

    # the rate limit: RATE_LIMIT connections a minute from 127.0.0.4, then 421
    refused = [refusal_from("127.0.0.4") for _ in range(RATE_LIMIT + 1)]
    check(all(x is None for x in refused[:RATE_LIMIT]), "%d connections in a row from 127.0.0.4 are served" % RATE_LIMIT)
    last = refused[RATE_LIMIT]
    check(last is not None and last[0] == 421 and "too many connections from 127.0.0.4" in last[1],
          "connection %d within the minute gets 421 (%r)" % (RATE_LIMIT + 1, last))

    # smtpd_timeout: a silent client is told 421 and let go
    t0 = time.time()
    sock = socket.create_connection(("127.0.0.1", ports["smtp"]), timeout=TIMEOUT + 20,
                                    source_address=("127.0.0.5", 0))
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    took = time.time() - t0
    sock.close()
    check(b"421 4.4.2" in data and TIMEOUT - 0.5 <= took < TIMEOUT + 10,
          "a silent client gets 421 4.4.2 after smtpd_timeout (%.1f s)" % took)
finally:
    lib.stop(proc, "SIGTERM stops the server cleanly")
    ev = events()
    check("[REFUSE] connection concurrency limit exceeded: 4 from 127.0.0.2 "
          "(smtpd_client_connection_count_limit = %d)" % COUNT_LIMIT in ev,
          "the refusal is an event naming the client and the limit")
    check("[REFUSE] connection rate limit exceeded: %d from 127.0.0.4" % (RATE_LIMIT + 1) in ev,
          "the rate refusal is an event")
    refusals = [line for line in ev.splitlines() if "limit exceeded" in line]
    check(len(refusals) == 2 + retried and not any(" from 127.0.0.1 " in line for line in refusals),
          "%d refusals in all (2 + %d while a session was closing), none for mynetworks (%d)"
          % (2 + retried, retried, len(refusals)))
    shutil.rmtree(state, ignore_errors=True)

# ---- the same settings in a scenario (scenarios/connection-limit.scn) ----
SCN = "scenarios/connection-limit.scn"
with open(SCN) as f:
    scn = f.read()


def run_variant(text):
    path = os.path.join(tempfile.mkdtemp(prefix="mailsim-limits-scn-"), "variant.scn")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([lib.MAILSIM, "run", "-q", path], capture_output=True, text=True)
    shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    return r.returncode, r.stdout + r.stderr


rc, out = run_variant(scn)
check(rc == 0, "%s: the bot's third session is refused, other mail is served" % SCN)
rc, out = run_variant(scn.replace("  smtpd_client_connection_count_limit = 2\n", ""))
check(rc == 1 and "FAILED" in out and "in.1 refused" in out,
      "without the setting the default (50) lets the bot in: the expectation fails")
spare = "  smtpd_timeout = 20s\n  smtpd_client_event_limit_exceptions = %s\n"
for value in ("203.0.113.0/24", "$mynetworks, 203.0.113.66"):
    rc, out = run_variant(scn.replace("  smtpd_timeout = 20s\n", spare % value))
    check(rc == 1 and "in.1 refused" in out, "smtpd_client_event_limit_exceptions = %s spares the bot" % value)
rc, out = run_variant(scn.replace("  smtpd_timeout = 20s\n", spare % "$mynetworks"))
check(rc == 0, "smtpd_client_event_limit_exceptions = $mynetworks does not")
rc, out = run_variant(scn.replace("  smtpd_timeout = 20s\n", spare % "nonsense"))
check(rc == 2 and 'smtpd_client_event_limit_exceptions: "nonsense" is not an address' in out,
      "a bad exception is a scenario error naming the setting (exit %d)" % rc)
rc, out = run_variant(scn.replace("smtpd_client_connection_count_limit = 2",
                                  "smtpd_client_connection_count_limit = many"))
check(rc == 2 and "smtpd_client_connection_count_limit wants a number" in out,
      "a limit that is not a number is a scenario error (exit %d)" % rc)

sys.exit(lib.finish())
