#!/bin/sh
# The issue-10 TLS benchmark: consultation throughput of the hub serving
# HTTPS (TLS 1.3, an ECDSA P-256 certificate of a CA made here with
# certtool) against the same hub serving plain HTTP, in the same run, with
# the same fixture source behind both. wrk keeps its connections alive, so
# this is the cost of encrypting requests and answers, not of handshakes.
#
#   sh bench/tls.sh BUILD_DIR [--quick]
#
# Everything listens on 127.0.0.1 and lives in a temporary directory; every
# process started is stopped on exit. Figures: stdout (Markdown) and
# bench/results/tls.json ("ratio": HTTPS req/s over HTTP req/s). Full: 10 s
# per hub; --quick: 3 s.
#
# Environment: BENCH_CONNECTIONS (64), BENCH_THREADS (2), BENCH_DURATION,
# BENCH_KEEP=1 keeps the temporary directory.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
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

die() {
	echo "bench: $*" >&2
	exit 1
}

for b in "$HUB_BIN" "$SRC_BIN"; do
	[ -x "$b" ] || die "$b is missing: build first (ninja -C $BUILD)"
done
for c in wrk curl certtool; do
	command -v $c >/dev/null || die "$c is missing: sh scripts/install-deps.sh --bench"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/crossroads-bench-tls.XXXXXX")
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

# --- the certificates ---------------------------------------------------------
cert() { # cert NAME TEMPLATE [CA]: NAME.key and NAME.pem
	certtool --generate-privkey --key-type ecdsa --curve secp256r1 \
	    --outfile "$TMP/$1.key" >/dev/null 2>&1
	printf '%b' "$2" >"$TMP/$1.tmpl"
	if [ $# -eq 2 ]; then
		certtool --generate-self-signed --load-privkey "$TMP/$1.key" \
		    --template "$TMP/$1.tmpl" --outfile "$TMP/$1.pem" >/dev/null 2>&1
	else
		certtool --generate-certificate --load-privkey "$TMP/$1.key" \
		    --load-ca-certificate "$TMP/$3.pem" --load-ca-privkey "$TMP/$3.key" \
		    --template "$TMP/$1.tmpl" --outfile "$TMP/$1.pem" >/dev/null 2>&1
	fi || die "certtool could not make $1"
}
cert ca 'cn = "bench CA"\nca\ncert_signing_key\nexpiration_days = 2\n'
cert hub 'cn = "127.0.0.1"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nexpiration_days = 2\n' ca

# --- the fixture source and the two hubs --------------------------------------
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

# hub NAME [TLS flags...]: started, registered, one consultation checked;
# sets URL_NAME and TOKEN_NAME.
hub() {
	name=$1
	shift
	port=$(free_port)
	scheme=http
	[ $# -eq 0 ] || scheme=https
	base=$scheme://127.0.0.1:$port
	printf 'access_log = off\n' >"$TMP/$name.conf"
	CROSSROADS_ADMIN_TOKEN=$ADMIN_TOKEN "$HUB_BIN" serve \
	    --config "$TMP/$name.conf" --listen "127.0.0.1:$port" \
	    --db "$TMP/$name.db" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	pid=$!
	PIDS="$pid $PIDS"
	n=0
	until curl -fs -o /dev/null --max-time 1 --cacert "$TMP/ca.pem" \
	    "$base/healthz"; do
		running $pid || die "$name did not start: $(tail -3 "$TMP/$name.err")"
		[ $n -lt 200 ] || die "$name did not start"
		sleep 0.1
		n=$((n + 1))
	done
	api() { # api PATH TOKEN BODY
		curl -fsS -o "$TMP/resp.json" --max-time 5 --cacert "$TMP/ca.pem" \
		    -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
		    --data "$3" "$base$1" || die "$name: POST $1 failed"
	}
	api /v1/institutions "$ADMIN_TOKEN" '{"id":"RN","name":"RN","sector":"population"}'
	api /v1/institutions "$ADMIN_TOKEN" '{"id":"ONEM","name":"ONEM","sector":"unemployment"}'
	api /v1/institutions/ONEM/clients "$ADMIN_TOKEN" '{"name":"bench"}'
	tok=$(sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p' "$TMP/resp.json")
	api /v1/services "$ADMIN_TOKEN" "{\"id\":\"population.person\",\"provider\":\"RN\",
	    \"endpoint\":\"http://127.0.0.1:$SRC_PORT/person\",\"fields\":[\"name\",\"address\"]}"
	api /v1/authorizations "$ADMIN_TOKEN" "{\"consumer\":\"ONEM\",\"service\":\"population.person\",
	    \"purpose\":\"$PURPOSE\",\"legal_basis\":\"bench\",\"fields\":[\"name\",\"address\"],
	    \"capacities\":[\"jobseeker\"],\"valid_to\":null}"
	api /v1/capacities "$ADMIN_TOKEN" '{"id":"jobseeker","name":"Jobseeker","institutions":["ONEM"]}'
	api /v1/directory "$tok" "{\"subject\":\"$SUBJECT\",\"capacity\":\"jobseeker\",\"from\":\"2020-01-01\",\"to\":null}"
	api /v1/consult/population.person "$tok" "$BODY"
	grep -q '"address"' "$TMP/resp.json" || die "$name: the consultation failed"
	eval "URL_$name=\$base/v1/consult/population.person"
	eval "TOKEN_$name=\$tok"
}

BODY="{\"subject\":\"$SUBJECT\",\"purpose\":\"$PURPOSE\"}"
hub http
hub https --tls-cert "$TMP/hub.pem" --tls-key "$TMP/hub.key"

# run NAME: warm-up, then a measured wrk run into $TMP/NAME.json.
run() {
	eval "url=\$URL_$1 tok=\$TOKEN_$1"
	BENCH_BODY=$BODY BENCH_TOKEN=$tok timeout $((WARM + 30)) wrk -t "$THREADS" \
	    -c "$CONNS" -d "${WARM}s" -s "$HERE/post.lua" "$url" >/dev/null 2>&1 || true
	BENCH_BODY=$BODY BENCH_TOKEN=$tok timeout $((DUR + 30)) wrk -t "$THREADS" \
	    -c "$CONNS" -d "${DUR}s" --latency -s "$HERE/post.lua" "$url" \
	    >"$TMP/wrk-$1.out" 2>&1 || true
	grep '^BENCH_JSON ' "$TMP/wrk-$1.out" | sed 's/^BENCH_JSON //' >"$TMP/$1.json"
	[ -s "$TMP/$1.json" ] || { cat "$TMP/wrk-$1.out" >&2; die "wrk gave no figures for $1"; }
}
jget() {
	sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1"
}
rps() {
	awk -v r="$(jget "$TMP/$1.json" requests)" -v d="$(jget "$TMP/$1.json" duration_us)" \
	    'BEGIN { printf "%.0f", r / (d / 1e6) }'
}

echo "bench: $DUR s per hub, $CONNS connections, $THREADS wrk threads" >&2
run http
run https
R_HTTP=$(rps http)
R_HTTPS=$(rps https)
RATIO=$(awk -v a="$R_HTTPS" -v b="$R_HTTP" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
BAD=$(awk -v a="$(jget "$TMP/http.json" non2xx)" -v b="$(jget "$TMP/https.json" non2xx)" \
    'BEGIN { print a + b }')

echo
echo "| hub | req/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---:|---:|---:|---:|"
for t in http https; do
	echo "| $t | $(rps $t) | $(awk -v v="$(jget "$TMP/$t.json" p50_us)" 'BEGIN { printf "%.2f", v / 1000 }') |" \
	    "$(awk -v v="$(jget "$TMP/$t.json" p99_us)" 'BEGIN { printf "%.2f", v / 1000 }') |" \
	    "$(jget "$TMP/$t.json" non2xx) |"
done
echo
echo "HTTPS/HTTP throughput: x$RATIO ($R_HTTPS against $R_HTTP req/s, same run)"

mkdir -p "$HERE/results"
cat >"$HERE/results/tls.json" <<EOF_JSON
{
  "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "quick": $([ "$QUICK" -eq 1 ] && echo true || echo false),
  "duration_s": $DUR,
  "connections": $CONNS,
  "http_rps": $R_HTTP,
  "https_rps": $R_HTTPS,
  "ratio": $RATIO,
  "non2xx": $BAD
}
EOF_JSON
[ "$BAD" -eq 0 ] || die "$BAD answers were not 2xx"
