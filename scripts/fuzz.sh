#!/bin/sh
# Builds the fuzz targets with clang and libFuzzer in their own tree
# (build-fuzz: the library instrumented, ASan and UBSan on), replays each
# seed corpus, then fuzzes each target for FUZZ_SECONDS (default 20) and
# prints a table of what each reached. Exits non-zero on any crash, leak,
# sanitizer report, timeout or broken invariant; the input that did it is
# kept in build-fuzz/fuzz/NAME/ (docs/fuzzing.md).
#
#   sh scripts/fuzz.sh [NAME ...]     (default: every tests/fuzz/fuzz_*.c)
#
# FUZZ_SECONDS, FUZZ_BUILD (build-fuzz) and FUZZ_TIMEOUT (seconds one
# input may take, 10) change the defaults.
set -eu
cd "$(dirname "$0")/.."

BUILD=${FUZZ_BUILD:-build-fuzz}
SECS=${FUZZ_SECONDS:-20}
TIMEOUT=${FUZZ_TIMEOUT:-10}

if [ $# -gt 0 ]; then
	TARGETS="$*"
else
	TARGETS=$(for f in tests/fuzz/fuzz_*.c; do
		basename "$f" .c | sed 's/^fuzz_//'; done)
fi

if [ ! -f "$BUILD/build.ninja" ]; then
	CC=${FUZZ_CC:-clang} meson setup "$BUILD" -Dfuzzing=true \
	    -Db_lundef=false
fi
ninja -C "$BUILD"

# halt_on_error: a UBSan report is a failure like an ASan one.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

table=$(mktemp)
trap 'rm -f "$table"' EXIT
failed=""
for t in $TARGETS; do
	bin="$BUILD/tests/fuzz_$t"
	seeds="tests/fuzz/corpus_$t"
	work="$BUILD/fuzz/$t"
	dict=""
	[ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		echo "fuzz: $t: no $bin or no $seeds" >&2
		failed="$failed $t"
		continue
	fi
	rm -rf "$work"
	mkdir -p "$work/corpus"

	# 1. Every seed once (files, not the directory: nothing is added).
	echo "fuzz: $t: replaying $seeds"
	# shellcheck disable=SC2086
	if ! "$bin" $dict "$seeds"/* >"$work/replay.log" 2>&1; then
		tail -n 40 "$work/replay.log" >&2
		echo "fuzz: $t: a seed fails (log: $work/replay.log)" >&2
		printf '%s\t%s\t%s\t%s\t%s\n' "$t" "-" "-" "-" \
		    "FAILED (seed)" >>"$table"
		failed="$failed $t"
		continue
	fi

	# 2. Fuzzing, new inputs in $work/corpus (the seeds stay as they are).
	echo "fuzz: $t: fuzzing for ${SECS}s"
	status=ok
	# shellcheck disable=SC2086
	if ! "$bin" $dict -max_total_time="$SECS" -timeout="$TIMEOUT" \
	    -rss_limit_mb=2048 -artifact_prefix="$work/" \
	    -print_final_stats=1 "$work/corpus" "$seeds" \
	    >"$work/fuzz.log" 2>&1; then
		status=FAILED
		tail -n 60 "$work/fuzz.log" >&2
		echo "fuzz: $t: failed; the input is in $work/ (crash-*," \
		    "leak-*, timeout-*, oom-*): fix, then add it to $seeds/" >&2
		failed="$failed $t"
	fi
	# The last status line: "#N DONE cov: C ft: F corp: ..." (or the
	# last progress line when the run was cut short).
	last=$(grep -E '^#[0-9]+' "$work/fuzz.log" | tail -n 1 || true)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
	    "$work/fuzz.log" | tail -n 1)
	printf '%s\t%s\t%s\t%s\t%s\n' "$t" "${runs:--}" "${cov:--}" \
	    "${ft:--}" "$status" >>"$table"
done

echo
printf '%-12s %10s %8s %8s  %s\n' target runs cov ft result
while IFS="$(printf '\t')" read -r t runs cov ft status; do
	printf '%-12s %10s %8s %8s  %s\n' "$t" "$runs" "$cov" "$ft" "$status"
done <"$table"

if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed" >&2
	exit 1
fi
echo "fuzz: every target ran ${SECS}s without a failure"
