#!/bin/sh
# tests/integration/lessons.sh - the lessons as a class meets them: six in
# each language, each acts out its scenario (exit 0), tells every step it
# narrates (none left unsaid) and ends with its quiz; LANG chooses French;
# a broken lesson file is reported as FILE:LINE.
. "$(dirname "$0")/../lib.sh"

for lang in en fr de; do
	if ./mailsim lessons --lang "$lang" >"$TMP/list.out" 2>&1; then
		n=$(grep -cE '^ +[0-9]+  ' "$TMP/list.out")
		[ "$n" -eq 6 ] && pass "lessons --lang $lang lists 6 lessons" || fail "lessons --lang $lang lists $n lessons"
	else
		fail "lessons --lang $lang: $(head -2 "$TMP/list.out")"
		continue
	fi
	for n in 1 2 3 4 5 6; do
		what="lesson $n --lang $lang"
		./mailsim lesson "$n" --headless --lang "$lang" >"$TMP/run.out" 2>"$TMP/run.err"
		rc=$?
		if [ $rc -ne 0 ]; then
			fail "$what exited $rc: $(head -3 "$TMP/run.err")"
			continue
		fi
		told=$(grep -c '^» ' "$TMP/run.out")
		quiz=$(grep -cE '^ +[0-9]+\. ' "$TMP/run.out")
		answers=$(grep -c '^    → ' "$TMP/run.out")
		if [ "$told" -gt 0 ] && [ "$quiz" -ge 3 ] && [ "$quiz" -le 5 ] && [ "$answers" -eq "$quiz" ] &&
			grep -q 'expectations: [0-9]* passed, 0 failed' "$TMP/run.out"; then
			pass "$what: $told narrations, $quiz questions with answers"
		else
			fail "$what: $told narrations, $quiz questions, $answers answers"
		fi
		if grep -q 'never happened' "$TMP/run.err"; then
			fail "$what: $(grep 'never happened' "$TMP/run.err" | head -2)"
		fi
	done
done

# the narration stands just above the first event of its step
./mailsim lesson 3 --headless --lang en >"$TMP/l3.out" 2>&1
next=$(grep -A 4 '^» out.4 ' "$TMP/l3.out" | grep -m1 -E '^[0-9]{2}:')
expect_match "$next" '^[0-9:.]+ +out\.4 ' "the narration of out.4 comes right before out.4's first event"

# the language from the environment: LANG, and LC_ALL over it
LC_ALL= LC_MESSAGES= LANG=fr_FR.UTF-8 ./mailsim lessons >"$TMP/fr.out" 2>&1
expect_match "$(head -1 "$TMP/fr.out")" '^Leçons \(français\)' "LANG=fr_FR.UTF-8 lists the lessons in French"
LC_ALL= LC_MESSAGES= LANG=fr_FR.UTF-8 ./mailsim lesson 1 --headless >"$TMP/fr1.out" 2>&1
expect_match "$(head -1 "$TMP/fr1.out")" '^Leçon 1[^:]*: Qui fait quoi' "LANG=fr_FR.UTF-8 tells lesson 1 in French"
expect_match "$(cat "$TMP/fr1.out")" '→ Réponse[^:]*: ' "the French quiz gives its answers in French"
LC_ALL=de_DE.UTF-8 LANG=fr_FR.UTF-8 ./mailsim lessons >"$TMP/de.out" 2>&1
expect_match "$(head -1 "$TMP/de.out")" '^Lektionen \(Deutsch\)' "LC_ALL=de_DE.UTF-8 wins over LANG"
LC_ALL= LC_MESSAGES= LANG=C ./mailsim lessons >"$TMP/c.out" 2>&1
expect_match "$(head -1 "$TMP/c.out")" '^Lessons \(English\)' "LANG=C gives English"

# bad usage and broken lessons: exit 2 and a message that says where
./mailsim lesson 9 --headless --lang en >/dev/null 2>"$TMP/nine.err"
rc=$?
[ $rc -eq 2 ] && pass "a lesson that does not exist exits 2" || fail "lesson 9 exited $rc"
./mailsim lessons --lang es >/dev/null 2>"$TMP/es.err"
rc=$?
[ $rc -eq 2 ] && pass "a language without lessons exits 2" || fail "lessons --lang es exited $rc"
expect_match "$(cat "$TMP/es.err")" 'hint: the lessons are written in en, fr, de' "it names the languages there are"
mkdir -p "$TMP/mine/en" "$TMP/scenarios"
sed 's/^number: 3$/number: x/' lessons/en/3-sending.lesson >"$TMP/mine/en/3-sending.lesson"
./mailsim lessons --dir "$TMP/mine" --lang en >/dev/null 2>"$TMP/broken.err"
rc=$?
[ $rc -eq 2 ] && pass "a broken lesson file exits 2" || fail "a broken lesson exited $rc"
expect_match "$(cat "$TMP/broken.err")" '3-sending\.lesson:[0-9]+: expected a lesson number' "the error names file and line"

# a teacher's own lesson directory, with its own copy of the scenario
cp lessons/en/3-sending.lesson "$TMP/mine/en/"
sed 's/^title .*/title "My own relay"/' scenarios/relay-path.scn >"$TMP/scenarios/relay-path.scn"
./mailsim lesson 3 --dir "$TMP/mine" --headless --lang en >"$TMP/mine.out" 2>&1
rc=$?
[ $rc -eq 0 ] && pass "lesson 3 from a directory of one's own runs" || fail "lesson 3 --dir exited $rc"
expect_match "$(cat "$TMP/mine.out")" 'My own relay' "it runs the scenario beside that directory"

# the catalogues of the classroom view's own words are well-formed and complete
if command -v msgfmt >/dev/null 2>&1; then
	for po in po/fr.po po/de.po; do
		if out=$(msgfmt --check --statistics -o /dev/null "$po" 2>&1) && ! printf '%s' "$out" | grep -qE 'untranslated|fuzzy'; then
			pass "$po: $out"
		else
			fail "$po: $out"
		fi
	done
fi
finish
