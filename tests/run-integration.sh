#!/bin/sh
# tests/run-integration.sh - run every integration script in tests/integration.
# Each script drives ./mailsim the way a user does and exits non-zero on failure.
cd "$(dirname "$0")/.." || exit 1
passed=0
failed=0
for t in tests/integration/*.sh tests/integration/*.py; do
	[ -e "$t" ] || continue
	case "$t" in
	*.py) cmd="python3 $t" ;;
	*) cmd="sh $t" ;;
	esac
	echo "== $t"
	if $cmd; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL: $t"
	fi
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
