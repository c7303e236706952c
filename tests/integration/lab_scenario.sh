#!/bin/sh
# tests/integration/lab_scenario.sh - `mailsim lab up` applies what a
# scenario says beyond its hosts, as the simulation does: firewall rules
# (nftables in each namespace: drop, reject, UDP, counters, lab status) and
# link bandwidths (HTB by destination, both ways; latency where netem is)
# and, with --play, the script: a raw session, mail clients, a host that
# goes down and a link that is cut, each at its time, logged.
# Real sockets from inside the namespaces (python3, dig) do the checking.
# Needs root (CAP_SYS_ADMIN): prints SKIP and passes without it.
. "$(dirname "$0")/../lib.sh"

P="ms-s$$-"   # every name this run makes starts with it
STATES=""
SINK=""
cleanup() {
	[ -n "$SINK" ] && kill "$SINK" 2>/dev/null
	for s in $STATES; do
		[ -f "$s/lab.ini" ] && ./mailsim lab down --state "$s" >/dev/null 2>&1
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

skip_without_netns "$P"
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
# connect NS ADDR PORT [SECONDS]: "open <greeting>", "refused", "timeout"
# (after SECONDS, 2 by default), with the seconds taken
connect() {
	in_ns "$1" python3 - "$2" "$3" "${4:-2}" <<'EOF'
import socket, sys, time
t = time.time()
s = socket.socket()
s.settimeout(float(sys.argv[3]))
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

# ---- links ---------------------------------------------------------------
# slow-pc's link to the MX carries 100 kB/s; fast-pc's is unshaped.  A
# transfer counts until the receiver has every byte (it answers the count).
cat >"$TMP/links.scn" <<'EOF'
title "A slow link"
host mx.example.org 198.51.100.20 runs mta mda
host slow-pc        192.0.2.88
host fast-pc        192.0.2.89
link * latency 20ms
link slow-pc mx.example.org bandwidth 100kB/s
user bob@example.org password "builder" on mx.example.org
EOF
cat >"$TMP/sink.py" <<'EOF'
import socket, sys
srv = socket.socket()
srv.bind(("0.0.0.0", 9000))
srv.listen(4)
open(sys.argv[1], "w").close()
while True:
    c, _ = srv.accept()
    n = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        n += len(b)
    c.sendall(str(n).encode())
    c.close()
EOF
# push NS ADDR BYTES: "BYTES-RECEIVED SECONDS"
push() {
	in_ns "$1" python3 - "$2" "$3" <<'EOF'
import socket, sys, time
t = time.time()
s = socket.create_connection((sys.argv[1], 9000), timeout=30)
s.sendall(b"x" * int(sys.argv[2]))
s.shutdown(socket.SHUT_WR)
print("%s %.2f" % (s.recv(32).decode(), time.time() - t))
EOF
}
# sink NS: a receiver on port 9000 of NS, in place of the last one
sink() {
	[ -n "$SINK" ] && kill "$SINK" 2>/dev/null && wait "$SINK" 2>/dev/null
	rm -f "$TMP/sink.ready"
	ip netns exec "$1" python3 "$TMP/sink.py" "$TMP/sink.ready" &
	SINK=$!   # ip execs python in place: the receiver's own pid
	for i in $(seq 50); do [ -f "$TMP/sink.ready" ] && break; sleep 0.1; done
}
# slow RESULT BYTES: every byte arrived, after 2 s at least (3 s at 100 kB/s);
# fast: in less than 1 s
slow() { [ "${1% *}" = "$2" ] && awk -v t="${1#* }" 'BEGIN { exit !(t >= 2.0) }'; }
fast() { [ "${1% *}" = "$2" ] && awk -v t="${1#* }" 'BEGIN { exit !(t < 1.0) }'; }

ST3="$TMP/links"
out=$(up "$ST3" "$TMP/links.scn")
expect_match "$out" '^Links from slow-pc: mx\.example\.org 100\.0 kB/s' "up says which link it shaped"
BYTES=300000
sink "${P}mx-example-org"
r=$(push "${P}slow-pc" 198.51.100.20 $BYTES)
slow "$r" $BYTES && pass "300 kB over the 100 kB/s link take their time ($r s)" || fail "the slow link: $r"
r=$(push "${P}fast-pc" 198.51.100.20 $BYTES)
fast "$r" $BYTES && pass "300 kB over an unshaped link are quick ($r s)" || fail "the unshaped link: $r"
sink "${P}slow-pc"
r=$(push "${P}mx-example-org" 192.0.2.88 $BYTES)
slow "$r" $BYTES && pass "the link is as slow the other way ($r s)" || fail "the slow link, back: $r"
st=$(./mailsim lab status --state "$ST3")
expect_match "$st" '^      links: slow-pc 100\.0 kB/s' "lab status shows the MX's shaped link"
if in_ns "${P}fast-pc" tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
	expect_match "$st" 'link latencies: applied \(netem\)' "lab status: latencies applied with netem"
else
	expect_match "$st" 'link latencies: not applied: this kernel has no netem' \
		"lab status says latencies are not applied, and why"
	expect_match "$out" 'link latencies are not applied' "and up said it"
fi
kill "$SINK" 2>/dev/null
wait "$SINK" 2>/dev/null
SINK=""
down "$ST3"

# ---- the script: a raw session against the firewall ------------------------
# At 1 s a machine that is no host's (192.0.2.77) submits with AUTH PLAIN
# in the clear (hence --allow-plaintext-auth); the provider queues the
# message and cannot hand it on: the MX drops its port 25.
# wait_for FILE REGEX SECONDS: until a line of FILE matches
wait_for() {
	for i in $(seq $(($3 * 10))); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
# messages NAME: the files of every Maildir under a state directory's host
messages() { find "$1" -path '*/mail/*' \( -path '*/new/*' -o -path '*/cur/*' \) -type f 2>/dev/null; }

ST4="$TMP/play-fw"
out=$(up "$ST4" scenarios/firewall-blocks-25.scn --play --allow-plaintext-auth)
expect_match "$out" "^Script: acted from now on by 1 machine" "up --play says the script is acted"
LOG="$ST4/script.log"
wait_for "$LOG" 'line 32: (done|.*failed)' 10 || fail "line 32 was not acted within 10 s"
log=$(cat "$LOG")
expect_match "$log" 'client-192\.0\.2\.77 +[^ ]*firewall-blocks-25\.scn:32: client 192\.0\.2\.77 connects to mail\.example\.com port 587' \
	"the log says which line is acted, from which machine"
expect_match "$log" 'client-192\.0\.2\.77 → 192\.0\.2\.10:587 +smtp +C: AUTH PLAIN ••••••' "the session's lines are logged, the secret masked"
expect_match "$log" '192\.0\.2\.10:587 → client-192\.0\.2\.77 +smtp +S: 235 ' "the server's answer to AUTH is logged"
expect_match "$log" 'S: 250 2\.0\.0 Ok: queued as [0-9A-F]+' "the provider queued the message"
expect_match "$log" 'line 32: done' "the line is done"
[ -n "$(find "$ST4/mail.example.com/queue" -name '*.msg' 2>/dev/null)" ] &&
	pass "the message waits in the provider's queue" || fail "nothing in $ST4/mail.example.com/queue"
for i in $(seq 50); do n=$(packets "$MX"); [ "${n:-0}" -ge 1 ] && break; sleep 0.1; done
[ "${n:-0}" -ge 1 ] && pass "the MX's firewall dropped the provider's relay ($n SYNs)" || fail "the MX's rule counted ${n:-nothing}"
[ -z "$(messages "$ST4/mx.example.org")" ] && pass "Bob's mailbox stays empty, as in the simulation" ||
	fail "a message reached Bob"
expect_match "$(./mailsim lab status --state "$ST4")" '^      script: done' "lab status: the machine's script is done"
down "$ST4"

# ---- the script: the course's mail clients ----------------------------------
ST5="$TMP/play-course"
up "$ST5" builtin:course.scn --play >/dev/null
LOG="$ST5/script.log"
wait_for "$LOG" 'line 62: (done|.*failed)' 30 || fail "the course's last line was not acted within 30 s"
log=$(cat "$LOG")
expect_match "$log" 'setup\.7 +alice +alice.s account \(found by autoconfig\)' "Alice's client finds its servers by autoconfig, over the lab"
expect_match "$log" 'out\.1 +alice → mail\.example\.com +mail\.example\.com accepted “Hello Bob”' "Alice's message is accepted at 2 s"
expect_match "$log" 'in\.8 +bob +1 new message: “Hello Bob”' "Bob's client fetches it at 6 s"
failed=$(grep -E 'line [0-9]+: [a-z-]+ failed:' "$LOG")
[ -z "$failed" ] && pass "no line failed" || fail "a line of the course failed: $failed"
bob=$(messages "$ST5/mx.example.org" | grep '/bob/cur/' | head -1)
[ -n "$bob" ] && grep -q '^Subject: Hello Bob' "$bob" && pass "the message is in Bob's Maildir, read" ||
	fail "no Hello Bob in Bob's Maildir"
messages "$ST5/mail.example.com" | grep -q '/alice/\.Sent/' && pass "and its copy in Alice's Sent" || fail "no copy in Alice's Sent"
down "$ST5"

# ---- the script: a host goes down, a link is cut ----------------------------
cat >"$TMP/cables.scn" <<'EOF'
title "Cables pulled"
host mail.example.com 192.0.2.10    runs mta mda
host mx.example.org   198.51.100.20 runs mta mda
host pc               192.0.2.77
user alice@example.com password "w" on mail.example.com
user bob@example.org   password "b" on mx.example.org
at 1s  host mail.example.com goes down
at 1s  link pc mx.example.org cut
at 8s  host mail.example.com comes up
at 8s  link pc mx.example.org restored
at 10m host mail.example.com goes down
EOF
ST6="$TMP/cables"
up "$ST6" "$TMP/cables.scn" --play >/dev/null
PC="${P}pc"
expect_match "$(connect "$PC" 198.51.100.20 25 1)" '^open 220 ' "before 1 s, pc reaches the MX"
sleep 2
expect_match "$(connect "$MX" 192.0.2.10 25 1)" '^timeout' "at 1 s the provider goes down: nothing answers"
expect_match "$(connect "$PC" 198.51.100.20 25 1)" '^timeout' "and the link between pc and the MX is cut"
expect_match "$(in_ns "$PC" nft list set inet mailsim cut)" '198\.51\.100\.20' "the cut is an nft set on pc's side"
sleep 5
wait_for "$ST6/script.log" 'line 9: done' 5
expect_match "$(connect "$MX" 192.0.2.10 25 2)" '^open 220 ' "at 8 s the provider is back"
expect_match "$(connect "$PC" 198.51.100.20 25 2)" '^open 220 ' "and the link restored"
expect_match "$(./mailsim lab status --state "$ST6")" '^      script: playing' "a line at 10 min is still to come"
play=$(sed -n "/^\[host mail.example.com\]/,/^\[/s/^play_pid=//p" "$ST6/lab.ini")
down "$ST6"
# gone, or a zombie nobody reaps (its parent, lab up, has ended)
if [ -n "$play" ] && { ! kill -0 "$play" 2>/dev/null || [ "$(cut -d' ' -f3 /proc/"$play"/stat 2>/dev/null)" = Z ]; }; then
	pass "lab down stops the script's player (pid $play)"
else
	fail "the player ${play:-?} outlives lab down"
fi

finish
