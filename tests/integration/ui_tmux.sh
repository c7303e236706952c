#!/bin/sh
# tests/integration/ui_tmux.sh - the classroom view as a class sees it: the
# real ./mailsim in a detached tmux session of 100x30, driven with keys and
# read back with capture-pane.  Stepping through relay-path shows the
# course's steps in order (out.1 ... out.5, in.1 ... in.7), the transcript
# shows the SMTP dialogue, ? opens the help, a resize to 80x24 still draws
# every pane, q exits 0 and gives the terminal back as it was; plain
# `mailsim` opens the view; a recorded run replays; NO_COLOR means no colour.
. "$(dirname "$0")/../lib.sh"

if ! command -v tmux >/dev/null 2>&1; then
	fail "tmux is not installed (make deps installs it)"
	finish
	exit 1
fi

# A tmux server of our own (its socket named after this process), so that
# nothing else's sessions are touched; only the sessions made here are killed.
SOCK="mailsim-ui-test-$$"
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
SESSIONS=""
cleanup() {
	for s in $SESSIONS; do tm kill-session -t "$s" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# start NAME COMMAND: a detached 100x30 session whose shell records the
# terminal settings before and after COMMAND, and COMMAND's exit status.
start() {
	name=$1
	shift
	SESSIONS="$SESSIONS $name"
	tm new-session -d -s "$name" -x 100 -y 30 \
		"cd '$PWD' && stty -a > '$TMP/$name.before'; env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color $*; echo \$? > '$TMP/$name.rc'; stty -a > '$TMP/$name.after'; sleep 600"
}

screen() { tm capture-pane -p -t "$1"; }

# wait_for NAME REGEX [SECONDS]: until the screen shows REGEX.
wait_for() {
	i=0
	limit=$(( ${3:-5} * 10 ))
	while [ $i -lt $limit ]; do
		screen "$1" | grep -Eq -- "$2" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# press NAME KEY: send a key and wait until the screen changes (at most 2 s).
press() {
	before=$(screen "$1")
	tm send-keys -t "$1" "$2"
	i=0
	while [ $i -lt 40 ]; do
		sleep 0.05
		[ "$(screen "$1")" != "$before" ] && return 0
		i=$((i + 1))
	done
	return 1
}

# wait_exit NAME: until the command in the session has ended.
wait_exit() {
	i=0
	while [ $i -lt 100 ]; do
		[ -s "$TMP/$1.rc" ] && [ -s "$TMP/$1.after" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# ---- relay-path, stepped through ------------------------------------------------

start ui ./mailsim run scenarios/relay-path.scn
if wait_for ui 'q quit' 10; then pass "the view opens with the key line"; else fail "the view did not open"; fi
first=$(screen ui)
for pane in '1 the path' '2 sequence' '3 transcript' '4 lesson'; do
	expect_match "$first" "$pane" "100x30 draws the pane \"$pane\""
done
expect_match "$first" '\[STEP\]' "it starts in step mode"
expect_match "$first" 'home-pc-alice' "the topology shows the sender's machine"

# Space until in.7 shows; remember every screen and the steps in the header
: > "$TMP/screens"
: > "$TMP/steps"
n=0
while [ $n -lt 300 ]; do
	press ui Space
	s=$(screen ui)
	printf '%s\n' "$s" >> "$TMP/screens"
	printf '%s\n' "$s" | head -n 1 | grep -Eo '(setup|out|in|retr)\.[0-9]+ ' | head -n 1 >> "$TMP/steps"
	printf '%s\n' "$s" | head -n 1 | grep -q 'in\.7 ' && break
	n=$((n + 1))
done
order=$(awk 'NF && !seen[$1]++ { printf "%s ", $1 }' "$TMP/steps")
if [ "$order" = "out.1 out.2 out.3 out.4 out.5 in.1 in.2 in.3 in.4 in.5 in.6 in.7 " ]; then
	pass "Space shows the steps in the course's order: $order"
else
	fail "the steps came as: $order"
fi
all=$(cat "$TMP/screens")
expect_match "$all" 'C: EHLO home-pc-alice' "the transcript shows C: EHLO"
expect_match "$all" 'C: MAIL FROM:<alice@example\.com>' "the transcript shows C: MAIL FROM"
expect_match "$all" 'C: RCPT TO:<bob@example\.org>' "the transcript shows C: RCPT TO"
expect_match "$all" 'S: 250' "the transcript shows the server's replies"
expect_match "$all" 'C: AUTH PLAIN ••••••' "the password is masked"
if printf '%s\n' "$all" | grep -q 'wonderland\|AGFsaWNl'; then
	fail "the password shows somewhere"
else
	pass "the password never shows"
fi
expect_match "$all" 'step [0-9]+ of 12' "the lesson pane counts the steps (N of 12)"

# back in the history, and forward again
press ui Left
back=$(screen ui | head -n 1)
press ui Right
again=$(screen ui | head -n 1)
if [ "$back" != "$again" ]; then pass "← steps back in the history"; else fail "← changed nothing"; fi

# details of the selected line
press ui Enter
expect_match "$(screen ui)" 'details' "Enter opens the details"
press ui Escape

# the help
press ui '?'
help=$(screen ui)
expect_match "$help" '─ help ─' "? opens the help"
expect_match "$help" 'Space' "the help lists the keys"
press ui Escape
if screen ui | grep -q '─ help ─'; then fail "Esc did not close the help"; else pass "Esc closes the help"; fi

# a smaller terminal: every pane is still drawn, nothing spills
tm resize-window -t ui -x 80 -y 24
sleep 0.5
small=$(screen ui)
for pane in '1 the path' '2 sequence' '3 transcript' '4 lesson'; do
	expect_match "$small" "$pane" "80x24 still draws the pane \"$pane\""
done
expect_match "$small" 'q ?quit' "80x24 still shows the key line"
rows=$(printf '%s\n' "$small" | wc -l)
wide=$(printf '%s\n' "$small" | python3 -c 'import sys; print(max(len(l.rstrip("\n")) for l in sys.stdin))')
if [ "$rows" -le 24 ] && [ "$wide" -le 80 ]; then pass "80x24: the frame fits ($rows rows, $wide columns at most)"; else fail "80x24: $rows rows, $wide columns"; fi
tm resize-window -t ui -x 100 -y 30

# q: the run goes on to its end, the verdict is printed, the terminal is as it was
tm send-keys -t ui q
if wait_exit ui; then pass "q ends mailsim"; else fail "mailsim did not end after q"; fi
rc=$(cat "$TMP/ui.rc" 2>/dev/null)
[ "$rc" = "0" ] && pass "exit status 0" || fail "exit status $rc"
if cmp -s "$TMP/ui.before" "$TMP/ui.after"; then pass "the terminal settings are as before"; else fail "the terminal settings changed"; fi
expect_match "$(screen ui)" 'expectations: 3 passed, 0 failed' "the verdict is printed after the view closes"

# ---- plain mailsim opens the view ------------------------------------------------

start plain ./mailsim
if wait_for plain 'q quit' 10; then pass "plain mailsim opens the view"; else fail "plain mailsim did not open the view"; fi
# n: from step to step through the whole course
screen plain | head -n 1 | grep -Eo '(setup|out|in|retr)\.[0-9]+ ' | head -n 1 > "$TMP/course"
n=0
while [ $n -lt 150 ]; do
	press plain n
	screen plain | head -n 1 | grep -Eo '(setup|out|in|retr)\.[0-9]+ ' | head -n 1 >> "$TMP/course"
	screen plain | head -n 1 | grep -q 'DONE' && break
	n=$((n + 1))
done
seen=$(awk 'NF && $1 != last { printf "%s ", $1; last = $1 }' "$TMP/course")
# the course's order, as scenarios/course.scn expects it, among what n showed
# (other steps interleave: Alice's client saves to Sent over IMAP while the
# servers relay)
if printf '%s\n' "$seen" | grep -Eq 'setup\.1 .*setup\.4 .*setup\.7 .*out\.1 .*out\.2 .*out\.3 .*out\.4 .*out\.5 .*in\.1 .*in\.2 .*in\.3 .*in\.4 .*in\.5 .*in\.6 .*in\.7 .*in\.8 '; then
	pass "n steps through the course in order: $seen"
else
	fail "the course's steps came as: $seen"
fi
tm send-keys -t plain q
wait_exit plain
rc=$(cat "$TMP/plain.rc" 2>/dev/null)
case "$rc" in 0|1) pass "plain mailsim quits with q (status $rc: the scenario's verdict)" ;; *) fail "plain mailsim: status $rc" ;; esac

# ---- a recorded run, replayed ------------------------------------------------------

./mailsim run scenarios/relay-path.scn --headless --events "$TMP/run.jsonl" > "$TMP/run.txt"
./mailsim replay "$TMP/run.jsonl" > "$TMP/replay.txt"
lines=$(wc -l < "$TMP/replay.txt")
if [ "$lines" -gt 50 ] && head -n "$lines" "$TMP/run.txt" | cmp -s - "$TMP/replay.txt"; then
	pass "replay without a terminal prints the run's transcript, line for line"
else
	fail "replay's text differs from the run's"
fi
start replay ./mailsim replay "$TMP/run.jsonl"
if wait_for replay 'REPLAY' 10; then pass "mailsim replay opens the view"; else fail "mailsim replay did not open"; fi
i=0
while [ $i -lt 12 ]; do press replay Space; i=$((i + 1)); done
expect_match "$(screen replay)" '(out|in)\.[0-9] ' "the replay steps through the recorded steps"
tm send-keys -t replay q
wait_exit replay
rc=$(cat "$TMP/replay.rc" 2>/dev/null)
[ "$rc" = "0" ] && pass "replay: q exits 0" || fail "replay: exit status $rc"

# ---- NO_COLOR ------------------------------------------------------------------------

start mono env NO_COLOR=1 ./mailsim run scenarios/relay-path.scn
wait_for mono 'q quit' 10
i=0
while [ $i -lt 8 ]; do press mono Space; i=$((i + 1)); done
esc=$(printf '\033')
if tm capture-pane -e -p -t mono | grep -Eq "${esc}\[(3[0-7]|9[0-7]|4[0-7]|38;|48;)"; then
	fail "NO_COLOR: colours on screen"
else
	pass "NO_COLOR: no colour, attributes only"
fi
tm send-keys -t mono q
wait_exit mono

finish
