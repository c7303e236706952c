#!/bin/sh
# tests/integration/lab_scenario.sh - `mailsim lab up` applies what a
# scenario says beyond its hosts, as the simulation does: firewall rules
# (nftables in each namespace: drop, reject, UDP, counters, lab status).
# Real sockets from inside the namespaces (python3, dig) do the checking.
# Needs root (CAP_SYS_ADMIN): prints SKIP and passes without it.
. "$(dirname "$0")/../lib.sh"

P="ms-s$$-"   # every name this run makes starts with it
STATES=""
cleanup() {
	for s in $STATES; do
		[ -f "$s/lab.ini" ] && ./mailsim lab down --state "$s" >/dev/null 2>&1
	done
	ip netns del "${P}probe" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! command -v ip >/dev/null 2>&1 || ! ip netns add "${P}probe" 2>/dev/null; then
	echo "SKIP: network namespaces cannot be made here (needs root and iproute2)"
	exit 0
fi
ip netns del "${P}probe"
if ! command -v nft >/dev/null 2>&1; then
	fail "the nft command is missing (tools/deps.sh installs nftables)"
	finish
	exit 1
fi

in_ns() { ns="$1"; shift; ip netns exec "$ns" "$@"; }
# up STATE SCENARIO [OPTIONS]: a lab under this run's prefix, or FAIL and stop
up() {
	st="$1"; scn="$2"; shift 2
	STATES="$STATES $st"
	out=$(./mailsim lab up "$scn" --state "$st" --prefix "$P" "$@" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "lab up $scn: exit $rc"
		echo "$out"
		finish
		exit 1
	fi
	printf '%s\n' "$out"
}
down() {
	./mailsim lab down --state "$1" >/dev/null 2>&1 || fail "lab down --state $1"
	left=$(ip netns list | grep "^${P}")
	[ -z "$left" ] || fail "namespaces left after down: $left"
}
# connect NS ADDR PORT: "open <greeting>", "refused", "timeout" (after 2 s), with the seconds taken
connect() {
	in_ns "$1" python3 - "$2" "$3" <<'EOF'
import socket, sys, time
t = time.time()
s = socket.socket()
s.settimeout(2)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("open %s %.2f" % (s.recv(64).decode(errors="replace").split()[0], time.time() - t))
except ConnectionRefusedError:
    print("refused %.2f" % (time.time() - t))
except (socket.timeout, TimeoutError):
    print("timeout %.2f" % (time.time() - t))
EOF
}
# packets NS: what the rules of a namespace's table counted, one number per rule
packets() { in_ns "$1" nft list table inet mailsim | sed -n 's/.* counter packets \([0-9]*\) .*/\1/p'; }

MAIL="${P}mail-example-com"
MX="${P}mx-example-org"

# ---- firewall: drop -------------------------------------------------------
ST1="$TMP/fw"
out=$(up "$ST1" scenarios/firewall-blocks-25.scn)
expect_match "$out" "Firewall of mx\.example\.org: 1 rule" "up names the firewall it applied"
[ -f "$ST1/mx.example.org.nft" ] && pass "the rules are kept as an nft script in the state directory" ||
	fail "no $ST1/mx.example.org.nft"
in_ns "$MAIL" nft list tables 2>/dev/null | grep -q . &&
	fail "a host without rules got a table" || pass "a host without rules gets no table"
expect_match "$(packets "$MX")" '^0$' "the rule has counted nothing before anyone connects"
expect_match "$(connect "$MAIL" 198.51.100.20 25)" '^timeout' \
	"from the sending server, port 25 of the MX gets no answer (drop)"
expect_match "$(connect "$MAIL" 198.51.100.20 587)" '^open 220 ' "while its port 587 answers"
n=$(packets "$MX")
[ "${n:-0}" -ge 1 ] && pass "the rule counted the dropped SYNs ($n packets)" || fail "the rule counted ${n:-nothing}"
st=$(./mailsim lab status --state "$ST1")
expect_match "$st" 'firewall: 1 rule ' "lab status shows the firewall"
expect_match "$st" 'tcp dport 25 counter packets [1-9][0-9]* bytes [0-9]+ drop comment "line 27: drop tcp port 25"' \
	"lab status shows the rule, its scenario line and its counter"
down "$ST1"

# ---- firewall: reject, UDP, first match -------------------------------------
# mx refuses port 25 at once; the name server loses the provider's
# questions (a rejected datagram is lost, as in the simulation) but answers
# the MX, which an earlier accept lets through before a wider drop.
sed -e 's/^firewall mx.example.org drop tcp port 25$/firewall mx.example.org reject tcp port 25\
firewall ns.example.net reject udp port 53 from 192.0.2.10\
firewall ns.example.net accept any from 198.51.100.0\/24\
firewall ns.example.net drop any/' scenarios/firewall-blocks-25.scn >"$TMP/reject.scn"
grep -q 'reject tcp port 25' "$TMP/reject.scn" || fail "the reject copy of the scenario was not made"
ST2="$TMP/reject"
up "$ST2" "$TMP/reject.scn" >/dev/null
expect_match "$(connect "$MAIL" 198.51.100.20 25)" '^refused 0\.' "port 25 of the MX is refused at once (reject: a reset)"
expect_match "$(connect "$MAIL" 198.51.100.20 587)" '^open 220 ' "its port 587 still answers"
expect_match "$(in_ns "$MAIL" dig +short +time=1 +tries=1 @203.0.113.53 MX example.org)" 'timed out|no servers' \
	"the provider's DNS question is lost (reject of a datagram)"
expect_match "$(in_ns "$MX" dig +short +time=2 +tries=2 @203.0.113.53 MX example.org)" '^10 mx\.example\.org\.$' \
	"the MX's question is answered: the first matching rule (accept) decides"
expect_match "$(packets "${P}ns-example-net" | tr '\n' ' ')" '^[1-9][0-9]* 0 [1-9][0-9]* ' \
	"the name server's rules counted the lost question and the accepted one"
down "$ST2"

finish
