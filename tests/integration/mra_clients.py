#!/usr/bin/env python3
# tests/integration/mra_clients.py - `mailsim mra` on real sockets, driven by
# real clients: Python's imaplib and poplib, and curl's imap:// and pop3://.
# Passwords are checked by `mailsim mda`'s account service (a user made with
# `mailsim accounts add`); mail is put into the Maildir by copying files into
# new/, which is all a delivery is.  Every IMAP and POP3 command the MRA
# serves is used at least once; IDLE is driven by hand (imaplib of Python
# 3.11 has no idle()).
import base64
import imaplib
import os
import poplib
import re
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.dont_write_bytecode = True   # no __pycache__ left in tests/
import lib  # after the path; it moves to the top of the tree
from lib import MAILSIM, check, free_port

USER, PASSWORD = "bob@example.org", "secret"


def has_command(name):
    r = subprocess.run([MAILSIM, name, "--help"], capture_output=True, text=True, timeout=30)
    return r.returncode == 0


class StandInAuth(socketserver.StreamRequestHandler):
    """The account service protocol of agents/mda/authsvc.h, for a tree
    where `mailsim mda` does not exist yet."""

    def handle(self):
        self.wfile.write(b"+OK mailsim account service\r\n")
        for line in self.rfile:
            words = line.strip().split(b" ")
            if words[0] == b"AUTH" and len(words) == 3:
                good = words[1].decode().lower() == USER and base64.b64decode(words[2]) == PASSWORD.encode()
                self.wfile.write(b"+OK\r\n" if good else b"-NO\r\n")
            elif words[0] == b"QUIT":
                self.wfile.write(b"+OK bye\r\n")
                return
            else:
                self.wfile.write(b"-ERR unknown command\r\n")


def crlf(text):
    return text.replace("\n", "\r\n").encode()


HELLO = crlf("From: Alice <alice@example.com>\nTo: bob@example.org\nSubject: Hello Bob\n"
             "Date: Thu, 1 Jan 2026 09:00:00 +0000\nMessage-ID: <1@example.com>\n\n"
             "Hi Bob,\n.a line that starts with a dot\nsee you\n")
LUNCH = crlf("From: Dave <dave@example.com>\nTo: bob@example.org\nSubject: Lunch\n"
             "Date: Fri, 2 Jan 2026 12:00:00 +0000\n\nLunch at noon?\n")
# put there by hand with Unix line ends: served with CRLF, and counted so
BYHAND = b"From: carol@example.net\nSubject: by hand\n\nline one\nline two\n"
NEWMAIL = crlf("From: eve@example.net\nSubject: while idling\n\nhello\n")

SEQ = [0]


def drop(maildir, data, sized=True, folder=""):
    """What a delivery does: write into tmp/, rename into new/."""
    SEQ[0] += 1
    base = "%d.M%dP%dQ%d.lab" % (1767225600 + SEQ[0], SEQ[0], os.getpid(), SEQ[0])
    if sized:
        base += ",S=%d" % len(data)
    d = os.path.join(maildir, folder)
    tmp = os.path.join(d, "tmp", base)
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, os.path.join(d, "new", base))
    return base


def files(maildir, sub):
    d = os.path.join(maildir, sub)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def imap_login(port):
    m = imaplib.IMAP4("127.0.0.1", port, timeout=15)
    m.login(USER, PASSWORD)
    return m


def test_imap(port, maildir):
    # a wrong password, then the right one
    m = imaplib.IMAP4("127.0.0.1", port, timeout=15)
    check("IDLE" in m.capabilities and "UIDPLUS" in m.capabilities and "MOVE" in m.capabilities
          and "AUTH=PLAIN" in m.capabilities, "CAPABILITY: IDLE UIDPLUS MOVE AUTH=PLAIN")
    try:
        m.login(USER, "wrong")
        check(False, "LOGIN with a wrong password fails")
    except imaplib.IMAP4.error as e:
        check("AUTHENTICATIONFAILED" in str(e), "LOGIN with a wrong password: NO [AUTHENTICATIONFAILED]")
    typ, data = m.login(USER, PASSWORD)
    check(typ == "OK", "LOGIN")
    typ, data = m.noop()
    check(typ == "OK", "NOOP")
    typ, data = m.xatom("ID", "NIL")
    check(typ == "OK" and b"mailsim" in b"".join(m.untagged_responses.pop("ID", [b""])), "ID")
    typ, data = m.namespace()
    check(typ == "OK" and b'(("" "/"))' in data[0], "NAMESPACE")

    typ, folders = m.list()
    names = b"\n".join(folders)
    check(typ == "OK" and b'"/" INBOX' in names and b"\\Sent" in names and b"\\Drafts" in names
          and b"\\Junk" in names and b"\\Trash" in names, "LIST shows INBOX and the special-use folders")
    typ, data = m.lsub()
    check(typ == "OK" and b"INBOX" in b"\n".join(data), "LSUB")

    typ, data = m.select("INBOX")
    check(typ == "OK" and data == [b"3"], "SELECT INBOX: 3 messages")
    typ, data = m.fetch("1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])")
    bodies = [d for d in data if isinstance(d, tuple)]
    check(len(bodies) == 3, "FETCH 1:* (BODY.PEEK[]): three messages")
    if len(bodies) == 3:
        check(bodies[0][1] == HELLO and bodies[1][1] == LUNCH, "BODY[] is the stored file, byte for byte")
        want = BYHAND.replace(b"\n", b"\r\n")
        check(bodies[2][1] == want, "a file with LF line ends is served with CRLF")
        sizes = [int(re.search(rb"RFC822\.SIZE (\d+)", b[0]).group(1)) for b in bodies]
        check(sizes == [len(HELLO), len(LUNCH), len(want)], "RFC822.SIZE counts CRLF: %s" % sizes)
        check(all(b"\\Recent" in b[0] for b in bodies), "new mail is \\Recent")
    typ, data = m.fetch("2", "(ENVELOPE BODYSTRUCTURE INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    check(typ == "OK" and b'"Lunch"' in data[0][0] and b"BODYSTRUCTURE" in data[0][0]
          and data[0][1] == b"Subject: Lunch\r\n\r\n", "FETCH ENVELOPE BODYSTRUCTURE HEADER.FIELDS")
    typ, data = m.search(None, "SUBJECT", "lunch")
    check(data == [b"2"], "SEARCH SUBJECT lunch")
    typ, data = m.search(None, "OR", "FROM", "alice", "FROM", "carol")
    check(data == [b"1 3"], "SEARCH OR FROM FROM")
    typ, data = m.uid("SEARCH", "BODY", "noon")
    uid_lunch = data[0].decode()
    check(typ == "OK" and uid_lunch != "", "UID SEARCH BODY noon: UID " + uid_lunch)

    typ, data = m.store("1", "+FLAGS", "(\\Flagged \\Seen)")
    check(typ == "OK" and b"\\Flagged" in data[0] and b"\\Seen" in data[0], "STORE +FLAGS")
    cur = files(maildir, "cur")
    check(any(f.endswith(":2,FS") for f in cur), "the flags are in the file name (:2,FS)")
    typ, data = m.search(None, "UNSEEN")
    check(data == [b"2 3"], "SEARCH UNSEEN after STORE \\Seen")

    typ, data = m.copy("1", "Sent")
    check(typ == "OK" and b"COPYUID" in data[0], "COPY with COPYUID")
    typ, data = m.uid("MOVE", uid_lunch, "Trash")
    check(typ == "OK", "UID MOVE to Trash")
    typ, data = m.search(None, "ALL")
    check(data == [b"1 2"], "the moved message left INBOX")
    typ, data = m.status("Trash", "(MESSAGES UIDNEXT)")
    check(b"MESSAGES 1" in data[0], "STATUS Trash: " + data[0].decode())

    typ, data = m.append("Sent", "(\\Seen)", imaplib.Time2Internaldate(time.time()),
                         crlf("From: bob@example.org\nSubject: sent\n\nbye\n"))
    check(typ == "OK" and b"APPENDUID" in data[0], "APPEND to Sent with APPENDUID")
    typ, data = m.create("Projects/2026")
    check(typ == "OK", "CREATE Projects/2026")
    typ, data = m.rename("Projects/2026", "Projects/2027")
    check(typ == "OK", "RENAME")
    typ, data = m.subscribe("Projects/2027")
    typ2, data2 = m.unsubscribe("Projects/2027")
    check(typ == "OK" and typ2 == "OK", "SUBSCRIBE, UNSUBSCRIBE")
    typ, data = m.list("Projects/", "%")
    check(b"Projects/2027" in b"".join(d for d in data if d), "LIST a level")
    typ, data = m.delete("Projects/2027")
    check(typ == "OK", "DELETE")
    typ, data = m.create("../escape")
    check(typ == "NO" and not os.path.exists(os.path.join(maildir, "..", "escape")),
          "CREATE ../escape is refused")

    m.untagged_responses.pop("EXPUNGE", None)   # imaplib keeps the MOVE's
    typ, data = m.store("2", "+FLAGS", "\\Deleted")
    typ, data = m.expunge()
    check(typ == "OK" and data == [b"2"], "EXPUNGE: %s" % data)
    typ, data = m.check()
    check(typ == "OK", "CHECK")
    typ, data = m.select("INBOX", readonly=True)
    check(typ == "OK", "EXAMINE")
    typ, data = m.store("1", "+FLAGS", "\\Answered")
    check(typ == "NO", "STORE in a read-only folder: NO")
    typ, data = m.unselect()
    check(typ == "OK", "UNSELECT")
    typ, data = m.select("Sent")
    typ, data = m.close()
    check(typ == "OK", "CLOSE")
    typ, data = m.logout()
    check(typ == "BYE", "LOGOUT")

    # IDLE (RFC 2177), by hand: another session's change, then a delivery
    a = imap_login(port)
    a.select("INBOX")
    tag = a._new_tag()
    a.send(tag + b" IDLE\r\n")
    check(a.readline().startswith(b"+"), "IDLE: continuation")
    b = imap_login(port)
    b.append("INBOX", None, None, NEWMAIL)
    line = a.readline()
    check(re.match(rb"\* \d+ EXISTS", line) is not None, "IDLE: another session's APPEND arrives: "
          + line.decode().strip())
    a.readline()   # * n RECENT
    drop(maildir, NEWMAIL)
    t0 = time.monotonic()
    line = a.readline()
    check(re.match(rb"\* \d+ EXISTS", line) is not None,
          "IDLE: a delivery into new/ is seen (%.1f s)" % (time.monotonic() - t0))
    a.readline()
    a.send(b"DONE\r\n")
    while True:
        line = a.readline()
        if line.startswith(tag):
            break
    check(b"OK" in line, "IDLE ends with DONE")
    a.logout()
    b.logout()


def test_pop3(port, maildir):
    p = poplib.POP3("127.0.0.1", port, timeout=15)
    caps = p.capa()
    check("UIDL" in caps and "TOP" in caps and "SASL" in caps and "STLS" not in caps, "CAPA")
    p.user(USER)
    try:
        p.pass_("wrong")
        check(False, "PASS with a wrong password fails")
    except poplib.error_proto as e:
        check(b"[AUTH]" in e.args[0], "PASS with a wrong password: -ERR [AUTH]")
    p.user(USER)
    p.pass_(PASSWORD)
    count, size = p.stat()
    check(count >= 2, "STAT: %d messages, %d octets" % (count, size))
    resp, listing, _ = p.list()
    check(len(listing) == count, "LIST")
    resp, uidls, _ = p.uidl()
    names = set(f.split(":")[0] for f in files(maildir, "new") + files(maildir, "cur"))
    check(all(u.split()[1].decode() in names for u in uidls), "UIDL is the Maildir base name")
    resp, top, _ = p.top(1, 0)
    check(b"" in top and top[-1] == b"", "TOP 1 0: the header and the blank line")
    resp, lines, octets = p.retr(1)
    body = b"\r\n".join(lines) + b"\r\n"
    check(body == HELLO, "RETR: the message, dot-unstuffed, byte for byte")
    # a second session while this one holds the maildrop
    q = poplib.POP3("127.0.0.1", port, timeout=15)
    q.user(USER)
    try:
        q.pass_(PASSWORD)
        check(False, "a second POP3 session is refused")
    except poplib.error_proto as e:
        check(b"[IN-USE]" in e.args[0], "a second POP3 session: -ERR [IN-USE]")
    q.quit()
    p.dele(1)
    p.rset()
    check(p.stat()[0] == count, "RSET undeletes")
    p.dele(count)
    check(p.stat()[0] == count - 1, "DELE")
    p.noop()
    before = len(files(maildir, "new") + files(maildir, "cur"))
    resp = p.quit()
    after = len(files(maildir, "new") + files(maildir, "cur"))
    check(resp.startswith(b"+OK") and after == before - 1, "QUIT removes what DELE marked")


def curl(*args):
    return subprocess.run(["curl", "-s", "-S", "-u", "%s:%s" % (USER, PASSWORD), *args], capture_output=True,
                          timeout=30)


def test_curl(imap_port, pop3_port):
    if shutil.which("curl") is None:
        check(False, "curl is installed (make deps)")
        return
    r = curl("imap://127.0.0.1:%d/" % imap_port)
    check(r.returncode == 0 and b'"/" INBOX' in r.stdout and b"Sent" in r.stdout, "curl imap:// lists folders")
    r = curl("imap://127.0.0.1:%d/INBOX;UID=1" % imap_port)
    check(r.returncode == 0 and r.stdout == HELLO, "curl imap://.../INBOX;UID=1 fetches the message")
    r = curl("imap://127.0.0.1:%d/INBOX?SUBJECT%%20Hello" % imap_port)
    check(r.returncode == 0 and b"* SEARCH 1" in r.stdout, "curl imap:// search")
    r = curl("-X", "EXAMINE INBOX", "imap://127.0.0.1:%d/" % imap_port)
    check(r.returncode == 0 and b"EXISTS" in r.stdout, "curl imap:// custom EXAMINE")
    r = curl("pop3://127.0.0.1:%d/" % pop3_port)
    check(r.returncode == 0 and re.match(rb"1 \d+", r.stdout) is not None, "curl pop3:// lists messages")
    r = curl("pop3://127.0.0.1:%d/1" % pop3_port)
    check(r.returncode == 0 and r.stdout == HELLO, "curl pop3://.../1 retrieves the message")
    r = subprocess.run(["curl", "-s", "-u", "%s:nope" % USER, "pop3://127.0.0.1:%d/" % pop3_port],
                       capture_output=True, timeout=30)
    check(r.returncode != 0, "curl pop3:// with a wrong password fails")


def main():
    tmp = tempfile.mkdtemp(prefix="mailsim-mra-")
    state = os.path.join(tmp, "state")
    procs = []
    stand_in = None
    try:
        auth_port, imap_port, pop3_port = free_port(), free_port(), free_port()
        if has_command("accounts") and has_command("mda"):
            r = subprocess.run([MAILSIM, "accounts", "--state", state, "add", USER, PASSWORD],
                               capture_output=True, text=True, timeout=30)
            check(r.returncode == 0, "mailsim accounts add " + USER)
            mda_log = os.path.join(tmp, "mda.log")
            procs.append(subprocess.Popen([MAILSIM, "mda", "--state", state, "--auth-port", str(auth_port),
                                           "--lmtp-port", str(free_port()), "--no-fsync"],
                                          stdout=open(mda_log, "w"), stderr=subprocess.STDOUT))
            check(lib.wait_log(mda_log, "account service on port"), "mailsim mda serves the account service")
        else:
            print("note: no `mailsim mda` yet: a Python stand-in serves the account service")
            stand_in = socketserver.ThreadingTCPServer(("127.0.0.1", auth_port), StandInAuth)
            threading.Thread(target=stand_in.serve_forever, daemon=True).start()

        mra_log = os.path.join(tmp, "mra.log")
        mra = subprocess.Popen([MAILSIM, "mra", "--state", state, "--imap-port", str(imap_port),
                                "--pop3-port", str(pop3_port), "--auth", "127.0.0.1:%d" % auth_port, "--no-fsync"],
                               stdout=open(mra_log, "w"), stderr=subprocess.STDOUT)
        procs.append(mra)
        check(lib.wait_log(mra_log, "IMAP on 127.0.0.1 port %d" % imap_port), "mailsim mra listens")

        # the first login makes the Maildir, with the special folders
        imap_login(imap_port).logout()
        maildir = os.path.join(state, "mail", "example.org", "bob")
        check(os.path.isdir(os.path.join(maildir, ".Sent", "cur")), "the first login made the Maildir")
        drop(maildir, HELLO)
        drop(maildir, LUNCH)
        drop(maildir, BYHAND, sized=False)

        for name, test, args in (("IMAP", test_imap, (imap_port, maildir)),
                                 ("POP3", test_pop3, (pop3_port, maildir)),
                                 ("curl", test_curl, (imap_port, pop3_port))):
            try:
                test(*args)
            except Exception as e:   # a client's exception is a failure, not the end of the run
                check(False, "%s: %s: %s" % (name, type(e).__name__, e))

        mra.send_signal(signal.SIGTERM)
        rc = mra.wait(timeout=10)
        procs.remove(mra)
        check(rc == 0, "SIGTERM stops mailsim mra cleanly (exit %d)" % rc)
        log = open(mra_log, errors="replace").read()
        check(" in.8 " in log and " retr.1 " in log and " retr.2 " in log and " retr.3 " in log
              and " retr.4 " in log, "events carry in.8 and the retr.* steps")
        check(PASSWORD not in log, "no password in the event log")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if stand_in is not None:
            stand_in.shutdown()
            stand_in.server_close()
        shutil.rmtree(tmp, ignore_errors=True)
    return lib.finish()


if __name__ == "__main__":
    sys.exit(main())
