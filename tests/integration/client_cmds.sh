#!/bin/sh
# tests/integration/client_cmds.sh - the mail client agent pointed at real
# servers: `mailsim send` submits to `mailsim serve`, `mailsim fetch` reads
# the message back over IMAP and POP3, every step shown as events.
. "$(dirname "$0")/../lib.sh"

ports=$(python3 -c '
import socket
ss=[socket.socket() for _ in range(10)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))')
set -- $ports
./mailsim serve --state "$TMP/state" --no-fsync --allow-plaintext-auth --smtp-port $1 --submission-port $2 \
	--smtps-port $3 --imap-port $4 --imaps-port $5 --pop3-port $6 --pop3s-port $7 --dns-port $8 \
	--lmtp-port $9 --auth-port ${10} >"$TMP/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$TMP"' EXIT
for i in $(seq 50); do grep -q "Ctrl-C" "$TMP/serve.log" && break; sleep 0.1; done

out=$(./mailsim send --smtp 127.0.0.1:$2 --imap 127.0.0.1:$4 --user alice@example.org --password secret \
	--to bob@example.org --subject "Lab hello" --body "from mailsim send" 2>&1)
rc=$?
[ $rc -eq 0 ] && pass "mailsim send exits 0" || fail "mailsim send exited $rc: $(echo "$out" | tail -2)"
expect_match "$out" 'out\.1 .*AUTH PLAIN ••••••' "the submission shows AUTH, masked"
expect_match "$out" 'accepted .Lab hello. for delivery' "the server accepted it"
expect_match "$out" 'retr\.3 .*Sent' "a copy goes to the Sent folder over IMAP"
if echo "$out" | grep -q secret; then fail "the password appears in the output"; else pass "the password never appears"; fi

for i in $(seq 50); do [ -n "$(ls "$TMP/state/mail/example.org/bob/new" 2>/dev/null)" ] && break; sleep 0.1; done
out=$(./mailsim fetch --imap 127.0.0.1:$4 --user bob@example.org --password secret 2>&1)
expect_match "$out" 'mailsim fetch: 1 new message' "mailsim fetch --imap gets the message"
expect_match "$out" 'in\.8 .*UID FETCH' "the IMAP dialogue is shown as in.8"
out=$(./mailsim fetch --pop3 127.0.0.1:$6 --user bob@example.org --password secret --delete 2>&1)
expect_match "$out" 'mailsim fetch: 1 new message' "mailsim fetch --pop3 --delete gets it too"
expect_match "$out" 'C: DELE 1' "and deletes it on the server"
out=$(./mailsim fetch --pop3 127.0.0.1:$6 --user bob@example.org --password secret 2>&1)
expect_match "$out" 'mailsim fetch: 0 new message' "afterwards the POP3 maildrop is empty"
./mailsim fetch --imap 127.0.0.1:$4 --user bob@example.org --password wrong >/dev/null 2>&1
rc=$?
[ $rc -eq 1 ] && pass "a wrong password makes mailsim fetch exit 1" || fail "wrong password: exit $rc"
./mailsim send --smtp nonsense >/dev/null 2>&1
[ $? -eq 2 ] && pass "bad usage exits 2" || fail "bad usage does not exit 2"
finish
