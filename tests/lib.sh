# tests/lib.sh - shared by the integration scripts: PASS/FAIL
# lines, a temporary directory, and a closing count.
set -u
cd "$(dirname "$0")/../.." || exit 1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS: $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $1"; }
# expect_match TEXT REGEX WHAT
expect_match() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then pass "$3"; else fail "$3 (no line matches /$2/)"; fi
}
finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}

# skip_without_netns PREFIX: end the script with SKIP (a pass) unless a
# network namespace can be made here (root and iproute2); the probe
# namespace PREFIXprobe is deleted again.
skip_without_netns() {
	if ! command -v ip >/dev/null 2>&1 || ! ip netns add "${1}probe" 2>/dev/null; then
		echo "SKIP: network namespaces cannot be made here (needs root and iproute2)"
		exit 0
	fi
	ip netns del "${1}probe"
}
