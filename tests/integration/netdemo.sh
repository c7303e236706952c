#!/bin/sh
# tests/integration/netdemo.sh - `mailsim netdemo` as a user runs it: the
# text shows the handshake, both directions and the refusal, and two runs
# with the same seed write byte-identical event logs.
. "$(dirname "$0")/../lib.sh"

out=$(./mailsim netdemo --events "$TMP/a.jsonl")
./mailsim netdemo --events "$TMP/b.jsonl" >/dev/null

expect_match "$out" 'connected 192.0.2.77:[0-9]* -> 198.51.100.7:7' "client connects after the handshake"
expect_match "$out" 'echo  C: hello, network' "the client's line is shown as C:"
expect_match "$out" 'echo  S: hello, network' "the echo comes back as S:"
expect_match "$out" '00:00:00.060 .*S: hello, network' "the echo arrives one round trip later (20 ms links)"
expect_match "$out" 'refused the connection' "a port with no listener refuses"
if cmp -s "$TMP/a.jsonl" "$TMP/b.jsonl"; then pass "same seed, same event log"; else fail "same seed, different logs"; fi
lines=$(wc -l < "$TMP/a.jsonl")
[ "$lines" -gt 10 ] && pass "the JSON log has $lines events" || fail "the JSON log has only $lines events"
python3 - "$TMP/a.jsonl" <<'PY' && pass "every log line is JSON with seq in order" || fail "the JSON log is malformed"
import json, sys
seqs = [json.loads(l)["seq"] for l in open(sys.argv[1])]
assert seqs == list(range(1, len(seqs) + 1)), seqs
PY
finish
