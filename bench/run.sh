#!/bin/sh
# bench/run.sh - every benchmark, each printing its figures beside its peer's.
set -e
cd "$(dirname "$0")/.."
echo "== scheduler hand-offs"
./build/bench/bench_sched
echo
echo "== classroom view"
./build/bench/bench_ui
echo
echo "== inbound mail into the Maildir: mailsim against Postfix+Dovecot and smtp-sink"
python3 bench/mta_bench.py "$@"
echo
echo "== reading a 2,000-message INBOX over IMAP and POP3: mailsim against Dovecot"
python3 bench/mra_bench.py
echo
echo "== the big internet: 1,000 domains, 10,000 users, the whole path per message"
python3 bench/internet_bench.py
