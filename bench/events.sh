#!/bin/sh
# The issue-4 benchmark: events accepted per second, deliveries per second
# to webhook receivers and feed readers (1 and 20 subscribers), and
# publish-to-delivery latency, against the target of 50,000 deliveries/s.
#
#   sh bench/events.sh BUILD_DIR [--quick]
#
# The webhook receiver is crossroads-fixture-source --synthetic (any POST
# whose JSON body has "subject" gets a 200); its own ceiling is measured
# first with wrk. The scenarios run in bench/events.py, each on a fresh hub
# with access_log = off. Everything listens on 127.0.0.1 and lives in a
# temporary directory; every process is stopped on exit, failure included.
# Figures: stdout (Markdown) and bench/results/events.json. See
# docs/performance.md, "Events (issue 4)".
#
# Environment: BENCH_IN_FLIGHT (delivery_max_in_flight, 256),
# BENCH_KEEP=1 keeps the temporary directory.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
# Process, port and CPU helpers shared by the sections; bench_args sets
# BUILD (absolute) and QUICK from the command line.
. "$HERE/lib.sh"
bench_args "$0" "$@"
HUB_BIN=$BUILD/crossroads
SRC_BIN=$BUILD/crossroads-fixture-source
IN_FLIGHT=${BENCH_IN_FLIGHT:-256}
if [ "$QUICK" -eq 1 ]; then
	SIZES="--events-1 10000 --events-n 1000 --deadline 8 --lat-events 300"
	WRK_DUR=2
else
	SIZES="--events-1 100000 --events-n 10000 --deadline 35 --lat-events 1000"
	WRK_DUR=5
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

TMP=$(mktemp -d "${TMPDIR:-/tmp}/crossroads-bench-events.XXXXXX")
PIDS=""
: >"$TMP/pids"

cleanup() {
	rc=$?
	trap - EXIT INT TERM
	# The driver's hubs (it stops them itself unless it was killed).
	for p in $PIDS $(cat "$TMP/pids" 2>/dev/null); do
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
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the webhook receiver and its ceiling -------------------------------------
"$SRC_BIN" --listen 127.0.0.1:0 --synthetic --threads 2 \
    >"$TMP/receiver.out" 2>"$TMP/receiver.err" &
RCV_PID=$!
PIDS="$RCV_PID"
n=0
until grep -q 'listening on' "$TMP/receiver.out" 2>/dev/null; do
	running $RCV_PID || die "receiver failed: $(cat "$TMP/receiver.err")"
	[ $n -lt 100 ] || die "receiver did not start"
	sleep 0.1
	n=$((n + 1))
done
RCV_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/receiver.out")
cat >"$TMP/hook.lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"id":"1","type":"bench.moved","subject":"85073003328","occurred_at":"2024-05-01T10:00:00Z","data":{"address":"Rue de la Loi 1","t":1.0}}'
EOF
wrk -t 1 -c 64 -d "${WRK_DUR}s" -s "$TMP/hook.lua" \
    "http://127.0.0.1:$RCV_PORT/hook/ceiling" >"$TMP/wrk.out" 2>&1 ||
    die "wrk failed: $(cat "$TMP/wrk.out")"
CEILING=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$TMP/wrk.out" |
    cut -d. -f1)
[ -n "$CEILING" ] || CEILING=0

# --- the scenarios ------------------------------------------------------------
# shellcheck disable=SC2086
python3 "$HERE/events.py" --hub "$HUB_BIN" --tmp "$TMP" --pids "$TMP/pids" \
    --hook-base "http://127.0.0.1:$RCV_PORT" --receiver-pid "$RCV_PID" \
    --in-flight "$IN_FLIGHT" $SIZES --out "$TMP/scenarios.json" \
    2>"$TMP/driver.err" || die "bench/events.py failed: $(tail -5 "$TMP/driver.err")"

# --- the report ----------------------------------------------------------------
mkdir -p "$HERE/results"
python3 - "$TMP/scenarios.json" "$HERE/results/events.json" "$CEILING" \
    "$QUICK" "$IN_FLIGHT" <<'EOF'
import json, os, sys, time
src, out, ceiling, quick, in_flight = sys.argv[1:6]
TARGET = 50000
res = json.load(open(src))
cpu = ""
with open("/proc/cpuinfo") as f:
	for line in f:
		if line.startswith("model name"):
			cpu = line.split(":", 1)[1].strip()
			break

def fmt(x):
	return "n/a" if x is None else "{:,}".format(x)

print("| scenario | events accepted/s | deliveries/s | target | met | "
    "latency p50 / p99 (ms, paced) | under load p50 / p99 (ms) | busiest |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
short = []
for r in res:
	name = "%s, %d subscriber%s" % (r["kind"], r["subscribers"],
	    "s" if r["subscribers"] > 1 else "")
	if "error" in r:
		print("| %s | error: %s | | %s | no | | | |" % (name, r["error"],
		    fmt(TARGET)))
		short.append(name)
		continue
	dps = r.get("deliveries_per_s")
	met = bool(r.get("complete")) and dps is not None and dps >= TARGET
	r["target_met"] = met
	if not met:
		short.append("%s (%s/s, %.0f%% of the target)" % (name, fmt(dps),
		    100.0 * (dps or 0) / TARGET))
	lat = r.get("latency_ms") or {}
	sat = r.get("saturated_latency_ms") or {}
	threads = r["cpu_percent"]["hub_threads"]
	busiest = ", ".join("%s %d%%" % kv for kv in list(threads.items())[:3])
	if "receiver" in r["cpu_percent"]:
		busiest += ", receiver %d%%" % r["cpu_percent"]["receiver"]
	print("| %s | %s | %s%s | %s | %s | %s / %s | %s / %s | %s |" % (name,
	    fmt(r.get("events_per_s")), fmt(dps),
	    "" if r.get("complete") else " (incomplete: %s of %s)" % (
	    fmt(r.get("delivered")), fmt(r.get("deliveries_expected"))),
	    fmt(TARGET), "yes" if met else "**no**",
	    lat.get("p50"), lat.get("p99"), sat.get("p50"), sat.get("p99"),
	    busiest))
print()
print("Webhook receiver alone (wrk, 64 connections): %s requests/s. "
    "Machine: %d cores, %s. delivery_max_in_flight = %s." % (
    fmt(int(ceiling)), os.cpu_count(), cpu, in_flight))
if short:
	print("Short of the target: " + "; ".join(short) + ".")
else:
	print("Every scenario meets the target.")
json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "machine": {"cores": os.cpu_count(), "cpu": cpu},
    "quick": quick == "1", "target_deliveries_per_s": TARGET,
    "delivery_max_in_flight": int(in_flight),
    "receiver_ceiling_rps": int(ceiling), "scenarios": res},
    open(out, "w"), indent=1)
EOF
echo "bench: figures written to bench/results/events.json" >&2
