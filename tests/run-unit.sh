#!/bin/sh
# tests/run-unit.sh - run Check test binaries; report each, fail if any fails.
status=0
passed=0
failed=0
for t in "$@"; do
	if out=$("$t" 2>&1); then
		passed=$((passed + 1))
		printf '%s\n' "$out" | tail -n 1 | sed "s|^|$t: |"
	else
		failed=$((failed + 1))
		status=1
		printf '%s\n' "$out" | sed "s|^|$t: |"
	fi
done
echo "unit: $passed passed, $failed failed"
exit $status
