"""
Integration tests of webhook delivery (contract: "Events"): a real hub
POSTs routed events to real receiving processes, which check the
X-Crossroads-Signature with the subscription's secret and record what they
got. Signature and body, field filtering, order per subscription and
subject, a subscriber down for a while, dead letters and redelivery, a slow
subscriber next to a fast one, and the exchange log.

The hub runs with short backoffs (config file) so that retries and dead
letters happen within seconds.
"""

import itertools
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

EVENT_TYPE = "population.address_changed"
TYPE_FIELDS = ["address", "municipality", "moved_on"]
GRANTED = ["address", "municipality"]
MAX_ATTEMPTS = 6
HUB_CONFIG = {
	"delivery_max_attempts": MAX_ATTEMPTS,
	"delivery_base_backoff_ms": 100,
	"delivery_max_backoff_ms": 800,
	"delivery_timeout_ms": 5000,
}

# The receiving webhook endpoint: one process, any number of hooks
# (/hook/NAME), each with its secret and its behaviour, set through
# POST /_control and kept in a state file so that a restarted receiver
# behaves the same. Every POST to a hook is appended to a JSON-lines file
# before it is answered.
RECEIVER = r'''
import hashlib, hmac, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, log_path, state_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
state = {"hooks": {}}
if os.path.exists(state_path):
	with open(state_path) as f:
		state = json.load(f)
counts = {}

class Handler(BaseHTTPRequestHandler):
	protocol_version = "HTTP/1.1"

	def log_message(self, *args):
		pass

	def reply(self, status, obj):
		b = json.dumps(obj).encode()
		self.send_response(status)
		self.send_header("Content-Type", "application/json")
		self.send_header("Content-Length", str(len(b)))
		self.end_headers()
		self.wfile.write(b)

	def do_GET(self):
		self.reply(200, {"ok": True})

	def do_POST(self):
		body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
		if self.path == "/_control":
			c = json.loads(body)
			with lock:
				h = state["hooks"].setdefault(c["name"], {})
				h.update(c)
				with open(state_path + ".tmp", "w") as f:
					json.dump(state, f)
				os.replace(state_path + ".tmp", state_path)
			self.reply(200, {"ok": True})
			return
		name = self.path.rsplit("/", 1)[-1]
		t0 = time.time()
		with lock:
			configured = name in state["hooks"]
			h = dict(state["hooks"].get(name, {}))
			if configured:
				counts[name] = counts.get(name, 0) + 1
				n = counts[name]
		if not configured:
			# Not told its secret yet (the test configures a hook
			# just after starting the receiver): not ready, retry.
			self.reply(503, {"ready": False})
			return
		secret = h.get("secret")
		sig = self.headers.get("X-Crossroads-Signature", "")
		ok = secret is not None and hmac.compare_digest(sig, "sha256=" +
		    hmac.new(secret.encode(), body, hashlib.sha256).hexdigest())
		status = h.get("status", 200)
		every = h.get("fail_every", 0)
		if every and n % every == 0:
			status = 503
		if h.get("delay"):
			time.sleep(h["delay"])
		rec = {"name": name, "t": t0, "t_end": time.time(),
		    "status": status, "sig_ok": ok,
		    "signature": sig, "body": body.decode("utf-8", "replace"),
		    "event_id": self.headers.get("X-Crossroads-Event-Id"),
		    "subscription": self.headers.get("X-Crossroads-Subscription"),
		    "content_type": self.headers.get("Content-Type"),
		    "request_id": self.headers.get("X-Request-Id")}
		with lock:
			with open(log_path, "a") as f:
				f.write(json.dumps(rec) + "\n")
		self.reply(status, {"received": True})

ThreadingHTTPServer.daemon_threads = True
# The hub opens up to delivery_max_in_flight connections at once.
ThreadingHTTPServer.request_queue_size = 256
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
'''


class Receiver:
	"""A webhook receiving process (python3 running RECEIVER)."""

	def __init__(self, workdir, name, port=None):
		self.workdir = workdir
		self.name = name
		self.port = port or H.free_port()
		self.script = os.path.join(workdir, "receiver.py")
		self.log = os.path.join(workdir, name + ".ndjson")
		self.state = os.path.join(workdir, name + ".state.json")
		self.proc = None
		with open(self.script, "w") as f:
			f.write(RECEIVER)

	def start(self):
		err = os.path.join(self.workdir, self.name + ".stderr")
		self.proc = H._spawn([sys.executable, self.script, str(self.port),
		    self.log, self.state], dict(os.environ), os.devnull, err)
		deadline = time.monotonic() + H.READY_TIMEOUT
		while time.monotonic() < deadline:
			if self.proc.poll() is not None:
				break
			try:
				if H.http_request(self.port, "GET", "/", timeout=2).status \
				    == 200:
					return self
			except OSError:
				pass
			time.sleep(0.05)
		raise RuntimeError("receiver did not start: " + H._read(err))

	def kill(self):
		if self.proc is not None and self.proc.poll() is None:
			self.proc.kill()
			self.proc.wait(timeout=10)

	def url(self, hook):
		return "http://127.0.0.1:%d/hook/%s" % (self.port, hook)

	def control(self, hook, **kw):
		kw["name"] = hook
		r = H.http_request(self.port, "POST", "/_control", kw)
		assert r.status == 200, r

	def records(self, hook=None):
		try:
			with open(self.log) as f:
				recs = [json.loads(l) for l in f if l.strip()]
		except OSError:
			return []
		return [r for r in recs if hook is None or r["name"] == hook]

	def delivered(self, hook):
		"""Bodies acknowledged with a 2xx, in arrival order."""
		return [json.loads(r["body"]) for r in self.records(hook)
		    if 200 <= r["status"] < 300]


def wait_for(fn, timeout=15.0, step=0.05):
	"""fn() until truthy; returns its last value."""
	deadline = time.monotonic() + timeout
	v = fn()
	while not v and time.monotonic() < deadline:
		time.sleep(step)
		v = fn()
	return v


W = None
HUB = None
RX = None
RN = None		# provider's client
SUBJECTS = H.SubjectPool(1)
_ids = itertools.count(1)


def setUpModule():
	global W, HUB, RX, RN
	W = H.make_tmpdir("crossroads-webhooks-")
	try:
		RX = Receiver(W, "rx").start()
		HUB = H.Hub(W, config=HUB_CONFIG).start()
		HUB.institution("RN", "National Register", "population")
		RN = HUB.client("RN")
		r = HUB.admin("POST", "/v1/event-types", {"id": EVENT_TYPE,
		    "provider": "RN", "fields": TYPE_FIELDS})
		assert r.status == 201, r
	except Exception:
		tearDownModule()
		raise


def tearDownModule():
	if HUB is not None:
		HUB.kill()
	if RX is not None:
		RX.kill()
	if W is not None:
		H.remove_tmpdir(W)


def consumer(subjects, capacity="beneficiary", hub=None):
	"""A new authorized institution with subjects integrated; its client."""
	hub = hub or HUB
	iid = "CPAS%d" % next(_ids)
	hub.institution(iid)
	cl = hub.client(iid)
	hub.authorize(iid, EVENT_TYPE, "social-assistance", GRANTED)
	hub.capacity(capacity, [iid])
	for s in subjects:
		hub.integrate(cl["token"], s, capacity)
	return cl


def subscribe(cl, url, rx=None, hook=None, hub=None):
	r = (hub or HUB).request("POST", "/v1/subscriptions", {
	    "event_type": EVENT_TYPE,
	    "capacities": ["beneficiary"], "delivery": {"url": url}},
	    token=cl["token"])
	assert r.status == 201, r
	if rx is not None:
		rx.control(hook, secret=r.json["secret"])
	return r.json


def publish(subject, data, occurred_at="2024-05-01T12:00:00Z", hub=None,
    token=None):
	r = (hub or HUB).request("POST", "/v1/events", {"type": EVENT_TYPE,
	    "subject": subject, "occurred_at": occurred_at, "data": data},
	    token=token or RN["token"])
	assert r.status == 201, r
	return r.json["id"]


def address(n):
	return {"address": "Rue %d" % n, "municipality": "Namur",
	    "moved_on": "2024-05-01"}


class WebhookTests(unittest.TestCase):

	def test_signature_and_body(self):
		s = SUBJECTS.known()
		cl = consumer([s])
		sub = subscribe(cl, RX.url("sig"), RX, "sig")
		eid = publish(s, {"address": "Rue Haute 1", "municipality": "Namur",
		    "moved_on": "2024-05-01"})
		recs = wait_for(lambda: RX.records("sig"))
		self.assertEqual(len(recs), 1, recs)
		rec = recs[0]
		self.assertTrue(rec["sig_ok"], rec)
		self.assertRegex(rec["signature"], r"^sha256=[0-9a-f]{64}$")
		self.assertEqual(rec["event_id"], str(eid))
		self.assertEqual(rec["subscription"], sub["id"])
		self.assertEqual(rec["content_type"], "application/json")
		body = json.loads(rec["body"])
		self.assertEqual(str(body["id"]), str(eid))
		self.assertEqual(body["type"], EVENT_TYPE)
		self.assertEqual(body["subject"], s)
		self.assertEqual(body["occurred_at"], "2024-05-01T12:00:00Z")
		# Field filtering: only what the authorization grants (the
		# type also has moved_on).
		self.assertEqual(body["data"], {"address": "Rue Haute 1",
		    "municipality": "Namur"})
		# A wrong secret would not verify: the check can fail.
		RX.control("sig", secret="0" * 64)
		publish(s, address(1))
		recs = wait_for(lambda: len(RX.records("sig")) >= 2 and
		    RX.records("sig"))
		self.assertFalse(recs[1]["sig_ok"])

	def test_order_per_subject(self):
		subjects = [SUBJECTS.known() for _ in range(3)]
		cl = consumer(subjects)
		subscribe(cl, RX.url("order"), RX, "order")
		# Every third answer is a 503: retries must not reorder.
		RX.control("order", fail_every=3, delay=0.02)
		n_per = 8
		for i in range(n_per):
			for s in subjects:
				publish(s, address(i))
		want = n_per * len(subjects)
		got = wait_for(lambda: len(RX.delivered("order")) >= want and
		    RX.delivered("order"), timeout=30)
		self.assertTrue(got, "only %d of %d delivered" %
		    (len(RX.delivered("order")), want))
		self.assertEqual(len(got), want)
		for s in subjects:
			ns = [b["data"]["address"] for b in got if b["subject"] == s]
			self.assertEqual(ns, ["Rue %d" % i for i in range(n_per)], s)
		self.assertTrue(any(r["status"] == 503 for r in
		    RX.records("order")))

	def test_subscriber_down_then_back(self):
		s1, s2 = SUBJECTS.known(), SUBJECTS.known()
		cl = consumer([s1, s2])
		rx = Receiver(W, "down")
		sub = subscribe(cl, rx.url("down"))
		for i in range(4):
			publish(s1, address(i))
			publish(s2, address(100 + i))
		# Retries fail with "connection refused" for a second.
		time.sleep(1.0)
		rx.start()
		rx.control("down", secret=sub["secret"])
		try:
			got = wait_for(lambda: len(rx.delivered("down")) >= 8 and
			    rx.delivered("down"), timeout=20)
			self.assertTrue(got, rx.records("down"))
			for s, base in ((s1, 0), (s2, 100)):
				ns = [b["data"]["address"] for b in got
				    if b["subject"] == s]
				self.assertEqual(ns, ["Rue %d" % (base + i)
				    for i in range(4)])
			self.assertTrue(all(r["sig_ok"] for r in rx.records("down")))
			r = HUB.request("GET", "/v1/subscriptions/%s/dead-letters" %
			    sub["id"], token=cl["token"])
			self.assertEqual(r.status, 200, r)
			self.assertEqual(r.json["dead_letters"], [])
		finally:
			rx.kill()

	def test_dead_letters_and_redelivery(self):
		s = SUBJECTS.known()
		cl = consumer([s])
		other = consumer([])
		sub = subscribe(cl, RX.url("dead"), RX, "dead")
		RX.control("dead", status=503)
		e1 = publish(s, address(1))
		e2 = publish(s, address(2))
		path = "/v1/subscriptions/%s/dead-letters" % sub["id"]

		def dead():
			r = HUB.request("GET", path, token=cl["token"])
			self.assertEqual(r.status, 200, r)
			return len(r.json["dead_letters"]) == 2 and \
			    r.json["dead_letters"]
		dl = wait_for(dead, timeout=20)
		self.assertTrue(dl, "not dead-lettered in time")
		self.assertEqual([d["event_id"] for d in dl], [str(e1), str(e2)])
		for d in dl:
			self.assertEqual(d["type"], EVENT_TYPE)
			self.assertEqual(d["subject"], s)
			self.assertEqual(d["occurred_at"], "2024-05-01T12:00:00Z")
			self.assertEqual(d["attempts"], MAX_ATTEMPTS)
			self.assertEqual(d["last_error"], "HTTP 503")
			self.assertIsInstance(d["seq"], int)
		# Each was tried max_attempts times, never out of order.
		recs = [json.loads(r["body"])["id"] for r in RX.records("dead")]
		self.assertEqual(len(recs), 2 * MAX_ATTEMPTS)
		self.assertEqual(recs, sorted(recs, key=int))
		# Someone else's subscription is not there; the operator sees it.
		self.assertEqual(HUB.request("GET", path,
		    token=other["token"]).status, 404)
		self.assertEqual(HUB.admin("GET", path).status, 200)
		self.assertEqual(HUB.request("GET", "/v1/subscriptions/%s/"
		    "dead-letters" % "00000000-0000-4000-8000-000000000000",
		    token=cl["token"]).status, 404)
		self.assertEqual(HUB.request("POST", path + "/redeliver", {},
		    token=other["token"]).status, 404)

		RX.control("dead", status=200)
		r = HUB.request("POST", path + "/redeliver", {"seq": dl[0]["seq"]},
		    token=cl["token"])
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json, {"redelivered": 1})
		ok = wait_for(lambda: RX.delivered("dead"))
		self.assertEqual([b["id"] for b in ok], [str(e1)])
		r = HUB.request("POST", path + "/redeliver", {"seq": dl[0]["seq"]},
		    token=cl["token"])
		self.assertEqual(r.status, 404, r)
		r = HUB.request("POST", path + "/redeliver", None, token=cl["token"])
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json, {"redelivered": 1})
		ok = wait_for(lambda: len(RX.delivered("dead")) >= 2 and
		    RX.delivered("dead"))
		self.assertEqual([b["id"] for b in ok], [str(e1), str(e2)])
		self.assertTrue(all(r["sig_ok"] for r in RX.records("dead")))
		self.assertEqual(HUB.request("GET", path,
		    token=cl["token"]).json["dead_letters"], [])

		# The log: one DEAD_LETTER entry per dead delivery, then the
		# granted ones (written just after the receiver answered); the
		# subject's log also holds its integration, not a delivery.
		def deliveries():
			return [e for e in HUB.log_entries(s)
			    if e["purpose"] == "event-delivery"]
		ents = wait_for(lambda: len([e for e in deliveries()
		    if e["outcome"] == "granted"]) >= 2 and deliveries())
		dead_e = [e for e in ents if e["error_code"] == "DEAD_LETTER"]
		self.assertEqual(len(dead_e), 2, ents)
		for e in dead_e:
			self.assertEqual(e["outcome"], "failed")
			self.assertEqual(e["status"], 503)
		granted = [e for e in ents if e["outcome"] == "granted" and
		    e["client"] == sub["id"]]
		self.assertEqual(len(granted), 2, ents)

	def test_slow_subscriber_does_not_delay_fast(self):
		subjects = [SUBJECTS.known() for _ in range(3)]
		slow = consumer(subjects)
		fast = consumer(subjects)
		subscribe(slow, RX.url("slow"), RX, "slow")
		RX.control("slow", delay=3.0)
		subscribe(fast, RX.url("fast"), RX, "fast")
		t0 = time.time()
		for i, s in enumerate(subjects):
			publish(s, address(i))
		got = wait_for(lambda: len(RX.delivered("fast")) >= 3, timeout=10)
		self.assertTrue(got)
		late = max(r["t"] for r in RX.records("fast")) - t0
		self.assertLess(late, 1.5, "fast subscriber waited %.2f s" % late)
		self.assertTrue(wait_for(lambda: len(RX.delivered("slow")) >= 3,
		    timeout=15))
		first_slow_done = min(r["t"] for r in RX.records("slow")) + 3.0
		self.assertGreater(first_slow_done - t0, late)

	def test_exchange_log_entry_per_delivery(self):
		s = SUBJECTS.known()
		cl = consumer([s])
		sub = subscribe(cl, RX.url("log"), RX, "log")
		eids = [publish(s, address(i)) for i in range(3)]
		self.assertTrue(wait_for(lambda: len(RX.delivered("log")) >= 3))

		def entries():
			e = [x for x in HUB.log_entries(s)
			    if x["client"] == sub["id"]]
			return len(e) >= 3 and e
		ents = wait_for(entries, timeout=10)
		self.assertTrue(ents, HUB.log_entries(s))
		self.assertEqual(len(ents), 3)
		reqids = {r["request_id"] for r in RX.records("log")}
		for e in ents:
			self.assertEqual(e["consumer"], cl["institution"])
			self.assertEqual(e["service"], EVENT_TYPE)
			self.assertEqual(e["provider"], "RN")
			self.assertEqual(e["subject"], s)
			self.assertEqual(e["purpose"], "event-delivery")
			self.assertEqual(e["legal_basis"], "Deliberation 22/123")
			self.assertEqual(e["outcome"], "granted")
			self.assertEqual(e["status"], 200)
			self.assertIn(e["request_id"], reqids)
			self.assertRegex(e["request_id"], r"^evt-\d+-\d+$")
		self.assertEqual(sorted(int(e["request_id"].split("-")[1])
		    for e in ents), sorted(int(i) for i in eids))

	def test_authorization_revoked(self):
		s = SUBJECTS.known()
		iid = "CPAS%d" % next(_ids)
		HUB.institution(iid)
		cl = HUB.client(iid)
		az = HUB.authorize(iid, EVENT_TYPE, "social-assistance", GRANTED)
		HUB.capacity("beneficiary", [iid])
		HUB.integrate(cl["token"], s, "beneficiary")
		sub = subscribe(cl, RX.url("revoked"), RX, "revoked")
		r = HUB.admin("DELETE", "/v1/authorizations/" + az["id"])
		self.assertEqual(r.status, 204, r)
		publish(s, address(1))
		path = "/v1/subscriptions/%s/dead-letters" % sub["id"]
		dl = wait_for(lambda: HUB.request("GET", path,
		    token=cl["token"]).json["dead_letters"])
		self.assertEqual(len(dl), 1)
		self.assertIn("not authorized", dl[0]["last_error"])
		self.assertEqual(RX.records("revoked"), [])


class InFlightCapTests(unittest.TestCase):
	"""delivery_max_in_flight caps one subscription's concurrent POSTs."""

	def test_cap(self):
		hub = H.Hub(W, config=dict(HUB_CONFIG, delivery_max_in_flight=2),
		    name="cap", db=os.path.join(W, "cap.db")).start()
		try:
			hub.institution("RN", "National Register", "population")
			rn = hub.client("RN")
			r = hub.admin("POST", "/v1/event-types", {"id": EVENT_TYPE,
			    "provider": "RN", "fields": TYPE_FIELDS})
			self.assertEqual(r.status, 201, r)
			subjects = [SUBJECTS.known() for _ in range(6)]
			cl = consumer(subjects, hub=hub)
			subscribe(cl, RX.url("cap"), RX, "cap", hub=hub)
			RX.control("cap", delay=0.4)
			for i, s in enumerate(subjects):
				publish(s, address(i), hub=hub, token=rn["token"])
			self.assertTrue(wait_for(lambda: len(RX.delivered("cap")) >= 6,
			    timeout=20))
			spans = [(r["t"], r["t_end"]) for r in RX.records("cap")]
			most = max(sum(1 for a, b in spans if a <= t < b)
			    for t, _ in spans)
			# Two at a time: the cap holds, and it is used.
			self.assertEqual(most, 2, spans)
			self.assertEqual(hub.terminate(), 0)
			self.assertEqual(hub.sanitizer_reports(), [])
		finally:
			hub.kill()


class ZShutdownTests(unittest.TestCase):
	"""Last (classes run in name order): the engine stops cleanly."""

	def test_sigterm(self):
		s = SUBJECTS.known()
		cl = consumer([s])
		subscribe(cl, RX.url("stop"), RX, "stop")
		RX.control("stop", delay=1.0)
		publish(s, address(1))
		# SIGTERM while the POST is in flight: it is finished, not lost.
		time.sleep(0.4)
		self.assertEqual(HUB.terminate(), 0)
		self.assertEqual(len(RX.records("stop")), 1)
		self.assertEqual(HUB.sanitizer_reports(), [])


if __name__ == "__main__":
	unittest.main(verbosity=2)
