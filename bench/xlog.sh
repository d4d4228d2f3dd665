#!/bin/sh
# The issue-6 benchmark of the exchange log: durable appends per second and
# the cost of `crossroads log verify` per million entries.
#
#   sh bench/xlog.sh BUILD_DIR [--quick]
#
# 1. bench_xlog append: 1, 4 and 16 threads, each appending an entry and
#    waiting until it is durable (as a request thread of the hub does),
#    through cr_xlog_submit (group commit) and, as the baseline, through
#    the same store's xlog_append with one entry (one transaction and one
#    fsync each); then one thread keeps 8,192 entries in flight (the
#    writer's ceiling) until the log holds 1,000,000 entries (100,000 with
#    --quick);
# 2. `crossroads log verify` on that log, against a bare scan of the same
#    rows (bench_xlog scan), reported per million entries.
#
# Everything lives in a temporary directory on the same file system as
# $TMPDIR (real fsyncs unless that is tmpfs: the report says which). Figures:
# stdout (Markdown) and bench/results/xlog.json. See docs/performance.md,
# "Exchange log (issue 6)".
#
# Environment: BENCH_XLOG_SECONDS (per thread count and path: 3; 1 with
# --quick), BENCH_XLOG_ENTRIES (1,000,000; 100,000), BENCH_KEEP=1.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
# Process, port and CPU helpers shared by the sections; bench_args sets
# BUILD (absolute) and QUICK from the command line.
. "$HERE/lib.sh"
bench_args "$0" "$@"
BIN=$BUILD/crossroads
HELPER=$BUILD/bench/bench_xlog
if [ "$QUICK" -eq 1 ]; then
	SECS=${BENCH_XLOG_SECONDS:-1}
	ENTRIES=${BENCH_XLOG_ENTRIES:-100000}
	LIMIT=60
else
	SECS=${BENCH_XLOG_SECONDS:-3}
	ENTRIES=${BENCH_XLOG_ENTRIES:-1000000}
	LIMIT=180
fi

die() {
	echo "bench: $*" >&2
	exit 1
}

for b in "$BIN" "$HELPER"; do
	[ -x "$b" ] || die "$b is missing: build first (ninja -C $BUILD)"
done
[ -x /usr/bin/time ] || die "/usr/bin/time is missing: sh scripts/install-deps.sh --bench"
command -v python3 >/dev/null || die "python3 is missing"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/crossroads-bench-xlog.XXXXXX")
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

FSTYPE=$(stat -f -c %T "$TMP")
[ "$FSTYPE" != tmpfs ] ||
    echo "bench: $TMP is on tmpfs: fsync costs nothing there, the figures flatter both paths" >&2

echo "bench: xlog: appends, $SECS s per run, then the log to $ENTRIES entries" >&2
timed append $LIMIT "$HELPER" append "$TMP/xlog.db" "$TMP/base.db" "$SECS" \
    "$ENTRIES" || die "bench_xlog append failed: $(tail -3 "$TMP/append.err")"
echo "bench: xlog: log verify" >&2
timed verify $LIMIT "$BIN" log verify --db "$TMP/xlog.db" ||
    die "log verify failed: $(cat "$TMP/verify.out") $(tail -3 "$TMP/verify.err")"
# The timed runs may have written more than ENTRIES on a fast disk.
LOGGED=$(sed -n 's/.*"log_entries":\([0-9]*\).*/\1/p' "$TMP/append.out")
grep -q "intact: $LOGGED entries" "$TMP/verify.out" ||
    die "log verify: $(cat "$TMP/verify.out")"
timed verify-base $LIMIT "$BIN" log verify --db "$TMP/base.db" ||
    die "log verify of the baseline's log failed: $(cat "$TMP/verify-base.out")"
timed scan $LIMIT "$HELPER" scan "$TMP/xlog.db" ||
    die "bench_xlog scan failed: $(tail -3 "$TMP/scan.err")"
DB_BYTES=$(($(stat -c %s "$TMP/xlog.db") + $(stat -c %s "$TMP/xlog.db-wal" 2>/dev/null || echo 0)))

mkdir -p "$HERE/results"
python3 - "$TMP" "$HERE/results/xlog.json" <<EOF
import json, os, sys, time
tmp, out = sys.argv[1:3]
quick, secs, fstype, db_bytes = $QUICK == 1, $SECS, "$FSTYPE", $DB_BYTES

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
with open(os.path.join(tmp, "append.out")) as f:
	app = json.loads(f.read().strip().splitlines()[-1])
with open(os.path.join(tmp, "scan.out")) as f:
	scan = json.loads(f.read().strip().splitlines()[-1])
ver = timing("verify")
app_t = timing("append")
entries = app["log_entries"]
ver["entries"] = entries
ver["s_per_million"] = round(ver["wall_s"] / entries * 1e6, 2)
scan["s_per_million"] = round(scan["seconds"] / entries * 1e6, 2)
scan.update(timing("scan"))
runs = []
for g, b in zip(app["group"], app["baseline"]):
	runs.append({"threads": g["threads"], "group_commit": g, "baseline": b,
	    "ratio": round(g["per_s"] / b["per_s"], 2)})
res = {
	"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
	"machine": {"cores": os.cpu_count(), "cpu": cpu, "tmp_fs": fstype},
	"quick": quick, "seconds_per_run": secs,
	"target": "durable before the reply (issue 2); no numeric target (issue 6)",
	"durable_before_reply": True,
	"appends": runs, "ceiling": app["ceiling"], "append_process": app_t,
	"verify": ver, "scan": scan,
	"ratio_verify_vs_scan": round(ver["wall_s"] / max(scan["seconds"], 1e-3), 2),
	"disk": {"db_bytes": db_bytes, "bytes_per_entry": round(db_bytes / entries, 1)},
}
with open(out, "w") as f:
	json.dump(res, f, indent=1)

def n(x):
	return "{:,}".format(x)

print("Exchange log on %s (%s). Target: every entry durable (fsync'd) before "
    "the reply, which both paths meet (each thread waits for its entry's "
    "commit); issue 6 sets no number, so the group commit is set beside one "
    "transaction and fsync per entry." % (fstype, "real fsyncs" if fstype != "tmpfs"
    else "tmpfs: fsync is free, the figures flatter both paths"))
print()
print("| threads | group commit appends/s | p50 / p99 ms | batch mean / max | "
    "baseline appends/s | p50 / p99 ms | ratio | target |")
print("|---:|---:|---:|---:|---:|---:|---:|---|")
for r in runs:
	g, b = r["group_commit"], r["baseline"]
	print("| %d | %s | %.2f / %.2f | %.1f / %d | %s | %.2f / %.2f | %.2f | durable: yes |"
	    % (r["threads"], n(g["per_s"]), g["p50_ms"], g["p99_ms"], g["batch_mean"],
	    g["batch_max"], n(b["per_s"]), b["p50_ms"], b["p99_ms"], r["ratio"]))
c = app["ceiling"]
print("| 8,192 in flight | %s | | %.0f / %d | | | | durable: yes |"
    % (n(c["per_s"]), c["batch_mean"], c["batch_max"]))
print()
print("| measure | figure | baseline | ratio | target |")
print("|---|---:|---:|---:|---|")
print("| log verify, s per million entries (%s entries) | %.2f | %.2f (bare scan) | %.2f | none |"
    % (n(entries), ver["s_per_million"], scan["s_per_million"],
    res["ratio_verify_vs_scan"]))
print("| log verify peak RSS | %.0f MB | | | none |" % ver["peak_rss_mb"])
print("| log on disk | %s MB, %.0f bytes an entry | | | none |"
    % (n(round(db_bytes / 2**20)), db_bytes / entries))
print()
print("CPU taken by the rest of the machine (%% of one core, foreign / other): "
    "appends %d/%d, verify %d/%d." % (app_t["cpu_foreign_percent"],
    app_t["cpu_other_percent"], ver["cpu_foreign_percent"],
    ver["cpu_other_percent"]))
if app_t["cpu_foreign_percent"] > 20 or ver["cpu_foreign_percent"] > 20:
	print("WARNING: other processes took more than 20% of a core: the figures "
	    "are disturbed.")
short = [r for r in runs if r["threads"] > 1 and r["ratio"] < 1]
if short:
	print("Short: the group commit is slower than one fsync per entry with %s threads."
	    % ", ".join(str(r["threads"]) for r in short))
EOF
echo "bench: figures written to bench/results/xlog.json" >&2
