#!/usr/bin/env python3
# tests/integration/load.py - `mailsim serve` under load from real clients:
# 200 concurrent SMTP sessions and 100 concurrent IMAP sessions are all
# served, and a client sending one byte a second does not delay the others.
import imaplib
import os
import shutil
import smtplib
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.dont_write_bytecode = True   # no __pycache__ left in tests/
import lib  # after the path; it moves to the top of the tree
from lib import check


state = tempfile.mkdtemp(prefix="mailsim-load-")
ports = lib.serve_ports()
proc = lib.start_serve(state, ports, "--no-fsync", "--allow-plaintext-auth")


def count_inbox():
    n = 0
    for sub in ("new", "cur"):
        d = os.path.join(state, "mail", "example.org", "bob", sub)
        if os.path.isdir(d):
            n += len(os.listdir(d))
    return n


try:
    check(lib.wait_port(ports["smtp"]) and lib.wait_port(ports["imap"]), "mailsim serve is up")

    # a slow client: connects, then dribbles one byte a second
    slow = socket.create_connection(("127.0.0.1", ports["smtp"]), timeout=30)
    slow.recv(512)
    stop_slow = threading.Event()

    def dribble():
        for ch in b"EHLO slow.client.test\r\n":
            if stop_slow.wait(1.0):
                return
            try:
                slow.send(bytes([ch]))
            except OSError:
                return
    threading.Thread(target=dribble, daemon=True).start()

    # while it dribbles, one ordinary client is served at once
    t0 = time.time()
    with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10) as s:
        s.sendmail("a@client.test", ["bob@example.org"], b"Subject: quick\r\n\r\nquick\r\n")
    # (served in turn behind the slow client, it would wait the 23 s its EHLO
    # line takes; 5 s leaves room for a slow machine and the fsyncs)
    check(time.time() - t0 < 5.0, "a slow client sending a byte a second does not delay others (%.2f s)" % (time.time() - t0))

    # 200 SMTP sessions at once
    barrier = threading.Barrier(200)
    results = []
    lock = threading.Lock()

    def smtp_client(i):
        try:
            with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=60) as s:
                barrier.wait(timeout=30)
                s.sendmail("load%d@client.test" % i, ["bob@example.org"],
                           ("Subject: load %d\r\n\r\nmessage %d\r\n" % (i, i)).encode())
            ok = True
        except Exception as e:
            ok = False
            print("  smtp client %d: %s" % (i, e))
        with lock:
            results.append(ok)
    threads = [threading.Thread(target=smtp_client, args=(i,)) for i in range(200)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check(results.count(True) == 200, "200 concurrent SMTP sessions all got 250 (%d ok, %.1f s)"
          % (results.count(True), time.time() - t0))
    end = time.time() + 30
    while time.time() < end and count_inbox() < 201:
        time.sleep(0.2)
    check(count_inbox() == 201, "all 201 messages are in the Maildir (%d)" % count_inbox())

    # 100 IMAP sessions at once
    ibarrier = threading.Barrier(100)
    iresults = []

    def imap_client(i):
        try:
            m = imaplib.IMAP4("127.0.0.1", ports["imap"], timeout=60)
            m.login("bob@example.org", "secret")
            ibarrier.wait(timeout=30)
            typ, data = m.select("INBOX", readonly=True)
            n = int(data[0])
            typ, _ = m.fetch("1", "(FLAGS RFC822.SIZE)")
            m.logout()
            ok = typ == "OK" and n >= 201
        except Exception as e:
            ok = False
            print("  imap client %d: %s" % (i, e))
        with lock:
            iresults.append(ok)
    threads = [threading.Thread(target=imap_client, args=(i,)) for i in range(100)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check(iresults.count(True) == 100, "100 concurrent IMAP sessions all logged in, selected and fetched (%d ok, %.1f s)"
          % (iresults.count(True), time.time() - t0))

    stop_slow.set()
    slow.close()
finally:
    lib.stop(proc, "SIGTERM stops the loaded server cleanly")
    shutil.rmtree(state, ignore_errors=True)

sys.exit(lib.finish())
