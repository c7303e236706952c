# tests/lib.py - shared by the Python integration scripts, as tests/lib.sh
# is by the shell ones: PASS/FAIL lines and their count, free loopback
# ports, waiting for a port or a log line, and `mailsim serve` started on
# free ports and stopped by its pid.  Importing it moves to the top of the
# tree, where ./mailsim is.
#
#   sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
#   sys.dont_write_bytecode = True   # no __pycache__ left in tests/
#   import lib
import os
import signal
import socket
import subprocess
import time

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
MAILSIM = os.environ.get("MAILSIM", "./mailsim")

# What `mailsim serve` listens on, each given as --NAME-port.
SERVE_PORTS = ("smtp", "submission", "smtps", "imap", "imaps", "pop3", "pop3s", "dns", "lmtp", "auth")
# How long a server may take to come up.
START_SECONDS = 10

passed = 0
failed = 0


def check(ok, what):
    """A PASS or FAIL line for what; returns ok."""
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
    print(("PASS: " if ok else "FAIL: ") + what)
    return ok


def finish():
    """The closing count; the exit status for sys.exit."""
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (all held while choosing)."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def free_port():
    return free_ports(1)[0]


def wait_until(pred, seconds=START_SECONDS):
    """Poll pred until it holds (True) or seconds pass (False)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def wait_port(port, seconds=START_SECONDS):
    """Whether something accepts connections on 127.0.0.1:port in time."""
    return wait_until(lambda: port_open(port), seconds)


def log_has(path, text):
    return os.path.exists(path) and text in open(path, errors="replace").read()


def wait_log(path, text, seconds=START_SECONDS):
    """Whether the file at path comes to hold text in time."""
    return wait_until(lambda: log_has(path, text), seconds)


def serve_ports():
    """A free port for each of SERVE_PORTS, as a dict by name."""
    return dict(zip(SERVE_PORTS, free_ports(len(SERVE_PORTS))))


def start_serve(state, ports, *options, log_path=None, append=False):
    """`mailsim serve --state STATE OPTIONS` on ports (from serve_ports),
    its output into log_path (STATE/serve.log by default; appended to when
    append).  Returns the process; wait_port tells when it is up."""
    os.makedirs(state, exist_ok=True)
    args = [MAILSIM, "serve", "--state", state, *options]
    for name in SERVE_PORTS:
        args += ["--%s-port" % name, str(ports[name])]
    with open(log_path or os.path.join(state, "serve.log"), "a" if append else "w") as log:
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)


def stop(proc, what, seconds=20):
    """SIGTERM to proc (one this script started), and a check that it ends
    cleanly in time; killed if it does not."""
    proc.send_signal(signal.SIGTERM)
    try:
        return check(proc.wait(timeout=seconds) == 0, what)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return check(False, what + " (killed after %d s)" % seconds)
