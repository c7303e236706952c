#!/bin/sh
# tools/fuzz.sh SECONDS FUZZER... - run each libFuzzer binary for SECONDS on a
# scratch copy of its seed corpus (tests/fuzz/corpus/NAME); the committed
# corpus is never written.  A crash fails the run and leaves its input in
# build/fuzz/crashes/NAME/ to become a regression input.
secs=$1
shift
status=0
passed=0
failed=0
for bin in "$@"; do
	name=$(basename "$bin" | sed 's/^fuzz_//')
	work=build/fuzz/work/$name
	crashes=build/fuzz/crashes/$name
	rm -rf "$work"
	mkdir -p "$work" "$crashes"
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$crashes/" -print_final_stats=0 "$work" >"build/fuzz/$name.log" 2>&1; then
		echo "fuzz $name: ${secs}s, no crash ($(grep -Eo "#[0-9]+" "build/fuzz/$name.log" | tail -n 1) runs)"
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "fuzz $name: FAILED, see build/fuzz/$name.log and $crashes"
		tail -n 30 "build/fuzz/$name.log"
		status=1
	fi
done
echo "fuzz: $passed passed, $failed failed"
exit $status
