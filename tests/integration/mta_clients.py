#!/usr/bin/env python3
# tests/integration/mta_clients.py - `mailsim serve` on real sockets, driven
# by real SMTP clients: Python's smtplib and swaks.  Submission with AUTH
# PLAIN and LOGIN, wrong passwords, unknown users, no open relay, pipelining,
# the smuggling defence, and the files that land in the Maildir.
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


def inbox(state, user, domain="example.org"):
    files = []
    for sub in ("new", "cur"):
        d = os.path.join(state, "mail", domain, user, sub)
        if os.path.isdir(d):
            files += [os.path.join(d, f) for f in sorted(os.listdir(d))]
    return files


def message(subject, body="Hello from the test.\r\n"):
    return ("From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n"
            "Subject: %s\r\n\r\n%s" % (subject, body)).encode()


state = tempfile.mkdtemp(prefix="mailsim-mta-")
ports = lib.serve_ports()
smtp, sub, smtps, imap, imaps, pop3, pop3s = (ports[n] for n in ("smtp", "submission", "smtps", "imap", "imaps",
                                                                 "pop3", "pop3s"))
proc = lib.start_serve(state, ports, "--no-fsync")
try:
    check(lib.wait_port(sub), "mailsim serve listens on the submission port")

    import ssl
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE   # the lab's certificate is self-signed

    # no password in the clear: AUTH only after STARTTLS
    with smtplib.SMTP("127.0.0.1", sub, timeout=10) as s:
        code, ehlo = s.ehlo("client.test")
        check(b"STARTTLS" in ehlo and b"AUTH" not in ehlo, "before TLS, EHLO offers STARTTLS and no AUTH")
        code, text = s.docmd("AUTH", "PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==")
        check(code == 538, "AUTH before STARTTLS is refused (538 5.7.11)")

    # commands pipelined behind STARTTLS are thrown away (CVE-2011-0411)
    with socket.create_connection(("127.0.0.1", sub), timeout=10) as c:
        c.recv(1024)
        c.sendall(b"EHLO client.test\r\n")
        time.sleep(0.2)
        c.recv(4096)
        c.sendall(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
        ready = c.recv(1024)
        t = insecure.wrap_socket(c, server_hostname="mail.example.org")
        t.sendall(b"NOOP\r\n")
        first = t.recv(1024)
        check(ready.startswith(b"220") and first.startswith(b"250 2.0.0 Ok"),
              "a command pipelined behind STARTTLS is not executed inside TLS")
        t.close()

    # submission with STARTTLS and AUTH PLAIN (smtplib prefers PLAIN among what we offer)
    with smtplib.SMTP("127.0.0.1", sub, timeout=10) as s:
        s.starttls(context=insecure)
        code, ehlo = s.ehlo("client.test")
        check(b"AUTH PLAIN LOGIN" in ehlo and b"PIPELINING" in ehlo, "after STARTTLS, EHLO offers AUTH PLAIN LOGIN and PIPELINING")
        s.login("alice@example.org", "secret")
        refused = s.sendmail("alice@example.org", ["bob@example.org"], message("plain auth"))
        check(refused == {}, "smtplib: AUTH PLAIN, then the message is accepted")
    check(lib.wait_until(lambda: len(inbox(state, "bob")) == 1), "the message reaches bob's Maildir")
    data = open(inbox(state, "bob")[0], "rb").read() if inbox(state, "bob") else b""
    check(b"Subject: plain auth" in data and b"with ESMTPA" in data and b"Message-ID: <" in data,
          "the delivered file has the Received (ESMTPA) line and a Message-ID added on submission")
    check(data.endswith(b"Hello from the test.\r\n"), "the body arrives byte for byte")

    # AUTH LOGIN over implicit TLS (port 465 style, RFC 8314)
    with smtplib.SMTP_SSL("127.0.0.1", smtps, timeout=10, context=insecure) as s:
        s.ehlo("client.test")
        s.user, s.password = "alice@example.org", "secret"
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        check(code == 235, "smtplib over implicit TLS: AUTH LOGIN succeeds (235)")

    # a wrong password: 535, after the account service's delay
    t0 = time.time()
    try:
        with smtplib.SMTP("127.0.0.1", sub, timeout=15) as s:
            s.starttls(context=insecure)
            s.login("alice@example.org", "guess")
        check(False, "a wrong password is refused")
    except smtplib.SMTPAuthenticationError as e:
        check(e.smtp_code == 535, "a wrong password is refused with 535")
        check(time.time() - t0 >= 1.5, "and the refusal is slowed down")

    # submission without logging in may not relay
    with smtplib.SMTP("127.0.0.1", sub, timeout=10) as s:
        try:
            s.sendmail("alice@example.org", ["someone@elsewhere.test"], message("relay"))
            check(False, "submission without AUTH is refused")
        except smtplib.SMTPRecipientsRefused as e:
            code = e.recipients["someone@elsewhere.test"][0]
            check(code == 554, "submission without AUTH is refused (554)")

    # port 25: an unknown local user is refused while connected
    with smtplib.SMTP("127.0.0.1", smtp, timeout=10) as s:
        try:
            s.sendmail("x@client.test", ["nobody@example.org"], message("nobody"))
            check(False, "an unknown user is refused")
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients["nobody@example.org"]
            check(code == 550 and b"5.1.1" in text, "an unknown user is refused with 550 5.1.1")

    # swaks, pipelined, AUTH LOGIN
    before = len(inbox(state, "bob"))
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % sub, "--tls", "--auth", "LOGIN",
                        "--auth-user", "alice@example.org", "--auth-password", "secret",
                        "--from", "alice@example.org", "--to", "bob@example.org",
                        "--pipeline", "--header", "Subject: via swaks"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "250 2.0.0 Ok: queued as" in r.stdout and "TLS started" in r.stdout,
          "swaks: STARTTLS, pipelined submission with AUTH LOGIN")
    check(lib.wait_until(lambda: len(inbox(state, "bob")) == before + 1), "swaks' message is delivered")

    # swaks to port 25 for another domain: no open relay
    # from 127.0.0.2: like Postfix's mynetworks_style = host, only 127.0.0.1 is trusted
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % smtp, "--local-interface", "127.0.0.2", "--from", "x@client.test",
                        "--to", "someone@elsewhere.test", "--quit-after", "RCPT"],
                       capture_output=True, text=True, timeout=30)
    check("554 5.7.1" in r.stdout and "Relay access denied" in r.stdout, "swaks: relaying for a stranger is refused")

    # curl over implicit TLS
    before_curl = len(inbox(state, "bob"))
    mail = os.path.join(state, "curl.eml")
    with open(mail, "wb") as f:
        f.write(message("via curl"))
    r = subprocess.run(["curl", "-sS", "-k", "smtps://127.0.0.1:%d" % smtps, "--user", "alice@example.org:secret",
                        "--mail-from", "alice@example.org", "--mail-rcpt", "bob@example.org", "--upload-file", mail],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "curl smtps:// -k: submission over implicit TLS %s" % r.stderr.strip()[:80])
    check(lib.wait_until(lambda: len(inbox(state, "bob")) == before_curl + 1), "curl's message is delivered")

    # IMAP and POP3: no password before TLS; STARTTLS, STLS and the implicit-TLS ports
    import imaplib, poplib
    m = imaplib.IMAP4("127.0.0.1", imap, timeout=10)
    check("STARTTLS" in m.capabilities and "LOGINDISABLED" in m.capabilities,
          "IMAP before TLS: STARTTLS offered, LOGINDISABLED")
    m.starttls(ssl_context=insecure)
    m.login("bob@example.org", "secret")
    typ, data = m.select("INBOX", readonly=True)
    check(typ == "OK" and int(data[0]) >= 1, "imaplib: STARTTLS, LOGIN, SELECT INBOX (%s messages)" % data[0].decode())
    m.logout()
    m = imaplib.IMAP4_SSL("127.0.0.1", imaps, ssl_context=insecure, timeout=10)
    m.login("bob@example.org", "secret")
    check(m.select("INBOX", readonly=True)[0] == "OK", "imaplib over implicit TLS (IMAPS)")
    m.logout()
    p3 = poplib.POP3("127.0.0.1", pop3, timeout=10)
    check("STLS" in p3.capa(), "POP3 CAPA offers STLS")
    p3.stls(context=insecure)
    p3.user("bob@example.org")
    p3.pass_("secret")
    check(p3.stat()[0] >= 1, "poplib: STLS, USER/PASS, STAT")
    p3.quit()
    p3 = poplib.POP3_SSL("127.0.0.1", pop3s, context=insecure, timeout=10)
    p3.user("bob@example.org")
    p3.pass_("secret")
    check(p3.stat()[0] >= 1, "poplib over implicit TLS (POP3S)")
    p3.quit()
    r = subprocess.run(["curl", "-sS", "-k", "imaps://127.0.0.1:%d/INBOX" % imaps, "-u", "bob@example.org:secret"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and "INBOX" in r.stdout, "curl imaps:// -k lists INBOX")

    # SMTP smuggling: a bare LF before the dot neither ends the message nor starts another
    before = len(inbox(state, "bob"))
    with socket.create_connection(("127.0.0.1", smtp), timeout=10) as c:
        c.recv(1024)
        c.sendall(b"EHLO evil.test\r\nMAIL FROM:<x@evil.test>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
        time.sleep(0.3)
        c.recv(4096)
        c.sendall(b"Subject: one\r\n\r\nhello\n.\r\nMAIL FROM:<ceo@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
                  b"DATA\r\nSubject: smuggled\r\n\r\nforged\r\n.\r\nQUIT\r\n")
        answer = b""
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            answer += chunk
    check(b"550 5.6.0" in answer, "a message with a bare LF is refused (550 5.6.0)")
    time.sleep(0.5)
    check(len(inbox(state, "bob")) == before, "and no smuggled message is delivered")

    # the events tell the course steps
    text = open(os.path.join(state, "serve.log")).read()
    check("out.2" in text and "in.4" in text and "in.7" in text, "the live events carry course steps")
    events = "\n".join(l for l in text.splitlines() if not l.startswith("  demo accounts"))
    check("secret" not in events, "the password never appears in the events")
finally:
    lib.stop(proc, "SIGTERM stops mailsim serve cleanly", seconds=15)
    shutil.rmtree(state, ignore_errors=True)

sys.exit(lib.finish())
