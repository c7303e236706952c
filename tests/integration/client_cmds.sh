#!/bin/sh
# tests/integration/client_cmds.sh - the mail client agent pointed at real
# servers: `mailsim send` submits to `mailsim serve` (which takes passwords
# only over TLS), `mailsim fetch` reads the message back over IMAP and POP3,
# each after STARTTLS/STLS or over TLS from the first byte, every step shown
# as events.  Without --insecure the self-signed certificate is refused; a
# server that offers no STARTTLS gets no password unless
# --allow-plaintext-auth says so.
. "$(dirname "$0")/../lib.sh"

ports=$(python3 -c '
import socket
ss=[socket.socket() for _ in range(12)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))')
set -- $ports
SMTP=$1 SUB=$2 SMTPS=$3 IMAP=$4 IMAPS=$5 POP3=$6 POP3S=$7 OLD_SMTP=${11} OLD_POP3=${12}
./mailsim serve --state "$TMP/state" --no-fsync --smtp-port $1 --submission-port $2 \
	--smtps-port $3 --imap-port $4 --imaps-port $5 --pop3-port $6 --pop3s-port $7 --dns-port $8 \
	--lmtp-port $9 --auth-port ${10} >"$TMP/serve.log" 2>&1 &
PID=$!

# An old server that offers no STARTTLS and logs every line it gets: SMTP
# submission that refuses every AUTH, and POP3 that refuses every PASS.
cat >"$TMP/old_server.py" <<'PY'
import socket, sys, threading
smtp_port, pop3_port, log, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

def listen(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(4)
    return srv

def serve(srv, greeting, answer):
    while True:
        c, _ = srv.accept()
        try:
            c.sendall(greeting)
            for line in c.makefile("rb"):
                with open(log, "ab") as f:
                    f.write(line)
                c.sendall(answer(line.split(b" ")[0].strip().upper()))
                if line.upper().startswith(b"QUIT"):
                    break
        except OSError:
            pass   # a client that left early: serve the next
        c.close()

def smtp(verb):
    return {b"EHLO": b"250-old.example\r\n250 AUTH PLAIN LOGIN\r\n", b"AUTH": b"535 5.7.8 refused\r\n",
            b"QUIT": b"221 bye\r\n"}.get(verb, b"503 5.5.1 no\r\n")

def pop3(verb):
    return {b"CAPA": b"+OK\r\nUSER\r\nUIDL\r\n.\r\n", b"USER": b"+OK\r\n", b"PASS": b"-ERR [AUTH] refused\r\n",
            b"QUIT": b"+OK bye\r\n"}.get(verb, b"-ERR no\r\n")

smtp_srv, pop3_srv = listen(smtp_port), listen(pop3_port)
open(ready, "w").close()
threading.Thread(target=serve, args=(pop3_srv, b"+OK old POP3\r\n", pop3), daemon=True).start()
serve(smtp_srv, b"220 old.example ESMTP\r\n", smtp)
PY
python3 "$TMP/old_server.py" $OLD_SMTP $OLD_POP3 "$TMP/old.log" "$TMP/old.ready" 2>"$TMP/old.err" &
OLD=$!
trap 'kill $PID $OLD 2>/dev/null; rm -rf "$TMP"' EXIT
for i in $(seq 50); do grep -q "Ctrl-C" "$TMP/serve.log" && break; sleep 0.1; done

# ---- mailsim serve: STARTTLS, then the password ---------------------------------
out=$(./mailsim send --smtp 127.0.0.1:$SUB --imap 127.0.0.1:$IMAP --insecure --user alice@example.org \
	--password secret --to bob@example.org --subject "Lab hello" --body "from mailsim send" 2>&1)
rc=$?
[ $rc -eq 0 ] && pass "mailsim send --insecure exits 0" || fail "mailsim send exited $rc: $(echo "$out" | tail -2)"
expect_match "$out" 'out\.1 .*asks 127\.0\.0\.1 to encrypt the connection \(STARTTLS\) before logging in' \
	"the upgrade is an out.1 step"
expect_match "$out" 'out\.1 .*C: STARTTLS' "the client says STARTTLS"
expect_match "$out" 'out\.1 .*TLS established' "and TLS is set up"
expect_match "$out" 'out\.1 .*takes the certificate of 127\.0\.0\.1 as it is' "the self-signed certificate is accepted, aloud"
expect_match "$(echo "$out" | sed -n '/C: STARTTLS/,$p')" 'out\.1 .*AUTH PLAIN ••••••' \
	"AUTH comes after STARTTLS, masked"
expect_match "$out" 'accepted .Lab hello. for delivery' "the server accepted it"
expect_match "$out" 'retr\.3 .*C: A001 STARTTLS' "the Sent copy's IMAP session starts with STARTTLS"
expect_match "$out" 'retr\.3 .*APPEND Sent' "a copy goes to the Sent folder over IMAP"
if echo "$out" | grep -q secret; then fail "the password appears in the output"; else pass "the password never appears"; fi

for i in $(seq 50); do [ -n "$(ls "$TMP/state/mail/example.org/bob/new" 2>/dev/null)" ] && break; sleep 0.1; done
out=$(./mailsim fetch --imap 127.0.0.1:$IMAP -k --user bob@example.org --password secret 2>&1)
expect_match "$out" 'mailsim fetch: 1 new message' "mailsim fetch --imap gets the message"
expect_match "$out" 'in\.8 .*asks 127\.0\.0\.1 to encrypt the connection \(STARTTLS\)' "the IMAP upgrade is an in.8 step"
expect_match "$out" 'in\.8 .*UID FETCH' "the IMAP dialogue is shown as in.8"
out=$(./mailsim fetch --imap 127.0.0.1:$IMAPS --implicit-tls -k --user bob@example.org --password secret 2>&1)
expect_match "$out" 'mailsim fetch: 1 new message' "mailsim fetch --implicit-tls reads it over IMAPS"
expect_match "$out" 'in\.8 .*speaks TLS from the first byte with 127\.0\.0\.1' "TLS from the first byte is an in.8 step"
out=$(./mailsim fetch --pop3 127.0.0.1:$POP3 -k --user bob@example.org --password secret --delete 2>&1)
expect_match "$out" 'mailsim fetch: 1 new message' "mailsim fetch --pop3 --delete gets it too"
expect_match "$out" 'in\.8 .*C: STLS' "after STLS"
expect_match "$out" 'C: DELE 1' "and deletes it on the server"
out=$(./mailsim fetch --pop3 127.0.0.1:$POP3S --implicit-tls -k --user bob@example.org --password secret 2>&1)
expect_match "$out" 'mailsim fetch: 0 new message' "afterwards the POP3 maildrop is empty (POP3S)"
out=$(./mailsim send --smtp 127.0.0.1:$SMTPS --imap 127.0.0.1:$IMAPS --implicit-tls -k --user alice@example.org \
	--password secret --to bob@example.org --subject "Over SMTPS" 2>&1)
expect_match "$out" 'accepted .Over SMTPS. for delivery' "mailsim send --implicit-tls submits over SMTPS"

./mailsim fetch --imap 127.0.0.1:$IMAP -k --user bob@example.org --password wrong >/dev/null 2>&1
rc=$?
[ $rc -eq 1 ] && pass "a wrong password makes mailsim fetch exit 1" || fail "wrong password: exit $rc"

# ---- a certificate nobody accepted: no password --------------------------------
out=$(./mailsim send --smtp 127.0.0.1:$SUB --user alice@example.org --password secret --to bob@example.org \
	--subject "Unchecked" 2>&1)
rc=$?
[ $rc -eq 1 ] && pass "without --insecure mailsim send exits 1" || fail "without --insecure: exit $rc"
expect_match "$out" 'ERROR.*TLS handshake failed: Unacceptable TLS certificate' \
	"serve's self-signed certificate fails the check against the system's authorities, as an event"
expect_match "$out" '--cafile STATE/tls/cert.pem checks it, --insecure accepts it' "and the error says what to do"
if echo "$out" | grep -q 'C: AUTH'; then fail "AUTH was sent over an unaccepted certificate"; \
	else pass "no AUTH over a certificate not accepted"; fi
./mailsim fetch --pop3 127.0.0.1:$POP3 --user bob@example.org --password secret >"$TMP/f.out" 2>&1
rc=$?
[ $rc -eq 1 ] && ! grep -q 'C: PASS' "$TMP/f.out" && pass "nor PASS over POP3 (exit 1)" || fail "POP3 without --insecure: exit $rc"

# ---- a certificate checked against serve's own (RFC 6125: it names 127.0.0.1) ----
out=$(./mailsim send --smtp 127.0.0.1:$SUB --cafile "$TMP/state/tls/cert.pem" --user alice@example.org \
	--password secret --to bob@example.org --subject "Checked" 2>&1)
rc=$?
[ $rc -eq 0 ] && pass "mailsim send --cafile serve's certificate exits 0" || fail "--cafile: exit $rc: $(echo "$out" | tail -2)"
expect_match "$out" 'certificate of 127\.0\.0\.1 checks out' "the check is an event"
for i in $(seq 50); do grep -q "Checked" "$TMP"/state/mail/example.org/bob/new/* 2>/dev/null && break; sleep 0.1; done
out=$(./mailsim fetch --imap 127.0.0.1:$IMAPS --implicit-tls --cafile "$TMP/state/tls/cert.pem" --user bob@example.org \
	--password secret 2>&1)
expect_match "$out" 'checks out.*' "IMAPS with --cafile checks the certificate too"
# another authority's certificate for the same address does not pass
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=impostor -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$TMP/other.key" -out "$TMP/other.pem" >/dev/null 2>&1
out=$(./mailsim send --smtp 127.0.0.1:$SUB --cafile "$TMP/other.pem" --user alice@example.org \
	--password secret --to bob@example.org --subject "Impostor" 2>&1)
rc=$?
[ $rc -eq 1 ] && pass "a certificate not signed by the --cafile authority: exit 1" || fail "wrong authority: exit $rc"
if echo "$out" | grep -q 'C: AUTH'; then fail "AUTH was sent over a certificate that failed the check"; \
	else pass "no AUTH over a certificate that failed the check"; fi

# ---- a server that offers no STARTTLS: no password in the clear -------------------
for i in $(seq 50); do [ -e "$TMP/old.ready" ] && break; sleep 0.1; done
: >"$TMP/old.log"
out=$(./mailsim send --smtp 127.0.0.1:$OLD_SMTP --user alice@example.org --password secret --to bob@example.org \
	--subject "Clear?" 2>&1)
rc=$?
[ $rc -eq 1 ] && pass "to a server without STARTTLS mailsim send exits 1" || fail "no STARTTLS: exit $rc"
expect_match "$out" 'REFUSE.*127\.0\.0\.1 offers no STARTTLS: client will not send the password in the clear' \
	"the refusal is an out.1 event"
expect_match "$out" '--allow-plaintext-auth sends it in the clear anyway' "and the error names the option"
grep -qi '^AUTH' "$TMP/old.log" && fail "the password went to the old server" || pass "the old server got no AUTH"
out=$(./mailsim fetch --pop3 127.0.0.1:$OLD_POP3 --user bob@example.org --password secret 2>&1)
expect_match "$out" 'offers no STLS' "POP3 without STLS is refused too"
grep -q '^PASS' "$TMP/old.log" && fail "the password went to the old POP3 server" || pass "the old POP3 server got no PASS"
out=$(./mailsim send --smtp 127.0.0.1:$OLD_SMTP --allow-plaintext-auth --user alice@example.org --password secret \
	--to bob@example.org --subject "Clear!" 2>&1)
expect_match "$out" 'offers no STARTTLS: client.s password goes in the clear, as the user allowed' \
	"--allow-plaintext-auth sends it, aloud"
grep -qi '^AUTH PLAIN' "$TMP/old.log" && pass "and the old server got AUTH" || fail "the old server got no AUTH: $(cat "$TMP/old.log")"
if echo "$out" | grep -q secret; then fail "the password appears in the output"; else pass "still masked in the events"; fi

./mailsim send --smtp nonsense >/dev/null 2>&1
[ $? -eq 2 ] && pass "bad usage exits 2" || fail "bad usage does not exit 2"
finish
