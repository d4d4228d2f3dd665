#!/bin/sh
# The issue-10 benchmark of the transparency log: consultation throughput
# of a hub publishing signed tree heads at its defaults (every second or
# every 10,000 entries) against the same hub publishing none during the
# run (log_head_interval_ms = 3600000, log_head_entries = 2^40), both in
# front of the same fixture source, measured alternately in one run
# (none, heads, none, heads, ...: 4 rounds, 3 with --quick) and compared
# by their medians, so that a burst of other work on the machine does not
# decide. Target: heads / none >= 0.95.
#
#   sh bench/translog.sh BUILD_DIR [--quick]
#
# Without --quick a third hub publishes a head every 1,000 entries (more
# often than a busy hub needs), reported beside them. Figures: stdout
# (Markdown) and bench/results/translog.json. See docs/performance.md.
#
# Environment: BENCH_CONNECTIONS (64), BENCH_THREADS (2), BENCH_DURATION
# (seconds per run: 5, or 2 with --quick), BENCH_KEEP=1.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
bench_args "$0" "$@"
HUB_BIN=$BUILD/crossroads
SRC_BIN=$BUILD/crossroads-fixture-source
if [ "$QUICK" -eq 1 ]; then
	DUR=${BENCH_DURATION:-2}
	ROUNDS=3
	HUBS="none heads"
else
	DUR=${BENCH_DURATION:-5}
	ROUNDS=4
	HUBS="none heads every1k"
fi
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
SUBJECT=85073003328
PURPOSE=unemployment-benefit
ADMIN_TOKEN=bench-admin-$$-$(date +%s)

die() {
	echo "bench: $*" >&2
	exit 1
}

for b in "$HUB_BIN" "$SRC_BIN"; do
	[ -x "$b" ] || die "$b is missing: build first (ninja -C $BUILD)"
done
command -v wrk >/dev/null || die "wrk is missing: sh scripts/install-deps.sh --bench"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/crossroads-bench-translog.XXXXXX")
PIDS=""
cleanup() {
	rc=$?
	trap - EXIT HUP INT PIPE TERM
	stop_all
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

"$SRC_BIN" --listen 127.0.0.1:0 --synthetic --threads 2 \
    >"$TMP/source.out" 2>"$TMP/source.err" &
SRC_PID=$!
PIDS="$SRC_PID"
n=0
until grep -q 'listening on' "$TMP/source.out" 2>/dev/null; do
	running $SRC_PID || die "fixture source failed: $(cat "$TMP/source.err")"
	[ $n -lt 100 ] || die "fixture source did not start"
	sleep 0.1
	n=$((n + 1))
done
SRC_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/source.out")
SRC_URL=http://127.0.0.1:$SRC_PORT/person
BODY="{\"subject\":\"$SUBJECT\",\"purpose\":\"$PURPOSE\"}"

# api HUB METHOD PATH TOKEN BODY: the answer in $TMP/resp.json; 0 on 2xx.
api() {
	code=$(curl -sS -o "$TMP/resp.json" -w '%{http_code}' --max-time 5 \
	    -X "$2" -H "Authorization: Bearer $4" \
	    -H 'Content-Type: application/json' --data "$5" "$1$3") || code=000
	case $code in
	2??) return 0 ;;
	esac
	die "$2 $3 answered $code: $(cat "$TMP/resp.json" 2>/dev/null)"
}

# start_hub NAME INTERVAL_MS ENTRIES: a hub with its registry; sets
# URL_<NAME>, TOKEN_<NAME>, PID_<NAME>.
start_hub() {
	port=$(free_port)
	printf 'access_log = off\nlog_head_interval_ms = %s\nlog_head_entries = %s\n' \
	    "$2" "$3" >"$TMP/$1.conf"
	CROSSROADS_ADMIN_TOKEN=$ADMIN_TOKEN "$HUB_BIN" serve --config \
	    "$TMP/$1.conf" --listen "127.0.0.1:$port" --db "$TMP/$1.db" \
	    >"$TMP/$1.out" 2>"$TMP/$1.err" &
	pid=$!
	PIDS="$pid $PIDS"
	h=http://127.0.0.1:$port
	wait_http "$h/healthz" $pid || die "hub $1 did not start: $(tail -3 "$TMP/$1.err")"
	api "$h" POST /v1/institutions "$ADMIN_TOKEN" \
	    '{"id":"RN","name":"National Register","sector":"population"}'
	api "$h" POST /v1/institutions "$ADMIN_TOKEN" \
	    '{"id":"ONEM","name":"Employment","sector":"unemployment"}'
	api "$h" POST /v1/institutions/ONEM/clients "$ADMIN_TOKEN" '{"name":"app"}'
	tok=$(sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p' "$TMP/resp.json")
	api "$h" POST /v1/services "$ADMIN_TOKEN" \
	    "{\"id\":\"population.person\",\"provider\":\"RN\",\"endpoint\":\"$SRC_URL\",
	      \"subject_kind\":\"person\",\"fields\":[\"name\",\"address\"],\"timeout_ms\":2000}"
	api "$h" POST /v1/authorizations "$ADMIN_TOKEN" \
	    "{\"consumer\":\"ONEM\",\"service\":\"population.person\",\"purpose\":\"$PURPOSE\",
	      \"legal_basis\":\"Deliberation 22/123\",\"fields\":[\"name\",\"address\"],
	      \"capacities\":[],\"valid_from\":\"2020-01-01\",\"valid_to\":null}"
	api "$h" POST /v1/consult/population.person "$tok" "$BODY"
	eval "URL_$1=\$h; TOKEN_$1=\$tok; PID_$1=\$pid"
}

start_hub none 3600000 1099511627776
start_hub heads 1000 10000
case $HUBS in
*every1k*) start_hub every1k 1000 1000 ;;
esac

# measure NAME ROUND: one wrk run (after a 1 s warm-up) into $TMP/NAME.ROUND.json
measure() {
	eval "u=\$URL_$1; t=\$TOKEN_$1"
	BENCH_BODY=$BODY BENCH_TOKEN=$t timeout 40 wrk -t "$THREADS" -c "$CONNS" \
	    -d 1s -s "$HERE/post.lua" "$u/v1/consult/population.person" \
	    >/dev/null 2>&1 || true
	BENCH_BODY=$BODY BENCH_TOKEN=$t timeout $((DUR + 40)) wrk -t "$THREADS" \
	    -c "$CONNS" -d "${DUR}s" --latency -s "$HERE/post.lua" \
	    "$u/v1/consult/population.person" >"$TMP/$1.$2.wrk" 2>&1 ||
	    die "wrk failed for $1: $(tail -3 "$TMP/$1.$2.wrk")"
	grep '^BENCH_JSON ' "$TMP/$1.$2.wrk" | sed 's/^BENCH_JSON //' >"$TMP/$1.$2.json"
	[ -s "$TMP/$1.$2.json" ] || die "wrk gave no figures for $1"
}

echo "bench: translog: $DUR s per run, $ROUNDS round(s), $CONNS connections" >&2
r=1
while [ $r -le $ROUNDS ]; do
	for name in $HUBS; do
		measure $name $r
	done
	r=$((r + 1))
done

for name in $HUBS; do
	eval "pid=\$PID_$name"
	kill -TERM "$pid"
	wait "$pid" || die "hub $name exited with status $? on SIGTERM"
	PIDS=$(echo "$PIDS" | sed "s/\b$pid\b//")
	"$HUB_BIN" log verify --db "$TMP/$name.db" --head "$TMP/$name.db.log-key.head" \
	    >"$TMP/$name.verify" 2>&1 || die "log verify $name: $(cat "$TMP/$name.verify")"
done

mkdir -p "$HERE/results"
python3 - "$TMP" "$HERE/results/translog.json" "$ROUNDS" "$DUR" "$QUICK" $HUBS <<'EOF_PY'
import json, os, sqlite3, statistics, sys, time
tmp, out, rounds, dur, quick = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), sys.argv[5] == "1"
hubs = sys.argv[6:]
res = {}
for name in hubs:
	runs = []
	for r in range(1, rounds + 1):
		with open(os.path.join(tmp, "%s.%d.json" % (name, r))) as f:
			j = json.loads(f.read().strip().splitlines()[-1])
		runs.append({"rps": round(j["requests"] / (j["duration_us"] / 1e6)),
		    "p50_ms": j["p50_us"] / 1000, "p99_ms": j["p99_us"] / 1000,
		    "non2xx": j["non2xx"]})
	db = sqlite3.connect("file:%s?mode=ro" % os.path.join(tmp, name + ".db"),
	    uri=True)
	heads = db.execute("SELECT count(*) FROM xlog_heads").fetchone()[0]
	entries = db.execute("SELECT max(seq) FROM xlog").fetchone()[0]
	db.close()
	res[name] = {"runs": runs, "rps": round(statistics.median(x["rps"]
	    for x in runs)), "heads_stored": heads, "entries": entries}
ratio = res["heads"]["rps"] / max(res["none"]["rps"], 1)
ratio1k = res["every1k"]["rps"] / max(res["none"]["rps"], 1) \
    if "every1k" in res else None
doc = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "quick": quick, "seconds_per_run": dur, "rounds": rounds,
    "hubs": res, "ratio_heads_vs_none": round(ratio, 3),
    "ratio_every1k_vs_none": round(ratio1k, 3) if ratio1k else None,
    "target": "heads / none >= 0.95", "met": ratio >= 0.95}
with open(out, "w") as f:
	json.dump(doc, f, indent=1)
print("| hub | median req/s | p50 ms | p99 ms | heads stored | entries |")
print("|---|---:|---:|---:|---:|---:|")
for name, label in (("none", "no heads during the run"),
    ("heads", "heads: 1 s / 10,000 entries (defaults)"),
    ("every1k", "heads: 1 s / 1,000 entries")):
	if name not in res:
		continue
	x = res[name]
	print("| %s | %d | %.2f | %.2f | %d | %d |" % (label, x["rps"],
	    sum(r["p50_ms"] for r in x["runs"]) / len(x["runs"]),
	    sum(r["p99_ms"] for r in x["runs"]) / len(x["runs"]),
	    x["heads_stored"], x["entries"]))
print()
print("per round (req/s): " + "; ".join("%s %s" % (n, " ".join(str(r["rps"])
    for r in res[n]["runs"])) for n in hubs))
if ratio1k:
	print("every 1,000/none: %.3f" % ratio1k)
print("heads/none: %.3f -- target heads/none >= 0.95: %s"
    % (ratio, "MET" if ratio >= 0.95 else "NOT MET"))
if any(r["non2xx"] for x in res.values() for r in x["runs"]):
	print("non-2xx answers during a run: the figures are void")
	sys.exit(1)
EOF_PY
