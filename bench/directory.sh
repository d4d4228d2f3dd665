#!/bin/sh
# The issue-6 benchmark of the reference directory at scale: import rate and
# lookup latency with 25.5 million records, memory and disk used.
#
#   sh bench/directory.sh BUILD_DIR [--quick]
#
# 1. `crossroads gen` writes a slice: the directory.csv of 80,000 persons
#    (about 1 M records; 8,000 persons with --quick);
# 2. bench_directory build fills a hub database with 25.5 M records minus
#    the slice (1 M in all with --quick), in key order without a journal:
#    set-up, timed but not a figure of the hub;
# 3. import rate: `crossroads directory import` of the slice on top of it,
#    against two baselines: the same import into an empty store, and the
#    same records through a bare prepared INSERT (rolled back before);
# 4. lookups at 25.5 M: dir_active through the store as the consult path
#    calls it, against a bare prepared statement (bench_directory lookup);
#    then GET /v1/directory/{subject} through `crossroads serve` with wrk;
# 5. memory (peak RSS of the import, the hub's RSS) and disk (the database).
#
# Everything listens on 127.0.0.1 and lives in a temporary directory (2 GB
# with the full size); every process is stopped on exit, failure included.
# Figures: stdout (Markdown) and bench/results/directory.json. See
# docs/performance.md, "Reference directory at scale (issue 6)".
#
# Environment: BENCH_RECORDS (25,500,000; 1,000,000 with --quick),
# BENCH_SLICE_PERSONS (80,000; 8,000), BENCH_QUERIES (100,000; 20,000),
# BENCH_DURATION (wrk seconds: 5; 2), BENCH_KEEP=1 keeps the directory.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
# Process, port and CPU helpers shared by the sections; bench_args sets
# BUILD (absolute) and QUICK from the command line.
. "$HERE/lib.sh"
bench_args "$0" "$@"
BIN=$BUILD/crossroads
HELPER=$BUILD/bench/bench_directory
if [ "$QUICK" -eq 1 ]; then
	RECORDS=${BENCH_RECORDS:-1000000}
	PERSONS=${BENCH_SLICE_PERSONS:-8000}
	NQ=${BENCH_QUERIES:-20000}
	DUR=${BENCH_DURATION:-2}
	LIMIT=60
else
	RECORDS=${BENCH_RECORDS:-25500000}
	PERSONS=${BENCH_SLICE_PERSONS:-80000}
	NQ=${BENCH_QUERIES:-100000}
	DUR=${BENCH_DURATION:-5}
	LIMIT=240
fi
ADMIN_TOKEN=bench-admin-$$-$(date +%s)
# A record takes about 60 bytes in the store; the slice's CSV and the empty
# store's copy are small. Ask for twice what the database needs.
NEED_KB=$((RECORDS / 1000 * 120 + 200000))

die() {
	echo "bench: $*" >&2
	exit 1
}

for b in "$BIN" "$HELPER"; do
	[ -x "$b" ] || die "$b is missing: build first (ninja -C $BUILD)"
done
command -v wrk >/dev/null || die "wrk is missing: sh scripts/install-deps.sh --bench"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing: sh scripts/install-deps.sh --bench"
command -v curl >/dev/null || die "curl is missing"
command -v python3 >/dev/null || die "python3 is missing"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/crossroads-bench-directory.XXXXXX")
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

NOTE=""
AVAIL_KB=$(df -Pk "$TMP" | awk 'NR == 2 { print $4 }')
if [ "$AVAIL_KB" -lt "$NEED_KB" ]; then
	OLD=$RECORDS
	RECORDS=$((AVAIL_KB / 120 * 1000 / 2))
	[ "$RECORDS" -ge 1000000 ] || die "only $((AVAIL_KB / 1024)) MB free in $TMP"
	NOTE="only $((AVAIL_KB / 1024)) MB free in $TMP: $RECORDS records instead of $OLD"
	echo "bench: $NOTE" >&2
fi
FSTYPE=$(stat -f -c %T "$TMP")

# --- 1. the slice and the stores ---------------------------------------------
echo "bench: directory: gen --persons $PERSONS" >&2
timed gen $LIMIT "$BIN" gen --out "$TMP/gen" --persons "$PERSONS" -q ||
    die "crossroads gen failed: $(tail -3 "$TMP/gen.err")"
SLICE=$(($(wc -l <"$TMP/gen/directory.csv") - 1))
BULK=$((RECORDS - SLICE))
[ "$BULK" -gt 0 ] || die "the slice ($SLICE records) is not smaller than $RECORDS"
for db in big empty; do
	timed "registry-$db" 60 "$BIN" registry import "$TMP/gen/registry.json" \
	    --db "$TMP/$db.db" || die "registry import failed: $(tail -3 "$TMP/registry-$db.err")"
done

# --- 2. the big table (set-up) -----------------------------------------------
echo "bench: directory: building $BULK records" >&2
timed build $LIMIT "$HELPER" build "$TMP/big.db" "$TMP/gen/directory.csv" \
    "$BULK" "$TMP/queries.txt" "$NQ" ||
    die "bench_directory build failed: $(tail -3 "$TMP/build.err")"

# --- 3. import rate ----------------------------------------------------------
# imported N: the "imported ... (M new)" line of crossroads directory import.
imported() {
	tr '\r' '\n' <"$TMP/$1.err" | sed -n 's/^imported \([0-9]*\) records (\([0-9]*\) new).*/\1 \2/p' | tail -1
}
echo "bench: directory: import of $SLICE records, into an empty store" >&2
timed import-empty $LIMIT "$BIN" directory import "$TMP/gen/directory.csv" \
    --db "$TMP/empty.db" || die "import into the empty store failed: $(tail -3 "$TMP/import-empty.err")"
echo "bench: directory: raw INSERT baseline at scale" >&2
timed raw-insert $LIMIT "$HELPER" raw-insert "$TMP/big.db" "$TMP/gen/directory.csv" ||
    die "bench_directory raw-insert failed: $(tail -3 "$TMP/raw-insert.err")"
echo "bench: directory: import of $SLICE records on top of $BULK" >&2
timed import $LIMIT "$BIN" directory import "$TMP/gen/directory.csv" \
    --db "$TMP/big.db" || die "import failed: $(tail -3 "$TMP/import.err")"
read -r IMP_N IMP_NEW <<EOF
$(imported import)
EOF
[ "$IMP_NEW" = "$SLICE" ] || die "the import added $IMP_NEW records of $SLICE"
TOTAL=$((BULK + IMP_NEW))
DB_BYTES=$(($(stat -c %s "$TMP/big.db") + $(stat -c %s "$TMP/big.db-wal" 2>/dev/null || echo 0)))

# --- 4. lookups --------------------------------------------------------------
echo "bench: directory: $NQ lookups at $TOTAL records" >&2
timed lookup $LIMIT "$HELPER" lookup "$TMP/big.db" "$TMP/queries.txt" \
    "$TMP/subjects.txt" || die "bench_directory lookup failed: $(tail -3 "$TMP/lookup.err")"

echo "bench: directory: GET /v1/directory/{subject} through the hub, ${DUR} s x 2" >&2
HUB_PORT=$(free_port)
HUB=http://127.0.0.1:$HUB_PORT
printf 'access_log = off\n' >"$TMP/hub.conf"
CROSSROADS_ADMIN_TOKEN=$ADMIN_TOKEN "$BIN" serve --config "$TMP/hub.conf" \
    --listen "127.0.0.1:$HUB_PORT" --db "$TMP/big.db" \
    >"$TMP/hub.out" 2>"$TMP/hub.err" &
HUB_PID=$!
PIDS="$HUB_PID"
wait_http "$HUB/healthz" $HUB_PID || die "crossroads serve did not start: $(tail -3 "$TMP/hub.err")"
S1=$(head -1 "$TMP/subjects.txt")
curl -fsS --max-time 5 -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$HUB/v1/directory/$S1" >"$TMP/get.json" || die "GET /v1/directory/$S1 failed"
grep -q '"institution"' "$TMP/get.json" || die "no entries for $S1: $(cat "$TMP/get.json")"
RSS0=$(awk '/^VmRSS/ { print $2 }' "/proc/$HUB_PID/status")
# One connection: the latency of one lookup; then 16: the throughput.
for c in 1 16; do
	t=2
	[ $c -eq 1 ] && t=1
	OURS=$HUB_PID BENCH_SUBJECTS=$TMP/subjects.txt BENCH_TOKEN=$ADMIN_TOKEN \
	    timed "wrk$c" $((DUR + 30)) wrk -t $t -c $c -d "${DUR}s" --latency \
	    -s "$HERE/get-directory.lua" "$HUB" || die "wrk failed: $(tail -3 "$TMP/wrk$c.err")"
	grep '^BENCH_JSON ' "$TMP/wrk$c.out" | sed 's/^BENCH_JSON //' >"$TMP/wrk$c.json"
	[ -s "$TMP/wrk$c.json" ] || die "wrk gave no figures: $(cat "$TMP/wrk$c.out")"
done
RSS=$(awk '/^VmRSS/ { print $2 }' "/proc/$HUB_PID/status")
HWM=$(awk '/^VmHWM/ { print $2 }' "/proc/$HUB_PID/status")
HUB_EXIT=0
kill -TERM $HUB_PID
wait $HUB_PID || HUB_EXIT=$?
PIDS=""

# --- 5. the report -----------------------------------------------------------
mkdir -p "$HERE/results"
python3 - "$TMP" "$HERE/results/directory.json" <<EOF
import json, os, sys, time
tmp, out = sys.argv[1:3]
quick = $QUICK == 1
records, bulk, slice_n = $RECORDS, $BULK, $SLICE
total, db_bytes = $TOTAL, $DB_BYTES
note, fstype = "$NOTE", "$FSTYPE"
rss0, rss, hwm, hub_exit = $RSS0, $RSS, $HWM, $HUB_EXIT

def jload(name):
	with open(os.path.join(tmp, name)) as f:
		return json.loads(f.read().strip().splitlines()[-1])

def timing(name):
	with open(os.path.join(tmp, name + ".time")) as f:
		w, u, s, m = f.read().split()
	with open(os.path.join(tmp, name + ".cpu")) as f:
		fo, ot = f.read().split()
	return {"wall_s": float(w), "user_s": float(u), "sys_s": float(s),
	    "peak_rss_mb": round(int(m) / 1024, 1),
	    "cpu_foreign_percent": int(fo), "cpu_other_percent": int(ot)}

cpu = ""
with open("/proc/cpuinfo") as f:
	for line in f:
		if line.startswith("model name"):
			cpu = line.split(":", 1)[1].strip()
			break
build = jload("build.out")
build.update(timing("build"))
imp, imp_e = timing("import"), timing("import-empty")
imp["records"] = imp_e["records"] = slice_n
imp["records_per_s"] = round(slice_n / imp["wall_s"])
imp_e["records_per_s"] = round(slice_n / imp_e["wall_s"])
raw = jload("raw-insert.out")
raw.update(timing("raw-insert"))
look = jload("lookup.out")
look.update(timing("lookup"))
w1, w16 = jload("wrk1.json"), jload("wrk16.json")
for w, n in ((w1, "wrk1"), (w16, "wrk16")):
	w["per_s"] = round(w["requests"] / (w["duration_us"] / 1e6))
	w.update(timing(n))
res = {
	"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
	"machine": {"cores": os.cpu_count(), "cpu": cpu, "tmp_fs": fstype},
	"quick": quick, "records": total, "records_asked": records,
	"note": note or None, "target": "no numeric target (issue 6)",
	"build": build, "slice_records": slice_n,
	"import": imp, "import_empty": imp_e, "raw_insert": raw,
	"ratios": {
		"import_vs_empty": round(imp["records_per_s"] / imp_e["records_per_s"], 2),
		"import_vs_raw_insert": round(imp["records_per_s"] / raw["records_per_s"], 2),
		"store_vs_raw_lookup_p50": round(look["store"]["p50_us"] / look["raw"]["p50_us"], 2),
	},
	"lookup": look,
	"hub_get": {"one_connection": w1, "sixteen_connections": w16},
	"memory_mb": {"import_peak_rss": imp["peak_rss_mb"],
	    "import_empty_peak_rss": imp_e["peak_rss_mb"],
	    "hub_rss_start": round(rss0 / 1024, 1), "hub_rss": round(rss / 1024, 1),
	    "hub_peak_rss": round(hwm / 1024, 1)},
	"disk": {"db_bytes": db_bytes, "bytes_per_record": round(db_bytes / total, 1)},
	"hub_exit_status": hub_exit,
}
with open(out, "w") as f:
	json.dump(res, f, indent=1)

def n(x):
	return "{:,}".format(x)

print("Reference directory: %s records (%s built in key order in %.0f s, set-up; "
    "%s imported)%s. No numeric target in issue 6: each figure is set "
    "beside its baseline." % (n(total), n(build["records"]), build["wall_s"],
    n(slice_n), "; " + note if note else ""))
print()
print("| measure | figure | baseline | ratio | target |")
print("|---|---:|---:|---:|---|")
print("| import, records/s (%s records onto %s) | %s | %s into an empty store | %.2f | none |"
    % (n(slice_n), n(bulk), n(imp["records_per_s"]), n(imp_e["records_per_s"]),
    res["ratios"]["import_vs_empty"]))
print("| import vs bare INSERT, records/s | %s | %s (one transaction, no checks) | %.2f | none |"
    % (n(imp["records_per_s"]), n(round(raw["records_per_s"])),
    res["ratios"]["import_vs_raw_insert"]))
s, r = look["store"], look["raw"]
print("| dir_active p50 / p99 us (%s random lookups) | %.1f / %.1f | %.1f / %.1f (bare statement) | %.2f | none |"
    % (n(look["queries"]), s["p50_us"], s["p99_us"], r["p50_us"], r["p99_us"],
    res["ratios"]["store_vs_raw_lookup_p50"]))
print("| dir_active lookups/s, one thread | %s | %s | %.2f | none |"
    % (n(s["per_s"]), n(r["per_s"]), s["per_s"] / r["per_s"]))
print("| GET /v1/directory p50 / p99 ms, 1 connection | %.2f / %.2f | | | none |"
    % (w1["p50_us"] / 1e3, w1["p99_us"] / 1e3))
print("| GET /v1/directory req/s, 16 connections | %s (p99 %.1f ms) | | | none |"
    % (n(w16["per_s"]), w16["p99_us"] / 1e3))
print("| import peak RSS | %.0f MB | %.0f MB (empty store) | | none |"
    % (imp["peak_rss_mb"], imp_e["peak_rss_mb"]))
print("| hub RSS after the GETs | %.0f MB (peak %.0f) | | | none |"
    % (rss / 1024, hwm / 1024))
print("| database on disk | %s MB, %.0f bytes a record | | | none |"
    % (n(round(db_bytes / 2**20)), db_bytes / total))
print()
# "other" is mostly the kernel working for the step itself (writeback of
# the import's writes, loopback TCP as softirq time): only foreign, live
# processes that are not ours, says that the machine was busy elsewhere.
bad = [k for k, t in (("import", imp), ("import into an empty store", imp_e),
    ("bare INSERT", raw), ("lookups", look), ("GET 1", w1), ("GET 16", w16))
    if t["cpu_foreign_percent"] > 20]
print("CPU taken by the rest of the machine (%% of one core, foreign / other): "
    "import %d/%d, lookups %d/%d, GET %d/%d and %d/%d." % (
    imp["cpu_foreign_percent"], imp["cpu_other_percent"],
    look["cpu_foreign_percent"], look["cpu_other_percent"],
    w1["cpu_foreign_percent"], w1["cpu_other_percent"],
    w16["cpu_foreign_percent"], w16["cpu_other_percent"]))
if bad:
	print("WARNING: other processes took more than 20%% of a core during: "
	    "%s; the figures are disturbed." % ", ".join(bad))
errs = w1["non2xx"] + w16["non2xx"]
if errs:
	print("FAILED: %d GET answers were not 2xx." % errs)
if hub_exit:
	print("FAILED: the hub exited with status %d on SIGTERM." % hub_exit)
if errs or hub_exit:
	sys.exit(1)
EOF
echo "bench: figures written to bench/results/directory.json" >&2
