#!/usr/bin/env python3
"""bench/mra_bench.py - mailsim's MRA against Dovecot 2.3: reading a big INBOX.

The same MESSAGES messages (CRLF files named as the MDA names them, with
",S=" sizes) are delivered into new/ of one INBOX for each server, and
fetched in full by three clients of Python's standard library:

  FETCH 1:*    imaplib: LOGIN, SELECT, one FETCH 1:* (BODY.PEEK[]), LOGOUT;
  UID FETCH    imaplib: LOGIN, SELECT, UID SEARCH ALL, then one
               UID FETCH n (BODY.PEEK[]) per message, LOGOUT;
  POP3 RETR    poplib: USER, PASS, STAT, RETR 1..n, QUIT.

Each is measured cold and warm.  Cold is the first session after the
delivery: the Maildir is made anew (so Dovecot has no index, and mailsim
no mailsim-uidlist and nothing in memory), the messages are put into
new/, and the page cache is dropped (root only) before the clock starts.
Warm is the median of RUNS sessions that follow.  A session's clock runs
from connect to logout; the figure is messages / seconds.  Both servers
serve one login before any measuring, so that what starting costs them
(loading modules, Dovecot's first processes) is not counted as cold.

mailsim runs as `mailsim mra` with `mailsim mda` checking passwords;
Dovecot runs from build/bench/mra/ with its own configuration, ports and
Maildir (nothing under /etc is changed), and both are stopped by their
pids.  The Debian packages Dovecot needs (dovecot-core, dovecot-imapd,
dovecot-pop3d) are installed when missing (root only), no service started.
Each mailsim line also shows the CPU time its MRA and MDA spent per
message, steadier than the rate on a shared machine; MAILSIM=path measures
another build.
"""
import argparse
import grp
import imaplib
import os
import poplib
import pwd
import random
import shutil
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ left in bench/
import common  # bench/common.py, beside this file
from common import MAILSIM, ROOT, free_port, log, stop_pid, wait_port

WORK = os.path.join(ROOT, "build", "bench", "mra")
USER, DOMAIN, PASSWORD = "bob", "example.org", "secret"
ADDRESS = f"{USER}@{DOMAIN}"
DEBIAN_PACKAGES = ["dovecot-core", "dovecot-imapd", "dovecot-pop3d"]
DOVECOT_BINARIES = ["/usr/sbin/dovecot", "/usr/lib/dovecot/imap", "/usr/lib/dovecot/pop3"]
CLIENT_TIMEOUT = 120.0    # seconds for one reply
FIRST_TIME = 1767225600   # 2026-01-01: the first message's delivery time
TARGET_WARM = 1.0         # mailsim / Dovecot, warm: at least Dovecot's speed
TARGET_COLD = 5.0         # cold: five times Dovecot's


def drop_caches():
    """Everything read from disk from now on comes from the disk."""
    os.sync()
    if os.geteuid() != 0:
        return False
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    return True


# ---- installing ---------------------------------------------------------

def have_dovecot():
    return all(os.path.exists(b) for b in DOVECOT_BINARIES)


def install():
    return common.install("Dovecot", DEBIAN_PACKAGES, have_dovecot)


# ---- the messages -------------------------------------------------------

WORDS = ("mail message server client folder inbox header body line the a of to and in for is on that "
         "with as by this from at be it are was which or an will not can has have more one all new "
         "delivery relay retrieval transfer agent protocol octet literal envelope").split()


def make_message(rng, n, size):
    """One CRLF message of about size octets; a few lines start with a dot."""
    head = (f"Return-Path: <sender{n % 50}@example.net>\r\n"
            f"Received: from mx.example.net by mail.{DOMAIN}; "
            f"Thu, 1 Jan 2026 {n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d} +0000\r\n"
            f"From: Sender {n % 50} <sender{n % 50}@example.net>\r\n"
            f"To: {ADDRESS}\r\n"
            f"Subject: Message {n} of the benchmark\r\n"
            f"Date: Thu, 1 Jan 2026 {n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d} +0000\r\n"
            f"Message-ID: <{n}.bench@example.net>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n")
    lines = []
    total = len(head)
    while total < size:
        words = []
        width = rng.randint(30, 72)
        length = 0
        while length < width:
            w = rng.choice(WORDS)
            words.append(w)
            length += len(w) + 1
        line = " ".join(words)
        if rng.random() < 0.02:
            line = "." + line        # POP3 must stuff it, IMAP not
        lines.append(line)
        total += len(line) + 2
    return (head + "\r\n".join(lines) + "\r\n").encode()


def make_messages(count, mean_size, seed=2026):
    """The template: count files in WORK/messages, named as the MDA names
    them.  Returns [(name, octets)] in delivery order."""
    rng = random.Random(seed)
    out_dir = os.path.join(WORK, "messages")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    made = []
    for n in range(1, count + 1):
        data = make_message(rng, n, rng.randint(mean_size // 5, mean_size * 9 // 5))
        # SECONDS.M<usec>P<process>Q<counter>.HOST,S=<size> (agents/mda/maildir.h)
        name = f"{FIRST_TIME + n}.M{n * 37 % 1000000}P4242Q{n}.bench.example.org,S={len(data)}"
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
        made.append((name, len(data)))
    return out_dir, made


def deliver(template, messages, maildir, owner=None):
    """A fresh Maildir holding the messages in new/: written in tmp/,
    renamed into new/, as a delivery does."""
    shutil.rmtree(maildir, ignore_errors=True)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub))
    for name, _ in messages:
        tmp = os.path.join(maildir, "tmp", name)
        shutil.copyfile(os.path.join(template, name), tmp)
        if owner:
            os.chown(tmp, *owner)
        os.rename(tmp, os.path.join(maildir, "new", name))
    if owner:
        for d in ("", "cur", "new", "tmp"):
            os.chown(os.path.join(maildir, d), *owner)


# ---- the clients --------------------------------------------------------

def imap_session(port, per_uid):
    """LOGIN, SELECT INBOX, fetch every message whole, LOGOUT.
    Returns (messages, octets)."""
    m = imaplib.IMAP4("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    m.login(ADDRESS, PASSWORD)
    typ, data = m.select("INBOX")
    if typ != "OK":
        raise RuntimeError(f"SELECT: {data}")
    count = octets = 0
    if per_uid:
        typ, data = m.uid("SEARCH", None, "ALL")
        uids = data[0].split()
        for uid in uids:
            typ, data = m.uid("FETCH", uid, "(BODY.PEEK[])")
            if typ != "OK":
                raise RuntimeError(f"UID FETCH {uid}: {data}")
            for part in data:
                if isinstance(part, tuple):
                    count += 1
                    octets += len(part[1])
    else:
        typ, data = m.fetch("1:*", "(BODY.PEEK[])")
        if typ != "OK":
            raise RuntimeError(f"FETCH: {data}")
        for part in data:
            if isinstance(part, tuple):
                count += 1
                octets += len(part[1])
    m.logout()
    return count, octets


def pop3_session(port):
    """USER, PASS, STAT, RETR each, QUIT.  Returns (messages, octets)."""
    p = poplib.POP3("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    p.user(ADDRESS)
    p.pass_(PASSWORD)
    n, _ = p.stat()
    count = octets = 0
    for i in range(1, n + 1):
        _, lines, _ = p.retr(i)
        count += 1
        octets += sum(len(line) + 2 for line in lines)   # unstuffed, with CRLF
    p.quit()
    return count, octets


def login_only(server):
    """A session that opens no folder: what starting a server costs (GIO
    modules, Dovecot's first login processes) is paid before measuring."""
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=CLIENT_TIMEOUT)
    m.login(ADDRESS, PASSWORD)
    m.logout()
    p = poplib.POP3("127.0.0.1", server.pop3_port, timeout=CLIENT_TIMEOUT)
    p.user(ADDRESS)
    p.pass_(PASSWORD)
    p.quit()


OPERATIONS = [
    ("FETCH 1:*", lambda srv: imap_session(srv.imap_port, False)),
    ("UID FETCH", lambda srv: imap_session(srv.imap_port, True)),
    ("POP3 RETR", lambda srv: pop3_session(srv.pop3_port)),
]


# ---- the servers --------------------------------------------------------

class Mailsim:
    name = "mailsim"

    def __init__(self):
        self.dir = os.path.join(WORK, "mailsim")
        self.state = os.path.join(self.dir, "state")
        self.maildir = os.path.join(self.state, "mail", DOMAIN, USER)
        self.owner = None
        self.imap_port, self.pop3_port = free_port(), free_port()
        self.procs = []

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        subprocess.run([MAILSIM, "accounts", "--state", self.state, "add", ADDRESS, PASSWORD],
                       check=True, stdout=subprocess.DEVNULL)
        auth_port = free_port()
        # every event is printed, as in a lab: into a file
        self.out = open(os.path.join(self.dir, "events.log"), "w")
        self.procs.append(subprocess.Popen(
            [MAILSIM, "mda", "--state", self.state, "--auth-port", str(auth_port),
             "--lmtp-port", str(free_port())], stdout=self.out, stderr=subprocess.STDOUT))
        if not wait_port(auth_port):
            raise RuntimeError(f"mailsim mda did not listen; see {self.out.name}")
        self.procs.append(subprocess.Popen(
            [MAILSIM, "mra", "--state", self.state, "--imap-port", str(self.imap_port),
             "--pop3-port", str(self.pop3_port), "--auth", f"127.0.0.1:{auth_port}"],
            stdout=self.out, stderr=subprocess.STDOUT))
        if not wait_port(self.imap_port) or not wait_port(self.pop3_port):
            raise RuntimeError(f"mailsim mra did not listen; see {self.out.name}")

    def stop(self):
        for p in reversed(self.procs):
            stop_pid(p.pid, self.name)
        self.procs = []

    def cpu_seconds(self):
        """User plus system time the MRA and the MDA (passwords) have used."""
        total = 0
        for p in self.procs:
            with open(f"/proc/{p.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")


class Dovecot:
    name = "dovecot"

    def __init__(self):
        self.dir = os.path.join(WORK, "dovecot")
        self.base = os.path.join(self.dir, "run")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.home = os.path.join(self.dir, "home")
        self.maildir = os.path.join(self.home, "Maildir")
        self.owner = (pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
        self.imap_port, self.pop3_port = free_port(), free_port()
        self.pid = None

    def write_conf(self):
        conf = f"""# written by bench/mra_bench.py: a private instance, nothing in /etc
base_dir = {self.base}
state_dir = {self.base}/state
instance_name = mailsim-mra-bench
log_path = {self.dir}/dovecot.log
protocols = imap pop3
ssl = no
listen = 127.0.0.1
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={self.home}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.base)
        os.chmod(self.dir, 0o755)
        os.makedirs(self.home)
        shutil.chown(self.home, "nobody", "nogroup")
        self.write_conf()
        self.pid = common.start_daemon(["dovecot", "-c", self.conf], os.path.join(self.dir, "start.out"),
                                       os.path.join(self.base, "master.pid"), "dovecot")
        if not wait_port(self.imap_port) or not wait_port(self.pop3_port):
            raise RuntimeError("dovecot did not listen; see " + os.path.join(self.dir, "dovecot.log"))

    def stop(self):
        stop_pid(self.pid, "dovecot master")
        self.pid = None


# ---- measuring ----------------------------------------------------------

def timed(op, server, expect_count, expect_octets):
    t0 = time.monotonic()
    count, octets = op(server)
    secs = time.monotonic() - t0
    if count != expect_count or octets != expect_octets:
        raise RuntimeError(f"{server.name}: {count} messages, {octets} octets; "
                           f"expected {expect_count}, {expect_octets}")
    return count / secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--size", type=int, default=5 * 1024, help="mean octets per message")
    ap.add_argument("--runs", type=int, default=3, help="warm sessions, the median counts")
    ap.add_argument("--only", action="append", choices=["mailsim", "dovecot"],
                    help="measure only this server (repeatable)")
    args = ap.parse_args()

    # a timeout's SIGTERM still stops the servers (the finally below)
    if not common.prepare(WORK):
        return 2
    servers = [Mailsim()]
    if install():
        servers.append(Dovecot())
    else:
        log("  no Dovecot: mailsim alone")
    if args.only:
        servers = [s for s in servers if s.name in args.only]
    template, messages = make_messages(args.messages, args.size)
    total = sum(size for _, size in messages)
    cold_ok = os.geteuid() == 0
    log(f"{len(messages)} messages, {total / len(messages):.0f} octets on average; "
        f"cold: first session after delivery{'' if cold_ok else ' (NOT root: page cache kept)'}; "
        f"warm: median of {args.runs}")

    results = {}   # (operation, "cold"|"warm", server) -> msg/s
    started = []
    try:
        for s in servers:
            started.append(s)
            s.start()
            deliver(template, messages[:1], s.maildir, s.owner)
            login_only(s)
        for op_name, op in OPERATIONS:
            for s in servers:
                deliver(template, messages, s.maildir, s.owner)
                drop_caches()
                cpu = getattr(s, "cpu_seconds", None)
                cpu0 = cpu() if cpu else None
                cold = timed(op, s, len(messages), total)
                cpu1 = cpu() if cpu else None
                warm = [timed(op, s, len(messages), total) for _ in range(args.runs)]
                results[(op_name, "cold", s.name)] = cold
                results[(op_name, "warm", s.name)] = statistics.median(warm)
                tail = ""
                if cpu:
                    # CPU per message: steadier than the rate on a machine others share
                    per = 1e6 / len(messages)
                    tail = (f"   CPU us/msg cold {(cpu1 - cpu0) * per:.0f},"
                            f" warm {(cpu() - cpu1) * per / args.runs:.0f}")
                log(f"  {op_name:10s} {s.name:8s} cold {cold:8.0f} msg/s   warm "
                    + " ".join(f"{w:7.0f}" for w in warm) + tail)
    finally:
        for s in started:
            s.stop()

    names = [s.name for s in servers]
    log("")
    log(f"  {'':16s}" + "".join(f"{n:>10s}" for n in names) +
        ("   mailsim/dovecot   target" if len(names) == 2 else ""))
    for temp in ("cold", "warm"):
        for op_name, _ in OPERATIONS:
            row = [results[(op_name, temp, n)] for n in names]
            line = f"  {temp} {op_name:11s}" + "".join(f"{r:10.0f}" for r in row)
            if len(names) == 2:
                target = TARGET_COLD if temp == "cold" else TARGET_WARM
                ratio = row[0] / row[1]
                line += f"   {ratio:9.2f} x   {'>=':>5s} {target:.0f} x {'ok' if ratio >= target else 'MISSED'}"
            log(line)
    log("  (msg/s: messages fetched whole per second of a session, connect to logout)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
