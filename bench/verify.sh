#!/bin/sh
# The issue-5 benchmark: the latency of a verification (one applicant, and
# a household of 5, across 8 registries; target: median under 10 ms)
# against a single consultation and the slowest source alone, and a
# batch's throughput against 4 registries (target: 1,000,000 subjects in
# under 60 s) against the hub's consultation ceiling.
#
#   sh bench/verify.sh BUILD_DIR [--quick]
#
# bench/verify.py does the work: 8 fixture sources, the hub (access_log =
# off), the registrations, the runs, the checks and the report. Everything
# listens on 127.0.0.1 and lives in a temporary directory; every process
# started is stopped on exit, failure or signal included. Figures: stdout
# (Markdown) and bench/results/verify.json. See docs/performance.md,
# "Verification and batches (issue 5)". Full: about 2 minutes (a batch
# sized to about 85 s of processing, at most 1,000,000 subjects); --quick:
# under 40 s (a batch of 20,000).
#
# Environment: BENCH_LATENCY_N (2,000; 300 with --quick),
# BENCH_BATCH_SECONDS (85), BENCH_BATCH_CONCURRENCY (the hub's
# batch_concurrency, 32), BENCH_KEEP=1 keeps the temporary directory.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
# Process, port and CPU helpers shared by the sections; bench_args sets
# BUILD (absolute) and QUICK from the command line.
. "$HERE/lib.sh"
bench_args "$0" "$@"
HUB_BIN=$BUILD/crossroads
SRC_BIN=$BUILD/crossroads-fixture-source
if [ "$QUICK" -eq 1 ]; then
	SIZES="--latency-n ${BENCH_LATENCY_N:-300} --calib 20000 --wrk-seconds 3"
else
	SIZES="--latency-n ${BENCH_LATENCY_N:-2000} --calib 20000 --wrk-seconds 5
	    --full --batch-seconds ${BENCH_BATCH_SECONDS:-85}"
fi

die() {
	echo "bench: $*" >&2
	exit 1
}

for b in "$HUB_BIN" "$SRC_BIN"; do
	[ -x "$b" ] || die "$b is missing: build first (ninja -C $BUILD)"
done
command -v wrk >/dev/null || die "wrk is missing: sh scripts/install-deps.sh --bench"
command -v python3 >/dev/null || die "python3 is missing"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/crossroads-bench-verify.XXXXXX")
: >"$TMP/pids"
DRIVER=""

cleanup() {
	rc=$?
	trap - EXIT HUP INT PIPE TERM
	# The driver first, so that it starts nothing more; then what it
	# started (it stops them itself unless it was killed).
	[ -z "$DRIVER" ] || stop_pid "$DRIVER"
	for p in $(cat "$TMP/pids" 2>/dev/null); do
		stop_pid "$p"
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		echo "bench: kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

# In the background, so that a signal reaches the trap at once.
# shellcheck disable=SC2086
python3 "$HERE/verify.py" --hub-bin "$HUB_BIN" --src-bin "$SRC_BIN" \
    --tmp "$TMP" --pids "$TMP/pids" --post-lua "$HERE/post.lua" \
    --results "$HERE/results/verify.json" \
    --batch-concurrency "${BENCH_BATCH_CONCURRENCY:-32}" $SIZES \
    >"$TMP/report.md" 2>"$TMP/driver.err" &
DRIVER=$!
rc=0
wait $DRIVER || rc=$?
DRIVER=""
cat "$TMP/report.md"
if [ $rc -ne 0 ]; then
	die "bench/verify.py failed: $(tail -5 "$TMP/driver.err")"
fi
echo "bench: figures written to bench/results/verify.json" >&2
