"""
Integration tests of the hub under operation: load (concurrent
consultations, source isolation), configuration (body_limit, access_log),
the `directory import` command, and graceful shutdown on SIGTERM.
"""

import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

PERSON_FIELDS = ["name", "birth_date", "address", "household", "death_date"]


class HubCase(unittest.TestCase):
	"""One hub and its fixtures for the whole class."""

	config = None
	fixtures = {}		# name -> Fixture kwargs

	@classmethod
	def setUpClass(cls):
		cls.w = H.make_tmpdir()
		cls.fx = {}
		cls.hub = None
		try:
			for name, kw in cls.fixtures.items():
				cls.fx[name] = H.Fixture(cls.w, H.fixture_dataset(),
				    name=name, **kw).start()
			cls.hub = H.Hub(cls.w, config=cls.config).start()
			cls.hub.institution("RN", "National Register", "population")
			cls.hub.institution("ONEM", "Employment", "unemployment")
			cls.token = cls.hub.client("ONEM")["token"]
			cls.prepare()
		except Exception:
			cls.tearDownClass()
			raise

	@classmethod
	def prepare(cls):
		pass

	@classmethod
	def tearDownClass(cls):
		if cls.hub is not None:
			cls.hub.kill()
		for f in cls.fx.values():
			f.kill()
		H.remove_tmpdir(cls.w)


class ConcurrencyTests(HubCase):
	# Room for all 300 slow consultations at once (the default cap of 256
	# connections a source would queue the rest for another 2 s, close to
	# the 5 s timeout on a loaded machine), and room for their 320
	# connections from 127.0.0.1 (per_ip_connection_limit is 256 by
	# default).
	config = {"source_max_connections": 400,
	    "per_ip_connection_limit": 1000}
	fixtures = {"fast": {}, "slow": {"delay_ms": 2000}}

	@classmethod
	def prepare(cls):
		h = cls.hub
		h.service("population.person", "RN", cls.fx["fast"].url("/person"),
		    PERSON_FIELDS)
		h.service("slow.person", "RN", cls.fx["slow"].url("/person"),
		    PERSON_FIELDS, timeout_ms=5000)
		h.authorize("ONEM", "population.person", "benefit", ["name"],
		    ["jobseeker"])
		h.authorize("ONEM", "slow.person", "benefit", ["name"])

	def test_concurrent_consultations(self):
		h = self.hub
		s = H.person(1)
		h.integrate(self.token, s, "jobseeker")
		n = 200

		def one(i):
			rid = "conc-%04d" % i
			r = h.consult(self.token, "population.person", s, "benefit",
			    request_id=rid)
			return rid, r

		with concurrent.futures.ThreadPoolExecutor(16) as ex:
			results = list(ex.map(one, range(n)))
		bad = [(rid, r) for rid, r in results if r.status != 200]
		self.assertEqual(bad, [])
		for rid, r in results:
			self.assertEqual(r.json["request_id"], rid)
			self.assertEqual(r.json["data"], {"name": "Person " + s})
		# The consultations' entries (the integration has its own).
		entries = [e for e in h.log_entries(s, "ONEM")
		    if e["service"] == "population.person"]
		self.assertEqual(sorted(e["request_id"] for e in entries),
		    sorted(rid for rid, _ in results))
		self.assertTrue(all(e["outcome"] == "granted" for e in entries))
		seqs = [e["seq"] for e in entries]
		self.assertEqual(len(set(seqs)), n)
		self.assertEqual(seqs, sorted(seqs, reverse=True))
		v = H.log_verify(h.db)
		self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
		self.assertRegex(v.stdout + v.stderr,
		    r"exchange log intact: \d+ entries")

	def test_source_isolation(self):
		"""A slow source must not hold up consultations of a fast one."""
		h = self.hub
		n_slow, n_fast = 300, 20
		s_slow, s_fast = H.person(2), H.person(3)
		h.integrate(self.token, s_fast, "jobseeker")
		start = threading.Barrier(n_slow + 1)

		def slow(i):
			try:
				start.wait(timeout=60)
			except threading.BrokenBarrierError:
				pass
			return h.consult(self.token, "slow.person", s_slow, "benefit",
			    request_id="slow-%04d" % i)

		def fast(i):
			return h.consult(self.token, "population.person", s_fast,
			    "benefit", request_id="fast-%04d" % i)

		t0 = time.monotonic()
		with concurrent.futures.ThreadPoolExecutor(n_slow) as ex_slow, \
		    concurrent.futures.ThreadPoolExecutor(n_fast) as ex_fast:
			slow_f = [ex_slow.submit(slow, i) for i in range(n_slow)]
			start.wait(timeout=60)
			# Let the slow requests reach the hub; they take 2 s at the
			# source, so the fast ones below overlap with them.
			time.sleep(0.5)
			t_fast = time.monotonic()
			fast_r = list(ex_fast.map(fast, range(n_fast)))
			fast_done = time.monotonic()
			slow_r = [f.result() for f in slow_f]
		total = time.monotonic() - t0
		self.assertEqual([r.status for r in fast_r], [200] * n_fast,
		    [r for r in fast_r if r.status != 200][:3])
		lat = sorted(r.elapsed for r in fast_r)
		# Each fast consultation on its own: far below the slow
		# source's 2 s. The bound is generous for a loaded 2-core box.
		self.assertLess(lat[-1], 0.5, "fast latencies: %s" %
		    ["%.3f" % x for x in lat])
		# They were really concurrent with the slow ones.
		self.assertLess(fast_done - t0, 2.0, "the fast batch ended after "
		    "%.2f s" % (fast_done - t0))
		self.assertGreater(t_fast - t0, 0)
		bad = [r for r in slow_r if r.status != 200]
		self.assertEqual(bad, [], "%d slow failed, first %r" % (len(bad),
		    bad[:1]))
		# The slow ones waited at the source, concurrently (300 in series
		# would take 600 s).
		self.assertGreaterEqual(min(r.elapsed for r in slow_r), 1.9)
		self.assertLess(max(r.elapsed for r in slow_r), 4.5)
		self.assertLess(total, 20, "300 slow consultations took %.1f s" %
		    total)


class BodyLimitTests(HubCase):
	config = {"body_limit": 4096, "access_log": "off"}
	fixtures = {"fast": {}}

	@classmethod
	def prepare(cls):
		cls.hub.service("population.person", "RN",
		    cls.fx["fast"].url("/person"), PERSON_FIELDS)
		cls.hub.authorize("ONEM", "population.person", "benefit", ["name"])

	def test_oversized_bodies(self):
		h = self.hub
		s = H.person(10)
		big = "x" * 5000
		r = h.admin("POST", "/v1/institutions", {"id": "BIG",
		    "name": big, "sector": "x"})
		self.assertEqual((r.status, r.error_code),
		    (413, "PAYLOAD_TOO_LARGE"), r)
		self.assertEqual(r.json["error"]["request_id"],
		    r.header("X-Request-Id"))
		r = h.consult(self.token, "population.person", s, "benefit",
		    params={"pad": big})
		self.assertEqual((r.status, r.error_code),
		    (413, "PAYLOAD_TOO_LARGE"), r)
		r = h.request("POST", "/v1/directory", {"subject": s,
		    "capacity": big}, token=self.token)
		self.assertEqual((r.status, r.error_code),
		    (413, "PAYLOAD_TOO_LARGE"), r)
		# Just under the limit is fine (padded with blanks: the service
		# declares no params).
		body = '{"subject":"%s",%s"purpose":"benefit"}' % (s, " " * 3000)
		r = h.request("POST", "/v1/consult/population.person", body,
		    token=self.token)
		self.assertEqual(r.status, 200, r)
		# Batches have their own, larger, limit.
		h.capacity("jobseeker", ["ONEM"])
		lines = ['{"subject":"%s","capacity":"jobseeker",'
		    '"from":"2020-01-%02d","to":null}' % (s, 1 + i % 28)
		    for i in range(200)]
		body = "\n".join(lines) + "\n"
		self.assertGreater(len(body), 4096)
		r = h.request("POST", "/v1/directory/batch", body,
		    token=self.token, content_type="application/x-ndjson")
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["accepted"], 200)
		# The hub still answers after refusing large bodies.
		self.assertEqual(h.request("GET", "/healthz").status, 200)

	def test_access_log_off(self):
		h = self.hub
		for _ in range(3):
			h.request("GET", "/healthz")
		h.admin("GET", "/v1/services")
		self.assertEqual(h.access_log(), [], h.stderr()[-2000:])


class ImportTests(unittest.TestCase):
	"""`crossroads directory import` on the hub's database."""

	def setUp(self):
		self.w = H.make_tmpdir()
		self.fx = H.Fixture(self.w, H.fixture_dataset()).start()
		self.hub = H.Hub(self.w).start()

	def tearDown(self):
		self.hub.kill()
		self.fx.kill()
		H.remove_tmpdir(self.w)

	def write(self, name, text):
		p = os.path.join(self.w, name)
		with open(p, "w") as f:
			f.write(text)
		return p

	def test_import_csv_and_ndjson(self):
		h = self.hub
		h.institution("RN", "National Register", "population")
		h.institution("ONEM", "Employment", "unemployment")
		h.institution("CAAMI", "Health insurance", "health")
		tok = h.client("ONEM")["token"]
		tok2 = h.client("CAAMI")["token"]
		h.service("population.person", "RN", self.fx.url("/person"),
		    PERSON_FIELDS)
		h.authorize("ONEM", "population.person", "benefit", ["name"],
		    ["jobseeker"])
		h.authorize("CAAMI", "population.person", "care", ["address"],
		    ["insured"])
		s = [H.person(k) for k in range(20, 30)]
		before = h.consult(tok, "population.person", s[0], "benefit")
		self.assertEqual(before.error_code, "NOT_INTEGRATED", before)
		self.assertEqual(h.terminate(), 0)

		csv1 = self.write("a.csv", "subject,capacity,from,to\n"
		    "%s,jobseeker,2020-01-01,\n"
		    "%s,jobseeker,2020-01-01,2021-12-31\n" % (s[0], s[1]))
		p = H.run_cli(["directory", "import", csv1, "--db", h.db,
		    "--institution", "ONEM"])
		self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

		csv2 = self.write("b.csv", "subject,capacity,from,to,institution\n"
		    "%s,insured,2020-01-01,,CAAMI\n"
		    "%s,jobseeker,2020-01-01,,ONEM\n" % (s[2], s[3]))
		p = H.run_cli(["directory", "import", csv2, "--db", h.db])
		self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

		nd = self.write("c.ndjson",
		    '{"subject":"%s","capacity":"jobseeker","from":"2020-01-01",'
		    '"to":null}\n'
		    '{"subject":"%s","capacity":"jobseeker","from":"2020-01-01",'
		    '"to":null}\n'
		    'this is not json\n'
		    '{"subject":"%s","capacity":"jobseeker","from":"2022-01-01",'
		    '"to":null}\n' % (s[4], H.INSZ_INVALID, s[5]))
		p = H.run_cli(["directory", "import", nd, "--db", h.db,
		    "--institution", "ONEM"])
		self.assertEqual(p.returncode, 3, p.stdout + p.stderr)

		bad = self.write("d.csv", "subject,capacity,from,to\n"
		    "%s,jobseeker,2020-01-01,\n" % s[6])
		p = H.run_cli(["directory", "import", bad, "--db", h.db,
		    "--institution", "NO-SUCH-INST"])
		self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)

		h.start()
		c = lambda subj, ref=None: h.consult(tok, "population.person",
		    subj, "benefit", reference_date=ref)
		for subj in (s[0], s[3], s[4], s[5]):
			r = c(subj)
			self.assertEqual(r.status, 200, (subj, r))
			self.assertEqual(r.json["data"], {"name": "Person " + subj})
		self.assertEqual(c(s[1]).error_code, "NOT_INTEGRATED")
		self.assertEqual(c(s[1], "2021-06-01").status, 200)
		self.assertEqual(c(s[2]).error_code, "NOT_INTEGRATED")
		self.assertEqual(c(s[6]).error_code, "NOT_INTEGRATED")
		r = h.consult(tok2, "population.person", s[2], "care")
		self.assertEqual(r.status, 200, r)
		r = h.admin("GET", "/v1/directory/" + s[5])
		self.assertEqual([(e["institution"], e["capacity"], e["from"],
		    e["to"]) for e in r.json["entries"]],
		    [("ONEM", "jobseeker", "2022-01-01", None)])
		# The import refused it: it is not there, and cannot be asked for.
		r = h.admin("GET", "/v1/directory/" + H.INSZ_INVALID)
		self.assertEqual((r.status, r.error_code), (400,
		    "INVALID_SUBJECT"), r)


class OfflineCommandTests(unittest.TestCase):
	"""The commands that work on a database file without a hub: `log
	verify` reads only (a missing file, a wrong one or a source's is
	refused and left as it was; a read-only copy verifies); `registry
	import` and `directory import` write, may create a new hub database,
	but never turn someone else's database into one."""

	@classmethod
	def setUpClass(cls):
		cls.w = H.make_tmpdir()
		cls.fx = H.Fixture(cls.w, H.fixture_dataset()).start()
		h = cls.hub = H.Hub(cls.w).start()
		h.institution("RN", "National Register", "population")
		h.institution("ONEM", "Employment", "unemployment")
		tok = h.client("ONEM")["token"]
		h.service("population.person", "RN", cls.fx.url("/person"),
		    PERSON_FIELDS)
		h.authorize("ONEM", "population.person", "benefit", ["name"])
		for k in range(3):
			r = h.consult(tok, "population.person", H.person(k + 1),
			    "benefit")
			assert r.status == 200, r
		assert h.terminate() == 0
		cls.fx.kill()
		cls.country = os.path.join(cls.w, "country")
		p = H.run_cli(["gen", "--out", cls.country, "--persons", "20",
		    "-q"])
		assert p.returncode == 0, p.stderr
		cls.source_db = os.path.join(cls.country, "population.db")

	@classmethod
	def tearDownClass(cls):
		cls.hub.kill()
		cls.fx.kill()
		for root, dirs, _ in os.walk(cls.w):
			for d in dirs:
				os.chmod(os.path.join(root, d), 0o755)
		H.remove_tmpdir(cls.w)

	def listing(self, d):
		return sorted(os.listdir(d))

	def schema(self, db):
		return H.db_query(db, "SELECT type, name, sql FROM sqlite_master "
		    "ORDER BY name") + H.db_query(db, "PRAGMA journal_mode")

	def refused(self, args, path, what):
		"""Runs a command that must fail on path and leave its directory
		and the file as they were."""
		d = os.path.dirname(path)
		before = self.listing(d)
		content = None
		if os.path.isfile(path):
			with open(path, "rb") as f:
				content = f.read()
		p = H.run_cli(args)
		self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)
		self.assertIn(path, p.stderr)
		self.assertIn(what, p.stderr)
		self.assertNotIn("intact", p.stdout)
		self.assertEqual(self.listing(d), before)
		if content is not None:
			with open(path, "rb") as f:
				self.assertEqual(f.read(), content)
		return p

	def verify_intact(self, db):
		p = H.log_verify(db)
		self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
		self.assertEqual(p.stdout, "exchange log intact: 3 entries\n")

	def verify_intact_unprivileged(self, db):
		"""As an auditor who may write nothing there: root writes
		anywhere, so when the suite runs as root, as nobody too."""
		if os.geteuid() != 0 or shutil.which("setpriv") is None:
			return
		hub, _ = H.binaries()
		os.chmod(self.w, 0o755)
		p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
		    "--clear-groups", hub, "log", "verify", "--db", db],
		    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
		    stderr=subprocess.PIPE, timeout=120, text=True)
		self.assertEqual((p.returncode, p.stdout), (0,
		    "exchange log intact: 3 entries\n"), p.stderr)

	def test_log_verify_the_hub_database(self):
		self.verify_intact(self.hub.db)

	def test_log_verify_missing_file(self):
		path = os.path.join(self.w, "no-such.db")
		self.refused(["log", "verify", "--db", path], path,
		    "no such file")
		self.assertFalse(os.path.exists(path))

	def test_log_verify_wrong_files(self):
		cfg = os.path.join(self.country, "population.conf")
		self.refused(["log", "verify", "--db", cfg], cfg,
		    "not a Crossroads hub database")
		self.refused(["log", "verify", "--db", self.country],
		    self.country, "not a regular file")
		empty = os.path.join(self.w, "empty.db")
		open(empty, "w").close()
		self.refused(["log", "verify", "--db", empty], empty,
		    "not a Crossroads hub database")
		self.assertEqual(os.path.getsize(empty), 0)

	def test_log_verify_source_database(self):
		before = self.schema(self.source_db)
		self.refused(["log", "verify", "--db", self.source_db],
		    self.source_db, "not a Crossroads hub database")
		self.assertEqual(self.schema(self.source_db), before)

	def test_log_verify_read_only_copies(self):
		# chmod 0444 in a writable directory.
		d1 = os.path.join(self.w, "audit1")
		os.mkdir(d1)
		c1 = os.path.join(d1, "hub.db")
		shutil.copy(self.hub.db, c1)
		os.chmod(c1, 0o444)
		self.verify_intact(c1)
		self.verify_intact_unprivileged(c1)
		self.assertEqual(self.listing(d1), ["hub.db"])
		# A read-only directory.
		d2 = os.path.join(self.w, "audit2")
		os.mkdir(d2)
		shutil.copy(self.hub.db, os.path.join(d2, "hub.db"))
		os.chmod(os.path.join(d2, "hub.db"), 0o644)
		os.chmod(d2, 0o555)
		self.verify_intact(os.path.join(d2, "hub.db"))
		self.verify_intact_unprivileged(os.path.join(d2, "hub.db"))
		self.assertEqual(self.listing(d2), ["hub.db"])

	def test_imports_refuse_a_source_database(self):
		before = self.schema(self.source_db)
		reg = os.path.join(self.country, "registry.json")
		self.refused(["registry", "import", reg, "--db", self.source_db],
		    self.source_db, "not a Crossroads hub database")
		csv = os.path.join(self.country, "directory.csv")
		self.refused(["directory", "import", csv, "--db",
		    self.source_db], self.source_db,
		    "not a Crossroads hub database")
		self.assertEqual(self.schema(self.source_db), before)

	def test_registry_import_creates_a_new_database(self):
		db = os.path.join(self.w, "new-hub.db")
		reg = os.path.join(self.country, "registry.json")
		p = H.run_cli(["registry", "import", reg, "--db", db])
		self.assertEqual(p.returncode, 0, p.stderr)
		p = H.log_verify(db)
		self.assertEqual((p.returncode, p.stdout), (0,
		    "exchange log intact: 0 entries\n"), p.stderr)


class AccessLogTests(HubCase):
	"""Every access line is one JSON object in valid UTF-8, whatever bytes
	the request line carries (the method used to be written unescaped)."""

	METHODS = [b'GE"T', b'G\\T', b'G\x01T', b'G\x1fT', b'G\x7fT',
	    b'"}{"x":"', b'G\xc3\xa9T', b'\xff\xfe', b'G\xe2\x82T',
	    b'G\xed\xa0\x80T', b'G\xc0\xafT', b'\\u0000']

	def test_methods_escaped(self):
		h = self.hub
		sent = {}
		for i, m in enumerate(self.METHODS):
			for path in (b"/healthz", b"/v1/services"):
				rid = H.new_request_id("inj%d" % i)
				r = H.raw_send(h.port, m + b" " + path +
				    b" HTTP/1.1\r\nHost: x\r\nX-Request-Id: " +
				    rid.encode() + b"\r\nAuthorization: Bearer " +
				    self.token.encode() + b"\r\nConnection: close\r\n"
				    b"\r\n")
				self.assertTrue(r.startswith(b"HTTP/1.1 "), (m, r))
				sent[rid] = m
		for rid, m in sent.items():
			line = H.wait_access_line(h.stderr_path, rid)
			# What was sent, invalid UTF-8 shown as U+FFFD.
			self.assertEqual(line["method"], m.decode("utf-8", "replace"),
			    m)
			self.assertEqual(set(line), {"ts", "request_id", "method",
			    "route", "status", "ms", "institution"}, line)
		# A long method is cut, never in the middle of the JSON.
		rid = H.new_request_id("long")
		H.raw_send(h.port, b"ABCDEFGHIJKLMN\xc3\xa9\xc3\xa9 /healthz "
		    b"HTTP/1.1\r\nX-Request-Id: " + rid.encode() +
		    b"\r\nConnection: close\r\n\r\n")
		line = H.wait_access_line(h.stderr_path, rid)
		self.assertTrue(line["method"].startswith("ABCDEFGHIJKLMN"), line)
		# Every line of the log parses (access_lines raises otherwise).
		self.assertGreater(len(h.access_log()), len(sent))


class FramingTests(HubCase):
	"""A request whose length two parsers could read differently (request
	smuggling: Content-Length with Transfer-Encoding, or Content-Length
	headers that disagree) is refused with 400 and its connection closed,
	before anything of it is acted on; what follows it on the connection
	is never read as another request."""

	def post(self, iid, framing, body):
		return (b"POST /v1/institutions HTTP/1.1\r\nHost: x\r\n"
		    b"Authorization: Bearer " + H.ADMIN_TOKEN.encode() +
		    b"\r\nContent-Type: application/json\r\n" + framing +
		    b"\r\n" + body)

	def institutions(self):
		r = self.hub.request("GET", "/v1/institutions", token=H.ADMIN_TOKEN)
		self.assertEqual(r.status, 200, r)
		return {i["id"] for i in r.json["institutions"]}

	def body(self, iid):
		return json.dumps({"id": iid, "name": "n",
		    "sector": "s"}).encode()

	def assert_refused(self, data, iid, by_mhd=False):
		out, closed = H.keepalive_exchange(self.hub.port, data)
		self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out[:200])
		self.assertTrue(closed, out[:300])
		self.assertNotIn(iid, self.institutions())
		if by_mhd:
			# libmicrohttpd refuses it itself, before the hub sees
			# it, with a page of its own.
			self.assertIn(b"Content-Length", out)
		else:
			self.assertIn(b'"BAD_REQUEST"', out)
			self.assertEqual(out.count(b"HTTP/1.1 "), 1, out)

	def test_content_length_and_transfer_encoding(self):
		b = self.body("SMUG1")
		chunked = b"%x\r\n" % len(b) + b + b"\r\n0\r\n\r\n"
		# A smuggled second request after the chunked body.
		tail = self.post("SMUG2", b"Content-Length: %d\r\n" %
		    len(self.body("SMUG2")), self.body("SMUG2"))
		self.assert_refused(self.post("SMUG1", b"Content-Length: %d\r\n"
		    b"Transfer-Encoding: chunked\r\n" % len(chunked), chunked) +
		    tail, "SMUG1")
		self.assertNotIn("SMUG2", self.institutions())

	def test_conflicting_content_lengths(self):
		b = self.body("SMUG3")
		two = b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(b),
		    len(b) + 4)
		self.assert_refused(self.post("SMUG3", two, b + b"{}{}"), "SMUG3")
		listed = b"Content-Length: %d, %d\r\n" % (len(b), len(b) + 4)
		self.assert_refused(self.post("SMUG3", listed, b + b"{}{}"),
		    "SMUG3", by_mhd=True)

	def test_identical_content_lengths_accepted(self):
		b = self.body("SMUG4")
		out, _ = H.keepalive_exchange(self.hub.port, self.post("SMUG4",
		    b"Content-Length: %d\r\nContent-Length: %d\r\n" %
		    (len(b), len(b)), b))
		self.assertTrue(out.startswith(b"HTTP/1.1 201 "), out[:200])
		self.assertIn("SMUG4", self.institutions())


class ReadinessTests(unittest.TestCase):
	"""/readyz follows the storage, /healthz does not."""

	def setUp(self):
		self.w = H.make_tmpdir()
		prefix = []
		# Root writes a file whatever its mode: the hub runs as nobody
		# then, in a directory of nobody's.
		if os.geteuid() == 0:
			self.assertIsNotNone(shutil.which("setpriv"))
			os.chown(self.w, 65534, 65534)
			os.chmod(self.w, 0o755)
			prefix = ["setpriv", "--reuid=65534", "--regid=65534",
			    "--clear-groups"]
		self.hub = H.Hub(self.w, prefix=prefix).start()

	def tearDown(self):
		self.hub.kill()
		H.remove_tmpdir(self.w)

	def get(self, path, method="GET"):
		return H.http_request(self.hub.port, method, path)

	def wait_readyz(self, status):
		"""/readyz until it answers status (10 s at most); /healthz
		answers 200 all along."""
		deadline = time.monotonic() + 10
		while True:
			r = self.get("/readyz")
			self.assertEqual(self.get("/healthz").status, 200)
			if r.status == status or time.monotonic() > deadline:
				return r
			time.sleep(0.1)

	def test_readyz_follows_storage(self):
		r = self.get("/readyz")
		self.assertEqual((r.status, r.json), (200, {"status": "ready"}))
		self.assertEqual(self.get("/readyz", "HEAD").status, 200)
		os.chmod(self.hub.db, 0o444)
		r = self.wait_readyz(503)
		self.assertEqual((r.status, r.error_code), (503, "UNAVAILABLE"),
		    r)
		self.assertIn("storage not writable", r.json["error"]["message"])
		self.assertEqual(r.json["error"]["request_id"],
		    r.header("X-Request-Id"))
		self.assertEqual(self.get("/readyz", "HEAD").status, 503)
		self.assertIn("not writable", self.hub.stderr())
		os.chmod(self.hub.db, 0o644)
		r = self.wait_readyz(200)
		self.assertEqual((r.status, r.json), (200, {"status": "ready"}))
		self.assertEqual(self.hub.terminate(), 0)

	def test_readyz_refuses_other_methods(self):
		r = H.http_request(self.hub.port, "POST", "/readyz", body={})
		self.assertEqual(r.status, 405)
		self.assertEqual(r.header("Allow"), "GET, HEAD")


class SigtermTests(unittest.TestCase):

	def setUp(self):
		self.w = H.make_tmpdir()
		self.fx = H.Fixture(self.w, H.fixture_dataset(), delay_ms=2000)
		self.fx.start()
		self.hub = H.Hub(self.w).start()

	def tearDown(self):
		self.hub.kill()
		self.fx.kill()
		H.remove_tmpdir(self.w)

	def test_graceful_sigterm(self):
		h = self.hub
		h.institution("RN", "National Register", "population")
		h.institution("ONEM", "Employment", "unemployment")
		tok = h.client("ONEM")["token"]
		h.service("slow.person", "RN", self.fx.url("/person"),
		    PERSON_FIELDS, timeout_ms=8000)
		h.authorize("ONEM", "slow.person", "benefit", ["name"])
		s = H.person(40)
		res = {}

		def run(i):
			res[i] = h.consult(tok, "slow.person", s, "benefit",
			    request_id="term-%d" % i)

		ts = [threading.Thread(target=run, args=(i,)) for i in range(5)]
		for t in ts:
			t.start()
		# The requests are now waiting on the 2 s source.
		time.sleep(0.8)
		t0 = time.monotonic()
		rc = h.terminate(timeout=30)
		took = time.monotonic() - t0
		for t in ts:
			t.join(timeout=30)
		self.assertEqual(rc, 0, h.stderr()[-2000:])
		self.assertEqual(sorted(res), list(range(5)))
		for i, r in res.items():
			self.assertEqual(r.status, 200, r)
			self.assertEqual(r.json["data"], {"name": "Person " + s})
		self.assertLess(took, 15)
		v = H.log_verify(h.db)
		self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
		self.assertIn("exchange log intact: 5 entries", v.stdout + v.stderr)
		rows = H.db_query(h.db, "SELECT request_id, outcome FROM xlog "
		    "ORDER BY seq")
		self.assertEqual(sorted(rows), [("term-%d" % i, "granted")
		    for i in range(5)])

	def test_sigterm_under_keepalive_load(self):
		"""Clients keep sending on kept-alive connections while the hub
		stops: requests after the signal get 503, none may reach parts
		already stopped (a crash, or a sanitizer report)."""
		import http.client
		import json
		h = self.hub
		fast = H.Fixture(self.w, H.fixture_dataset(), name="fastterm")
		fast.start()
		try:
			h.institution("RN", "National Register", "population")
			h.institution("ONEM", "Employment", "unemployment")
			tok = h.client("ONEM")["token"]
			h.service("fast.person", "RN", fast.url("/person"),
			    PERSON_FIELDS)
			h.authorize("ONEM", "fast.person", "benefit", ["name"])
			s = H.person(41)
			body = json.dumps({"subject": s, "purpose": "benefit"})
			statuses = []
			lock = threading.Lock()
			stop = threading.Event()

			def hammer():
				c = http.client.HTTPConnection("127.0.0.1", h.port,
				    timeout=10)
				while not stop.is_set():
					try:
						c.request("POST",
						    "/v1/consult/fast.person", body,
						    {"Authorization": "Bearer " + tok})
						r = c.getresponse()
						r.read()
					except (OSError, http.client.HTTPException):
						break
					with lock:
						statuses.append(r.status)
				c.close()

			ts = [threading.Thread(target=hammer) for _ in range(8)]
			for t in ts:
				t.start()
			time.sleep(0.7)
			rc = h.terminate(timeout=30)
			stop.set()
			for t in ts:
				t.join(timeout=30)
		finally:
			fast.kill()
		self.assertEqual(rc, 0, h.stderr()[-2000:])
		self.assertEqual(h.sanitizer_reports(), [])
		self.assertIn(200, statuses)
		self.assertTrue(set(statuses) <= {200, 503}, set(statuses))
		v = H.log_verify(h.db)
		self.assertEqual(v.returncode, 0, v.stdout + v.stderr)

	def test_listener_held_until_stopped(self):
		"""On SIGTERM the hub stops accepting at once (a new connection is
		refused, not left waiting in the backlog) but holds its listening
		socket open until the HTTP daemon has stopped, as libmicrohttpd
		requires of the socket MHD_quiesce_daemon returns."""
		h = self.hub
		pid = h.proc.pid
		inode = H.listen_inode(pid, h.port)
		self.assertIsNotNone(inode)
		self.assertIn(inode, H.open_socket_inodes(pid))
		# A request in flight keeps the hub draining.
		s = H.start_slow_upload(h.port, "/v1/directory")
		h.proc.send_signal(signal.SIGTERM)
		deadline = time.monotonic() + 10
		while not H.connect_refused(h.port):
			self.assertLess(time.monotonic(), deadline,
			    "still accepting after SIGTERM")
			time.sleep(0.02)
		self.assertTrue(h.running(), h.stderr()[-2000:])
		self.assertIn(inode, H.open_socket_inodes(pid))
		self.assertEqual(H.finish_slow_upload(s), 401)
		self.assertEqual(h.terminate(timeout=30), 0, h.stderr()[-2000:])
		self.assertEqual(h.sanitizer_reports(), [])

	def test_sigterm_idle(self):
		t0 = time.monotonic()
		self.assertEqual(self.hub.terminate(timeout=30), 0)
		self.assertLess(time.monotonic() - t0, 10)


if __name__ == "__main__":
	unittest.main()
