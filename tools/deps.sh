#!/bin/sh
# tools/deps.sh - install what mailsim needs to build and test on Debian 12.
# Quiet and fast when everything is present; apt-get as root otherwise; a
# clear list of missing packages for a non-root user.
set -eu

PKGS="gcc make pkg-config clang libclang-rt-14-dev
libglib2.0-dev glib-networking libncurses-dev libpcap-dev check libsubunit-dev
libsqlite3-dev libjson-glib-dev
python3 curl swaks tmux tshark bind9-dnsutils libxml2-utils openssl gettext
iproute2 nftables util-linux postfix valgrind"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "mailsim: these Debian packages are missing:$missing" >&2
	echo "mailsim: install them as root:  apt-get install$missing" >&2
	exit 1
fi

echo "mailsim: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# postfix is here for its test programs (smtp-source, smtp-sink): no
# configuration, so no daemon of its own is set up or started
case " $missing " in
*" postfix "*)
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections ;;
esac
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
