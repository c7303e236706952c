#!/bin/sh
# tools/po-update.sh - refresh the gettext catalogue of the classroom view:
# extract the marked strings (_("..."), N_("...")) of the files listed in
# po/POTFILES.in into po/mailsim.pot, merge it into each po/LANG.po, and
# check every catalogue.  Not part of the build: it needs the gettext tools
# (Debian: apt-get install gettext).  The lessons' own words live in
# lessons/LANG/, not here.
#
#   sh tools/po-update.sh          refresh, merge, check
#   sh tools/po-update.sh --check  only check the catalogues (msgfmt --check)
set -eu
cd "$(dirname "$0")/.."

for tool in xgettext msgmerge msgfmt; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "po-update: $tool is missing: apt-get install gettext" >&2
		exit 2
	fi
done

check() {
	status=0
	for po in po/*.po; do
		printf '%s: ' "$po"
		msgfmt --check --statistics -o /dev/null "$po" 2>&1 || status=1
	done
	return $status
}

if [ "${1:-}" = "--check" ]; then
	check
	exit $?
fi

# A source file nobody listed would keep its words untranslated.
for f in ui/*.c; do
	grep -qx "$f" po/POTFILES.in || echo "po-update: $f is not listed in po/POTFILES.in" >&2
done

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
xgettext --from-code=UTF-8 --language=C --sort-by-file --add-comments=TRANSLATORS: \
	--keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 --keyword=ngettext:1,2 \
	--package-name=mailsim --msgid-bugs-address="the issues of mailsim" \
	--files-from=po/POTFILES.in --output="$tmp"
if [ ! -s "$tmp" ]; then
	# Nothing is marked yet: po/mailsim.pot was collected by hand from the
	# sources and stays as it is until the strings carry _() or N_().
	echo "po-update: no marked strings in po/POTFILES.in's files; po/mailsim.pot is kept" >&2
else
	mv "$tmp" po/mailsim.pot
	for po in po/*.po; do
		# entries whose strings are gone stay as #~ and come back if the string does
		msgmerge --quiet --update --backup=none --previous "$po" po/mailsim.pot
	done
fi
check
