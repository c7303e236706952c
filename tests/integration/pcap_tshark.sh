#!/bin/sh
# tests/integration/pcap_tshark.sh - the pcap exporter and `mailsim watch`:
# Wireshark's tshark reads `mailsim run --pcap` files without a complaint
# (checksums validated, no analysis warnings) and finds the SMTP dialogue,
# the DNS MX answers, IMAP and POP3 in order; the run's JSON Lines log
# names the SYNs the capture shows; `mailsim watch -r` turns the
# same file back into event lines, and its JSON Lines log into the run's
# own facts about packets (each end's handshake, bytes, arrivals and FINs,
# by the events' net); and `mailsim watch -i lo` sees Python's smtplib
# talk to `mailsim serve`, every event keeping the net contract.
. "$(dirname "$0")/../lib.sh"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

if ! command -v tshark >/dev/null 2>&1; then
	fail "tshark is not installed (make deps)"
	finish
	exit 1
fi
# validate every checksum; tshark's "running as root" notice goes to stderr
TS="-o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE"
ts() { tshark -n -r "$@" $TS 2>/dev/null; }

# ---- the export ---------------------------------------------------------
P="$TMP/relay.pcap"
if ./mailsim run scenarios/relay-path.scn --pcap "$P" --events "$TMP/relay.jsonl" -q >"$TMP/run.log" 2>&1; then
	pass "mailsim run --pcap: the scenario passes with the pcap sink attached"
else
	fail "mailsim run --pcap exited $? ($(tail -n 3 "$TMP/run.log"))"
fi
[ -s "$P" ] && pass "the pcap file is written" || fail "no pcap file"

all=$(ts "$P")
expect_match "$all" 'TCP .*\[SYN\] Seq=0' "tshark sees a SYN"
expect_match "$all" 'TCP .*\[SYN, ACK\] Seq=0 Ack=1' "tshark sees the SYN-ACK"
expect_match "$all" 'FIN, ACK' "tshark sees FIN at close"

# the exporter goes by the events' net, which the log records: one SYN frame
# per SYN with both ends known, from the same client endpoints
log_syns=$(python3 - "$TMP/relay.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    net = json.loads(line).get("net")
    if net and net["action"] == "syn" and net["src"]:
        print(net["src"], net["dst"])
EOF
)
cap_syns=$(ts "$P" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e ip.src -e tcp.srcport -e ip.dst -e tcp.dstport \
	| awk '{ print $1 ":" $2, $3 ":" $4 }')
if [ -n "$log_syns" ] && [ "$log_syns" = "$cap_syns" ]; then
	pass "the log's SYN endpoints are the capture's SYNs ($(printf '%s\n' "$log_syns" | wc -l))"
else
	fail "SYNs differ: log [$log_syns], capture [$cap_syns]"
fi

bad=$(ts "$P" -Y 'tcp.analysis.flags || tcp.checksum.status == 0 || udp.checksum.status == 0 || ip.checksum.status == 0')
if [ -z "$bad" ]; then
	pass "no TCP analysis warning and no bad checksum"
else
	fail "tshark complains: $(printf '%s\n' "$bad" | head -n 5)"
fi
verbose=$(ts "$P" -V)
if printf '%s\n' "$verbose" | grep -Eq 'ACKed unseen segment|Bad checksum|\[incorrect'; then
	fail "the detailed dissection has ACKed-unseen or bad-checksum notes"
else
	pass "the detailed dissection has no ACKed-unseen or bad-checksum notes"
fi
good=$(ts "$P" -Y 'tcp.checksum.status == 1' | wc -l)
tcp=$(ts "$P" -Y 'tcp' | wc -l)
[ "$good" -gt 0 ] && [ "$good" -eq "$tcp" ] && pass "every TCP checksum verified good ($good)" \
	|| fail "$good of $tcp TCP checksums verified good"

# the relay's SMTP commands, in order (the client's submission goes in one
# pipelined segment, so the relay leg shows them one by one)
cmds=$(ts "$P" -Y 'smtp.req.command' -T fields -e smtp.req.command | tr '\n' ' ')
expect_match "$cmds" 'EHLO .*MAIL .*RCPT .*DATA' "SMTP commands in order: EHLO, MAIL, RCPT, DATA ($cmds)"
expect_match "$(ts "$P" -Y smtp -T fields -e smtp.req.parameter)" 'TO:<bob@example.org>' "the RCPT names bob@example.org"
expect_match "$(ts "$P" -Y smtp -T fields -e smtp.response.code | tr '\n' ' ')" '220 .*250 .*354 .*250' \
	"SMTP replies 220, 250, 354, 250 in order"
mx=$(ts "$P" -Y 'dns.flags.response == 1 && dns.qry.type == 15' -T fields -e dns.qry.name -e dns.mx.mail_exchange)
expect_match "$mx" '^example\.org[[:space:]]+mx\.example\.org' "DNS MX answer: example.org -> mx.example.org"
order=$(ts "$P" -Y 'dns.qry.type == 15 || smtp.req.command == "RCPT"' -T fields -e dns.qry.name -e smtp.req.parameter | tr '\n' ' ')
expect_match "$order" 'example\.org.*TO:<bob@example\.org>' "the MX lookup comes before the relay's RCPT"
expect_match "$(ts "$P" -Y dns -T fields -e dns.qry.name)" 'rbl\.example\.net' "the RBL lookup is in the capture"

# IMAP and POP3, where a scenario fetches mail
for scn in scenarios/send-receive-pop3.scn scenarios/imap-vs-pop3.scn; do
	[ -f "$scn" ] || continue
	F="$TMP/$(basename "$scn" .scn).pcap"
	./mailsim run "$scn" --pcap "$F" -q >/dev/null 2>&1
	bad=$(ts "$F" -Y 'tcp.analysis.flags && !tcp.analysis.reused_ports || tcp.checksum.status == 0 || udp.checksum.status == 0')
	[ -z "$bad" ] && pass "$scn: no TCP analysis warning, no bad checksum" || fail "$scn: $(printf '%s\n' "$bad" | head -n 3)"
	pop=$(ts "$F" -Y 'pop.request' -T fields -e pop.request.command | tr '\n' ' ')
	expect_match "$pop" 'USER .*PASS .*RETR' "$scn: POP3 USER, PASS, RETR in order"
	imap=$(ts "$F" -Y 'imap.request' -T fields -e imap.request.command | tr '\n' ' ')
	expect_match "$imap" 'LOGIN' "$scn: IMAP LOGIN dissected"
done

# ---- the same file back into events -----------------------------------------------
W=$(./mailsim watch -r "$P" 2>"$TMP/watch-r.err")
rc=$?
[ $rc -eq 0 ] && pass "mailsim watch -r exits 0" || fail "mailsim watch -r exited $rc: $(cat "$TMP/watch-r.err")"
expect_match "$W" 'in\.2 .*smtp +C: EHLO mail\.example\.com' "watch: the relay's EHLO, step in.2"
expect_match "$W" 'in\.2 .*smtp +C: RCPT TO:<bob@example\.org>' "watch: RCPT TO, step in.2"
expect_match "$W" 'in\.2 .*smtp +S: 250 2\.1\.5' "watch: the 250 to RCPT, step in.2"
expect_match "$W" 'out\.1 .*smtp +C: AUTH PLAIN ••••••' "watch: AUTH on submission is out.1, secret masked"
expect_match "$W" 'out\.4 .*dns +\[DNS_ANSWER\] example\.org\. MX → 10 mx\.example\.org\.' "watch: the MX answer, step out.4"
expect_match "$W" 'in\.3 .*dns +\[DNS_QUERY\] 10\.2\.0\.192\.rbl\.example\.net\. A \?' "watch: the DNSBL query, step in.3"
expect_match "$W" 'in\.6 .*lmtp +C: \(message: [0-9]+ bytes' "watch: the message handed over LMTP, step in.6"
expect_match "$(printf '%s\n' "$W" | tr '\n' ' ')" 'C: EHLO mail\.example\.com.*C: MAIL FROM.*C: RCPT TO.*C: DATA.*C: \(message' "watch: the relay dialogue in order"
if printf '%s\n' "$W" | grep -q 'not captured'; then fail "watch: gaps in our own capture"; else pass "watch: no gaps"; fi
expect_match "$(cat "$TMP/watch-r.err")" ' 0 retransmitted and 0 out-of-order segments, 0 gaps' "watch: our export needs no repair"

# ---- the round trip: a run's nets, back from its capture ----------------------------
# netcheck.py contract LOG: every event about packets in a watch log keeps
# the contract of sim/kernel/event.h, its from and to naming src and dst.
# netcheck.py compare RUN WATCH: for each source endpoint, the actions in
# order (a run of data as one, with its bytes; arrivals with their counts)
# are the same.  A run's UNANSWERED is left out (a capture shows a SYN, not
# that the client gave up), and a RESET counts for the pair of ends (the
# capture shows one side's RST).
cat >"$TMP/netcheck.py" <<'EOF'
import base64, json, sys
KINDS = {"syn": ("CONNECT", False), "accept": ("ACCEPT", True), "established": ("CONNECT", True),
         "refused": ("ERROR", False), "unanswered": ("ERROR", False), "data": ("SEND", True),
         "arrived": ("RECV", True), "fin": ("CLOSE", True), "reset": ("ERROR", True),
         "datagram": ("SEND", False)}
def events(path):
    return [json.loads(line) for line in open(path)]
def contract(path):
    bad, seen = [], set()
    for e in events(path):
        n = e.get("net")
        if not n:
            if e["kind"] == "RECV" or (e["kind"] == "SEND" and e.get("payload")):
                bad.append("no net: %s" % e["text"])
            continue
        a = n["action"]
        seen.add(a)
        kind, has_conn = KINDS[a]
        if e["kind"] != kind or (e["conn"] != 0) != has_conn or n["transport"] != ("udp" if a == "datagram" else "tcp"):
            bad.append("%s on %s conn %d: %s" % (a, e["kind"], e["conn"], e["text"]))
        if n["src"] != e["from"] or n["dst"] != e["to"]:
            bad.append("%s from %s to %s, net %s -> %s" % (a, e["from"], e["to"], n["src"], n["dst"]))
        if (a == "arrived") != ("bytes" in n) or (a == "arrived" and n["bytes"] <= 0):
            bad.append("bytes on %s" % a)
        if a in ("data", "datagram") and not e.get("payload"):
            bad.append("%s without its bytes: %s" % (a, e["text"]))
    for b in bad[:5]:
        print(b)
    print("actions: " + " ".join(sorted(seen)))
    return bool(seen) and not bad
def wire(path):
    by, order = {}, []
    for e in events(path):
        n = e.get("net")
        if not n or n["action"] == "unanswered":
            continue
        src, dst, a = n["src"], n["dst"], n["action"]
        if a == "reset":
            src, dst = sorted([src, dst])
        if src not in by:
            by[src] = []
            order.append(src)
        items = by[src]
        if a == "data":
            data = base64.b64decode(e.get("payload", ""))
            if items and items[-1][0] == "data" and items[-1][1] == dst:
                items[-1][2] += data
            else:
                items.append(["data", dst, bytearray(data)])
        else:
            items.append([a, dst, n.get("bytes", 0)])
    return by, order
def compare(run_path, watch_path):
    run, order = wire(run_path)
    back, back_order = wire(watch_path)
    bad = [s for s in order if run[s] != back.get(s)] + [s for s in back_order if s not in run]
    for s in bad[:3]:
        a, b = run.get(s, []), back.get(s, [])
        i = next((i for i in range(max(len(a), len(b))) if a[i:i + 1] != b[i:i + 1]), 0)
        print("%s differs at %d: run %s, watch %s" % (s, i, a[i:i + 1], b[i:i + 1]))
    print("%d ends, %d differ" % (len(order), len(bad)))
    return bool(order) and not bad
ok = contract(sys.argv[2]) if sys.argv[1] == "contract" else compare(sys.argv[2], sys.argv[3])
sys.exit(0 if ok else 1)
EOF
# relay-path (SMTP, LMTP, the account service, DNS), IMAP and POP3, HTTP
# autoconfig, and the course (a refused connection among the rest)
for scn in scenarios/relay-path.scn scenarios/imap-vs-pop3.scn scenarios/autoconfig-thunderbird.scn scenarios/course.scn; do
	[ -f "$scn" ] || continue
	n=$(basename "$scn" .scn)
	if [ "$n" = relay-path ]; then
		cp "$TMP/relay.jsonl" "$TMP/$n.run.jsonl"
		cp "$P" "$TMP/$n.pcap"
	else
		./mailsim run "$scn" --pcap "$TMP/$n.pcap" --events "$TMP/$n.run.jsonl" -q >/dev/null 2>&1
	fi
	if ./mailsim watch -r "$TMP/$n.pcap" --events "$TMP/$n.watch.jsonl" -q 2>/dev/null; then
		out=$(python3 "$TMP/netcheck.py" contract "$TMP/$n.watch.jsonl")
		[ $? -eq 0 ] && pass "$n: every event watch logs keeps the net contract ($(printf '%s\n' "$out" | tail -n 1))" \
			|| fail "$n: watch's events break the net contract: $out"
		out=$(python3 "$TMP/netcheck.py" compare "$TMP/$n.run.jsonl" "$TMP/$n.watch.jsonl")
		[ $? -eq 0 ] && pass "$n: read back from its capture, each end's nets are the run's ($out)" \
			|| fail "$n: the capture read back differs from the run: $out"
	else
		fail "$n: mailsim watch -r --events failed"
	fi
done
expect_match "$(python3 "$TMP/netcheck.py" contract "$TMP/relay-path.watch.jsonl")" \
	'^actions: accept arrived data datagram established fin syn$' "relay-path read back: every action its capture shows"
expect_match "$(python3 "$TMP/netcheck.py" contract "$TMP/course.watch.jsonl")" '^actions: .* refused ' \
	"course read back: the refused connection is a refusal"

# ---- live: mailsim watch -i lo while smtplib talks to mailsim serve ------------------
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: live capture needs root"
	finish
	exit $?
fi
SUB=$(free_port)
# every port of mailsim serve on a free one (the options it has today)
help=$(./mailsim serve --help 2>&1)
opts="--state $TMP/state --no-fsync --submission-port $SUB"
for o in smtp-port smtps-port imap-port imaps-port pop3-port pop3s-port dns-port lmtp-port auth-port http-port; do
	printf '%s\n' "$help" | grep -q -- "--$o=" && opts="$opts --$o $(free_port)"
done
printf '%s\n' "$help" | grep -q -- "--allow-plaintext-auth" && opts="$opts --allow-plaintext-auth"
# shellcheck disable=SC2086
./mailsim serve $opts >"$TMP/serve.log" 2>&1 &
SERVE=$!
PIDS="$SERVE"
./mailsim watch -i lo -f "tcp port $SUB" -p "$SUB=submission" --events "$TMP/live.jsonl" >"$TMP/live.out" 2>"$TMP/live.err" &
WATCH=$!
PIDS="$PIDS $WATCH"
# wait until the capture runs and the server answers
for i in $(seq 1 50); do
	grep -q 'capturing on lo' "$TMP/live.err" 2>/dev/null && break
	sleep 0.1
done
python3 - "$SUB" <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        break
    except OSError:
        time.sleep(0.1)
EOF
sleep 0.3
if python3 - "$SUB" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("lab-client.example")
s.login("alice@example.org", "secret")
s.sendmail("alice@example.org", ["bob@example.org"], "Subject: watched\r\n\r\nhello from the lab\r\n")
s.quit()
EOF
then
	pass "smtplib sent a message through mailsim serve"
else
	fail "smtplib could not send ($(tail -n 3 "$TMP/serve.log"))"
fi
# a second session that turns on TLS: from there on only sizes show
python3 - "$SUB" <<'EOF' && pass "smtplib: STARTTLS session" || fail "smtplib: STARTTLS session failed"
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
s.ehlo("tls-client.example")
s.starttls(context=ctx)
s.ehlo("tls-client.example")
s.login("alice@example.org", "secret")
s.quit()
EOF
sleep 1
kill -TERM "$WATCH"
wait "$WATCH"
rc=$?
[ $rc -eq 0 ] && pass "SIGTERM stops mailsim watch cleanly" || fail "mailsim watch exited $rc after SIGTERM"
L=$(cat "$TMP/live.out")
expect_match "$L" "\[CONNECT\] SYN 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:$SUB" "live: the SYN to the submission port"
expect_match "$L" 'out\.1 .*C: [Ee][Hh][Ll][Oo] lab-client\.example' "live: EHLO seen, step out.1"
expect_match "$L" 'C: AUTH PLAIN ••••••' "live: AUTH seen, secret masked"
expect_match "$L" 'C: [Mm][Aa][Ii][Ll] FROM:<alice@example\.org>' "live: MAIL FROM seen"
expect_match "$L" 'C: [Rr][Cc][Pp][Tt] TO:<bob@example\.org>' "live: RCPT TO seen"
expect_match "$L" 'C: \(message: [0-9]+ bytes' "live: the message as one summary"
expect_match "$L" 'S: 250 2\.0\.0' "live: the server's 250 after DATA"
expect_match "$L" 'C: STARTTLS' "live: STARTTLS seen"
expect_match "$L" 'TLS begins' "live: the switch to TLS is noted"
expect_match "$L" 'C: \(encrypted, [0-9]+ bytes\)' "live: the client's TLS records show as encrypted"
expect_match "$L" 'S: \(encrypted, [0-9]+ bytes\)' "live: the server's too"
if grep -q 'secret' "$TMP/live.out"; then fail "live: the password shows"; else pass "live: the password does not show"; fi
out=$(python3 "$TMP/netcheck.py" contract "$TMP/live.jsonl")
[ $? -eq 0 ] && pass "live: every event of the real traffic keeps the net contract ($(printf '%s\n' "$out" | tail -n 1))" \
	|| fail "live: the events break the net contract: $out"
live_nets=$(python3 - "$TMP/live.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    n = json.loads(line).get("net") or {}
    if n.get("action") in ("syn", "established"):
        print(n["action"], n["src"], n["dst"])
EOF
)
expect_match "$live_nets" "^syn 127\.0\.0\.1:[0-9]+ 127\.0\.0\.1:$SUB\$" "live: the SYN's net has both ends"
expect_match "$live_nets" "^established 127\.0\.0\.1:[0-9]+ 127\.0\.0\.1:$SUB\$" "live: and so has the connect that followed"
kill -TERM "$SERVE"
wait "$SERVE"
PIDS=""
finish
