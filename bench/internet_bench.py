#!/usr/bin/env python3
"""bench/internet_bench.py - the big internet at three sizes, beside the
machine's own limit on thread hand-offs.

Runs scenarios/big-internet.scn headless (1,000 domains, 10,000 users, fsync
off) with 10,000, 30,000 and 100,000 messages, each through the whole path:
submission with AUTH, MX lookup, RBL check, relay, recipient check, LMTP,
Maildir, IMAP fetch.  Prints, per size, messages per wall second, the virtual
time covered, peak memory, and the scheduler's hand-offs per second; and, in
the same run, what two bare threads manage playing ping-pong with a mutex and
condition variables (build/bench/bench_sched), the ceiling a baton scheduler
cannot pass.  Every run must end with "every message delivered" holding.

    [MAILSIM=path] python3 bench/internet_bench.py [--sizes 10000,30000,100000]
                                    [--domains 1000] [--users 10000]
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAILSIM = os.environ.get("MAILSIM", os.path.join(ROOT, "mailsim"))   # another build, to compare


def pingpong_limit():
    out = subprocess.run([os.path.join(ROOT, "build/bench/bench_sched")], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"machine: mutex \+ condvar ping-pong\s+(\d+)", out)
    return int(m.group(1)) if m else None


def run(domains, users, messages):
    cmd = [MAILSIM, "run", "-q", "--stats",
           "--internet", f"{domains},{users},{messages}", "scenarios/big-internet.scn"]
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - t0
    m = re.search(r"^stats: (.*)$", p.stdout, re.M)
    if not m:
        sys.exit(f"no stats from mailsim (exit {p.returncode}):\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    words = m.group(1).split()
    stats = dict(zip(words[0::2], words[1::2]))
    stats["total_s"] = wall
    stats["delivered"] = "ok" if re.search(r"^ok .*every message delivered", p.stdout, re.M) else "FAILED"
    if p.returncode != 0:
        print(p.stdout[-1500:], file=sys.stderr)
    return stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,30000,100000")
    ap.add_argument("--domains", type=int, default=1000)
    ap.add_argument("--users", type=int, default=10000)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    limit = pingpong_limit()
    print(f"big internet: {args.domains} domains, {args.users} users, fsync off, every message "
          f"through submission+AUTH, MX, RBL, relay, recipient check, LMTP, Maildir, IMAP")
    print(f"{'messages':>9} {'build s':>8} {'run s':>8} {'msg/s':>8} {'us/msg':>8} {'virtual':>12} "
          f"{'peak RSS':>9} {'hand-offs/s':>12} {'per msg':>8}  delivered")
    rows = []
    for n in sizes:
        s = run(args.domains, args.users, n)
        run_s = float(s["run_s"])
        rate = n / run_s
        rows.append((n, run_s))
        print(f"{n:>9} {float(s['build_s']):>8.1f} {run_s:>8.1f} {rate:>8.0f} {1e6 / rate:>8.0f} "
              f"{s['virtual']:>12} {float(s['peak_rss_mb']):>7.0f}MB {float(s['handoffs_per_s']):>12.0f} "
              f"{float(s['handoffs_per_send']):>8.1f}  {s['delivered']}", flush=True)
    if limit:
        print(f"machine limit, two threads ping-pong (mutex + condvar): {limit} hand-offs/s")
    if len(rows) > 1:
        base_n, base_s = rows[0]
        growth = ", ".join(f"{n // 1000}k: {s / base_s * base_n / n:.2f}" for n, s in rows)
        print(f"time per message relative to {base_n // 1000}k (1.00 = linear): {growth}")


if __name__ == "__main__":
    main()
