"""
Integration tests of `crossroads source --config FILE`, the no-code source
adapter (docs/source-adapter.md): an SQLite database built here is served
through the source protocol; every mapping feature, bad requests, SQL
injection attempts, config errors, health, metrics, signals, and a
consultation through a real hub.

Python 3 standard library only. CROSSROADS_BIN is the crossroads binary.
"""

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# harness.binaries() also wants the fixture source; use the one built
# beside the hub when the caller did not name it.
if "CROSSROADS_FIXTURE_SOURCE" not in os.environ and \
    "CROSSROADS_BIN" in os.environ:
	_fix = os.path.join(os.path.dirname(os.environ["CROSSROADS_BIN"]),
	    "crossroads-fixture-source")
	if os.access(_fix, os.X_OK):
		os.environ["CROSSROADS_FIXTURE_SOURCE"] = _fix

import harness as H  # noqa: E402

P1, P2, P3 = H.INSZ_VALID		# valid INSZ, so the hub accepts them
UNKNOWN = H.person(900)

SCHEMA = """
CREATE TABLE person(id TEXT PRIMARY KEY, name TEXT, birth_date TEXT,
    address TEXT, death_date TEXT, height REAL, children INTEGER,
    employer_id INTEGER, internal_note TEXT);
CREATE TABLE household(person TEXT, member TEXT, relation TEXT);
CREATE TABLE employer(id INTEGER PRIMARY KEY, name TEXT, kbo TEXT);
CREATE TABLE income(person TEXT, year INTEGER, amount REAL);
"""

CONFIG = """# Population register of the tests
listen = 127.0.0.1:0
database = sqlite:pop.db        # relative to this file
threads = 2
max_rows = 50

[service population.person]
path = /person
query = SELECT name, birth_date, address, death_date, height, children, \\
               employer_id, internal_note \\
        FROM person WHERE id = :subject
list household = SELECT member AS subject, relation FROM household \\
                 WHERE person = :subject ORDER BY member
object employer = SELECT name, kbo FROM employer WHERE id = :employer_id

[service finance.income]
path = /income
query = SELECT year, amount FROM income \\
        WHERE person = :subject AND year = :params.year
# abs() of the smallest integer overflows when the query runs: a 500.
[service arith]
path = /arith
query = SELECT name, abs(:params.n) AS v FROM person WHERE id = :subject
"""

W = None
SRC = None
DB = None


def build_db(path):
	c = sqlite3.connect(path)
	c.executescript(SCHEMA)
	c.execute("INSERT INTO person VALUES(?,?,?,?,?,?,?,?,?)", (P1,
	    "Jan Peeters", "1985-07-30", "Rue de la Loi 16, 1000 Brussels", None,
	    1.75, 2, 7, "do not share"))
	c.execute("INSERT INTO person VALUES(?,?,?,?,?,?,?,?,?)", (P2,
	    "An Peeters", "2017-07-30", "Rue de la Loi 16, 1000 Brussels", None,
	    1.1, 0, None, None))
	c.execute("INSERT INTO person VALUES(?,?,?,?,?,?,?,?,?)", (P3,
	    "Ghislain O'Brien", "1901-07-30", "Chemin du Moulin 2, 5000 Namur",
	    "1989-02-01", None, 5, None, "x' OR '1'='1"))
	c.executemany("INSERT INTO household VALUES(?,?,?)", [(P1, P1, "self"),
	    (P1, P2, "child"), (P2, P2, "self"), (P2, P1, "parent")])
	c.execute("INSERT INTO employer VALUES(7, 'Acme SA', '0203201340')")
	c.executemany("INSERT INTO income VALUES(?,?,?)", [(P1, 2020, 31000.5),
	    (P1, 2021, 32000.0)])
	c.commit()
	c.close()


def file_hash(path):
	with open(path, "rb") as f:
		return hashlib.sha256(f.read()).hexdigest()


class Source:
	"""A `crossroads source` process."""

	def __init__(self, workdir, config_text, name="source"):
		self.bin = os.environ.get("CROSSROADS_BIN")
		if not self.bin:
			self.bin, _ = H.binaries()
		self.workdir = workdir
		self.name = name
		self.config = os.path.join(workdir, name + ".conf")
		with open(self.config, "w") as f:
			f.write(config_text)
		self.proc = None
		self.port = None
		self.out = os.path.join(workdir, name + ".stdout")
		self.err = os.path.join(workdir, name + ".stderr")

	def start(self):
		self.proc = H._spawn([self.bin, "source", "--config", self.config],
		    dict(os.environ), self.out, self.err)
		deadline = time.monotonic() + H.READY_TIMEOUT
		while time.monotonic() < deadline:
			m = re.search(r"source listening on 127\.0\.0\.1:(\d+)",
			    H._read(self.out))
			if m:
				self.port = int(m.group(1))
				return self
			if self.proc.poll() is not None:
				break
			time.sleep(0.02)
		self.kill()
		raise RuntimeError("source did not start; stderr:\n" +
		    H._read(self.err)[-2000:])

	def url(self, path):
		return "http://127.0.0.1:%d%s" % (self.port, path)

	def post(self, path, body, **kw):
		return H.http_request(self.port, "POST", path, body=body, **kw)

	def lookup(self, path, subject, params=None):
		body = {"subject": subject, "params": params or {},
		    "request_id": H.new_request_id(), "consumer": "ONEM",
		    "purpose": "test"}
		return self.post(path, body)

	def stderr(self):
		return H._read(self.err)

	def kill(self):
		if self.proc is not None and self.proc.poll() is None:
			self.proc.kill()
			self.proc.wait(timeout=10)

	def signal(self, sig, timeout=15):
		self.proc.send_signal(sig)
		try:
			return self.proc.wait(timeout=timeout)
		except subprocess.TimeoutExpired:
			self.kill()
			return None


def setUpModule():
	global W, SRC, DB
	W = H.make_tmpdir("crossroads-adapter-")
	try:
		DB = os.path.join(W, "pop.db")
		build_db(DB)
		SRC = Source(W, CONFIG).start()
	except Exception:
		tearDownModule()
		raise


def tearDownModule():
	if SRC is not None:
		SRC.kill()
	if W is not None:
		H.remove_tmpdir(W)


class Mapping(unittest.TestCase):

	def test_scalars_and_types(self):
		r = SRC.lookup("/person", P1)
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.header("content-type"), "application/json")
		d = r.json["data"]
		self.assertEqual(d["name"], "Jan Peeters")
		self.assertEqual(d["birth_date"], "1985-07-30")
		self.assertIsNone(d["death_date"])
		self.assertIn("death_date", d)
		self.assertIsInstance(d["children"], int)
		self.assertEqual(d["children"], 2)
		self.assertIsInstance(d["height"], float)
		self.assertEqual(d["height"], 1.75)
		self.assertEqual(d["employer_id"], 7)

	def test_quotes_in_data(self):
		r = SRC.lookup("/person", P3)
		self.assertEqual(r.status, 200, r)
		d = r.json["data"]
		self.assertEqual(d["name"], "Ghislain O'Brien")
		self.assertEqual(d["death_date"], "1989-02-01")
		self.assertIsNone(d["height"])
		self.assertEqual(d["internal_note"], "x' OR '1'='1")

	def test_nested_list_and_object(self):
		d = SRC.lookup("/person", P1).json["data"]
		# ORDER BY member: the list keeps the query's order.
		self.assertEqual(d["household"], sorted([
		    {"subject": P2, "relation": "child"},
		    {"subject": P1, "relation": "self"}], key=lambda m: m["subject"]))
		self.assertEqual(d["employer"], {"name": "Acme SA",
		    "kbo": "0203201340"})

	def test_nested_empty(self):
		d = SRC.lookup("/person", P3).json["data"]
		self.assertEqual(d["household"], [])
		self.assertIsNone(d["employer"])

	def test_params(self):
		r = SRC.lookup("/income", P1, {"year": 2021})
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["data"], {"year": 2021, "amount": 32000.0})
		r = SRC.lookup("/income", P1, {"year": "2020"})
		self.assertEqual(r.json["data"], {"year": 2020, "amount": 31000.5})
		r = SRC.lookup("/income", P1, {"year": 1999})
		self.assertEqual(r.status, 404, r)
		r = SRC.lookup("/income", P1)
		self.assertEqual(r.status, 400, r)
		self.assertIn("params.year", r.json["error"])
		r = SRC.lookup("/income", P1, {"year": [2020]})
		self.assertEqual(r.status, 400, r)

	def test_unknown_subject(self):
		r = SRC.lookup("/person", UNKNOWN)
		self.assertEqual(r.status, 404, r)
		self.assertEqual(r.json, {"error": "no data"})

	def test_protocol_fields_optional(self):
		r = SRC.post("/person", {"subject": P1})
		self.assertEqual(r.status, 200, r)
		r = SRC.post("/person", {"subject": P1, "params": None,
		    "future_field": 1})
		self.assertEqual(r.status, 200, r)


class BadRequests(unittest.TestCase):

	def test_bodies(self):
		for body in ("", "not json", "[1]", '{"subject": 5}', "{}",
		    '{"subject": ""}', '{"subject": "%s", "params": [1]}' % P1,
		    '{"subject": "%s", "params": "x"}' % P1):
			r = SRC.post("/person", body)
			self.assertEqual(r.status, 400, (body, r))
			self.assertIsInstance(r.json.get("error"), str)

	def test_paths_and_methods(self):
		r = H.http_request(SRC.port, "GET", "/person")
		self.assertEqual(r.status, 405, r)
		self.assertEqual(r.header("allow"), "POST")
		r = SRC.post("/nothing", {"subject": P1})
		self.assertEqual(r.status, 404, r)
		r = SRC.post("/healthz", {"subject": P1})
		self.assertEqual(r.status, 405, r)
		self.assertEqual(r.header("allow"), "GET, HEAD")
		r = H.http_request(SRC.port, "HEAD", "/person")
		self.assertEqual(r.status, 405, r)
		self.assertEqual(r.header("allow"), "POST")

	def test_ambiguous_framing_refused(self):
		# Request smuggling: the hub's request is read one way only.
		b = json.dumps({"subject": P1}).encode()
		chunked = b"%x\r\n" % len(b) + b + b"\r\n0\r\n\r\n"
		for framing, body in ((b"Content-Length: %d\r\nTransfer-Encoding: "
		    b"chunked\r\n" % len(chunked), chunked),
		    (b"Content-Length: %d\r\nContent-Length: %d\r\n" %
		    (len(b), len(b) + 2), b + b"{}")):
			out, closed = H.keepalive_exchange(SRC.port,
			    b"POST /person HTTP/1.1\r\nHost: x\r\n"
			    b"Content-Type: application/json\r\n" + framing +
			    b"\r\n" + body)
			self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out[:200])
			self.assertEqual(out.count(b"HTTP/1.1 "), 1, out)
			self.assertTrue(closed, out[:200])
			self.assertNotIn(b'"data"', out)

	def test_head_as_get(self):
		for path in ("/healthz", "/metrics", "/nothing"):
			g = H.http_request(SRC.port, "GET", path)
			h = H.http_request(SRC.port, "HEAD", path)
			self.assertEqual(h.status, g.status, path)
			self.assertEqual(h.body, b"", path)
			self.assertEqual(set(h.headers) - {"date"},
			    set(g.headers) - {"date"}, path)
			self.assertEqual(h.header("content-type"),
			    g.header("content-type"), path)
		g = H.http_request(SRC.port, "GET", "/healthz")
		h = H.http_request(SRC.port, "HEAD", "/healthz")
		self.assertEqual(h.header("content-length"),
		    g.header("content-length"))

	def test_database_error(self):
		r = SRC.lookup("/arith", P1, {"n": -5})
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["data"]["v"], 5)
		r = SRC.lookup("/arith", P1, {"n": -9223372036854775808})
		self.assertEqual(r.status, 500, r)
		self.assertEqual(r.json, {"error": "database error"})
		self.assertIn("integer overflow", SRC.stderr())
		# The thread's connection and statement still work.
		self.assertEqual(SRC.lookup("/arith", P1, {"n": 1}).status, 200)

	def test_body_too_large(self):
		r = SRC.post("/person", {"subject": P1, "pad": "x" * 200000})
		self.assertEqual(r.status, 413, r)


class Injection(unittest.TestCase):

	SUBJECTS = [
		"x' OR '1'='1",
		"' OR 1=1 --",
		P1 + "' OR '1'='1",
		"1; DROP TABLE person",
		P1 + "; DROP TABLE person; --",
		"' UNION SELECT name, birth_date, address, death_date, height, "
		"children, employer_id, internal_note FROM person --",
		"x\" OR \"1\"=\"1",
		":subject",
		"%",
		"*",
	]

	def test_subject(self):
		before = file_hash(DB)
		for s in self.SUBJECTS:
			r = SRC.lookup("/person", s)
			self.assertEqual(r.status, 404, (s, r))
		self.assertEqual(file_hash(DB), before)
		self.assert_intact()

	def test_params(self):
		before = file_hash(DB)
		for y in ["2020 OR 1=1", "2020; DROP TABLE income",
		    "0 UNION SELECT 1, 2", "' OR ''='"]:
			r = SRC.lookup("/income", P1, {"year": y})
			# Bound as a value: it matches no year, nothing runs.
			self.assertEqual(r.status, 404, (y, r))
		r = SRC.lookup("/income", "' OR 1=1 --", {"year": 2020})
		self.assertEqual(r.status, 404, r)
		self.assertEqual(file_hash(DB), before)
		self.assert_intact()

	def assert_intact(self):
		rows = H.db_query(DB, "SELECT count(*) FROM person")[0][0]
		self.assertEqual(rows, 3)
		rows = H.db_query(DB, "SELECT count(*) FROM income")[0][0]
		self.assertEqual(rows, 2)
		self.assertEqual(SRC.lookup("/person", P1).status, 200)


class Operations(unittest.TestCase):

	def test_healthz(self):
		r = H.http_request(SRC.port, "GET", "/healthz")
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json, {"status": "ok"})

	def test_metrics(self):
		SRC.lookup("/person", P1)
		SRC.lookup("/person", UNKNOWN)
		r = H.http_request(SRC.port, "GET", "/metrics")
		self.assertEqual(r.status, 200, r)
		text = r.body.decode()
		m = re.search(r'^crossroads_source_requests_total\{service='
		    r'"population\.person",status="200"\} (\d+)$', text, re.M)
		self.assertIsNotNone(m, text)
		self.assertGreaterEqual(int(m.group(1)), 1)
		self.assertRegex(text, r'(?m)^crossroads_source_requests_total\{'
		    r'service="population\.person",status="404"\} [1-9]')
		m = re.search(r'^crossroads_source_query_duration_seconds_count\{'
		    r'service="population\.person"\} (\d+)$', text, re.M)
		self.assertIsNotNone(m, text)
		self.assertGreaterEqual(int(m.group(1)), 2)
		self.assertIn('crossroads_source_query_duration_seconds_bucket{'
		    'service="finance.income",le="+Inf"}', text)

	def test_listener_held_until_stopped(self):
		"""SIGTERM: new connections are refused at once, requests in flight
		finish, and the listening socket stays open until the daemon has
		stopped (libmicrohttpd forbids closing it earlier)."""
		s = Source(W, CONFIG, name="drain").start()
		try:
			pid = s.proc.pid
			inode = H.listen_inode(pid, s.port)
			self.assertIsNotNone(inode)
			up = H.start_slow_upload(s.port, "/person")
			s.proc.send_signal(signal.SIGTERM)
			deadline = time.monotonic() + 10
			while not H.connect_refused(s.port):
				self.assertLess(time.monotonic(), deadline,
				    "still accepting after SIGTERM")
				time.sleep(0.02)
			self.assertIsNone(s.proc.poll(), s.stderr())
			self.assertIn(inode, H.open_socket_inodes(pid))
			# "{}" has no subject.
			self.assertEqual(H.finish_slow_upload(up), 400)
			self.assertEqual(s.proc.wait(timeout=15), 0, s.stderr())
			self.assertNotIn("Sanitizer", s.stderr())
		finally:
			s.kill()

	def test_sigterm_and_sigint_exit_0(self):
		for sig in (signal.SIGTERM, signal.SIGINT):
			s = Source(W, CONFIG, name="sig%d" % sig).start()
			# Every kind of answer once, for the sanitizer build.
			self.assertEqual(s.lookup("/person", P1).status, 200)
			self.assertEqual(s.lookup("/person", UNKNOWN).status, 404)
			self.assertEqual(s.lookup("/income", P1).status, 400)
			self.assertEqual(s.lookup("/arith", P1, {"n":
			    -9223372036854775808}).status, 500)
			self.assertEqual(s.post("/person", "x" * 100000).status, 413)
			self.assertEqual(H.http_request(s.port, "GET",
			    "/metrics").status, 200)
			self.assertEqual(s.signal(sig), 0, s.stderr())
			self.assertNotIn("Sanitizer", s.stderr())


class AccessLog(unittest.TestCase):
	"""One JSON line a request on stderr, valid whatever bytes the request
	carries."""

	def test_lines(self):
		cases = [("POST", "/person", {"subject": P1}, 200,
		    "population.person"),
		    ("POST", "/person", {"subject": UNKNOWN}, 404,
		    "population.person"),
		    ("POST", "/income", {"subject": P1}, 400, "finance.income"),
		    ("GET", "/person", None, 405, "population.person"),
		    ("POST", "/nothing", {"subject": P1}, 404, "-"),
		    ("GET", "/healthz", None, 200, "healthz"),
		    ("HEAD", "/metrics", None, 200, "metrics")]
		for method, path, body, status, route in cases:
			rid = H.new_request_id("ad")
			r = H.http_request(SRC.port, method, path, body=body,
			    headers={"X-Request-Id": rid})
			self.assertEqual(r.status, status, (method, path, r))
			line = H.wait_access_line(SRC.err, rid)
			self.assertEqual((line["method"], line["route"],
			    line["status"]), (method, route, status), line)
			self.assertEqual(set(line), {"ts", "request_id", "method",
			    "route", "status", "ms"}, line)
			self.assertIsInstance(line["ms"], float)

	def test_methods_escaped(self):
		sent = {}
		for i, m in enumerate([b'GE"T', b'G\\T', b'G\x01T', b'\xff\xfe',
		    b'G\xc3\xa9T', b'"}{"x":"', b'G\xe2\x82T']):
			for path in (b"/healthz", b"/person"):
				rid = H.new_request_id("adinj%d" % i)
				r = H.raw_send(SRC.port, m + b" " + path +
				    b" HTTP/1.1\r\nHost: x\r\nX-Request-Id: " +
				    rid.encode() + b"\r\nConnection: close\r\n\r\n")
				self.assertTrue(r.startswith(b"HTTP/1.1 405"), (m, r))
				sent[rid] = m
		for rid, m in sent.items():
			line = H.wait_access_line(SRC.err, rid)
			self.assertEqual(line["method"], m.decode("utf-8", "replace"))
			self.assertEqual(line["status"], 405)

	def test_off(self):
		s = Source(W, "access_log = off\n" + CONFIG, name="quiet").start()
		try:
			self.assertEqual(s.lookup("/person", P1).status, 200)
			self.assertEqual(H.http_request(s.port, "GET",
			    "/healthz").status, 200)
			self.assertEqual(s.signal(signal.SIGTERM), 0, s.stderr())
			self.assertEqual(H.access_lines(s.err), [])
		finally:
			s.kill()


class BadConfig(unittest.TestCase):

	def check(self, text, line, what):
		path = os.path.join(W, "bad.conf")
		with open(path, "w") as f:
			f.write(text)
		bin_ = os.environ.get("CROSSROADS_BIN") or H.binaries()[0]
		p = subprocess.run([bin_, "source", "--config", path],
		    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
		    stderr=subprocess.PIPE, text=True, timeout=30)
		self.assertNotEqual(p.returncode, 0, p.stderr)
		self.assertIn("%s:%d: " % (path, line), p.stderr)
		self.assertIn(what, p.stderr)

	HEAD = "database = pop.db\n[service s]\npath = /p\n"

	def test_errors(self):
		self.check("listen = 127.0.0.1:0\ncolour = blue\n", 2,
		    "unknown key 'colour'")
		self.check("listen = nowhere\n", 1, "bad listen address")
		self.check(self.HEAD, 2, "missing 'query")
		self.check(self.HEAD + "query = SELECT nope FROM person\n", 4,
		    "does not prepare")
		self.check(self.HEAD + "query = DELETE FROM person\n", 4,
		    "read-only SELECT")
		self.check(self.HEAD + "query = SELECT name FROM person WHERE id = "
		    ":subject; DROP TABLE person\n", 4, "only one statement")
		self.check(self.HEAD + "query = SELECT name FROM person WHERE id = "
		    ":who\n", 4, "parameter ':who' is not supported")
		self.check(self.HEAD + "query = SELECT 1 AS x\n[service s]\n", 5,
		    "duplicate service")
		self.check("database = nothere.db\n" + self.HEAD[18:] +
		    "query = SELECT 1 AS x\n", 1, "cannot open")
		self.assertEqual(H.db_query(DB, "SELECT count(*) FROM person")[0][0],
		    3)

	def test_check_flag(self):
		bin_ = os.environ.get("CROSSROADS_BIN") or H.binaries()[0]
		p = subprocess.run([bin_, "source", "--check", "--config",
		    SRC.config], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
		    stderr=subprocess.PIPE, text=True, timeout=30)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertIn("3 services", p.stdout)


def run_check(path):
	bin_ = os.environ.get("CROSSROADS_BIN") or H.binaries()[0]
	return subprocess.run([bin_, "source", "--check", "--config", path],
	    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
	    stderr=subprocess.PIPE, text=True, timeout=30)


def check_bodies(stdout):
	"""{service name: body} from the output of --check."""
	out, name = {}, None
	for line in stdout.splitlines():
		m = re.match(r"# \[service (\S+)\] \(line \d+\): POST "
		    r"/v1/services$", line)
		if m:
			name = m.group(1)
		elif name is not None:
			out[name] = json.loads(line)
			name = None
	return out


class CheckRegistration(unittest.TestCase):
	"""--check prints what to POST to the hub, derived from the queries."""

	def test_bodies_from_the_statements(self):
		p = run_check(SRC.config)
		self.assertEqual(p.returncode, 0, p.stderr)
		b = check_bodies(p.stdout)
		self.assertEqual(sorted(b), ["arith", "finance.income",
		    "population.person"])
		self.assertEqual(b["population.person"], {"id":
		    "population.person", "provider": "PROVIDER",
		    "endpoint": "http://127.0.0.1:0/person", "fields": ["name",
		    "birth_date", "address", "death_date", "height", "children",
		    "employer_id", "internal_note", "household.subject",
		    "household.relation", "employer.name", "employer.kbo"]})
		self.assertEqual(b["finance.income"]["params"],
		    [{"name": "year", "type": "string"}])
		# What the operator must still fill in is said, per service.
		self.assertIn("service 'population.person': no 'provider = ID'",
		    p.stderr)
		self.assertIn("listen = 127.0.0.1:0 is not an address", p.stderr)

	def test_pasted_into_a_real_hub(self):
		conf = CONFIG.replace("threads = 2\n", "threads = 2\nprovider = RN\n"
		    ).replace("listen = 127.0.0.1:0", "listen = 127.0.0.1:%d" %
		    SRC.port).replace("[service finance.income]\n",
		    "[service finance.income]\nparam year = integer\n")
		path = os.path.join(W, "registered.conf")
		with open(path, "w") as f:
			f.write(conf)
		p = run_check(path)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(p.stderr, "")
		b = check_bodies(p.stdout)
		self.assertEqual(b["finance.income"]["params"],
		    [{"name": "year", "type": "integer"}])
		hub = H.Hub(W, name="hub-check",
		    db=os.path.join(W, "hub-check.db")).start()
		try:
			hub.institution("RN", "National Register", "population")
			hub.institution("ONEM", "Unemployment office", "unemployment")
			tok = hub.client("ONEM")["token"]
			for body in b.values():
				r = hub.admin("POST", "/v1/services", body)
				self.assertEqual(r.status, 201, r)
			hub.authorize("ONEM", "finance.income", "check", ["amount"])
			r = hub.consult(tok, "finance.income", P1, "check",
			    params={"year": 2021})
			self.assertEqual(r.status, 200, r)
			self.assertEqual(r.json["data"], {"amount": 32000.0})
			hub.authorize("ONEM", "population.person", "check",
			    ["name", "household.relation"])
			r = hub.consult(tok, "population.person", P1, "check")
			self.assertEqual(r.status, 200, r)
			self.assertEqual(r.json["data"]["name"], "Jan Peeters")
			self.assertEqual(sorted(m["relation"] for m in
			    r.json["data"]["household"]), ["child", "self"])
			self.assertEqual(hub.terminate(), 0)
			self.assertEqual(hub.sanitizer_reports(), [])
		finally:
			hub.kill()

	def test_main_query_without_subject_is_refused(self):
		path = os.path.join(W, "nosubject.conf")
		with open(path, "w") as f:
			f.write("database = pop.db\n[service everyone]\npath = /p\n"
			    "query = SELECT name FROM person LIMIT 1\n")
		for args in (["--check"], []):
			bin_ = os.environ.get("CROSSROADS_BIN") or H.binaries()[0]
			p = subprocess.run([bin_, "source"] + args + ["--config",
			    path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
			    stderr=subprocess.PIPE, text=True, timeout=30)
			self.assertEqual(p.returncode, 1, p.stderr)
			self.assertIn("%s:4: service 'everyone': the main query does "
			    "not use :subject" % path, p.stderr)
			self.assertNotIn("POST /v1/services", p.stdout)

	def test_bad_declarations(self):
		head = "database = pop.db\n[service s]\npath = /p\n" \
		    "query = SELECT name FROM person WHERE id = :subject\n"
		for extra, line, what in (
		    ("param year = text\n", 5, "unknown type 'text'"),
		    ("param year = integer\n", 5, "no query of service 's' uses "
		     ":params.year"),
		    ("provider = R N\n", 5, "is not an institution id")):
			path = os.path.join(W, "decl.conf")
			with open(path, "w") as f:
				f.write(head + extra)
			p = run_check(path)
			self.assertEqual(p.returncode, 1, p.stderr)
			self.assertIn("%s:%d: " % (path, line), p.stderr)
			self.assertIn(what, p.stderr)


class ThroughTheHub(unittest.TestCase):

	def test_consultation(self):
		hub = H.Hub(W, name="hub").start()
		try:
			hub.institution("RN", "National Register", "population")
			hub.institution("ONEM", "Unemployment office", "unemployment")
			tok = hub.client("ONEM")["token"]
			hub.service("population.person", "RN", SRC.url("/person"),
			    ["name", "birth_date", "address", "household",
			    "death_date", "employer"])
			hub.authorize("ONEM", "population.person", "unemployment",
			    ["name", "birth_date", "household", "death_date"])
			r = hub.consult(tok, "population.person", P1, "unemployment")
			self.assertEqual(r.status, 200, r)
			d = r.json["data"]
			# Exactly the granted fields, with the SQL row's values.
			self.assertEqual(set(d), {"name", "birth_date", "household",
			    "death_date"})
			self.assertEqual(d["name"], "Jan Peeters")
			self.assertEqual(d["birth_date"], "1985-07-30")
			self.assertIsNone(d["death_date"])
			self.assertEqual(sorted(m["subject"] for m in d["household"]),
			    sorted([P1, P2]))
			r = hub.consult(tok, "population.person", UNKNOWN,
			    "unemployment")
			self.assertEqual(r.status, 404, r)
			self.assertEqual(r.error_code, "NO_DATA")
			self.assertEqual(hub.terminate(), 0)
			self.assertEqual(hub.sanitizer_reports(), [])
		finally:
			hub.kill()


if __name__ == "__main__":
	unittest.main()
