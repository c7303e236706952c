#!/usr/bin/env python3
"""bench/mta_bench.py - mailsim's inbound path against Postfix + Dovecot.

Postfix's smtp-source sends MESSAGES messages of SIZE octets over SESSIONS
parallel SMTP sessions (a new connection per message, as smtp-source does
without -d) to three servers on loopback, in the same run:

  smtp-sink        Postfix's protocol-only sink: the upper bound of the SMTP
                   dialogue on this machine (nothing is stored);
  mailsim          `mailsim serve`, fsync on: queue, LMTP to its MDA, Maildir;
  postfix+dovecot  Postfix 3.7 relaying over LMTP to Dovecot's Maildir,
                   both with their default fsync behaviour (on).

A mail system's clock stops when the last message is a file in the
recipient's Maildir new/; the sink's when smtp-source is done.  Each figure
is the median of RUNS runs (rounds interleave the three servers).  Each
mailsim run also shows the CPU time mailsim spent per message, a steadier
figure than the rate on a machine others share.  Every
server runs from build/bench/mta/ with its own configuration, spool and
ports; nothing under /etc is changed, and each is stopped by its pid.

The Debian packages it needs (postfix, dovecot-core, dovecot-lmtpd) are
installed when missing (root only), with Postfix preseeded to "No
configuration" and no service started.  Each server first gets --warmup
messages, unmeasured.  MAILSIM=path measures another build (an ASan one,
say); --keep leaves the spools, Maildirs and logs in build/bench/mta/.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ left in bench/
import common  # bench/common.py, beside this file
from common import MAILSIM, ROOT, free_port, log, stop_pid, wait_port

WORK = os.path.join(ROOT, "build", "bench", "mta")
RCPT = "bob@example.org"
SENDER = "bench@example.net"
DEBIAN_PACKAGES = ["postfix", "dovecot-core", "dovecot-lmtpd"]
DELIVERY_TIMEOUT = 300.0  # seconds for one batch to reach the Maildir
POLL = 0.005              # seconds between Maildir counts


def count_files(d):
    try:
        return sum(1 for n in os.listdir(d) if not n.startswith("."))
    except FileNotFoundError:
        return 0


def have_tools():
    return all(shutil.which(t) for t in ("smtp-source", "smtp-sink", "postfix", "dovecot"))


def install():
    return common.install("postfix/dovecot", DEBIAN_PACKAGES, have_tools,
                          preseed="postfix postfix/main_mailer_type select No configuration\n")


# ---- the servers --------------------------------------------------------

class Server:
    name = "?"
    maildir = None          # where delivered messages appear; None: count smtp-source

    def start(self):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError


class Sink(Server):
    name = "smtp-sink"

    def __init__(self):
        self.port = free_port()
        self.proc = None

    def start(self):
        cmd = ["smtp-sink"]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        cmd += [f"127.0.0.1:{self.port}", "256"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port(self.port):
            raise RuntimeError("smtp-sink did not listen")

    def stop(self):
        if self.proc:
            stop_pid(self.proc.pid, self.name)
            self.proc = None


class Mailsim(Server):
    name = "mailsim"

    def __init__(self, extra_args):
        self.dir = os.path.join(WORK, "mailsim")
        self.state = os.path.join(self.dir, "state")
        self.port = free_port()
        self.extra = extra_args
        self.proc = None
        self.maildir = os.path.join(self.state, "mail", "example.org", "bob", "new")

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        # every listener on a free port: whatever --*-port options serve has
        usage = subprocess.run([MAILSIM, "serve", "--help"], capture_output=True,
                               text=True).stdout
        opts = sorted(set(re.findall(r"--([a-z0-9-]+-port)[= ]", usage)))
        ports = {opt: free_port() for opt in opts}
        ports["smtp-port"] = self.port
        cmd = [MAILSIM, "serve", "--state", self.state]
        for opt, port in ports.items():
            cmd += [f"--{opt}", str(port)]
        cmd += self.extra
        self.out = open(os.path.join(self.dir, "events.log"), "w")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT)
        if not wait_port(self.port):
            raise RuntimeError(f"mailsim did not listen; see {self.out.name}")

    def stop(self):
        if self.proc:
            stop_pid(self.proc.pid, self.name)
            self.proc = None
            self.out.close()

    def cpu_seconds(self):
        """User plus system time mailsim has used (all its threads)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PostfixDovecot(Server):
    """Postfix 3.7 (smtpd -> cleanup -> qmgr -> lmtp) into Dovecot LMTP."""
    name = "postfix+dovecot"

    def __init__(self):
        self.dir = os.path.join(WORK, "postfix-dovecot")
        self.pf_conf = os.path.join(self.dir, "postfix-etc")
        self.pf_spool = os.path.join(self.dir, "postfix-spool")
        self.pf_data = os.path.join(self.dir, "postfix-data")
        self.dv_base = os.path.join(self.dir, "dovecot-run")
        self.dv_conf = os.path.join(self.dir, "dovecot.conf")
        self.vmail = os.path.join(self.dir, "vmail")
        self.port = free_port()
        self.lmtp_port = free_port()
        self.maildir = os.path.join(self.vmail, "example.org", "bob", "Maildir", "new")
        self.pf_pid = self.dv_pid = None

    def write_postfix(self):
        os.makedirs(self.pf_conf)
        os.makedirs(self.pf_spool)     # root's; postfix makes what is under it
        os.makedirs(self.pf_data)
        shutil.chown(self.pf_data, "postfix", "postfix")
        main = f"""# written by bench/mta_bench.py: a private instance, nothing in /etc
compatibility_level = 3.6
queue_directory = {self.pf_spool}
data_directory = {self.pf_data}
mail_owner = postfix
setgid_group = postdrop
myhostname = bench-postfix.example.net
mydomain = example.net
myorigin = example.net
mydestination = example.org
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
local_recipient_maps =
alias_maps =
alias_database =
local_transport = lmtp:inet:127.0.0.1:{self.lmtp_port}
smtpd_peername_lookup = no
biff = no
append_dot_mydomain = no
maillog_file_prefixes = {self.dir}
maillog_file = {self.dir}/postfix.log
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C
"""
        # master.cf: only what this path needs, nothing chrooted
        master = f"""127.0.0.1:{self.port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
        with open(os.path.join(self.pf_conf, "main.cf"), "w") as f:
            f.write(main)
        with open(os.path.join(self.pf_conf, "master.cf"), "w") as f:
            f.write(master)

    def write_dovecot(self):
        os.makedirs(self.dv_base)
        os.makedirs(self.vmail)
        shutil.chown(self.vmail, "nobody", "nogroup")
        conf = f"""# written by bench/mta_bench.py: a private instance, nothing in /etc
base_dir = {self.dv_base}
state_dir = {self.dv_base}/state
instance_name = mailsim-bench
log_path = {self.dir}/dovecot.log
protocols = lmtp
ssl = no
listen = 127.0.0.1
mail_location = maildir:~/Maildir
mail_fsync = optimized
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={self.vmail}/%d/%n
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
  unix_listener lmtp {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
}}
protocol lmtp {{
  postmaster_address = postmaster@example.org
}}
"""
        with open(self.dv_conf, "w") as f:
            f.write(conf)

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.write_dovecot()
        self.write_postfix()
        out = os.path.join(self.dir, "start.out")
        self.dv_pid = common.start_daemon(["dovecot", "-c", self.dv_conf], out,
                                          os.path.join(self.dv_base, "master.pid"), "dovecot")
        if not wait_port(self.lmtp_port):
            raise RuntimeError("dovecot lmtp did not listen; see " + os.path.join(self.dir, "dovecot.log"))
        self.pf_pid = common.start_daemon(["postfix", "-c", self.pf_conf, "start"], out,
                                          os.path.join(self.pf_spool, "pid", "master.pid"), "postfix",
                                          env=dict(os.environ, MAIL_CONFIG=self.pf_conf))
        if not wait_port(self.port):
            raise RuntimeError("postfix did not listen; see " + os.path.join(self.dir, "postfix.log"))

    def stop(self):
        for pid, what in ((self.pf_pid, "postfix master"), (self.dv_pid, "dovecot master")):
            stop_pid(pid, what)
        self.pf_pid = self.dv_pid = None


# ---- one measurement ----------------------------------------------------

def send(server, messages, sessions, size):
    """Send the load; return (seconds to the last delivery, seconds to the
    last 250, messages delivered)."""
    target = None
    before = 0
    if server.maildir:
        before = count_files(server.maildir)
        target = before + messages
    cmd = ["smtp-source", "-s", str(sessions), "-m", str(messages), "-l", str(size),
           "-f", SENDER, "-t", RCPT, f"127.0.0.1:{server.port}"]
    t0 = time.monotonic()
    src = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if src.returncode != 0:
        raise RuntimeError(f"smtp-source against {server.name}: {src.stderr.strip()[-300:]}")
    accepted = time.monotonic() - t0
    if target is None:
        return accepted, accepted, messages
    deadline = t0 + DELIVERY_TIMEOUT
    n = count_files(server.maildir)
    while n < target and time.monotonic() < deadline:
        time.sleep(POLL)
        n = count_files(server.maildir)
    elapsed = time.monotonic() - t0
    if n < target:
        raise RuntimeError(f"{server.name}: {n - before} of {messages} delivered after {DELIVERY_TIMEOUT:.0f} s")
    return elapsed, accepted, n - before


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--size", type=int, default=5 * 1024, help="octets of payload per message")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=50, help="messages sent to each server before measuring")
    ap.add_argument("--only", action="append", choices=["smtp-sink", "mailsim", "postfix+dovecot"],
                    help="measure only these (repeatable)")
    ap.add_argument("--mailsim-arg", action="append", default=[], help="extra argument to mailsim serve")
    ap.add_argument("--keep", action="store_true", help="keep the servers' files in build/bench/mta/")
    args = ap.parse_args()

    # a timeout's SIGTERM still stops the servers (the finally below)
    if not common.prepare(WORK):
        return 2
    servers = [Sink(), Mailsim(args.mailsim_arg)]
    if install():
        servers.append(PostfixDovecot())
    elif not shutil.which("smtp-source"):
        log("smtp-source is missing (Debian package postfix): no benchmark")
        return 2
    if args.only:
        servers = [s for s in servers if s.name in args.only]

    log(f"smtp-source: {args.messages} messages of {args.size} octets over {args.sessions} sessions, "
        f"a new connection each; median of {args.runs}")
    results = {s.name: [] for s in servers}
    started = []
    try:
        for s in servers:
            started.append(s)
            s.start()
            if args.warmup:
                send(s, args.warmup, min(args.sessions, args.warmup), args.size)
        for run in range(args.runs):
            for s in servers:
                cpu0 = s.cpu_seconds() if hasattr(s, "cpu_seconds") else None
                secs, accepted, n = send(s, args.messages, args.sessions, args.size)
                rate = n / secs
                results[s.name].append(rate)
                tail = f"   (all accepted after {accepted:.2f} s)" if s.maildir else ""
                if cpu0 is not None:
                    # CPU per message: steadier than the rate on a machine others share
                    tail += f", CPU {1e6 * (s.cpu_seconds() - cpu0) / n:.0f} us/msg"
                log(f"  run {run + 1}: {s.name:16s} {n} messages in {secs:6.2f} s = {rate:7.0f} msg/s{tail}")
    finally:
        for s in started:
            s.stop()
        if not args.keep:
            # the spools and Maildirs go now, not at the next start: deleting
            # thousands of files just before a measurement would slow it
            for s in started:
                if getattr(s, "dir", None):
                    shutil.rmtree(s.dir, ignore_errors=True)

    med = {name: statistics.median(r) for name, r in results.items() if r}
    log("")
    log(f"  {'server':16s} {'msg/s':>8s}   (median of {args.runs})")
    for name, rate in med.items():
        log(f"  {name:16s} {rate:8.0f}")
    sink = med.get("smtp-sink")
    ms = med.get("mailsim")
    pd = med.get("postfix+dovecot")
    if sink and ms:
        log(f"  mailsim / smtp-sink          {100 * ms / sink:5.1f} %   (target: 50 % or more)")
    if sink and pd:
        log(f"  postfix+dovecot / smtp-sink  {100 * pd / sink:5.1f} %")
    if ms and pd:
        log(f"  mailsim / postfix+dovecot    {ms / pd:5.1f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
