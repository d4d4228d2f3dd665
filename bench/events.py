"""
The issue-4 benchmark driver, run by bench/events.sh (which starts the
webhook receiver and cleans up). For each scenario (webhook or feed, 1 or
20 subscribers) it starts a fresh hub, sets up a provider, an event type,
the subscriber institutions (each integrating every benchmark subject),
their authorizations and subscriptions, then:

 1. throughput: two publishers POST /v1/events/batch (NDJSON, 1,000 events
    a request) as fast as the hub acknowledges; meanwhile the deliveries
    are consumed (webhooks by the receiver, feeds by one long-polling
    reader per subscriber). Events accepted/s = events / publishing time;
    deliveries/s = deliveries / (first publish .. last delivery).
 2. latency: events published at a moderate pace (batches of 50 every
    50 ms); publish-to-delivery time of each. The publisher puts its wall
    time in the event's data ("t"); the end is the reader's arrival time
    (feed) or the hub's exchange-log entry of the acknowledged POST
    (webhook: written right after the receiver's 200).

CPU time per hub thread (and of the receiver and this driver) is sampled
over the throughput phase to say what bounds each figure.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

TYPE = "bench.moved"
STAMP = "2024-05-01T10:00:00Z"
BATCH = 1000
TARGET = 50000
HZ = os.sysconf("SC_CLK_TCK")


def insz(yy, mm, dd, seq):
	base = "%02d%02d%02d%03d" % (yy, mm, dd, seq)
	return base + "%02d" % (97 - int(base) % 97)


def person(k):
	return insz(50 + (k // 997) % 49, 1 + k % 12, 1 + k % 28, 1 + k % 997)


def free_port():
	s = socket.socket()
	s.bind(("127.0.0.1", 0))
	p = s.getsockname()[1]
	s.close()
	return p


def pct(xs, p):
	if not xs:
		return None
	xs = sorted(xs)
	return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def thread_ticks(pid):
	"""{thread name: ticks} of a process (threads of one name summed)."""
	out = {}
	try:
		tids = os.listdir("/proc/%d/task" % pid)
	except OSError:
		return out
	for t in tids:
		try:
			with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
				s = f.read()
		except OSError:
			continue
		name = s[s.index("(") + 1:s.rindex(")")]
		f = s[s.rindex(")") + 2:].split()
		out[name] = out.get(name, 0) + int(f[11]) + int(f[12])
	return out


def proc_ticks(pid):
	try:
		with open("/proc/%d/stat" % pid) as f:
			s = f.read()
	except OSError:
		return 0
	f = s[s.rindex(")") + 2:].split()
	return int(f[11]) + int(f[12])


class Api:
	def __init__(self, port):
		self.port = port
		self.c = None

	def call(self, method, path, token, body=None, ctype="application/json"):
		for attempt in range(2):
			if self.c is None:
				self.c = http.client.HTTPConnection("127.0.0.1", self.port,
				    timeout=120)
			try:
				h = {"Authorization": "Bearer " + token}
				if body is not None:
					h["Content-Type"] = ctype
					if not isinstance(body, (bytes, str)):
						body = json.dumps(body)
				self.c.request(method, path, body=body, headers=h)
				r = self.c.getresponse()
				data = r.read()
				return r.status, (json.loads(data) if data else None)
			except (http.client.HTTPException, OSError):
				self.c.close()
				self.c = None
				if attempt == 1:
					raise
		return None

	def ok(self, method, path, token, body=None, ctype="application/json"):
		st, js = self.call(method, path, token, body, ctype)
		if st // 100 != 2:
			raise RuntimeError("%s %s: %d %s" % (method, path, st, js))
		return js

	def close(self):
		if self.c is not None:
			self.c.close()


class Hub:
	def __init__(self, args, name, config):
		self.dir = os.path.join(args.tmp, name)
		os.makedirs(self.dir)
		self.db = os.path.join(self.dir, "hub.db")
		self.port = free_port()
		self.admin = "bench-admin-%d" % os.getpid()
		cfg = os.path.join(self.dir, "hub.conf")
		with open(cfg, "w") as f:
			for k, v in config.items():
				f.write("%s = %s\n" % (k, v))
		env = dict(os.environ, CROSSROADS_ADMIN_TOKEN=self.admin)
		self.err = open(os.path.join(self.dir, "hub.err"), "w")
		self.proc = subprocess.Popen([args.hub, "serve", "--config", cfg,
		    "--listen", "127.0.0.1:%d" % self.port, "--db", self.db],
		    env=env, stdout=subprocess.DEVNULL, stderr=self.err)
		with open(args.pids, "a") as f:
			f.write("%d\n" % self.proc.pid)
		self.api = Api(self.port)
		deadline = time.monotonic() + 10
		while True:
			if self.proc.poll() is not None:
				raise RuntimeError("hub exited: see %s" % self.err.name)
			try:
				c = http.client.HTTPConnection("127.0.0.1", self.port,
				    timeout=1)
				c.request("GET", "/healthz")
				if c.getresponse().status == 200:
					c.close()
					break
			except OSError:
				pass
			if time.monotonic() > deadline:
				raise RuntimeError("hub did not start")
			time.sleep(0.1)

	def stop(self):
		self.api.close()
		if self.proc.poll() is None:
			self.proc.send_signal(signal.SIGTERM)
			try:
				self.proc.wait(15)
			except subprocess.TimeoutExpired:
				self.proc.kill()
				self.proc.wait()
		self.err.close()


def setup(hub, kind, nsubs, nsubjects, hook_base):
	a, adm = hub.api, hub.admin
	a.ok("POST", "/v1/institutions", adm, {"id": "RN",
	    "name": "National Register", "sector": "population"})
	pub = a.ok("POST", "/v1/institutions/RN/clients", adm,
	    {"name": "publisher"})["token"]
	a.ok("POST", "/v1/event-types", adm, {"id": TYPE, "provider": "RN",
	    "fields": ["address", "t"]})
	# The subscribers (sector unemployment) declare jobseekers.
	a.ok("POST", "/v1/capacities", adm, {"id": "jobseeker",
	    "name": "Registered jobseeker", "sectors": ["unemployment"]})
	subjects = [person(k) for k in range(1, nsubjects + 1)]
	dirbody = "".join(json.dumps({"subject": s, "capacity": "jobseeker",
	    "from": "2020-01-01", "to": None}) + "\n" for s in subjects)
	subs = []
	for i in range(nsubs):
		inst = "SUB%02d" % (i + 1)
		a.ok("POST", "/v1/institutions", adm, {"id": inst,
		    "name": "Subscriber %d" % (i + 1), "sector": "unemployment"})
		tok = a.ok("POST", "/v1/institutions/%s/clients" % inst, adm,
		    {"name": "app"})["token"]
		a.ok("POST", "/v1/authorizations", adm, {"consumer": inst,
		    "service": TYPE, "purpose": "bench", "legal_basis": "bench",
		    "fields": ["address", "t"], "capacities": ["jobseeker"],
		    "valid_from": "2020-01-01", "valid_to": None})
		r = a.ok("POST", "/v1/directory/batch", tok, dirbody,
		    "application/x-ndjson")
		if r["accepted"] != nsubjects:
			raise RuntimeError("directory batch: %s" % r)
		delivery = {"feed": True} if kind == "feed" else \
		    {"url": "%s/hook/%s" % (hook_base, inst)}
		a.ok("POST", "/v1/subscriptions", tok, {"event_type": TYPE,
		    "capacities": ["jobseeker"], "delivery": delivery,
		    "purpose": "bench"})
		subs.append((inst, tok))
	return pub, subjects, subs


def batch_body(subjects, start, n):
	t = "%.3f" % (time.time() * 1000)
	ns = len(subjects)
	return "".join('{"type":"%s","subject":"%s","occurred_at":"%s",'
	    '"data":{"address":"Rue de la Loi %d","t":%s}}\n' % (TYPE,
	    subjects[(start + i) % ns], STAMP, start + i, t)
	    for i in range(n)).encode()


def publish(port, token, subjects, start, nevents, per_batch, pace_s, errors):
	"""Publishes events [start, start + nevents) in batches; pace_s > 0
	sleeps that long between batches."""
	api = Api(port)
	i = start
	end = start + nevents
	try:
		while i < end:
			n = min(per_batch, end - i)
			st, js = api.call("POST", "/v1/events/batch", token,
			    batch_body(subjects, i, n), "application/x-ndjson")
			if st != 200 or js["accepted"] != n:
				errors.append("publish: %d %s" % (st, str(js)[:200]))
				return
			i += n
			if pace_s > 0:
				time.sleep(pace_s)
	except Exception as e:  # noqa: BLE001 (reported, not hidden)
		errors.append("publish: %r" % e)
	finally:
		api.close()


class Reader(threading.Thread):
	"""Long-polls one institution's feed; records arrival - t per event."""

	def __init__(self, port, token):
		super().__init__(daemon=True)
		self.api = Api(port)
		self.token = token
		self.count = 0
		self.after = "0"
		self.lat = []
		self.stop = False
		self.error = None
		self.last = 0.0

	def run(self):
		try:
			while not self.stop:
				st, js = self.api.call("GET", "/v1/feed?after=%s&limit=1000"
				    "&wait=2" % self.after, self.token)
				now = time.time() * 1000
				if st != 200:
					self.error = "feed: %d %s" % (st, js)
					return
				evs = js["events"]
				for e in evs:
					self.lat.append(now - e["data"]["t"])
				if evs:
					self.count += len(evs)
					self.last = now
				self.after = js["next"]
		except Exception as e:  # noqa: BLE001
			self.error = "feed: %r" % e
		finally:
			self.api.close()


def webhook_done(db):
	c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
	try:
		ok = c.execute("SELECT count(*) FROM deliveries WHERE state = 1"
		    ).fetchone()[0]
		dead = c.execute("SELECT count(*) FROM deliveries WHERE state = 2"
		    ).fetchone()[0]
	finally:
		c.close()
	return ok, dead


def webhook_latency(db, first_id):
	"""ms from the publisher's t to the exchange-log entry, per delivery
	of events with id >= first_id; and the time of the last entry."""
	c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
	lat = []
	last = 0.0
	try:
		rows = c.execute("SELECT x.ts, json_extract(e.data, '$.t')"
		    " FROM xlog AS x JOIN events AS e ON e.id = CAST(substr("
		    "x.request_id, 5, instr(substr(x.request_id, 5), '-') - 1)"
		    " AS INTEGER) WHERE x.request_id LIKE 'evt-%' AND"
		    " x.outcome = 'granted' AND e.id >= ?", (first_id,))
		for ts, t in rows:
			# 2024-05-01T10:00:00.123Z
			sec = time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
			    ) - time.timezone
			end = sec * 1000 + int(ts[20:23])
			lat.append(end - t)
			last = max(last, end)
	finally:
		c.close()
	return lat, last


def max_event_id(db):
	c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
	try:
		return c.execute("SELECT coalesce(max(id), 0) FROM events"
		    ).fetchone()[0]
	finally:
		c.close()


def scenario(args, kind, nsubs):
	name = "%s-%d" % (kind, nsubs)
	nevents = args.events_1 if nsubs == 1 else args.events_n
	config = {"access_log": "off", "feed_max_wait": 5,
	    "delivery_max_in_flight": args.in_flight}
	hub = Hub(args, name, config)
	res = {"kind": kind, "subscribers": nsubs, "events": nevents,
	    "deliveries_expected": nevents * nsubs}
	readers = []
	try:
		pub, subjects, subs = setup(hub, kind, nsubs, args.subjects,
		    args.hook_base)
		if kind == "feed":
			for _, tok in subs:
				readers.append(Reader(hub.port, tok))
			for r in readers:
				r.start()
		errors = []
		expected = nevents * nsubs
		t_hub0 = thread_ticks(hub.proc.pid)
		t_rcv0 = proc_ticks(args.receiver_pid) if kind == "webhook" else 0
		t_me0 = sum(os.times()[:2])
		w0 = time.monotonic()
		t0 = time.time() * 1000
		half = nevents // 2
		pubs = [threading.Thread(target=publish, args=(hub.port, pub,
		    subjects, s, n, BATCH, 0, errors)) for s, n in
		    ((0, half), (half, nevents - half))]
		for p in pubs:
			p.start()
		for p in pubs:
			p.join()
		t_pub = time.monotonic() - w0
		if errors:
			raise RuntimeError("; ".join(errors))
		res["publish_s"] = round(t_pub, 3)
		res["events_per_s"] = round(nevents / t_pub)
		deadline = w0 + args.deadline
		done = dead = 0
		while time.monotonic() < deadline:
			if kind == "feed":
				done = sum(r.count for r in readers)
				errs = [r.error for r in readers if r.error]
				if errs:
					raise RuntimeError(errs[0])
			else:
				done, dead = webhook_done(hub.db)
			if done + dead >= expected:
				break
			time.sleep(0.1)
		wall = time.monotonic() - w0
		t_hub1 = thread_ticks(hub.proc.pid)
		t_rcv1 = proc_ticks(args.receiver_pid) if kind == "webhook" else 0
		t_me1 = sum(os.times()[:2])
		if kind == "feed":
			done = sum(r.count for r in readers)
			last = max(r.last for r in readers)
			lat = [x for r in readers for x in r.lat]
			for r in readers:
				r.lat = []
		else:
			lat, last = webhook_latency(hub.db, 0)
		res["delivered"] = done
		res["dead"] = dead
		res["complete"] = done >= expected
		if done >= expected and last > 0:
			span = (last - t0) / 1000.0
		else:
			span = wall
		res["delivery_s"] = round(span, 3)
		res["deliveries_per_s"] = round(done / span) if span > 0 else 0
		res["saturated_latency_ms"] = {"p50": _r(pct(lat, 50)),
		    "p99": _r(pct(lat, 99))}
		cpu = {k: round(100.0 * (v - t_hub0.get(k, 0)) / HZ / wall)
		    for k, v in t_hub1.items()}
		res["cpu_percent"] = {"hub_threads": {k: v for k, v in
		    sorted(cpu.items(), key=lambda kv: -kv[1]) if v > 0},
		    "hub_total": sum(cpu.values()),
		    "driver": round(100.0 * (t_me1 - t_me0) / wall)}
		if kind == "webhook":
			res["cpu_percent"]["receiver"] = round(100.0 * (t_rcv1 -
			    t_rcv0) / HZ / wall)
		if not res["complete"]:
			# Whatever is left would skew the latency phase.
			return res

		# Latency at a moderate pace.
		first = max_event_id(hub.db) + 1
		n_lat = args.lat_events
		per = 50
		pace = 0.05
		w1 = time.monotonic()
		publish(hub.port, pub, subjects, nevents, n_lat, per, pace, errors)
		if errors:
			raise RuntimeError("; ".join(errors))
		expected2 = expected + n_lat * nsubs
		deadline = time.monotonic() + 15
		while time.monotonic() < deadline:
			if kind == "feed":
				done = sum(r.count for r in readers)
			else:
				done, dead = webhook_done(hub.db)
			if done + dead >= expected2:
				break
			time.sleep(0.1)
		pub_s = time.monotonic() - w1
		if kind == "feed":
			lat = [x for r in readers for x in r.lat]
		else:
			lat, _ = webhook_latency(hub.db, first)
		res["paced_rate_events_per_s"] = round(n_lat / pub_s)
		res["latency_ms"] = {"n": len(lat), "p50": _r(pct(lat, 50)),
		    "p99": _r(pct(lat, 99)), "max": _r(max(lat) if lat else None)}
		return res
	finally:
		for r in readers:
			r.stop = True
		for r in readers:
			r.join(5)
		hub.stop()


def _r(x):
	return None if x is None else round(x, 1)


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("--hub", required=True)
	ap.add_argument("--tmp", required=True)
	ap.add_argument("--pids", required=True)
	ap.add_argument("--hook-base", required=True)
	ap.add_argument("--receiver-pid", type=int, required=True)
	ap.add_argument("--events-1", type=int, default=100000)
	ap.add_argument("--events-n", type=int, default=10000)
	ap.add_argument("--subjects", type=int, default=1000)
	ap.add_argument("--deadline", type=float, default=30)
	ap.add_argument("--lat-events", type=int, default=2000)
	ap.add_argument("--only", default="")
	ap.add_argument("--in-flight", type=int, default=64)
	ap.add_argument("--out", required=True)
	args = ap.parse_args()
	results = []
	for kind, n in (("webhook", 1), ("webhook", 20), ("feed", 1),
	    ("feed", 20)):
		if args.only and args.only != "%s-%d" % (kind, n):
			continue
		t = time.monotonic()
		try:
			r = scenario(args, kind, n)
		except Exception as e:  # noqa: BLE001 (reported in the table)
			r = {"kind": kind, "subscribers": n, "error": str(e)}
		r["scenario_s"] = round(time.monotonic() - t, 1)
		print(json.dumps(r), file=sys.stderr)
		results.append(r)
	with open(args.out, "w") as f:
		json.dump(results, f, indent=1)


if __name__ == "__main__":
	main()
