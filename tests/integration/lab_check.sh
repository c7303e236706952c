#!/bin/sh
# tests/integration/lab_check.sh - `mailsim lab check` judges a lab's
# scenario expectations as `mailsim run` does: the course acted out for
# real (lab up --play) passes every one, Maildirs, Sent, a queue and the
# course's steps in order merged from the servers' and players' event
# logs; a scenario whose expectations cannot hold prints FAILED and exits
# 1, an "after" the script has not reached is "not due".
# Needs root (CAP_SYS_ADMIN): prints SKIP and passes without it.
. "$(dirname "$0")/../lib.sh"

P="ms-c$$-"   # every name this run makes starts with it
STATES=""
cleanup() {
	for s in $STATES; do
		[ -f "$s/lab.ini" ] && ./mailsim lab down --state "$s" >/dev/null 2>&1
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

skip_without_netns "$P"

# up STATE SCENARIO: a played lab under this run's prefix, or FAIL and stop
up() {
	STATES="$STATES $1"
	if ! out=$(./mailsim lab up "$2" --play --state "$1" --prefix "$P" 2>&1); then
		fail "lab up --play $2"
		printf '%s\n' "$out" | sed 's/^/  | /'
		finish
		exit 1
	fi
	printf '%s\n' "$out" | sed 's/^/  | /'   # quoted: its FAILED lines are the tool's, not this test's
}
# wait_script STATE: until no machine of the lab is still playing (60 s at most)
wait_script() {
	i=0
	while ./mailsim lab status --state "$1" | grep -q "script: playing" && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

out=$(./mailsim lab check --state "$TMP/none" 2>&1)
rc=$?
[ "$rc" -eq 2 ] && pass "check without a lab exits 2" || fail "check without a lab: exit $rc"
expect_match "$out" "no lab recorded" "check says there is no lab"

# ---- the course, played: every expectation holds -------------------------
ST1="$TMP/course"
out=$(up "$ST1" builtin:course.scn)
expect_match "$out" "lab check --state $ST1" "up points to lab check"
out=$(./mailsim lab check --state "$ST1")
rc=$?
expect_match "$out" "the script is still playing" "a check while the script plays says so"
wait_script "$ST1"
# the last fetch's mail may still be settling: a few tries
for i in 1 2 3 4 5 6 7 8 9 10; do
	out=$(./mailsim lab check --state "$ST1")
	rc=$?
	[ "$rc" -eq 0 ] && break
	sleep 1
done
printf '%s\n' "$out" | sed 's/^/  | /'   # quoted: its FAILED lines are the tool's, not this test's
[ "$rc" -eq 0 ] && pass "lab check of the played course exits 0" || fail "lab check of the course: exit $rc"
n=$(./mailsim check builtin:course.scn | sed -n 's/.* \([0-9]*\) expectations: ok/\1/p')
expect_match "$out" "^expectations: $n passed, 0 failed$" "every one of the course's $n expectations held"
expect_match "$out" "^ok      course\.scn:[0-9]+: expect steps setup\.1, .* in order$" \
	"the steps in order, merged from the hosts' event logs"
expect_match "$out" "^ok      course\.scn:[0-9]+: expect bob@example\.org INBOX has 1 message with subject" \
	"Bob's INBOX, read from his server's Maildir"
if printf '%s\n' "$out" | grep -q "^FAILED\|^SKIPPED\|^not due"; then
	fail "a line not ok in the course's check"
else
	pass "no expectation failed, skipped or not due"
fi
ls "$ST1/events/"*.serve.jsonl "$ST1/events/"*.play.jsonl >/dev/null 2>&1 &&
	pass "each server and player keeps an event log" || fail "no event logs in $ST1/events"
out=$(./mailsim lab status --state "$ST1")
expect_match "$out" "mailsim lab check --state $ST1" "status points to lab check"
./mailsim lab down --state "$ST1" >/dev/null 2>&1 || fail "lab down --state $ST1"
out=$(./mailsim lab check --state "$ST1" 2>&1)
rc=$?
[ "$rc" -eq 2 ] && pass "after down the record is gone: check exits 2" || fail "check after down: exit $rc"

# ---- expectations that cannot hold in this lab -----------------------------
# The course again with three more: Bob gets one message, not two (FAILED);
# his INBOX is empty after an hour (not due yet); the queue empties (ok).
ST2="$TMP/bad"
sed -e 's/^title .*/title "Expected wrong"/' scenarios/course.scn > "$TMP/bad.scn"
cat >> "$TMP/bad.scn" <<'SCN'
expect bob@example.org INBOX has 2 messages
expect bob@example.org INBOX is empty after 1h
expect queue on mail.example.com is empty
expect step in.3 refused
SCN
./mailsim run "$TMP/bad.scn" --headless --quiet > "$TMP/run.out" 2>&1
run_rc=$?
up "$ST2" "$TMP/bad.scn" >/dev/null
wait_script "$ST2"
sleep 2
out=$(./mailsim lab check --state "$ST2")
rc=$?
printf '%s\n' "$out" | sed 's/^/  | /'   # quoted: its FAILED lines are the tool's, not this test's
[ "$rc" -eq 1 ] && pass "lab check exits 1 when an expectation fails" || fail "lab check of bad.scn: exit $rc"
[ "$run_rc" -eq "$rc" ] && pass "as mailsim run does (exit $run_rc)" || fail "mailsim run exits $run_rc, lab check $rc"
expect_match "$out" "^FAILED  .*bad\.scn:[0-9]+: expect bob@example\.org INBOX has 2 messages \(at [0-9:.]+: 1 message\(s\)\)$" \
	"the wrong count FAILED, with what was found"
expect_match "$out" "^FAILED  .*bad\.scn:[0-9]+: expect step in\.3 refused \(at [0-9:.]+: seen\)$" \
	"a step refusal that never came FAILED"
# the run's clock reaches the hour; the lab's has not: that one is not due here
grep "^FAILED" "$TMP/run.out" | grep -v "after 1h" | sed 's/ (at .*//' > "$TMP/run.failed"
printf '%s\n' "$out" | grep "^FAILED" | sed 's/ (at .*//' > "$TMP/lab.failed"
cmp -s "$TMP/run.failed" "$TMP/lab.failed" && pass "the same expectations (but the hour) fail in the lab as in mailsim run" ||
	fail "run and lab disagree: $(diff "$TMP/run.failed" "$TMP/lab.failed" | tr '\n' ' ')"
expect_match "$out" "^not due .*bad\.scn:[0-9]+: expect bob@example\.org INBOX is empty after 1h \(the script is at" \
	"an after the script has not reached is not due"
expect_match "$out" "^ok      .*bad\.scn:[0-9]+: expect queue on mail\.example\.com is empty$" \
	"the queue, read from the server's spool, is empty"
expect_match "$out" "^expectations: [0-9]+ passed, 2 failed, 1 not due yet$" "the count says what was not due"
./mailsim lab down --state "$ST2" >/dev/null 2>&1 || fail "lab down --state $ST2"
left=$(ip netns list | grep "^${P}")
[ -z "$left" ] && pass "no namespace left" || fail "namespaces left: $left"

finish
