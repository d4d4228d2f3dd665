#!/bin/sh
# The issue-3 benchmark: the synthetic country generator's time and peak
# memory, then the source adapter's answers per second on the population
# register it wrote, against nginx answering a fixed body of the same size
# (the ceiling for an HTTP responder on this machine).
#
#   sh bench/adapter.sh BUILD_DIR [--quick]
#
# Everything listens on 127.0.0.1 and lives in a temporary directory,
# generated data included; every process started here is stopped on exit,
# failure included. The figures go to stdout (Markdown) and to
# bench/results/adapter.json. See docs/performance.md.
#
# Environment: BENCH_PERSONS (2,000,000, or 100,000 with --quick),
# BENCH_SUBJECTS (1,000: distinct subjects wrk rotates over),
# BENCH_CONNECTIONS (64), BENCH_THREADS (2), BENCH_DURATION (seconds per
# target: 10, or 3 with --quick), BENCH_KEEP=1 keeps the temporary directory.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
# Process, port and CPU helpers shared by the sections; bench_args sets
# BUILD (absolute) and QUICK from the command line.
. "$HERE/lib.sh"
bench_args "$0" "$@"
BIN=$BUILD/crossroads
if [ "$QUICK" -eq 1 ]; then
	DUR=${BENCH_DURATION:-3}
	WARM=1
	PERSONS=${BENCH_PERSONS:-100000}
	GEN_LIMIT=30
else
	DUR=${BENCH_DURATION:-10}
	WARM=2
	PERSONS=${BENCH_PERSONS:-2000000}
	GEN_LIMIT=150
fi
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
NSUBJECTS=${BENCH_SUBJECTS:-1000}
# 2,000,000 persons write about 2.8 GB: ask for twice that, 3 KB a person.
FALLBACK_PERSONS=500000

die() {
	echo "bench: $*" >&2
	exit 1
}

[ -x "$BIN" ] || die "$BIN is missing: build first (ninja -C $BUILD)"
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || { [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx; } ||
    die "nginx is missing: sh scripts/install-deps.sh --bench"
command -v wrk >/dev/null || die "wrk is missing: sh scripts/install-deps.sh --bench"
# GNU time for the peak RSS; the shell's time keyword has none.
[ -x /usr/bin/time ] || die "/usr/bin/time is missing: sh scripts/install-deps.sh --bench"
command -v curl >/dev/null || die "curl is missing"
command -v python3 >/dev/null || die "python3 is missing"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/crossroads-bench-adapter.XXXXXX")
# nginx's workers may run as another user than its master (root).
chmod 711 "$TMP"
PIDS=""
GEN_PID=""

cleanup() {
	rc=$?
	trap - EXIT HUP INT PIPE TERM
	# GNU time ignores nothing but SIGINT/SIGQUIT and does not pass
	# signals on: stop timeout(1) under it, which stops the generator.
	if [ -n "$GEN_PID" ] && running "$GEN_PID"; then
		for c in $(children "$GEN_PID"); do
			stop_pid "$c"
		done
		stop_pid "$GEN_PID"
	fi
	for p in $PIDS; do
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
# A signal the shell does not trap would end it without the EXIT trap,
# leaving nginx and gigabytes behind (e.g. SIGPIPE from "| head").
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

# jget FILE KEY: a number from a one-line JSON.
jget() {
	sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1"
}


# --- 1. the generator -------------------------------------------------------
GEN_NOTE=""
AVAIL_KB=$(df -Pk "$TMP" | awk 'NR == 2 { print $4 }')
if [ "$AVAIL_KB" -lt $((PERSONS * 3)) ]; then
	[ "$PERSONS" -gt "$FALLBACK_PERSONS" ] &&
	    [ "$AVAIL_KB" -ge $((FALLBACK_PERSONS * 3)) ] ||
	    die "$((AVAIL_KB / 1024)) MB free under $TMP: too little for $PERSONS persons"
	GEN_NOTE="only $((AVAIL_KB / 1024)) MB free under ${TMPDIR:-/tmp} (less than $((PERSONS * 3 / 1024)) MB): $FALLBACK_PERSONS persons instead of $PERSONS"
	echo "bench: $GEN_NOTE" >&2
	PERSONS=$FALLBACK_PERSONS
fi
COUNTRY=$TMP/country
echo "bench: crossroads gen --persons $PERSONS (at most $GEN_LIMIT s)" >&2
procs_snapshot "$TMP/gen-procs0"
g_all0=$(machine_ticks)
/usr/bin/time -v -o "$TMP/gen.time" timeout "$GEN_LIMIT" \
    "$BIN" gen --out "$COUNTRY" --persons "$PERSONS" \
    >"$TMP/gen.out" 2>"$TMP/gen.err" &
GEN_PID=$!
if wait $GEN_PID; then :; else
	rc=$?
	GEN_PID=""
	[ $rc -ne 124 ] || die "crossroads gen took more than $GEN_LIMIT s"
	die "crossroads gen failed ($rc): $(tail -3 "$TMP/gen.err")"
fi
GEN_PID=""
g_all1=$(machine_ticks)
procs_snapshot "$TMP/gen-procs1"
# The generator has exited: it is in neither snapshot's difference.
G_FOREIGN=$(foreign_ticks "$TMP/gen-procs0" "$TMP/gen-procs1" $$)
tv() { # tv LABEL: the value of a line of time -v's report
	sed -n "s/^[[:space:]]*$1: //p" "$TMP/gen.time"
}
G_WALL=$(tv 'Elapsed (wall clock) time (h:mm:ss or m:ss)' |
    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }')
G_USER=$(tv 'User time (seconds)')
G_SYS=$(tv 'System time (seconds)')
G_RSS_KB=$(tv 'Maximum resident set size (kbytes)')
G_OUT_KB=$(du -sk "$COUNTRY" | awk '{ print $1 }')
G_POP_KB=$(du -k "$COUNTRY/population.db" | awk '{ print $1 }')
G_DIR_KB=$(du -k "$COUNTRY/directory.csv" | awk '{ print $1 }')
G_RECORDS=$(sed -n 's/.*"directory_records": *\([0-9]*\).*/\1/p' "$COUNTRY/summary.json" | head -1)
[ -n "$G_RECORDS" ] || G_RECORDS=null
# CPU over wall time: the generator's (user + system), other processes',
# the rest ("other": kernel threads, interrupts, and processes that both
# started and ended meanwhile, such as other people's compilers) and all.
read -r G_CPU G_FOREIGN_PCT G_OTHER_PCT G_MACHINE_PCT <<EOF
$(awk -v u="$G_USER" -v s="$G_SYS" -v w="$G_WALL" -v f="$G_FOREIGN" \
    -v a0="$g_all0" -v a1="$g_all1" -v hz="$CLK_TCK" \
    'BEGIN { w = (w > 0 ? w : 0.01)
      g = 100 * (u + s) / w; f = 100 * f / hz / w; m = 100 * (a1 - a0) / hz / w
      k = m - g - f; if (k < 0) k = 0
      printf "%.0f %.0f %.0f %.0f\n", g, f, k, m }')
EOF

# --- 2. the adapter and nginx -----------------------------------------------
CONF=$COUNTRY/bench-population.conf
grep -q '^listen = ' "$COUNTRY/population.conf" ||
    die "no listen line in $COUNTRY/population.conf"
# Port 0: the adapter says which port it took, no race for a free one.
# No access log, like nginx below.
sed 's/^listen = .*/listen = 127.0.0.1:0\naccess_log = off/' \
    "$COUNTRY/population.conf" >"$CONF"
"$BIN" source --config "$CONF" >"$TMP/adapter.out" 2>"$TMP/adapter.err" &
AD_PID=$!
PIDS="$AD_PID"
n=0
until grep -q 'listening on' "$TMP/adapter.out" 2>/dev/null; do
	running $AD_PID || die "crossroads source failed: $(cat "$TMP/adapter.err")"
	[ $n -lt 100 ] || die "crossroads source did not start"
	sleep 0.1
	n=$((n + 1))
done
AD_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/adapter.out")
AD_URL=http://127.0.0.1:$AD_PORT/person

# Subjects spread evenly over the register (deterministic), each asked once
# of the adapter by hand: all must answer 200, and the answer nearest the
# mean size, as the adapter sends it, becomes nginx's fixed body.
python3 - "$COUNTRY/population.db" "$NSUBJECTS" "$AD_PORT" \
    "$TMP/subjects" "$TMP/body" "$TMP/probe" <<'EOF' || die "probing the adapter failed"
import http.client, json, sqlite3, sys
db, want, port, subj_path, body_path, probe_path = sys.argv[1:]
want = int(want)
con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
total = con.execute("SELECT count(*) FROM person").fetchone()[0]
step = max(1, total // want)
subjects = [r[0] for r in con.execute(
    "SELECT id FROM person WHERE rowid % ? = 0 ORDER BY rowid LIMIT ?",
    (step, want))]
con.close()
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
sizes = {}
for s in subjects:
    conn.request("POST", "/person", json.dumps({"subject": s, "params": {}}),
                 {"Content-Type": "application/json"})
    r = conn.getresponse()
    b = r.read()
    if r.status != 200:
        sys.exit("subject %s: %d %s" % (s, r.status, b[:200]))
    sizes[s] = b
mean = sum(len(b) for b in sizes.values()) / len(sizes)
# '$' would be a variable in nginx's return text; the rest is escaped.
fit = [b for b in sizes.values() if b"$" not in b]
body = min(fit, key=lambda b: abs(len(b) - mean))
with open(subj_path, "w") as f:
    f.write("".join(s + "\n" for s in subjects))
with open(body_path, "wb") as f:
    f.write(body.replace(b"\\", b"\\\\").replace(b"'", b"\\'"))
with open(probe_path, "w") as f:
    f.write("%d %d %.0f %d %d\n" % (total, len(subjects), mean,
            min(len(b) for b in sizes.values()), len(body)))
EOF
read -r REG_PERSONS N_SUBJ BODY_MEAN BODY_MIN BODY_STATIC <"$TMP/probe"

NGINX_PORT=$(free_port)
python3 - "$HERE/nginx-static.conf.in" "$TMP/nginx.conf" "$TMP" \
    "$NGINX_PORT" "$TMP/body" <<'EOF'
import sys
src, dst, d, port, body = sys.argv[1:]
t = open(src).read()
t = t.replace("@DIR@", d).replace("@PORT@", port)
t = t.replace("@BODY@", open(body).read())
open(dst, "w").write(t)
EOF
"$NGINX" -c "$TMP/nginx.conf" -p "$TMP" -e "$TMP/nginx-error.log" \
    >"$TMP/nginx.out" 2>&1 &
NGINX_PID=$!
PIDS="$NGINX_PID $PIDS"
wait_http "http://127.0.0.1:$NGINX_PORT/healthz" $NGINX_PID ||
    die "nginx did not start: $(cat "$TMP/nginx.out" "$TMP/nginx-error.log" 2>/dev/null)"
NGINX_PIDS="$NGINX_PID $(children $NGINX_PID | tr '\n' ' ')"
NGINX_URL=http://127.0.0.1:$NGINX_PORT/person
got=$(curl -sS -X POST -H 'Content-Type: application/json' \
    --data '{"subject":"x","params":{}}' -o "$TMP/static.body" \
    -w '%{http_code} %{content_type}' "$NGINX_URL") || got=000
[ "$got" = "200 application/json" ] || die "nginx answered POST /person with $got"
[ "$(wc -c <"$TMP/static.body")" -eq "$BODY_STATIC" ] ||
    die "nginx's body is not the one chosen ($(wc -c <"$TMP/static.body") bytes, not $BODY_STATIC)"

# --- 3. the runs ------------------------------------------------------------
# run NAME URL: warm-up, then a measured wrk run; the CPU used by each
# process is sampled over the middle of the run.
run() {
	name=$1
	out=$TMP/wrk-$name.out
	BENCH_SUBJECTS=$TMP/subjects timeout $((WARM + 30)) wrk -t "$THREADS" \
	    -c "$CONNS" -d "${WARM}s" -s "$HERE/post-adapter.lua" "$2" \
	    >/dev/null 2>&1 || true
	# No timeout(1) here: $! must be wrk itself, whose CPU is sampled.
	BENCH_SUBJECTS=$TMP/subjects wrk -t "$THREADS" -c "$CONNS" \
	    -d "${DUR}s" --latency -s "$HERE/post-adapter.lua" "$2" \
	    >"$out" 2>&1 &
	wpid=$!
	PIDS="$wpid $PIDS"
	sleep 1
	t0=$(date +%s.%N)
	c_wrk0=$(ticks $wpid)
	c_ngx0=$(ticks $NGINX_PIDS)
	c_ad0=$(ticks $AD_PID)
	c_all0=$(machine_ticks)
	procs_snapshot "$TMP/procs0"
	sleep $((DUR > 2 ? DUR - 2 : 1))
	t1=$(date +%s.%N)
	c_wrk1=$(ticks $wpid)
	c_ngx1=$(ticks $NGINX_PIDS)
	c_ad1=$(ticks $AD_PID)
	c_all1=$(machine_ticks)
	procs_snapshot "$TMP/procs1"
	c_for=$(foreign_ticks "$TMP/procs0" "$TMP/procs1" $wpid $NGINX_PIDS \
	    $AD_PID $$)
	# wrk stops by itself after -d; the bound is for a wedged wrk.
	n=0
	while running $wpid && [ $n -lt 300 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	kill -KILL $wpid 2>/dev/null || true
	wait $wpid || true
	[ "$c_wrk1" -ge "$c_wrk0" ] || c_wrk1=$c_wrk0
	PIDS=$(echo "$PIDS" | sed "s/^$wpid //")
	grep '^BENCH_JSON ' "$out" | sed 's/^BENCH_JSON //' >"$TMP/$name.json"
	if [ ! -s "$TMP/$name.json" ]; then
		cat "$out" >&2
		die "wrk gave no figures for $name"
	fi
	awk -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
	    -v w0="$c_wrk0" -v w1="$c_wrk1" -v n0="$c_ngx0" -v n1="$c_ngx1" \
	    -v s0="$c_ad0" -v s1="$c_ad1" -v a0="$c_all0" -v a1="$c_all1" \
	    -v f="$c_for" \
	    'BEGIN { d = (t1 - t0) * hz
	      w = w1 - w0; n = n1 - n0; s = s1 - s0
	      k = (a1 - a0) - (w + n + s + f); if (k < 0) k = 0
	      printf "%.0f %.0f %.0f %.0f %.0f %.0f\n", 100 * w / d,
	          100 * n / d, 100 * s / d, 100 * f / d, 100 * k / d,
	          100 * (a1 - a0) / d }' >"$TMP/$name.cpu"
}

echo "bench: $DUR s per target, $CONNS connections, $THREADS wrk threads," \
    "$N_SUBJ subjects" >&2
run adapter "$AD_URL"
run static "$NGINX_URL"

# The adapter's own count must agree: every answer a 200, none other.
FAIL=0
curl -fsS --max-time 5 "http://127.0.0.1:$AD_PORT/metrics" >"$TMP/metrics" ||
    die "the adapter's /metrics did not answer"
AD_200=$(awk '/^crossroads_source_requests_total\{.*status="200"/ { n += $NF }
    END { print n + 0 }' "$TMP/metrics")
AD_OTHER=$(awk '/^crossroads_source_requests_total\{/ && !/status="200"/ { n += $NF }
    END { print n + 0 }' "$TMP/metrics")
AD_RSS_KB=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$AD_PID/status")
[ -n "$AD_RSS_KB" ] || AD_RSS_KB=null
kill -TERM $AD_PID
if wait $AD_PID; then :; else
	echo "bench: the adapter exited with status $? on SIGTERM" >&2
	FAIL=1
fi
PIDS=$(echo "$PIDS" | sed "s/ *$AD_PID\$//")

# --- 4. the report ----------------------------------------------------------
fig() { # fig NAME KEY SCALE
	awk -v v="$(jget "$TMP/$1.json" "$2")" -v s="$3" 'BEGIN { printf "%.2f", v / s }'
}
rps() {
	awk -v r="$(jget "$TMP/$1.json" requests)" \
	    -v d="$(jget "$TMP/$1.json" duration_us)" \
	    'BEGIN { printf "%.0f", r / (d / 1e6) }'
}
errs() {
	awk -v a="$(jget "$TMP/$1.json" err_connect)" \
	    -v b="$(jget "$TMP/$1.json" err_read)" \
	    -v c="$(jget "$TMP/$1.json" err_write)" \
	    -v d="$(jget "$TMP/$1.json" err_timeout)" \
	    'BEGIN { print a + b + c + d }'
}
R_AD=$(rps adapter)
R_ST=$(rps static)
RATIO=$(awk -v a="$R_AD" -v b="$R_ST" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
AD_NON2XX=$(jget "$TMP/adapter.json" non2xx)
AD_REQS=$(jget "$TMP/adapter.json" requests)
[ "$AD_NON2XX" -eq 0 ] || FAIL=1
[ "$(errs adapter)" -eq 0 ] || FAIL=1
[ "$AD_OTHER" -eq 0 ] || FAIL=1
[ "$AD_200" -ge "$AD_REQS" ] || FAIL=1

mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
echo
echo "Generator: crossroads gen --persons $PERSONS"
[ -z "$GEN_NOTE" ] || echo "($GEN_NOTE)"
echo
echo "| persons | wall s | user s | sys s | CPU % | peak RSS MB | output MB | population.db MB | directory.csv MB | directory records | foreign CPU % | other CPU % |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
echo "| $PERSONS | $G_WALL | $G_USER | $G_SYS | $G_CPU | $(mb "$G_RSS_KB") | $(mb "$G_OUT_KB") | $(mb "$G_POP_KB") | $(mb "$G_DIR_KB") | $G_RECORDS | $G_FOREIGN_PCT | $G_OTHER_PCT |"
echo
echo "Source adapter on population.db ($REG_PERSONS persons), $N_SUBJ subjects in"
echo "rotation; nginx answers a fixed body of $BODY_STATIC bytes (adapter answers:"
echo "mean $BODY_MEAN bytes):"
echo
echo "| target | req/s | p50 ms | p99 ms | non-2xx | socket errors |"
echo "|---|---:|---:|---:|---:|---:|"
for t in adapter static; do
	case $t in
	adapter) label="crossroads source" ;;
	static) label="nginx static" ;;
	esac
	echo "| $label | $(rps $t) | $(fig $t p50_us 1000) | $(fig $t p99_us 1000) | $(jget "$TMP/$t.json" non2xx) | $(errs $t) |"
done
echo
echo "CPU during each run, % of one core ($(nproc) cores: $(($(nproc) * 100)) is all of it;"
echo "'foreign' is other processes, 'other' kernel threads, interrupts and"
echo "processes that started and ended during the run):"
echo
echo "| target | wrk | nginx | adapter | foreign | other | machine |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for t in adapter static; do
	read -r cw cn ca cf ck cm <"$TMP/$t.cpu"
	echo "| $t | $cw | $cn | $ca | $cf | $ck | $cm |"
	awk -v r="$(rps $t)" -v w="$cw" -v n="$cn" -v a="$ca" \
	    'function us(p) { return r > 0 ? sprintf("%.0f", p * 1e4 / r) : "null" }
	    BEGIN { print us(w), us(n), us(a) }' >"$TMP/$t.us"
done
# On a quiet machine 'other' stays under 15.
BUSY=$(cat "$TMP"/adapter.cpu "$TMP"/static.cpu |
    awk '$4 > 20 || $5 > 30 { b = 1 } END { print b + 0 }')
[ "$G_FOREIGN_PCT" -le 20 ] && [ "$G_OTHER_PCT" -le 30 ] || BUSY=1
if [ "$BUSY" -eq 1 ]; then
	echo
	echo "WARNING: other processes used more than a fifth of a core during a run"
	echo "('foreign', or 'other' over 30): the figures are disturbed; run again"
	echo "on a quiet machine."
fi
echo
echo "CPU time per request, microseconds:"
echo
echo "| target | wrk | nginx | adapter |"
echo "|---|---:|---:|---:|"
for t in adapter static; do
	read -r uw un ua <"$TMP/$t.us"
	echo "| $t | $uw | $un | $ua |"
done
echo
echo "adapter/static: $RATIO    adapter peak RSS: $(mb "$AD_RSS_KB") MB"
if [ "$FAIL" -eq 0 ]; then
	echo "Adapter answers: $AD_200 200s in its /metrics, none other: ok"
else
	echo "Adapter answers: FAILED (wrk non-2xx $AD_NON2XX, socket errors $(errs adapter);" \
	    "/metrics: $AD_200 200s for $AD_REQS wrk requests, $AD_OTHER other)"
fi

# --- results/adapter.json ---------------------------------------------------
target_json() {
	read -r cw cn ca cf ck cm <"$TMP/$1.cpu"
	read -r uw un ua <"$TMP/$1.us"
	printf '{"rps":%s,"p50_ms":%s,"p99_ms":%s,"figures":%s,' \
	    "$(rps "$1")" "$(fig "$1" p50_us 1000)" "$(fig "$1" p99_us 1000)" \
	    "$(cat "$TMP/$1.json")"
	printf '"cpu_percent":{"wrk":%s,"nginx":%s,"adapter":%s,"foreign":%s,"other":%s,"machine":%s},' \
	    "$cw" "$cn" "$ca" "$cf" "$ck" "$cm"
	printf '"cpu_us_per_request":{"wrk":%s,"nginx":%s,"adapter":%s}}' \
	    "$uw" "$un" "$ua"
}
mkdir -p "$HERE/results"
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
cat >"$HERE/results/adapter.json" <<EOF
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "machine": {"cores": $(nproc), "cpu": "$CPU_MODEL"},
  "quick": $([ "$QUICK" -eq 1 ] && echo true || echo false),
  "generator": {"persons": $PERSONS, "note": "$GEN_NOTE",
    "wall_s": $G_WALL, "user_s": $G_USER, "sys_s": $G_SYS,
    "cpu_percent": $G_CPU, "peak_rss_kb": $G_RSS_KB, "output_kb": $G_OUT_KB,
    "population_db_kb": $G_POP_KB, "directory_csv_kb": $G_DIR_KB,
    "directory_records": $G_RECORDS, "foreign_cpu_percent": $G_FOREIGN_PCT, "other_cpu_percent": $G_OTHER_PCT,
    "machine_cpu_percent": $G_MACHINE_PCT},
  "duration_s": $DUR,
  "connections": $CONNS,
  "wrk_threads": $THREADS,
  "subjects": $N_SUBJ,
  "body_bytes": {"static": $BODY_STATIC, "adapter_mean": $BODY_MEAN, "adapter_min": $BODY_MIN},
  "targets": {
    "adapter": $(target_json adapter),
    "static": $(target_json static)
  },
  "ratios": {"adapter_static": $RATIO},
  "adapter": {"peak_rss_kb": $AD_RSS_KB, "answers_200": $AD_200, "answers_other": $AD_OTHER},
  "machine_busy_with_other_work": $([ "$BUSY" -eq 1 ] && echo true || echo false),
  "ok": $([ "$FAIL" -eq 0 ] && echo true || echo false)
}
EOF
echo "bench: figures written to bench/results/adapter.json" >&2
exit $FAIL
