"""bench/common.py - what the Python benchmarks share: the tree and the
mailsim to measure, free loopback ports, daemons started from files of
their own and stopped by their pids only, and the Debian packages of the
peers (Postfix, Dovecot) installed without starting their services.

MAILSIM=path measures another build (an ASan one, say).
"""
import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MAILSIM = os.environ.get("MAILSIM", os.path.join(ROOT, "mailsim"))
# How long a daemon may take to write its pid file or to listen.
START_TIMEOUT = 20.0
# How long a daemon may take to stop after SIGTERM before SIGKILL.
STOP_TIMEOUT = 15.0


def log(msg=""):
    print(msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def stop_pid(pid, what, timeout=STOP_TIMEOUT):
    """SIGTERM, then SIGKILL; only the pid we were given."""
    if not pid or not pid_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return
        except ChildProcessError:
            if not pid_alive(pid):
                return
        time.sleep(0.05)
    log(f"  {what} (pid {pid}) did not stop: killing it")
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def read_pid(path, timeout=START_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            time.sleep(0.05)
    return None


def start_daemon(cmd, out, pid_file, what, env=None):
    """Run a command that starts a daemon (dovecot, postfix start), its
    output added to the file out, and return the daemon's pid from
    pid_file (None if it never came).  RuntimeError when the command
    fails."""
    # a daemon keeps the descriptors it inherits: a file, never a pipe
    with open(out, "a") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{what} did not start; see {out}")
    return read_pid(pid_file)


def install(what, packages, have, preseed=None):
    """Whether have() holds, after installing the Debian packages when it
    did not (root only).  what names the peer in messages; preseed:
    debconf lines given first.  No package may start its system service
    meanwhile."""
    if have():
        return True
    if os.geteuid() != 0:
        log(f"  {what} missing and not root: cannot install ({' '.join(packages)})")
        return False
    log(f"  installing {' '.join(packages)} from Debian")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if preseed:
        subprocess.run(["debconf-set-selections"], input=preseed.encode(), check=False)
    # policy-rc.d exit 101: packages must not start their system services
    policy = "/usr/sbin/policy-rc.d"
    made_policy = not os.path.exists(policy)
    if made_policy:
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
    try:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        r = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + packages,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            log("  apt-get install failed: " + r.stderr.decode(errors="replace")[-500:])
    finally:
        if made_policy:
            os.unlink(policy)
    return have()


def prepare(work):
    """Before a benchmark: a SIGTERM (a time-out) still runs the finally
    that stops the servers, the work directory exists, and mailsim is
    built.  Returns False (said) when it is not."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    os.makedirs(work, exist_ok=True)
    if not os.path.exists(MAILSIM):
        log("mailsim is not built: run make first")
        return False
    return True
