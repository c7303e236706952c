#!/bin/sh
# tests/integration/web_curl.sh - `mailsim web` answers the real curl:
# Thunderbird's autoconfig (both URLs, GET and HEAD) and Outlook's
# autodiscover as well-formed XML with the right servers (xmllint), and bad
# requests with the right status: 400, 404, 405, 411, 413.
. "$(dirname "$0")/../lib.sh"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./mailsim web --domain example.com --imap mail.example.com:143 --pop3 mail.example.com:110 \
	--smtp smtp.example.com:587 --port "$PORT" >"$TMP/web.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$TMP"' EXIT
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	grep -qs "serving" "$TMP/web.log" && break
	sleep 0.2
done

URL="http://127.0.0.1:$PORT"
get() { curl -s --max-time 5 "$@"; }
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
xpath() { xmllint --xpath "$1" "$2" 2>/dev/null; }
expect_eq() {
	if [ "$1" = "$2" ]; then pass "$3"; else fail "$3 (got \"$1\", expected \"$2\")"; fi
}

# ---- Thunderbird: autoconfig.DOMAIN, then the domain's well-known URL
get -H 'Host: autoconfig.example.com' "$URL/mail/config-v1.1.xml?emailaddress=alice%40example.com" >"$TMP/ac.xml"
if xmllint --noout "$TMP/ac.xml" 2>"$TMP/xmllint.err"; then pass "autoconfig XML is well-formed"; else fail "autoconfig XML: $(cat "$TMP/xmllint.err")"; fi
expect_eq "$(xpath 'string(/clientConfig/@version)' "$TMP/ac.xml")" "1.1" "clientConfig version 1.1"
expect_eq "$(xpath 'string(//emailProvider/domain)' "$TMP/ac.xml")" "example.com" "emailProvider names the domain"
expect_eq "$(xpath 'string(//incomingServer[@type="imap"]/hostname)' "$TMP/ac.xml")" "mail.example.com" "IMAP server host"
expect_eq "$(xpath 'string(//incomingServer[@type="imap"]/port)' "$TMP/ac.xml")" "143" "IMAP server port"
expect_eq "$(xpath 'string(//incomingServer[@type="pop3"]/port)' "$TMP/ac.xml")" "110" "POP3 server port"
expect_eq "$(xpath 'string(//outgoingServer[@type="smtp"]/hostname)' "$TMP/ac.xml")" "smtp.example.com" "SMTP server host"
expect_eq "$(xpath 'string(//outgoingServer[@type="smtp"]/port)' "$TMP/ac.xml")" "587" "SMTP submission port"
expect_eq "$(xpath 'string(//outgoingServer/socketType)' "$TMP/ac.xml")" "plain" "socketType plain"
expect_eq "$(xpath 'string(//outgoingServer/authentication)' "$TMP/ac.xml")" "password-cleartext" "authentication"
expect_eq "$(xpath 'string(//incomingServer[@type="imap"]/username)' "$TMP/ac.xml")" "%EMAILADDRESS%" "username template"
head=$(curl -s --max-time 5 -D - -o /dev/null -H 'Host: autoconfig.example.com' "$URL/mail/config-v1.1.xml?emailaddress=alice%40example.com")
expect_match "$head" '^Content-Type: application/xml; charset=utf-8' "autoconfig is served as XML"
expect_match "$head" '^Date: [A-Z][a-z][a-z], [0-9][0-9] [A-Z][a-z][a-z] [0-9]{4} ' "a Date field"
get -H 'Host: example.com' "$URL/.well-known/autoconfig/mail/config-v1.1.xml" >"$TMP/wk.xml"
if cmp -s "$TMP/ac.xml" "$TMP/wk.xml"; then pass "the well-known URL serves the same document"; else fail "the well-known URL differs"; fi
heads=$(curl -s --max-time 5 -I -H 'Host: autoconfig.example.com' "$URL/mail/config-v1.1.xml?emailaddress=alice%40example.com")
expect_match "$heads" "^HTTP/1.1 200" "HEAD answers 200"
expect_match "$heads" "^Content-Length: $(wc -c <"$TMP/ac.xml" | tr -d ' ')" "HEAD gives the length of the GET body"

# ---- Outlook: POST the request, get the Autodiscover response
cat >"$TMP/req.xml" <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>alice@example.com</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>
XML
get -X POST -H 'Host: autodiscover.example.com' -H 'Content-Type: text/xml' --data-binary @"$TMP/req.xml" \
	"$URL/autodiscover/autodiscover.xml" >"$TMP/ad.xml"
if xmllint --noout "$TMP/ad.xml" 2>"$TMP/xmllint.err"; then pass "autodiscover XML is well-formed"; else fail "autodiscover XML: $(cat "$TMP/xmllint.err")"; fi
P='//*[local-name()="Protocol"]'
T='*[local-name()="Type"]'
expect_eq "$(xpath "string($P[$T=\"IMAP\"]/*[local-name()=\"Server\"])" "$TMP/ad.xml")" "mail.example.com" "autodiscover IMAP server"
expect_eq "$(xpath "string($P[$T=\"POP3\"]/*[local-name()=\"Port\"])" "$TMP/ad.xml")" "110" "autodiscover POP3 port"
expect_eq "$(xpath "string($P[$T=\"SMTP\"]/*[local-name()=\"Port\"])" "$TMP/ad.xml")" "587" "autodiscover SMTP port"
expect_eq "$(xpath "string($P[$T=\"SMTP\"]/*[local-name()=\"LoginName\"])" "$TMP/ad.xml")" "alice@example.com" "LoginName is the address"
expect_eq "$(xpath "string($P[$T=\"IMAP\"]/*[local-name()=\"SSL\"])" "$TMP/ad.xml")" "off" "SSL off for a plain server"
expect_eq "$(xpath 'string(//*[local-name()="Action"])' "$TMP/ad.xml")" "settings" "Action settings"

# ---- bad requests
expect_eq "$(code "$URL/index.html")" "404" "an unknown path is 404"
expect_eq "$(code -H 'Host: autoconfig.example.org' "$URL/mail/config-v1.1.xml?emailaddress=bob%40example.org")" "404" "an unknown domain is 404"
expect_eq "$(code -X POST -d '' "$URL/mail/config-v1.1.xml")" "405" "POST to autoconfig is 405"
allow=$(curl -s --max-time 5 -D - -o /dev/null -X POST -d '' "$URL/mail/config-v1.1.xml")
expect_match "$allow" '^Allow: GET, HEAD' "405 lists the methods allowed"
expect_eq "$(code "$URL/autodiscover/autodiscover.xml")" "405" "GET to autodiscover is 405"
expect_eq "$(code -X DELETE "$URL/mail/config-v1.1.xml")" "405" "a method not served is 405"
expect_eq "$(code -X POST --data-binary 'not xml' "$URL/autodiscover/autodiscover.xml")" "400" "a body that is no request is 400"
expect_eq "$(code "$URL/mail/config-v1.1.xml?emailaddress=%zz")" "400" "a malformed query is 400"
expect_eq "$(code -H 'Host:' "$URL/mail/config-v1.1.xml")" "400" "HTTP/1.1 without Host is 400"
expect_eq "$(code -X POST -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/req.xml" "$URL/autodiscover/autodiscover.xml")" "411" "a chunked body is 411"
head -c 70000 /dev/zero | tr '\0' 'x' >"$TMP/big"
expect_eq "$(code -X POST -H 'Expect: 100-continue' --data-binary @"$TMP/big" "$URL/autodiscover/autodiscover.xml")" "413" "a body over the limit is 413"

# ---- keep-alive: two requests, one connection
two=$(curl -s --max-time 5 -v -H 'Host: autoconfig.example.com' "$URL/mail/config-v1.1.xml?emailaddress=a%40example.com" \
	"$URL/mail/config-v1.1.xml?emailaddress=b%40example.com" 2>&1 >/dev/null)
expect_match "$two" 'Re-using existing connection|Reusing existing connection' "keep-alive carries a second request"

# ---- the events
log=$(cat "$TMP/web.log")
expect_match "$log" 'setup\.4 .*S: HTTP/1.1 200 OK' "autoconfig answers are step setup.4"
expect_match "$log" 'setup\.3 .*S: HTTP/1.1 200 OK' "autodiscover answers are step setup.3"
expect_match "$log" 'REFUSE.*404' "refusals are events"

kill -TERM $PID
wait $PID
rc=$?
[ "$rc" -eq 0 ] && pass "SIGTERM stops it cleanly" || fail "exit status $rc after SIGTERM"
finish
