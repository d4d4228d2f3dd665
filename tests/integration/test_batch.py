"""
Integration tests of batches (docs/batches.md): NDJSON and CSV lists,
refusals, progress, results in line order and equal to POST /v1/verify,
every sub-consultation in the exchange log, access by institution, a hub
killed with SIGKILL in the middle of a batch and restarted (one result
per line, none missing, equal to a clean run), and `crossroads batch run`
end to end.
"""

import contextlib
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

PURPOSE = "social-assistance"
SYNTH = ["name", "birth_date"]


def ndjson(subjects):
	return "".join('{"subject":"%s"}\n' % s for s in subjects)


def strip_ids(v):
	"""A verification without its request id (it differs per request)."""
	v = dict(v)
	v.pop("request_id", None)
	err = v.get("error")
	if isinstance(err, dict):
		v["error"] = {k: x for k, x in err.items() if k != "request_id"}
	return v


def parse_ndjson(body):
	import json
	return [json.loads(l) for l in body.decode("utf-8").splitlines()]


class Env:
	"""A hub, fixture sources, two institutions and their clients."""

	def __init__(self, config=None, delay_ms=None):
		self.w = H.make_tmpdir()
		data = {}
		for k in range(1, 41):
			s = H.person(k)
			data[s] = {"name": "P%d" % k, "household": [{"subject": s}],
			    "death_date": "2025-01-01" if k % 7 == 0 else None}
		self.pop = H.Fixture(self.w, data=data, name="pop").start()
		self.syn = H.Fixture(self.w, synthetic=True, delay_ms=delay_ms,
		    name="syn").start()
		self.hub = H.Hub(self.w, config=config).start()
		self.setup()

	def setup(self):
		h = self.hub
		for iid in ("RN", "CPAS", "OTHER"):
			h.institution(iid)
		self.tok = {i: h.client(i)["token"] for i in ("CPAS", "OTHER")}
		h.service("population.person", "RN", self.pop.url(),
		    ["name", "household", "death_date"])
		# Room for hold_sources() below.
		h.service("synth.a", "RN", self.syn.url("/a"), SYNTH,
		    timeout_ms=15000)
		h.service("synth.b", "RN", self.syn.url("/b"), SYNTH,
		    timeout_ms=15000)
		h.authorize("CPAS", "population.person", PURPOSE,
		    ["name", "household", "death_date"])
		h.authorize("CPAS", "synth.a", PURPOSE, SYNTH)
		h.authorize("CPAS", "synth.b", PURPOSE, SYNTH)
		r = h.admin("POST", "/v1/bundles", {"id": "pop-synth",
		    "services": ["population.person", "synth.a"],
		    "household": {"service": "population.person",
		    "members": "household[].subject"},
		    "rules": [{"id": "deceased", "type": "present",
		    "service": "population.person", "field": "death_date"}]})
		assert r.status == 201, r
		r = h.admin("POST", "/v1/bundles", {"id": "synth2",
		    "services": ["synth.a", "synth.b"]})
		assert r.status == 201, r

	@contextlib.contextmanager
	def hold_sources(self):
		"""The synthetic source stopped (SIGSTOP): no verification of the
		synth2 bundle can finish until the block ends, well within the
		services' timeout."""
		os.kill(self.syn.proc.pid, signal.SIGSTOP)
		try:
			yield
		finally:
			os.kill(self.syn.proc.pid, signal.SIGCONT)

	def close(self):
		self.hub.kill()
		self.pop.kill()
		self.syn.kill()
		H.remove_tmpdir(self.w)

	def create(self, body, bundle="pop-synth", ctype="application/x-ndjson",
	    token=None, query=""):
		return self.hub.request("POST", "/v1/batches?bundle=%s&purpose=%s%s"
		    % (bundle, PURPOSE, query), body, token=token or self.tok["CPAS"],
		    content_type=ctype)

	def status(self, bid, token=None):
		return self.hub.request("GET", "/v1/batches/" + bid,
		    token=token or self.tok["CPAS"])

	def wait(self, bid, timeout=120):
		deadline = time.monotonic() + timeout
		seen = []
		while time.monotonic() < deadline:
			r = self.status(bid)
			assert r.status == 200, r
			seen.append(r.json["done"])
			if r.json["status"] in ("done", "failed"):
				return r.json, seen
			time.sleep(0.05)
		raise AssertionError("batch %s not done in %d s" % (bid, timeout))

	def results(self, bid, token=None):
		r = self.hub.request("GET", "/v1/batches/%s/results" % bid,
		    token=token or self.tok["CPAS"])
		assert r.status == 200, r
		assert r.header("content-type").startswith("application/x-ndjson")
		return parse_ndjson(r.body)

	def verify(self, bundle, subject, household=False):
		body = {"subject": subject, "purpose": PURPOSE}
		if household:
			body["household"] = True
		return self.hub.request("POST", "/v1/verify/" + bundle, body,
		    token=self.tok["CPAS"])


class BatchTests(unittest.TestCase):

	@classmethod
	def setUpClass(cls):
		cls.env = Env()

	@classmethod
	def tearDownClass(cls):
		cls.env.close()

	def test_ndjson_results_equal_verify(self):
		e = self.env
		subjects = [H.person(k) for k in range(1, 31)]
		subjects[4] = H.INSZ_INVALID		# a line that fails
		subjects[9] = H.person(500)		# population: no data
		r = e.create(ndjson(subjects))
		self.assertEqual(r.status, 202, r)
		self.assertEqual(r.json["status"], "queued")
		self.assertEqual(r.json["total"], 30)
		bid = r.json["id"]
		st, _ = e.wait(bid)
		self.assertEqual((st["status"], st["total"], st["done"],
		    st["failed"]), ("done", 30, 30, 1))
		self.assertEqual((st["bundle"], st["purpose"], st["household"]),
		    ("pop-synth", PURPOSE, False))
		res = e.results(bid)
		self.assertEqual(len(res), 30)
		# HEAD: the streamed answer's status and headers, no body.
		g = e.hub.request("GET", "/v1/batches/%s/results" % bid,
		    token=e.tok["CPAS"])
		h = e.hub.request("HEAD", "/v1/batches/%s/results" % bid,
		    token=e.tok["CPAS"])
		self.assertEqual((h.status, h.body), (200, b""))
		self.assertEqual(h.header("content-type"), g.header("content-type"))
		self.assertEqual(set(h.headers) - {"date"},
		    set(g.headers) - {"date"})
		for i, (s, got) in enumerate(zip(subjects, res)):
			want = e.verify("pop-synth", s)
			if s == H.INSZ_INVALID:
				self.assertEqual(want.status, 400)
				self.assertEqual(got["subject"], s)
				self.assertEqual(got["error"]["code"],
				    "INVALID_SUBJECT")
				self.assertEqual(got["error"]["request_id"],
				    "%s.%d" % (bid, i + 1))
				continue
			self.assertEqual(want.status, 200, want)
			self.assertEqual(got["request_id"], "%s.%d" % (bid, i + 1))
			self.assertEqual(strip_ids(got), strip_ids(want.json),
			    "line %d" % (i + 1))
		self.assertEqual(res[6]["flags"][0]["rule"], "deceased")
		self.assertEqual(res[9]["members"][0]["results"]
		    ["population.person"]["status"], "no_data")
		# Every sub-consultation logged, under the line's request id,
		# as the creating client.
		rows = H.db_query(e.hub.db, "SELECT request_id, consumer, "
		    "service, subject FROM xlog WHERE request_id LIKE ?",
		    (bid + ".%",))
		self.assertEqual(len(rows), 29 * 2)
		self.assertEqual({r[1] for r in rows}, {"CPAS"})
		self.assertIn(("%s.1" % bid, "CPAS", "synth.a", subjects[0]),
		    rows)

	def test_csv_household(self):
		e = self.env
		subjects = [H.person(k) for k in range(1, 9)]
		csv = "ref;Subject;note\n" + "".join("%d;%s;x\n" % (i, s)
		    for i, s in enumerate(subjects))
		r = e.create(csv, ctype="text/csv", query="&household=true")
		self.assertEqual(r.status, 202, r)
		bid = r.json["id"]
		st, _ = e.wait(bid)
		self.assertEqual((st["done"], st["failed"], st["household"]),
		    (8, 0, True))
		res = e.results(bid)
		self.assertEqual([x["subject"] for x in res], subjects)
		for s, got in zip(subjects, res):
			self.assertTrue(got["household"])
			want = e.verify("pop-synth", s, household=True)
			self.assertEqual(strip_ids(got), strip_ids(want.json))

	def test_bad_input(self):
		e = self.env
		s = H.person(1)
		cases = [
			(e.create("ref,name\n1,x\n", ctype="text/csv"), 400,
			    "no \"subject\" column"),
			(e.create('{"subject":"%s"}\n{"subj":1}\n' % s), 400,
			    "line 2"),
			(e.create('{"subject":"%s"}\nnope\n' % s), 400, "line 2"),
			(e.create(""), 400, "no subjects"),
			(e.create(ndjson([s]), bundle="no-such"), 404, "no bundle"),
			(e.create(ndjson([s]), ctype="text/plain"), 415, ""),
			(e.hub.request("POST", "/v1/batches?bundle=synth2",
			    ndjson([s]), token=e.tok["CPAS"],
			    content_type="application/x-ndjson"), 400, "purpose"),
			(e.create(ndjson([s]), query="&household=maybe"), 400,
			    "household"),
			(e.create(ndjson([s]), token=H.ADMIN_TOKEN), 403, ""),
			(e.create(ndjson([s]), token="nope"), 401, ""),
		]
		for r, status, msg in cases:
			self.assertEqual(r.status, status, r)
			if msg:
				self.assertIn(msg, r.json["error"]["message"])
		# Nothing was stored, nothing consulted.
		self.assertEqual(H.db_query(e.hub.db, "SELECT count(*) FROM "
		    "batches")[0][0], H.db_query(e.hub.db, "SELECT count(*) FROM "
		    "batches WHERE status <> 'loading'")[0][0])

	def test_access_and_progress(self):
		e = self.env
		subjects = [H.person(k) for k in range(100, 400)]
		with e.hold_sources():
			r = e.create(ndjson(subjects), bundle="synth2")
			self.assertEqual(r.status, 202, r)
			bid = r.json["id"]
			# Not done: no results yet.
			r = e.hub.request("GET", "/v1/batches/%s/results" % bid,
			    token=e.tok["CPAS"])
			self.assertEqual((r.status, r.error_code), (409,
			    "CONFLICT"), r)
		r = e.status(bid, token=e.tok["OTHER"])
		self.assertEqual(r.status, 404, r)
		r = e.hub.request("GET", "/v1/batches/%s/results" % bid,
		    token=e.tok["OTHER"])
		self.assertEqual(r.status, 404, r)
		self.assertEqual(e.hub.admin("GET", "/v1/batches/" + bid).status,
		    200)
		self.assertEqual(e.hub.request("GET", "/v1/batches/" + bid).status,
		    401)
		self.assertEqual(e.status("nope").status, 404)
		st, seen = e.wait(bid)
		self.assertEqual(st["done"], 300)
		self.assertEqual(seen, sorted(seen))
		res = e.hub.admin("GET", "/v1/batches/%s/results" % bid)
		self.assertEqual(len(parse_ndjson(res.body)), 300)


def run_to(env, bid, at_least):
	deadline = time.monotonic() + 60
	while time.monotonic() < deadline:
		r = env.status(bid)
		if r.json["done"] >= at_least:
			return r.json["done"]
		time.sleep(0.02)
	raise AssertionError("batch did not reach %d" % at_least)


class CrashTests(unittest.TestCase):

	def setUp(self):
		self.env = Env(config={"batch_concurrency": 8}, delay_ms=20)

	def tearDown(self):
		self.env.close()

	def test_sigkill_then_resume_exact(self):
		e = self.env
		n = 2000
		subjects = [H.person(k) for k in range(1, n + 1)]
		r = e.create(ndjson(subjects), bundle="synth2")
		self.assertEqual(r.status, 202, r)
		bid = r.json["id"]
		before = run_to(e, bid, 300)
		self.assertLess(before, n)
		e.hub.kill()
		# What was durable at the kill.
		done_at_kill = H.db_query(e.hub.db, "SELECT count(*) FROM "
		    "batch_items WHERE state <> 0")[0][0]
		self.assertGreaterEqual(done_at_kill, before)
		self.assertLess(done_at_kill, n)
		with e.hold_sources():
			e.hub.start()
			# Resumed, not done: no results yet.
			r = e.hub.request("GET", "/v1/batches/%s/results" % bid,
			    token=e.tok["CPAS"])
			self.assertEqual((r.status, r.error_code), (409,
			    "CONFLICT"), r)
			self.assertEqual(e.status(bid).json["status"], "running")
		st, _ = e.wait(bid)
		self.assertEqual((st["status"], st["done"], st["failed"]),
		    ("done", n, 0))
		res = e.results(bid)
		self.assertEqual(len(res), n)
		self.assertEqual([x["subject"] for x in res], subjects)
		self.assertEqual([x["request_id"] for x in res],
		    ["%s.%d" % (bid, i) for i in range(1, n + 1)])
		rows = H.db_query(e.hub.db, "SELECT count(*), count(DISTINCT "
		    "line), sum(state = 1) FROM batch_items AS i JOIN batches "
		    "AS b ON b.seq = i.batch WHERE b.id = ?", (bid,))
		self.assertEqual(rows[0], (n, n, n))
		# Every line's consultations are in the log; lines in flight at
		# the kill may be there twice (consulted again), none is missing.
		rows = H.db_query(e.hub.db, "SELECT request_id, count(*) FROM "
		    "xlog WHERE request_id LIKE ? GROUP BY request_id", (bid + ".%",))
		self.assertEqual(len(rows), n)
		self.assertTrue(all(c >= 2 for _, c in rows))
		redone = sum(1 for _, c in rows if c > 2)
		self.assertLessEqual(redone, 8 + 512)
		# The same as a clean run.
		r = e.create(ndjson(subjects), bundle="synth2")
		clean = r.json["id"]
		e.wait(clean)
		self.assertEqual([strip_ids(x) for x in e.results(clean)],
		    [strip_ids(x) for x in res])
		self.assertEqual(e.hub.terminate(), 0)
		self.assertEqual(e.hub.sanitizer_reports(), [])

	def test_sigterm_then_resume(self):
		e = self.env
		n = 1000
		subjects = [H.person(k) for k in range(1, n + 1)]
		r = e.create(ndjson(subjects), bundle="synth2")
		bid = r.json["id"]
		run_to(e, bid, 100)
		self.assertEqual(e.hub.terminate(), 0)
		self.assertEqual(e.hub.sanitizer_reports(), [])
		# A clean stop writes the results of the lines in flight: each
		# line consulted once only.
		done = H.db_query(e.hub.db, "SELECT done FROM batches WHERE id = ?",
		    (bid,))[0][0]
		self.assertLess(done, n)
		e.hub.start()
		st, _ = e.wait(bid)
		self.assertEqual((st["done"], st["failed"]), (n, 0))
		self.assertEqual(len(e.results(bid)), n)
		rows = H.db_query(e.hub.db, "SELECT count(*), count(DISTINCT "
		    "request_id) FROM xlog WHERE request_id LIKE ?", (bid + ".%",))
		self.assertEqual(rows[0], (2 * n, n))


class ShortDrainTests(unittest.TestCase):
	"""drain_timeout_ms = 0 and verifications slower than that: SIGTERM
	cuts them short; their lines keep no result and are verified at the
	next start."""

	def setUp(self):
		self.env = Env(config={"batch_concurrency": 4,
		    "drain_timeout_ms": 0}, delay_ms=1500)

	def tearDown(self):
		self.env.close()

	def test_sigterm_leaves_lines_in_flight_pending(self):
		e = self.env
		n = 12
		subjects = [H.person(k) for k in range(1, n + 1)]
		r = e.create(ndjson(subjects), bundle="synth2")
		self.assertEqual(r.status, 202, r)
		bid = r.json["id"]
		deadline = time.monotonic() + 60
		while e.status(bid).json["status"] != "running":
			self.assertLess(time.monotonic(), deadline)
			time.sleep(0.01)
		self.assertEqual(e.hub.terminate(), 0)
		self.assertEqual(e.hub.sanitizer_reports(), [])
		rows = H.db_query(e.hub.db, "SELECT b.status, b.done, "
		    "count(i.line) FROM batches AS b JOIN batch_items AS i ON "
		    "i.batch = b.seq WHERE b.id = ? AND i.state = 0", (bid,))
		self.assertEqual(rows[0], ("running", 0, n))
		e.hub.start()
		st, _ = e.wait(bid)
		self.assertEqual((st["status"], st["done"], st["failed"]),
		    ("done", n, 0))
		res = e.results(bid)
		self.assertEqual([x["subject"] for x in res], subjects)
		self.assertTrue(all(x["complete"] for x in res), res)


class CliTests(unittest.TestCase):

	@classmethod
	def setUpClass(cls):
		cls.env = Env()

	@classmethod
	def tearDownClass(cls):
		cls.env.close()

	def run_cli(self, path, *extra, token=None):
		e = self.env
		return H.run_cli(["batch", "run", path, "--bundle", "synth2",
		    "--purpose", PURPOSE, "--hub", "http://127.0.0.1:%d" %
		    e.hub.port, "--interval", "50"] + list(extra),
		    env={"CROSSROADS_TOKEN": token or e.tok["CPAS"]})

	def test_cli_end_to_end(self):
		e = self.env
		subjects = [H.person(k) for k in range(1, 501)]
		path = os.path.join(e.w, "subjects.ndjson")
		with open(path, "w") as f:
			f.write(ndjson(subjects))
		p = self.run_cli(path)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertRegex(p.stderr, r"\d+\.\d%")
		self.assertIn("100.0%", p.stderr)
		with open(path + ".results.ndjson", "rb") as f:
			res = parse_ndjson(f.read())
		self.assertEqual(len(res), 500)
		self.assertEqual([x["subject"] for x in res], subjects)

	def test_cli_csv_failed_lines_and_errors(self):
		e = self.env
		path = os.path.join(e.w, "list.csv")
		out = os.path.join(e.w, "out.ndjson")
		with open(path, "w") as f:
			f.write("subject,name\n%s,a\n%s,b\n" % (H.person(1),
			    H.INSZ_INVALID))
		p = self.run_cli(path, "--out", out)
		self.assertEqual(p.returncode, 3, p.stderr)
		with open(out, "rb") as f:
			res = parse_ndjson(f.read())
		self.assertEqual(len(res), 2)
		self.assertEqual(res[1]["error"]["code"], "INVALID_SUBJECT")
		p = self.run_cli(path, "--out", out, token="bad-token")
		self.assertEqual(p.returncode, 1)
		self.assertIn("401", p.stderr)
		p = H.run_cli(["batch", "run", path])
		self.assertEqual(p.returncode, 2)

	def test_cli_every_line_refused(self):
		"""Nothing verified is not a success: every line failed, or
		every consultation of every line denied, exits 4."""
		e = self.env
		path = os.path.join(e.w, "refused.csv")
		out = os.path.join(e.w, "refused.ndjson")
		with open(path, "w") as f:
			f.write("subject\n%s\n%s\n" % (H.person(1), H.person(2)))
		# OTHER has no authorization at all.
		p = self.run_cli(path, "--out", out, token=e.tok["OTHER"])
		self.assertEqual(p.returncode, 4, p.stderr)
		self.assertIn("every line was refused", p.stderr)
		with open(out, "rb") as f:
			res = parse_ndjson(f.read())
		self.assertEqual([r["members"][0]["results"]["synth.a"]["status"]
		    for r in res], ["denied", "denied"])
		with open(path, "w") as f:
			f.write("subject\n%s\n%s\n" % (H.INSZ_INVALID,
			    H.KBO_INVALID))
		p = self.run_cli(path, "--out", out)
		self.assertEqual(p.returncode, 4, p.stderr)
		# One line verified is enough for the usual statuses.
		with open(path, "w") as f:
			f.write("subject\n%s\n" % H.person(3))
		p = self.run_cli(path, "--out", out)
		self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
	unittest.main(verbosity=2)
