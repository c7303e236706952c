#!/bin/sh
# tests/integration/lab_netns.sh - `mailsim lab up|down`: the course's hosts
# each in a network namespace on a private bridge.  Alice's machine submits
# with smtplib (STARTTLS, AUTH) to her provider, which finds Bob's server by
# MX and relays over the bridge; Bob's machine reads it with imaplib; dig
# asks the name server; the bridge's port counters and `mailsim watch -i`
# show the traffic on the wire; lab down leaves nothing behind.
# Needs root (CAP_SYS_ADMIN): prints SKIP and passes without it.
. "$(dirname "$0")/../lib.sh"

P="ms-t$$-"   # every name this run makes starts with it: a leftover run's do not clash
STATE="$TMP/lab"
SW="${P}switch"
WATCH=""
cleanup() {
	[ -n "$WATCH" ] && kill "$WATCH" 2>/dev/null
	[ -f "$STATE/lab.ini" ] && ./mailsim lab down --state "$STATE" >/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

skip_without_netns "$P"

# what the record says about a host: key HOST
record() { sed -n "/^\[host $2\]/,/^\[/s/^$1=//p" "$STATE/lab.ini"; }
# bytes the bridge received from a host's cable (the switch's end of its veth)
port_rx() { ip netns exec "$SW" cat "/sys/class/net/$(record port "$1")/statistics/rx_bytes"; }
in_ns() { ns="$1"; shift; ip netns exec "$ns" "$@"; }

# ---- refusals that touch nothing ----------------------------------------
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
if command -v setpriv >/dev/null 2>&1 && nobody test -x ./mailsim 2>/dev/null; then
	out=$(nobody ./mailsim lab up --state "$TMP/nobody" 2>&1)
	rc=$?
	[ "$rc" -eq 1 ] && pass "lab up as an ordinary user fails" || fail "lab up as an ordinary user: exit $rc"
	expect_match "$out" 'needs root' "and says it needs root"
fi
out=$(./mailsim lab up --prefix other- --state "$STATE" 2>&1)
[ $? -eq 2 ] && pass "a prefix not starting with ms- is refused" || fail "bad prefix accepted: $out"

# ---- up -------------------------------------------------------------------
out=$(./mailsim lab up --state "$STATE" --prefix "$P" 2>&1)
rc=$?
[ "$rc" -eq 0 ] && pass "lab up with the course world" || { fail "lab up: exit $rc"; echo "$out"; finish; exit 1; }
expect_match "$out" "^  ${P}mx-example-org +198\.51\.100\.20 +mta mda mra web +pid [0-9]+" "up lists Bob's server with its address and pid"
expect_match "$out" "ip netns exec ${SW} [^ ]*mailsim watch -i ms-br0" "up says how to watch the bridge"
for ns in mail-example-com mx-example-org ns-example-net rbl-example-net home-pc-alice laptop-bob switch; do
	ip netns list | grep -q "^${P}${ns}\b" || fail "namespace ${P}${ns} missing"
done
pass "one namespace per host, and the switch"
in_ns "${P}mx-example-org" ip -4 addr show dev eth0 | grep -q 'inet 198\.51\.100\.20/32' &&
	pass "Bob's server has its scenario address on eth0" || fail "no 198.51.100.20 on eth0 of ${P}mx-example-org"
root_addrs=$(ip -4 -o addr show)
for a in 192.0.2.10 192.0.2.77 198.51.100.20 198.51.100.99 203.0.113.53 203.0.113.54; do
	printf '%s\n' "$root_addrs" | grep -q "inet $a/" && fail "the root namespace got $a"
done
pass "the root namespace has none of the scenario's addresses"
ip link show ms-br0 >/dev/null 2>&1 && fail "the bridge is in the root namespace" || pass "the bridge lives in its own namespace"
expect_match "$(./mailsim lab status --state "$STATE")" '6 of 6 hosts up' "lab status: every host up"
out=$(./mailsim lab up --state "$STATE" --prefix "$P" 2>&1)
[ $? -eq 1 ] && expect_match "$out" 'is up' "a second lab up on the same state refuses" || fail "second up: $out"

# ---- DNS across the bridge ----------------------------------------------
expect_match "$(in_ns "${P}home-pc-alice" dig +short +time=2 +tries=2 @203.0.113.53 MX example.org)" \
	'^10 mx\.example\.org\.$' "dig from Alice's machine: the MX of example.org"
expect_match "$(in_ns "${P}home-pc-alice" dig +short +time=2 +tries=2 @203.0.113.54 66.113.0.203.rbl.example.net A)" \
	'^127\.0\.0\.2$' "dig the blacklist on its own server"

# ---- watch the wire while Alice writes to Bob -----------------------------
# ip execs mailsim in place: $! is the capture's own pid
ip netns exec "$SW" ./mailsim watch -i ms-br0 >"$TMP/watch.out" 2>"$TMP/watch.err" &
WATCH=$!
for i in $(seq 50); do grep -q 'capturing on' "$TMP/watch.err" 2>/dev/null && break; sleep 0.1; done
rx_alice=$(port_rx home-pc-alice)
rx_provider=$(port_rx mail.example.com)

SUBJECT="lab $$ hello"
BODY_BYTES=4000
out=$(in_ns "${P}home-pc-alice" python3 - "$SUBJECT" "$BODY_BYTES" <<'EOF' 2>&1
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"], m["To"], m["Subject"] = "alice@example.com", "bob@example.org", sys.argv[1]
m.set_content(("See you at 5? " * 1000)[:int(sys.argv[2])])
with smtplib.SMTP("192.0.2.10", 587, timeout=10) as s:
    s.starttls()
    s.login("alice@example.com", "wonderland")
    print(s.send_message(m) or "accepted")
EOF
)
expect_match "$out" '^accepted$' "Alice submits on 587 with STARTTLS and AUTH"

out=$(in_ns "${P}laptop-bob" python3 - "$SUBJECT" <<'EOF' 2>&1
import imaplib, sys, time
deadline = time.time() + 20
while True:
    c = imaplib.IMAP4("198.51.100.20", 143, timeout=10)
    c.starttls()
    c.login("bob@example.org", "builder")
    c.select("INBOX", readonly=True)
    typ, data = c.search(None, "SUBJECT", '"%s"' % sys.argv[1])
    found = data[0].split()
    if found:
        typ, msg = c.fetch(found[0], "(BODY.PEEK[HEADER.FIELDS (SUBJECT RECEIVED)])")
        print(msg[0][1].decode())
    c.logout()
    if found or time.time() > deadline:
        break
    time.sleep(0.5)
EOF
)
expect_match "$out" "^Subject: $SUBJECT" "Bob reads Alice's message over IMAP on his own machine"
expect_match "$out" 'from mail\.example\.com .*192\.0\.2\.10' "it came from Alice's provider's address"

rx_alice2=$(port_rx home-pc-alice)
rx_provider2=$(port_rx mail.example.com)
[ $((rx_alice2 - rx_alice)) -ge "$BODY_BYTES" ] &&
	pass "the bridge carried Alice's submission ($((rx_alice2 - rx_alice)) bytes from her cable)" ||
	fail "Alice's cable sent only $((rx_alice2 - rx_alice)) bytes"
[ $((rx_provider2 - rx_provider)) -ge "$BODY_BYTES" ] &&
	pass "the bridge carried the relay ($((rx_provider2 - rx_provider)) bytes from the provider's cable)" ||
	fail "the provider's cable sent only $((rx_provider2 - rx_provider)) bytes"

sleep 0.5
kill "$WATCH" 2>/dev/null
wait "$WATCH" 2>/dev/null
WATCH=""
expect_match "$(cat "$TMP/watch.err")" 'mailsim watch: [0-9]+ frames' "the capture on the bridge ends on its signal"
seen=$(cat "$TMP/watch.out")
expect_match "$seen" '192\.0\.2\.10:[0-9]+ → 203\.0\.113\.53:53 +dns +\[DNS_QUERY\] example\.org\. MX' \
	"watch on the bridge: the provider asks the MX"
expect_match "$seen" '192\.0\.2\.10:[0-9]+ → 198\.51\.100\.20:25 +smtp +C: RCPT TO:<bob@example\.org>' \
	"watch on the bridge: the relay to Bob's server on port 25"
expect_match "$seen" '192\.0\.2\.77:[0-9]+ → 192\.0\.2\.10:587 +smtp +C: STARTTLS' \
	"watch on the bridge: Alice's submission starts TLS"

# ---- down -----------------------------------------------------------------
pids=$(sed -n 's/^pid=//p' "$STATE/lab.ini")
out=$(./mailsim lab down --state "$STATE" 2>&1)
[ $? -eq 0 ] && pass "lab down" || { fail "lab down"; echo "$out"; }
left=$(ip netns list | grep "^${P}")
[ -z "$left" ] && pass "every namespace is gone" || fail "namespaces left: $left"
alive=""
for p in $pids; do kill -0 "$p" 2>/dev/null && [ "$(cut -d' ' -f3 /proc/"$p"/stat 2>/dev/null)" != Z ] && alive="$alive $p"; done
[ -z "$alive" ] && pass "every server stopped" || fail "servers still running:$alive"
[ ! -f "$STATE/lab.ini" ] && pass "the record is removed" || fail "lab.ini left"
[ -d "$STATE/mx.example.org/mail" ] && pass "Bob's mailbox stays in the state directory" || fail "mailbox gone"
out=$(./mailsim lab down --state "$STATE" 2>&1)
[ $? -eq 1 ] && expect_match "$out" 'no lab recorded' "a second lab down says there is nothing" || fail "second down: $out"
finish
