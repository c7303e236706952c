#!/bin/sh
# tests/run-asan-scenarios.sh MAILSIM - every scenario of the library (and
# tests/scenarios), a small big internet and every lesson, run by a mailsim
# built with AddressSanitizer + UndefinedBehaviorSanitizer (leaks included):
# the whole agents, not only what the unit tests reach, on the simulated
# network; then the servers on real sockets, driven by the Python clients
# of three integration scripts.  A run passes when it exits 0 (every
# expectation held) and the sanitizers said nothing.
bin=${1:-build/asan/mailsim}
cd "$(dirname "$0")/.." || exit 1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
out=$(mktemp)
logs=$(mktemp -d)   # what a sanitizer says in a server, a file each
trap 'rm -f "$out"; rm -rf "$logs"' EXIT
passed=0
failed=0
check() {
	what=$1
	shift
	if "$@" >"$out" 2>&1 && ! grep -q -E 'Sanitizer|runtime error:' "$out"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL (asan): $what"
		tail -n 40 "$out"
	fi
}
for f in scenarios/*.scn tests/scenarios/*.scn; do
	case "$f" in
	*/big-internet.scn) check "$f (20 domains, 200 users, 500 messages)" \
		"$bin" run "$f" --internet 20,200,500 -q ;;
	*) check "$f" "$bin" run "$f" -q ;;
	esac
done
n=$("$bin" lessons --lang en 2>/dev/null | grep -c -E '^ +[0-9]+ ')
[ "$n" -gt 0 ] || { echo "FAIL (asan): no lesson listed"; failed=$((failed + 1)); }
for i in $(seq "$n"); do
	check "lesson $i" "$bin" lesson "$i" --lang en --headless
done
# serve under the sanitizers: SMTP, LMTP, IMAP and POP3 from real clients;
# whatever a sanitizer says goes to a log file of its own
for t in mta_clients mda_lmtp mra_clients; do
	ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$logs/asan" UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$logs/ubsan" \
		MAILSIM="$bin" check "tests/integration/$t.py, served by $bin" python3 "tests/integration/$t.py"
	for f in "$logs"/*; do
		[ -e "$f" ] || continue
		failed=$((failed + 1))
		echo "FAIL (asan): tests/integration/$t.py: the sanitizers said:"
		tail -n 40 "$f"
		rm -f "$f"
	done
done
echo "asan scenarios: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
