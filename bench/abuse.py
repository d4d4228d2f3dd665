#!/usr/bin/env python3
"""
The issue-10 abuse benchmark (docs/performance.md, "Withstanding abuse").

  python3 bench/abuse.py BUILD_DIR [--quick]

Starts the fixture source and the hub (access_log = off) on 127.0.0.1
with the integration harness (tests/integration/harness.py: every process
it starts is killed on exit), registers a consumer, then:

 1. slowloris: N sequential consultations from 127.0.0.1, each on a new
    connection, alone, then while 10,000 idle or trickling sockets from
    127.0.0.2 are held open (the test's attacker, test_abuse.Slowloris:
    a socket the hub closes is opened again); p50, p99 and max of each
    (target: p99 under 100 ms under attack), and how many failed;
 2. flood: D seconds of requests without a token from 127.0.0.2 on
    kept-alive connections (8 threads), against POST /v1/consult: how
    many were answered, by status (401, 429), and how many exchange-log
    entries the hub wrote per second of flood (counted in its database).

Figures on stdout (Markdown) and in bench/results/abuse.json. N is 2,000
(300 with --quick), D 10 s (3 s with --quick).
"""

import datetime
import http.client
import json
import os
import platform
import socket
import sqlite3
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))


def percentile(xs, p):
	xs = sorted(xs)
	if not xs:
		return float("nan")
	return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def latencies(hub, token, n):
	out, failed = [], 0
	for _ in range(n):
		t0 = time.monotonic()
		try:
			r = hub.consult(token, "population.person", H.INSZ_VALID[0],
			    "benefit", timeout=10)
			ok = r.status == 200
		except OSError:
			ok = False
		if ok:
			out.append((time.monotonic() - t0) * 1000)
		else:
			failed += 1
			# A hub that no longer answers: 20 timeouts tell enough.
			if failed >= 20:
				break
	return {"n": len(out) + failed, "failed": failed, "p50_ms": percentile(out, 50),
	    "p99_ms": percentile(out, 99), "max_ms": max(out) if out else None}


def flood(port, seconds, threads=8):
	"""Requests without a token from 127.0.0.2 for seconds: counts by
	status."""
	counts = {}
	lock = threading.Lock()
	stop = time.monotonic() + seconds
	body = json.dumps({"subject": H.INSZ_VALID[0], "purpose": "benefit"})

	def run():
		mine = {}
		conn = None
		while time.monotonic() < stop:
			try:
				if conn is None:
					conn = http.client.HTTPConnection("127.0.0.1", port,
					    timeout=10, source_address=("127.0.0.2", 0))
				conn.request("POST", "/v1/consult/population.person",
				    body=body, headers={"Content-Type":
				    "application/json"})
				r = conn.getresponse()
				r.read()
				mine[r.status] = mine.get(r.status, 0) + 1
				if r.getheader("Connection", "") == "close":
					conn.close()
					conn = None
			except (OSError, http.client.HTTPException):
				mine["error"] = mine.get("error", 0) + 1
				if conn is not None:
					conn.close()
				conn = None
		if conn is not None:
			conn.close()
		with lock:
			for k, v in mine.items():
				counts[k] = counts.get(k, 0) + v

	ts = [threading.Thread(target=run) for _ in range(threads)]
	for t in ts:
		t.start()
	for t in ts:
		t.join()
	return counts


def run_flood(hub, seconds):
	"""The flood against hub, then the hub stopped (aggregates are
	written when their minute ends or at shutdown, so that what the flood
	cost is all written) and its log counted."""
	before = xlog_count(hub.db)
	t0 = time.monotonic()
	counts = flood(hub.port, seconds)
	elapsed = time.monotonic() - t0
	hub.terminate()
	written = xlog_count(hub.db) - before
	answered = sum(v for k, v in counts.items() if k != "error")
	return {"seconds": round(elapsed, 2), "answered": answered,
	    "per_second": round(answered / elapsed, 1),
	    "by_status": {str(k): v for k, v in sorted(counts.items(),
	    key=lambda kv: str(kv[0]))},
	    "xlog_entries": written,
	    "xlog_entries_per_second": round(written / elapsed, 2)}


def xlog_count(db):
	with sqlite3.connect("file:%s?mode=ro" % db, uri=True) as c:
		return c.execute("SELECT count(*) FROM xlog").fetchone()[0]


def main():
	args = [a for a in sys.argv[1:] if a != "--quick"]
	quick = "--quick" in sys.argv[1:]
	if len(args) != 1:
		sys.stderr.write("usage: python3 bench/abuse.py BUILD_DIR "
		    "[--quick]\n")
		return 2
	build = os.path.abspath(args[0])
	os.environ["CROSSROADS_BIN"] = os.path.join(build, "crossroads")
	os.environ["CROSSROADS_FIXTURE_SOURCE"] = os.path.join(build,
	    "crossroads-fixture-source")
	global H
	import harness as H
	import test_abuse
	n = 300 if quick else 2000
	seconds = 3 if quick else 10
	test_abuse.raise_nofile(test_abuse.SOCKETS + 4096)
	w = H.make_tmpdir("crossroads-bench-abuse-")
	try:
		fx = H.Fixture(w, H.fixture_dataset()).start()
		hub = H.Hub(w, config={"access_log": "off"}).start()
		hub.institution("RN", "National Register", "population")
		hub.institution("ONEM", "Employment", "unemployment")
		token = hub.client("ONEM")["token"]
		hub.service("population.person", "RN", fx.url("/person"),
		    ["name", "birth_date", "address", "household", "death_date"])
		hub.authorize("ONEM", "population.person", "benefit", ["name"])
		latencies(hub, token, 50)		# warm-up
		alone = latencies(hub, token, n)
		attack = test_abuse.Slowloris(hub.port).start()
		try:
			time.sleep(1.0)
			attacked = latencies(hub, token, n)
		finally:
			attack.stop()
		attacked["attacker"] = {"sockets": attack.count,
		    "opened": attack.opened, "closed_by_hub": attack.closed_by_hub,
		    "open_at_most": attack.connected_max}
		fl = run_flood(hub, seconds)
		# The same without the limit (a hub that knows the key): every
		# attempt answered 401, still written in aggregate.
		unlimited = None
		if "--no-limit" not in sys.argv[1:]:
			h2 = H.Hub(w, name="hub-nolimit", config={"access_log": "off",
			    "unauth_rate_limit": "off"})
			try:
				h2.start()
			except RuntimeError:
				h2 = None	# an older hub: no such key
			if h2 is not None:
				unlimited = run_flood(h2, seconds)
		fx.kill()
	finally:
		H.remove_tmpdir(w)
	res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(
	    timespec="seconds"), "machine": "%s, %d cores" % (platform.node(),
	    os.cpu_count() or 0), "quick": quick,
	    "slowloris": {"alone": alone, "under_attack": attacked,
	    "target": "p99 < 100 ms under attack",
	    "met": attacked["failed"] == 0 and attacked["p99_ms"] < 100},
	    "flood": fl, "flood_unlimited": unlimited}
	os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
	with open(os.path.join(HERE, "results", "abuse.json"), "w") as f:
		json.dump(res, f, indent=1)
	a = res["slowloris"]
	print("| consultations from 127.0.0.1 | n | failed | p50 ms | p99 ms "
	    "| max ms |")
	print("| --- | --- | --- | --- | --- | --- |")
	for name, r in (("alone", alone), ("10,000 sockets from 127.0.0.2",
	    attacked)):
		print("| %s | %d | %d | %.2f | %.2f | %.2f |" % (name, r["n"],
		    r["failed"], r["p50_ms"], r["p99_ms"], r["max_ms"] or 0))
	print()
	print("Attacker: %d sockets kept open, %d opened in all, %d closed by "
	    "the hub. Target %s: %s." % (attack.count, attack.opened,
	    attack.closed_by_hub, a["target"], "met" if a["met"] else "NOT met"))
	print()
	for name, f in (("", fl), (", unauth_rate_limit = off", unlimited)):
		if f is None:
			continue
		print("Flood without a token from 127.0.0.2 (8 kept-alive "
		    "connections, %.1f s%s): %d answered (%s), %.0f a second; %d "
		    "exchange-log entries written (%.2f a second of flood)." % (
		    f["seconds"], name, f["answered"], ", ".join("%s: %d" % kv
		    for kv in f["by_status"].items()), f["per_second"],
		    f["xlog_entries"], f["xlog_entries_per_second"]))
		print()
	return 0


if __name__ == "__main__":
	sys.exit(main())
