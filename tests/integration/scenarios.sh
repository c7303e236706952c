#!/bin/sh
# tests/integration/scenarios.sh - the scenario library, run as a teacher
# runs it: every scenario checks, every runnable one holds its expectations,
# a false expectation fails with exit 1, and a broken file fails with exit 2
# and a FILE:LINE:COLUMN message.
. "$(dirname "$0")/../lib.sh"

# Scenarios listed here are checked but not run (none today).
NEEDS_MUA=""
# The big internet runs small here; make bench runs it whole.
SMALL_INTERNET="--internet 40,400,1500"

for f in scenarios/*.scn; do
	name=$(basename "$f" .scn)
	scale=""
	grep -q '^internet ' "$f" && scale=$SMALL_INTERNET
	if ./mailsim check "$f" >"$TMP/check.out" 2>&1; then
		pass "$name: checks"
	else
		fail "$name: check failed: $(head -3 "$TMP/check.out")"
		continue
	fi
	case " $NEEDS_MUA " in *" $name "*) continue ;; esac
	if ./mailsim run -q $scale "$f" >"$TMP/run.out" 2>&1; then
		pass "$name: $(grep -c '^ok ' "$TMP/run.out") expectation(s) hold"
	else
		fail "$name: $(grep -E 'FAILED|:[0-9]+:' "$TMP/run.out" | head -3)"
	fi
done

# the same seed gives the same run, byte for byte
./mailsim run -q --events "$TMP/a.jsonl" scenarios/unknown-user.scn >/dev/null
./mailsim run -q --events "$TMP/b.jsonl" scenarios/unknown-user.scn >/dev/null
if cmp -s "$TMP/a.jsonl" "$TMP/b.jsonl" && [ -s "$TMP/a.jsonl" ]; then
	pass "a scenario run is repeatable ($(wc -l <"$TMP/a.jsonl") events, identical)"
else
	fail "two runs of unknown-user.scn with the same seed differ"
fi

# the big internet's count is real: a mail server that never comes back
# leaves its users' messages in the senders' queues, and the check says so
sed 's/^link .*/&\nat 0s host mx.d3.example goes down/' scenarios/big-internet.scn >"$TMP/down.scn"
./mailsim run -q --internet 5,20,60 "$TMP/down.scn" >"$TMP/down.out" 2>&1
rc=$?
[ $rc -eq 1 ] && pass "an unreachable server fails 'every message delivered'" \
	|| fail "a dead server in the internet exited $rc"
expect_match "$(cat "$TMP/down.out")" "FAILED .*every message delivered .*mailbox\(es\) short" \
	"the report says how many were delivered and which mailboxes are short"

# the course reads mail over IMAP: the same run twice, byte for byte, and
# what the MRA serves is the message itself (24 lines), on whatever file
# system the run keeps its hosts' files
./mailsim run -q --events "$TMP/c1.jsonl" scenarios/course.scn >/dev/null
./mailsim run -q --events "$TMP/c2.jsonl" scenarios/course.scn >/dev/null
if cmp -s "$TMP/c1.jsonl" "$TMP/c2.jsonl"; then
	pass "the course is repeatable, IMAP fetch included"
else
	fail "two runs of course.scn with the same seed differ"
fi
expect_match "$(cat "$TMP/c1.jsonl")" '"S: \(message: [0-9]+ bytes, [1-9][0-9]* lines\)"' \
	"the message fetched over IMAP is served whole (its lines counted)"

# an expectation that does not hold: exit 1 and a report naming its line
sed 's/INBOX is empty/INBOX has 1 message/' scenarios/rbl-refused.scn >"$TMP/false.scn"
./mailsim run -q "$TMP/false.scn" >"$TMP/false.out" 2>&1
rc=$?
[ $rc -eq 1 ] && pass "a false expectation exits 1" || fail "a false expectation exited $rc"
expect_match "$(cat "$TMP/false.out")" "FAILED .*false.scn:[0-9]+: expect bob@example.org INBOX has 1 message" \
	"the report names the expectation and its line"

# a scenario with a mistake: exit 2, FILE:LINE:COLUMN, nothing run
printf 'title "broken"\nhost a 192.0.2.1 runs mta\nlink * latency 20\n' >"$TMP/broken.scn"
./mailsim run "$TMP/broken.scn" >"$TMP/broken.out" 2>&1
rc=$?
[ $rc -eq 2 ] && pass "a broken scenario exits 2" || fail "a broken scenario exited $rc"
expect_match "$(cat "$TMP/broken.out")" "broken.scn:3:[0-9]+: .*duration" "the error names file, line and column"
expect_match "$(cat "$TMP/broken.out")" "hint:" "the error carries a hint"
finish
