#!/bin/sh
# tests/integration/dns_dig.sh - `mailsim dns` answers the real dig, over UDP
# and TCP: MX, A, TXT, SRV, PTR, CNAME, NXDOMAIN, and a DNSBL zone.
. "$(dirname "$0")/../lib.sh"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./mailsim dns --zone tests/fixtures/example.org.zone --zone tests/fixtures/reverse.zone \
	--dnsbl "rbl.example.net=203.0.113.0/24:seen sending spam" --port "$PORT" >"$TMP/dns.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$TMP"' EXIT
for i in 1 2 3 4 5 6 7 8 9 10; do
	grep -q "serving" "$TMP/dns.log" && break
	sleep 0.2
done

d() { dig @127.0.0.1 -p "$PORT" +time=2 +tries=1 "$@"; }

expect_match "$(d example.org MX +short)" '^10 mx1\.example\.org\.$' "MX answers the first exchanger"
expect_match "$(d example.org MX +short)" '^20 backup\.example\.net\.$' "MX answers the backup exchanger"
expect_match "$(d mx1.example.org A +short)" '^198\.51\.100\.20$' "A record"
expect_match "$(d example.org TXT +short)" '"v=spf1 mx -all"' "TXT record"
expect_match "$(d _imap._tcp.example.org SRV +short)" '^0 1 143 mx1\.example\.org\.$' "SRV record"
expect_match "$(d -x 198.51.100.20 +short)" '^mx1\.example\.org\.$' "PTR record"
expect_match "$(d www.example.org A)" 'www\.example\.org\..*CNAME.*mx1\.example\.org\.' "CNAME chased"
expect_match "$(d www.example.org A +short)" '^198\.51\.100\.20$' "CNAME target's address included"
expect_match "$(d nosuch.example.org A)" 'status: NXDOMAIN' "NXDOMAIN for a missing name"
nodata=$(d mx1.example.org MX)
expect_match "$nodata" 'status: NOERROR' "a name without that type is not NXDOMAIN"
expect_match "$nodata" 'ANSWER: 0, AUTHORITY: 1' "NODATA: no answer, the SOA in authority"
expect_match "$(d example.org MX)" 'flags: qr aa' "answers are authoritative"
expect_match "$(d example.org MX +tcp +short)" '^10 mx2\.example\.org\.$' "the same over TCP"
expect_match "$(d 66.113.0.203.rbl.example.net A +short)" '^127\.0\.0\.2$' "a listed address is in the DNSBL"
expect_match "$(d 66.113.0.203.rbl.example.net TXT +short)" 'seen sending spam' "the DNSBL gives its reason"
expect_match "$(d 10.2.0.192.rbl.example.net A)" 'status: NXDOMAIN' "a clean address is not listed"
expect_match "$(d example.com A)" 'status: REFUSED' "names outside every zone are refused"
expect_match "$(cat "$TMP/dns.log")" 'DNS_QUERY.*example.org. MX' "queries appear as events"

kill -TERM $PID
wait $PID
rc=$?
[ "$rc" -eq 0 ] && pass "SIGTERM stops it cleanly" || fail "exit status $rc after SIGTERM"
finish
