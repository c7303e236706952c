#!/bin/sh
# bench/run.sh - every benchmark, each printing its figures beside its peer's.
set -e
cd "$(dirname "$0")/.."
echo "== scheduler hand-offs"
./build/bench/bench_sched
