#!/bin/sh
# The issue-2 benchmark: the hub's consultation throughput against nginx as
# a plain keep-alive reverse proxy, both in front of the same fixture source.
#
#   sh bench/run.sh BUILD_DIR [--quick]
#
# Everything listens on 127.0.0.1 and lives in a temporary directory; every
# process started here is stopped on exit, failure included. The figures go
# to stdout (Markdown) and to bench/results/latest.json. Then it runs
# bench/adapter.sh, the issue-3 section (results/adapter.json). See
# docs/performance.md for how to read them.
#
# Environment: BENCH_CONNECTIONS (64), BENCH_THREADS (2), BENCH_DURATION
# (seconds per target: 10, or 3 with --quick), BENCH_KEEP=1 keeps the
# temporary directory, BENCH_STRICT=1 exits 1 when the target is not met.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
# Process, port and CPU helpers shared by the sections; bench_args sets
# BUILD (absolute) and QUICK from the command line.
. "$HERE/lib.sh"
bench_args "$0" "$@"
HUB_BIN=$BUILD/crossroads
SRC_BIN=$BUILD/crossroads-fixture-source
if [ "$QUICK" -eq 1 ]; then
	DUR=${BENCH_DURATION:-3}
	WARM=1
else
	DUR=${BENCH_DURATION:-10}
	WARM=2
fi
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
SUBJECT=85073003328
PURPOSE=unemployment-benefit
ADMIN_TOKEN=bench-admin-$$-$(date +%s)
TARGET_TEXT="hub >= nginx plain-proxy throughput"

die() {
	echo "bench: $*" >&2
	exit 1
}

for b in "$HUB_BIN" "$SRC_BIN"; do
	[ -x "$b" ] || die "$b is missing: build first (ninja -C $BUILD)"
done
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || { [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx; } ||
    die "nginx is missing: sh scripts/install-deps.sh --bench"
command -v wrk >/dev/null || die "wrk is missing: sh scripts/install-deps.sh --bench"
command -v curl >/dev/null || die "curl is missing"
command -v python3 >/dev/null || die "python3 is missing"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/crossroads-bench.XXXXXX")
# nginx's workers may run as another user than its master (root).
chmod 711 "$TMP"
PIDS=""

cleanup() {
	rc=$?
	trap - EXIT INT TERM
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
trap 'exit 130' INT
trap 'exit 143' TERM

# jget FILE KEY: a number from the one-line JSON that post.lua prints.
jget() {
	sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1"
}


# --- the fixture source -----------------------------------------------------
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

# --- nginx ------------------------------------------------------------------
NGINX_PORT=$(free_port)
sed -e "s|@DIR@|$TMP|g" -e "s|@PORT@|$NGINX_PORT|g" \
    -e "s|@SOURCE_PORT@|$SRC_PORT|g" "$HERE/nginx.conf.in" >"$TMP/nginx.conf"
"$NGINX" -c "$TMP/nginx.conf" -p "$TMP" -e "$TMP/nginx-error.log" \
    >"$TMP/nginx.out" 2>&1 &
NGINX_PID=$!
PIDS="$NGINX_PID $PIDS"
wait_http "http://127.0.0.1:$NGINX_PORT/healthz" $NGINX_PID ||
    die "nginx did not start: $(cat "$TMP/nginx.out" "$TMP/nginx-error.log" 2>/dev/null)"
NGINX_PIDS="$NGINX_PID $(children "$NGINX_PID" | tr '\n' ' ')"
NGINX_URL=http://127.0.0.1:$NGINX_PORT/person

# --- the hub ----------------------------------------------------------------
HUB_PORT=$(free_port)
HUB=http://127.0.0.1:$HUB_PORT
HUB_DB=$TMP/hub.db
HUB_PID=""
HUB_OK=0
HUB_WHY=""
printf 'access_log = off\n' >"$TMP/hub.conf"
CROSSROADS_ADMIN_TOKEN=$ADMIN_TOKEN "$HUB_BIN" serve --config "$TMP/hub.conf" \
    --listen "127.0.0.1:$HUB_PORT" --db "$HUB_DB" \
    >"$TMP/hub.out" 2>"$TMP/hub.err" &
HUB_PID=$!
PIDS="$HUB_PID $PIDS"

# api METHOD PATH TOKEN BODY: the answer in $TMP/resp.json; 0 on 2xx.
api() {
	code=$(curl -sS -o "$TMP/resp.json" -w '%{http_code}' --max-time 5 \
	    -X "$1" -H "Authorization: Bearer $3" \
	    -H 'Content-Type: application/json' --data "$4" "$HUB$2") ||
	    code=000
	case $code in
	2??) return 0 ;;
	esac
	HUB_WHY="$1 $2 answered $code: $(cat "$TMP/resp.json" 2>/dev/null)"
	return 1
}

setup_hub() {
	wait_http "$HUB/healthz" $HUB_PID || {
		HUB_WHY="crossroads serve did not start: $(tail -5 "$TMP/hub.err")"
		return 1
	}
	api POST /v1/institutions "$ADMIN_TOKEN" \
	    '{"id":"RN","name":"National Register","sector":"population"}' || return 1
	api POST /v1/institutions "$ADMIN_TOKEN" \
	    '{"id":"ONEM","name":"National Employment Office","sector":"unemployment"}' || return 1
	api POST /v1/capacities "$ADMIN_TOKEN" \
	    '{"id":"jobseeker","name":"Registered jobseeker","sectors":["unemployment"]}' || return 1
	api POST /v1/institutions/ONEM/clients "$ADMIN_TOKEN" \
	    '{"name":"benefits-app"}' || return 1
	TOKEN=$(sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p' "$TMP/resp.json")
	[ -n "$TOKEN" ] || { HUB_WHY="no token in $(cat "$TMP/resp.json")"; return 1; }
	api POST /v1/services "$ADMIN_TOKEN" \
	    "{\"id\":\"population.person\",\"provider\":\"RN\",\"endpoint\":\"$SRC_URL\",
	      \"subject_kind\":\"person\",\"fields\":[\"name\",\"birth_date\",\"address\",\"household\",\"death_date\"],
	      \"timeout_ms\":2000}" || return 1
	api POST /v1/authorizations "$ADMIN_TOKEN" \
	    "{\"consumer\":\"ONEM\",\"service\":\"population.person\",\"purpose\":\"$PURPOSE\",
	      \"legal_basis\":\"Deliberation 22/123\",\"fields\":[\"name\",\"address\"],
	      \"capacities\":[\"jobseeker\"],\"valid_from\":\"2020-01-01\",\"valid_to\":null}" || return 1
	api POST /v1/directory "$TOKEN" \
	    "{\"subject\":\"$SUBJECT\",\"capacity\":\"jobseeker\",\"from\":\"2020-01-01\",\"to\":null}" || return 1
	# One consultation by hand: the benchmark is void if it is refused.
	api POST /v1/consult/population.person "$TOKEN" "$HUB_BODY" || return 1
	grep -q '"address"' "$TMP/resp.json" || {
		HUB_WHY="the consultation returned no address: $(cat "$TMP/resp.json")"
		return 1
	}
	if grep -q '"birth_date"' "$TMP/resp.json"; then
		HUB_WHY="the consultation returned a field the authorization does not grant"
		return 1
	fi
	return 0
}

SRC_BODY="{\"subject\":\"$SUBJECT\",\"params\":{}}"
HUB_BODY="{\"subject\":\"$SUBJECT\",\"purpose\":\"$PURPOSE\"}"
TOKEN=""
if setup_hub; then
	HUB_OK=1
else
	echo "bench: the hub is not available: $HUB_WHY" >&2
fi

# --- the runs ---------------------------------------------------------------
# run NAME URL BODY TOKEN: warm-up, then a measured wrk run; the CPU used by
# each process is sampled over the middle of the run.
run() {
	name=$1
	out=$TMP/wrk-$name.out
	BENCH_BODY=$3 BENCH_TOKEN=$4 timeout $((WARM + 30)) wrk -t "$THREADS" \
	    -c "$CONNS" -d "${WARM}s" -s "$HERE/post.lua" "$2" >/dev/null 2>&1 || true
	# No timeout(1) here: $! must be wrk itself, whose CPU is sampled.
	BENCH_BODY=$3 BENCH_TOKEN=$4 wrk -t "$THREADS" \
	    -c "$CONNS" -d "${DUR}s" --latency -s "$HERE/post.lua" "$2" \
	    >"$out" 2>&1 &
	wpid=$!
	PIDS="$wpid $PIDS"
	sleep 1
	t0=$(date +%s.%N)
	c_wrk0=$(ticks $wpid)
	c_ngx0=$(ticks $NGINX_PIDS)
	c_src0=$(ticks $SRC_PID)
	c_hub0=$(ticks $HUB_PID)
	c_all0=$(machine_ticks)
	procs_snapshot "$TMP/procs0"
	sleep $((DUR > 2 ? DUR - 2 : 1))
	t1=$(date +%s.%N)
	c_wrk1=$(ticks $wpid)
	c_ngx1=$(ticks $NGINX_PIDS)
	c_src1=$(ticks $SRC_PID)
	c_hub1=$(ticks $HUB_PID)
	c_all1=$(machine_ticks)
	procs_snapshot "$TMP/procs1"
	c_for=$(foreign_ticks "$TMP/procs0" "$TMP/procs1" $wpid $NGINX_PIDS \
	    $SRC_PID $HUB_PID)
	# wrk stops by itself after -d; the bound is for a wedged wrk.
	n=0
	while running $wpid && [ $n -lt 300 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	kill -KILL $wpid 2>/dev/null || true
	wait $wpid || true
	# A process gone before the second sample would give a negative share.
	[ "$c_wrk1" -ge "$c_wrk0" ] || c_wrk1=$c_wrk0
	PIDS=$(echo "$PIDS" | sed "s/^$wpid //")
	grep '^BENCH_JSON ' "$out" | sed 's/^BENCH_JSON //' >"$TMP/$name.json"
	if [ ! -s "$TMP/$name.json" ]; then
		cat "$out" >&2
		die "wrk gave no figures for $name"
	fi
	awk -v t0="$t0" -v t1="$t1" -v hz="$CLK_TCK" \
	    -v w0="$c_wrk0" -v w1="$c_wrk1" -v n0="$c_ngx0" -v n1="$c_ngx1" \
	    -v s0="$c_src0" -v s1="$c_src1" -v h0="$c_hub0" -v h1="$c_hub1" \
	    -v a0="$c_all0" -v a1="$c_all1" -v f="$c_for" \
	    'BEGIN { d = (t1 - t0) * hz
	      w = w1 - w0; n = n1 - n0; s = s1 - s0; h = h1 - h0
	      k = (a1 - a0) - (w + n + s + h + f); if (k < 0) k = 0
	      printf "%.0f %.0f %.0f %.0f %.0f %.0f %.0f\n", 100 * w / d,
	          100 * n / d, 100 * s / d, 100 * h / d, 100 * f / d,
	          100 * k / d, 100 * (a1 - a0) / d }' \
	    >"$TMP/$name.cpu"
}

echo "bench: $DUR s per target, $CONNS connections, $THREADS wrk threads" >&2
run direct "$SRC_URL" "$SRC_BODY" ""
run nginx "$NGINX_URL" "$SRC_BODY" ""
if [ "$HUB_OK" -eq 1 ]; then
	run hub "$HUB/v1/consult/population.person" "$HUB_BODY" "$TOKEN"
fi

# --- the exchange log -------------------------------------------------------
LOG_STATUS="not checked"
LOG_ENTRIES=null
HUB_REQS=0
FAIL=0
if [ "$HUB_OK" -eq 1 ]; then
	HUB_REQS=$(jget "$TMP/hub.json" requests)
	# Stop the hub first: verify reads a quiet database.
	kill -TERM $HUB_PID
	if wait $HUB_PID; then :; else
		echo "bench: the hub exited with status $? on SIGTERM" >&2
		FAIL=1
	fi
	PIDS=$(echo "$PIDS" | sed "s/^$HUB_PID //")
	if "$HUB_BIN" log verify --db "$HUB_DB" >"$TMP/verify.out" 2>&1; then
		LOG_STATUS="intact"
	else
		LOG_STATUS="BROKEN"
		FAIL=1
	fi
	LOG_VERIFY_TEXT=$(cat "$TMP/verify.out")
	if command -v sqlite3 >/dev/null; then
		LOG_ENTRIES=$(sqlite3 "$HUB_DB" 'SELECT count(*) FROM xlog;')
	fi
fi

# --- the report -------------------------------------------------------------
fig() { # fig NAME KEY SCALE: a figure, or n/a
	if [ -s "$TMP/$1.json" ]; then
		v=$(jget "$TMP/$1.json" "$2")
		awk -v v="$v" -v s="$3" 'BEGIN { printf "%.2f", v / s }'
	else
		echo n/a
	fi
}
rps() {
	if [ -s "$TMP/$1.json" ]; then
		awk -v r="$(jget "$TMP/$1.json" requests)" \
		    -v d="$(jget "$TMP/$1.json" duration_us)" \
		    'BEGIN { printf "%.0f", r / (d / 1e6) }'
	else
		echo n/a
	fi
}
ratio() {
	case "$1$2" in
	*n/a*) echo n/a ;;
	*) awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }' ;;
	esac
}

R_DIRECT=$(rps direct)
R_NGINX=$(rps nginx)
R_HUB=$(rps hub)
HUB_NGINX=$(ratio "$R_HUB" "$R_NGINX")
HUB_DIRECT=$(ratio "$R_HUB" "$R_DIRECT")
if [ "$R_HUB" = n/a ]; then
	MET=null
	VERDICT="NOT MEASURED: the hub did not run ($HUB_WHY)"
	FAIL=1
elif [ "$R_HUB" -ge "$R_NGINX" ]; then
	MET=true
	VERDICT="MET: the hub served $R_HUB req/s, nginx $R_NGINX req/s (x$HUB_NGINX)"
else
	MET=false
	VERDICT="NOT MET: the hub served $R_HUB req/s, nginx $R_NGINX req/s (x$HUB_NGINX)"
fi

echo
echo "| target | req/s | p50 ms | p99 ms | non-2xx | socket errors |"
echo "|---|---:|---:|---:|---:|---:|"
for t in direct nginx hub; do
	case $t in
	direct) label="source direct" ;;
	nginx) label="nginx -> source" ;;
	hub) label="hub -> source" ;;
	esac
	if [ -s "$TMP/$t.json" ]; then
		errs=$(awk -v a="$(jget "$TMP/$t.json" err_connect)" \
		    -v b="$(jget "$TMP/$t.json" err_read)" \
		    -v c="$(jget "$TMP/$t.json" err_write)" \
		    -v d="$(jget "$TMP/$t.json" err_timeout)" \
		    'BEGIN { print a + b + c + d }')
		non2xx=$(jget "$TMP/$t.json" non2xx)
		[ "$non2xx" -eq 0 ] || FAIL=1
	else
		errs=n/a
		non2xx=n/a
	fi
	echo "| $label | $(rps $t) | $(fig $t p50_us 1000) | $(fig $t p99_us 1000) | $non2xx | $errs |"
done
echo
echo "CPU during each run, % of one core (the machine has $(nproc) cores, so"
echo "$(($(nproc) * 100)) is all of it; 'foreign' is other processes, 'kernel' the rest):"
echo
echo "| target | wrk | nginx | source | hub | foreign | kernel | machine |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for t in direct nginx hub; do
	[ -s "$TMP/$t.cpu" ] || continue
	read -r cw cn cs ch cf ck cm <"$TMP/$t.cpu"
	echo "| $t | $cw | $cn | $cs | $ch | $cf | $ck | $cm |"
	awk -v r="$(rps $t)" -v w="$cw" -v n="$cn" -v s="$cs" -v h="$ch" \
	    'function us(p) { return r > 0 ? sprintf("%.0f", p * 1e4 / r) : "null" }
	    BEGIN { print us(w), us(n), us(s), us(h) }' >"$TMP/$t.us"
done
BUSY=$(cat "$TMP"/*.cpu | awk '$5 > 20 { b = 1 } END { print b + 0 }')
if [ "$BUSY" -eq 1 ]; then
	echo
	echo "WARNING: other processes used more than a fifth of a core during a run"
	echo "('foreign' above): the figures are disturbed; run again on a quiet machine."
fi
echo
echo "CPU time per request, microseconds (the CPU share above over req/s):"
echo
echo "| target | wrk | nginx | source | hub |"
echo "|---|---:|---:|---:|---:|"
for t in direct nginx hub; do
	[ -s "$TMP/$t.us" ] || continue
	read -r uw un us uh <"$TMP/$t.us"
	echo "| $t | $uw | $un | $us | $uh |"
done
echo
echo "hub/nginx: $HUB_NGINX    hub/direct: $HUB_DIRECT"
echo "Target (issue 2): $TARGET_TEXT -- $VERDICT"
if [ "$HUB_OK" -eq 1 ]; then
	echo "Exchange log: $LOG_STATUS ($LOG_VERIFY_TEXT)"
	if [ "$LOG_ENTRIES" = null ]; then
		echo "Exchange log entries: not counted (sqlite3 is not installed)"
	elif [ "$LOG_ENTRIES" -ge "$HUB_REQS" ]; then
		echo "Exchange log entries: $LOG_ENTRIES >= $HUB_REQS hub requests completed by wrk: ok"
	else
		echo "Exchange log entries: $LOG_ENTRIES < $HUB_REQS hub requests completed by wrk: MISSING ENTRIES"
		FAIL=1
	fi
fi

# --- results/latest.json ----------------------------------------------------
target_json() {
	if [ ! -s "$TMP/$1.json" ]; then
		echo null
		return
	fi
	read -r cw cn cs ch cf ck cm <"$TMP/$1.cpu"
	read -r uw un us uh <"$TMP/$1.us"
	printf '{"rps":%s,"p50_ms":%s,"p99_ms":%s,"figures":%s,' \
	    "$(rps "$1")" "$(fig "$1" p50_us 1000)" "$(fig "$1" p99_us 1000)" \
	    "$(cat "$TMP/$1.json")"
	printf '"cpu_percent":{"wrk":%s,"nginx":%s,"source":%s,"hub":%s,"foreign":%s,"kernel":%s,"machine":%s},' \
	    "$cw" "$cn" "$cs" "$ch" "$cf" "$ck" "$cm"
	printf '"cpu_us_per_request":{"wrk":%s,"nginx":%s,"source":%s,"hub":%s}}' \
	    "$uw" "$un" "$us" "$uh"
}
num() { [ "$1" = n/a ] && echo null || echo "$1"; }
mkdir -p "$HERE/results"
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
cat >"$HERE/results/latest.json" <<EOF
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "machine": {"cores": $(nproc), "cpu": "$CPU_MODEL"},
  "quick": $([ "$QUICK" -eq 1 ] && echo true || echo false),
  "duration_s": $DUR,
  "connections": $CONNS,
  "wrk_threads": $THREADS,
  "targets": {
    "direct": $(target_json direct),
    "nginx": $(target_json nginx),
    "hub": $(target_json hub)
  },
  "ratios": {"hub_nginx": $(num "$HUB_NGINX"), "hub_direct": $(num "$HUB_DIRECT")},
  "target": {"text": "$TARGET_TEXT", "met": $MET},
  "exchange_log": {"status": "$LOG_STATUS", "entries": $LOG_ENTRIES, "hub_requests": $HUB_REQS},
  "machine_busy_with_other_work": $([ "$BUSY" -eq 1 ] && echo true || echo false)
}
EOF
echo "bench: figures written to bench/results/latest.json" >&2
if [ "${BENCH_STRICT:-0}" = 1 ] && [ "$MET" != true ]; then
	FAIL=1
fi

# --- the second section: bench/adapter.sh (issue 3) -------------------------
# Ours stop first, so that they take no CPU from its runs.
for p in $PIDS; do
	stop_pid "$p"
done
PIDS=""
echo
echo "## Source adapter and generator (issue 3)"
if sh "$HERE/adapter.sh" "$BUILD" $([ "$QUICK" -eq 1 ] && echo --quick); then :; else
	echo "bench: bench/adapter.sh failed (status $?)" >&2
	FAIL=1
fi

# --- the third section: bench/events.sh (issue 4) ----------------------------
echo
echo "## Events (issue 4)"
if sh "$HERE/events.sh" "$BUILD" $([ "$QUICK" -eq 1 ] && echo --quick); then :; else
	echo "bench: bench/events.sh failed (status $?)" >&2
	FAIL=1
fi

# --- the fourth and fifth sections: bench/directory.sh, bench/xlog.sh (issue 6)
for section in directory xlog; do
	echo
	case $section in
	directory) echo "## Reference directory at scale (issue 6)" ;;
	xlog) echo "## Exchange log (issue 6)" ;;
	esac
	if sh "$HERE/$section.sh" "$BUILD" $([ "$QUICK" -eq 1 ] && echo --quick); then :; else
		echo "bench: bench/$section.sh failed (status $?)" >&2
		FAIL=1
	fi
done

# --- the sixth section: bench/verify.sh (issue 5) ----------------------------
echo
echo "## Verification and batches (issue 5)"
if sh "$HERE/verify.sh" "$BUILD" $([ "$QUICK" -eq 1 ] && echo --quick); then :; else
	echo "bench: bench/verify.sh failed (status $?)" >&2
	FAIL=1
fi

# --- the seventh section: bench/tls.sh (issue 10) ----------------------------
echo
echo "## HTTPS against HTTP (issue 10)"
if sh "$HERE/tls.sh" "$BUILD" $([ "$QUICK" -eq 1 ] && echo --quick); then :; else
	echo "bench: bench/tls.sh failed (status $?)" >&2
	FAIL=1
fi

# --- the eighth section: bench/translog.sh (issue 10) --------------------------
echo
echo "## Transparency log: signed tree heads (issue 10)"
if sh "$HERE/translog.sh" "$BUILD" $([ "$QUICK" -eq 1 ] && echo --quick); then :; else
	echo "bench: bench/translog.sh failed (status $?)" >&2
	FAIL=1
fi

# --- the ninth section: bench/abuse.py (issue 10) ----------------------------
echo
echo "## Withstanding abuse (issue 10)"
if python3 "$HERE/abuse.py" "$BUILD" $([ "$QUICK" -eq 1 ] && echo --quick); then :; else
	echo "bench: bench/abuse.py failed (status $?)" >&2
	FAIL=1
fi

# --- every section in results/latest.json -----------------------------------
# {"consultation": what this script wrote above, "adapter": ..., "events":
# ..., "directory": ..., "xlog": ..., "verify": ..., "tls": ..., "translog":
# ..., "abuse": ...}; a section that did not write its file during this run
# (it failed) is null rather than an older run's figures.
python3 - "$HERE/results" <<'EOF_MERGE' || FAIL=1
import json, os, sys
d = sys.argv[1]
latest = os.path.join(d, "latest.json")
with open(latest) as f:
	consultation = json.load(f)
since = os.path.getmtime(latest)
merged = {"date": consultation.get("date"), "machine": consultation.get("machine"),
    "quick": consultation.get("quick"), "consultation": consultation}
for name in ("adapter", "events", "directory", "xlog", "verify", "tls", "translog", "abuse"):
	p = os.path.join(d, name + ".json")
	merged[name] = None
	if os.path.exists(p) and os.path.getmtime(p) >= since:
		with open(p) as f:
			merged[name] = json.load(f)
with open(latest + ".tmp", "w") as f:
	json.dump(merged, f, indent=1)
os.replace(latest + ".tmp", latest)
EOF_MERGE
echo "bench: every section merged into bench/results/latest.json" >&2
exit $FAIL
