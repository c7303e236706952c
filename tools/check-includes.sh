#!/bin/sh
# tools/check-includes.sh - one door to each outside library (STYLE.md):
# only ui/ includes ncurses, only net/pcap_*.c includes pcap, only
# agents/mda/accounts*.c includes sqlite3, and json-glib stays in sim/.
# It also keeps the layers honest: sim/kernel/ includes nothing of mailsim
# above it, and net/ includes no agent.
cd "$(dirname "$0")/.." || exit 1
bad=0
check() {   # pattern, allowed-path-regex, what
	hits=$(grep -rlE "^#include[[:space:]]*[<\"]($1)" sim net agents ui 2>/dev/null | grep -vE "$2")
	if [ -n "$hits" ]; then
		echo "include check: $3 is included outside its door:" $hits
		bad=1
	fi
}
check 'n?curses' '^ui/' 'ncurses'
check 'pcap' '^net/pcap_' 'libpcap'
check 'sqlite3' '^agents/mda/accounts' 'sqlite3'
check 'json-glib' '^sim/' 'json-glib'
check 'agents/|ui/|sim/[a-z_]+\.h|net/' '^(agents|ui|net|sim/[a-z_]+\.[ch])' 'a higher layer (from sim/kernel)'
check 'agents/|ui/|sim/[a-z_]+\.h' '^(agents|ui|sim)/' 'an agent, sim/ or ui/ (from net/)'
check 'ui/' '^(ui|sim)/' 'ui/ (from an agent)'
[ $bad -eq 0 ] && echo "include check: every library behind its door, layers point down"
exit $bad
