#!/bin/sh
# make demo: starts an authentic source (the population register) and the
# hub on 127.0.0.1, registers demo institutions, a service, an
# authorization and one integration, then prints what to paste.
# Ctrl-C stops everything.
set -eu
BUILD="${1:-build}"
HUB_PORT="${HUB_PORT:-8080}"
SOURCE_PORT="${SOURCE_PORT:-9001}"
DIR="data/demo"
HUB="http://127.0.0.1:$HUB_PORT"

rm -rf "$DIR"
mkdir -p "$DIR"
ADMIN="demo-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
pids=""
cleanup() {
	trap - INT TERM EXIT
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "demo stopped"
}
trap cleanup INT TERM EXIT

"$BUILD/crossroads-fixture-source" --listen "127.0.0.1:$SOURCE_PORT" \
    --data demo/population.json >"$DIR/source.log" 2>&1 &
pids="$pids $!"
CROSSROADS_ADMIN_TOKEN="$ADMIN" "$BUILD/crossroads" serve \
    --listen "127.0.0.1:$HUB_PORT" --db "$DIR/crossroads.db" 2>"$DIR/hub.log" &
pids="$pids $!"

i=0
until curl -sf "$HUB/healthz" >/dev/null 2>&1 &&
    curl -sf "http://127.0.0.1:$SOURCE_PORT/healthz" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -gt 100 ]; then
		echo "demo: the hub or the source did not start; see $DIR/*.log" >&2
		exit 1
	fi
	sleep 0.1
done

op() { curl -sf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' "$@"; }
op -d '{"id":"RN","name":"National Register","sector":"population"}' "$HUB/v1/institutions" >/dev/null
op -d '{"id":"ONEM","name":"National Employment Office","sector":"unemployment"}' "$HUB/v1/institutions" >/dev/null
op -d '{"id":"population.person","provider":"RN","endpoint":"http://127.0.0.1:'"$SOURCE_PORT"'/person","subject_kind":"person","fields":["name","birth_date","address","household","death_date"],"timeout_ms":2000}' "$HUB/v1/services" >/dev/null
op -d '{"consumer":"ONEM","service":"population.person","purpose":"unemployment-benefit","legal_basis":"Deliberation 22/123","fields":["name","address"],"capacities":["jobseeker"],"valid_from":"2020-01-01","valid_to":null}' "$HUB/v1/authorizations" >/dev/null
TOKEN=$(op -d '{"name":"benefits-app"}' "$HUB/v1/institutions/ONEM/clients" |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
curl -sf -H "Authorization: Bearer $TOKEN" -d '{"subject":"85073003328","capacity":"jobseeker","from":"2024-01-01","to":null}' \
    "$HUB/v1/directory" >/dev/null

cat <<MSG

Crossroads demo is running.
  hub:             $HUB   (log: $DIR/hub.log, database: $DIR/crossroads.db)
  source (RN):     http://127.0.0.1:$SOURCE_PORT/person
  operator token:  $ADMIN
  ONEM client:     $TOKEN

A granted consultation (ONEM has integrated 85073003328 as a jobseeker; only name and address are granted):
  curl -s -H 'Authorization: Bearer $TOKEN' -d '{"subject":"85073003328","purpose":"unemployment-benefit"}' $HUB/v1/consult/population.person

A refusal, NOT_INTEGRATED (ONEM has no file on 17073003384):
  curl -s -H 'Authorization: Bearer $TOKEN' -d '{"subject":"17073003384","purpose":"unemployment-benefit"}' $HUB/v1/consult/population.person

The exchange log of one citizen (operator):
  curl -s -H 'Authorization: Bearer $ADMIN' '$HUB/v1/log?subject=85073003328'

Press Ctrl-C to stop.
MSG
wait
