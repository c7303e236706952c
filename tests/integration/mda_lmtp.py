#!/usr/bin/env python3
# tests/integration/mda_lmtp.py - `mailsim mda` on real sockets, driven by
# Python's smtplib.LMTP (RFC 2033: one reply per recipient after DATA) and
# a raw socket for the account service; then the Maildir files on disk.
import base64
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.dont_write_bytecode = True   # no __pycache__ left in tests/
import lib  # after the path; it moves to the top of the tree
from lib import MAILSIM, check, free_port


def accounts(state, *args, stdin=None):
    return subprocess.run([MAILSIM, "accounts", "--state", state, *args], input=stdin,
                          capture_output=True, text=True, timeout=30)


def maildir_files(state, domain, user, sub):
    d = os.path.join(state, "mail", domain, user, sub)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d))


def read(path):
    with open(path, "rb") as f:
        return f.read()


PLAIN = (b"From: Alice <alice@example.com>\r\n"
         b"To: bob@example.org\r\n"
         b"Subject: Lunch on Friday\r\n"
         b"Date: Thu, 1 Jan 2026 09:00:00 +0000\r\n"
         b"Message-ID: <1@example.com>\r\n"
         b"\r\n"
         b"Hi Bob,\r\n"
         b".a line that starts with a dot\r\n")
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def main():
    tmp = tempfile.mkdtemp(prefix="mailsim-mda-")
    state = os.path.join(tmp, "state")
    proc = None
    try:
        r = accounts(state, "add", "bob@example.org", "secret")
        check(r.returncode == 0 and "added user bob@example.org" in r.stdout, "accounts add prints what it did")
        accounts(state, "add", "carol@example.org", "-", stdin="hunter2\n")
        accounts(state, "alias", "info@example.org", "bob@example.org")
        accounts(state, "alias", "@example.net", "carol@example.org")
        r = accounts(state, "sieve", "carol@example.org", "-",
                     stdin='require "fileinto";\nif header :contains "subject" "[lists]" { fileinto "Lists"; }\n')
        check(r.returncode == 0, "accounts sieve installs a script")
        r = accounts(state, "add", "nobody-at-all", "x")
        check(r.returncode == 2 and "not a valid address" in r.stderr, "a bad address is a usage error (exit 2)")
        r = accounts(state, "add", "bob@example.org", "again")
        check(r.returncode == 1 and "exists" in r.stderr, "adding a user twice fails")
        r = accounts(state, "list")
        check("bob@example.org" in r.stdout and "@example.net -> carol@example.org" in r.stdout,
              "accounts list shows users and the catch-all")
        check("secret" not in r.stdout and b"secret" not in read(os.path.join(state, "accounts.sqlite")),
              "no password in clear, on screen or on disk")

        lmtp_port, auth_port = free_port(), free_port()
        log = open(os.path.join(tmp, "mda.log"), "w")
        proc = subprocess.Popen([MAILSIM, "mda", "--state", state, "--lmtp-port", str(lmtp_port),
                                 "--auth-port", str(auth_port), "--no-fsync"],
                                stdout=log, stderr=subprocess.STDOUT)
        lib.wait_log(os.path.join(tmp, "mda.log"), "LMTP on", seconds=5)

        # two good recipients (one an alias) and an unknown one
        lmtp = smtplib.LMTP("127.0.0.1", lmtp_port, timeout=10)
        lmtp.ehlo_or_helo_if_needed()   # LHLO
        lmtp.mail("alice@example.com")
        c1 = lmtp.rcpt("bob@example.org")[0]
        c2 = lmtp.rcpt("nobody@example.org")
        c3 = lmtp.rcpt("info@example.org")[0]
        check(c1 == 250 and c3 == 250, "RCPT of a user and of an alias: 250")
        check(c2[0] == 550 and b"5.1.1" in c2[1], "RCPT of an unknown user: 550 5.1.1")
        first = lmtp.data(PLAIN)
        second = lmtp.getreply()   # RFC 2033 4.2: one reply per accepted recipient
        check(first[0] == 250 and b"<bob@example.org>" in first[1], "DATA: bob's own reply")
        check(second[0] == 250 and b"<info@example.org>" in second[1], "DATA: the alias's own reply")

        # EICAR: refused, nothing stored
        lmtp.mail("alice@example.com")
        lmtp.rcpt("bob@example.org")
        eicar = lmtp.data(b"From: alice@example.com\r\nSubject: file\r\n\r\n" + EICAR + b"\r\n")
        check(eicar[0] == 554 and b"5.7.1" in eicar[1] and b"Eicar" in eicar[1], "EICAR refused with 554 5.7.1")

        # spam to Junk, Sieve into Lists, a catch-all
        spam = b"From: w@lottery.example\r\nSubject: WINNER!!! CLAIM YOUR LOTTERY PRIZE\r\n\r\nAct now\r\n"
        lmtp.sendmail("w@lottery.example", ["bob@example.org"], spam)
        lists = b"From: l@example.com\r\nSubject: [lists] news\r\nDate: Thu, 1 Jan 2026 09:00:00 +0000\r\n" \
                b"Message-ID: <2@example.com>\r\n\r\nNews\r\n"
        lmtp.sendmail("l@example.com", ["carol@example.org"], lists)
        lmtp.sendmail("alice@example.com", ["anyone@example.net"], PLAIN)
        lmtp.quit()

        bob = maildir_files(state, "example.org", "bob", "new")
        check(len(bob) == 2, "bob's INBOX has the two copies (direct and alias)")
        ok = all(read(p).endswith(PLAIN) for p in bob)
        check(ok, "each stored file ends with the message byte for byte")
        if bob:
            head = read(bob[0])[:-len(PLAIN)].decode()
            lines = head.split("\r\n")
            check(lines[0] == "Return-Path: <alice@example.com>" and lines[1] == "Delivered-To: bob@example.org"
                  and lines[2].startswith("Received: from ") and "X-Spam-Status: No" in head,
                  "added fields: Return-Path, Delivered-To, Received, X-Spam-*")
        check(maildir_files(state, "example.org", "bob", "tmp") == [], "nothing left in tmp/")
        junk = maildir_files(state, "example.org", "bob", ".Junk/new")
        check(len(junk) == 1 and b"X-Spam-Status: Yes" in read(junk[0]), "spam lands in .Junk with X-Spam-Status: Yes")
        listed = maildir_files(state, "example.org", "carol", ".Lists/new")
        check(len(listed) == 1 and b"[lists] news" in read(listed[0]), "Sieve fileinto lands in .Lists")
        caught = maildir_files(state, "example.org", "carol", "new")
        check(len(caught) == 1 and b"for <anyone@example.net>" in read(caught[0]), "the catch-all reaches carol")

        # the account service: same answer for a wrong password and no such user, both slow
        s = socket.create_connection(("127.0.0.1", auth_port), timeout=10)
        f = s.makefile("rwb")
        greeting = f.readline()

        def ask(line):
            f.write(line + b"\r\n")
            f.flush()
            t0 = time.monotonic()
            return f.readline().strip(), time.monotonic() - t0

        def auth(user, password):
            return ask(b"AUTH " + user + b" " + base64.b64encode(password))

        check(greeting.startswith(b"+OK"), "the account service greets")
        ok, _ = auth(b"bob@example.org", b"secret")
        wrong, t_wrong = auth(b"bob@example.org", b"not-it")
        nouser, t_nouser = auth(b"ghost@example.org", b"secret")
        check(ok == b"+OK", "AUTH with the right password: +OK")
        check(wrong == nouser == b"-NO", "wrong password and unknown user get the same -NO")
        check(t_wrong >= 1.9 and t_nouser >= 1.9, "both failures are delayed (%.1fs, %.1fs)" % (t_wrong, t_nouser))
        rcpt, _ = ask(b"RCPT info@example.org")
        check(rcpt == b"+OK bob@example.org", "RCPT resolves the alias: " + rcpt.decode())
        ask(b"QUIT")
        s.close()

        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
        proc = None
        check(rc == 0, "SIGTERM stops it cleanly (exit %d)" % rc)
        text = open(os.path.join(tmp, "mda.log")).read()
        check("DB_QUERY" in text and "'bob@example.org'" in text, "database queries appear as events")
        check("secret" not in text and "hunter2" not in text, "no password in the event log")
        check("STORE" in text and "mail/example.org/bob/new/" in text, "stores appear as events")
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return lib.finish()


if __name__ == "__main__":
    sys.exit(main())
