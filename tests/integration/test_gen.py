"""
Integration tests of `crossroads gen` (a synthetic country) and
`crossroads registry import`: generate 2,000 persons, check that the same
arguments give the same bytes, load registry.json and directory.csv into a
hub's store, then start the hub and the population register's adapter from
the generated config and run consultations with a generated demo token.

Python 3 standard library only. CROSSROADS_BIN is the crossroads binary.
"""

import csv
import hashlib
import json
import os
import re
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

if "CROSSROADS_FIXTURE_SOURCE" not in os.environ and \
    "CROSSROADS_BIN" in os.environ:
	_fix = os.path.join(os.path.dirname(os.environ["CROSSROADS_BIN"]),
	    "crossroads-fixture-source")
	if os.access(_fix, os.X_OK):
		os.environ["CROSSROADS_FIXTURE_SOURCE"] = _fix

import harness as H  # noqa: E402

PERSONS = 2000
SOURCES = ["population", "employment", "unemployment", "pensions", "family",
    "disability", "vehicles", "land", "borders"]


def digests(d):
	out = {}
	for name in sorted(os.listdir(d)):
		with open(os.path.join(d, name), "rb") as f:
			out[name] = hashlib.sha256(f.read()).hexdigest()
	return out


def gen(out, *extra):
	return H.run_cli(["gen", "--out", out, "--persons", str(PERSONS), "-q"]
	    + list(extra), timeout=300)


def declared_paths(fields):
	"""Every declared path and every path above one."""
	out = set()
	for f in fields:
		parts = f.split(".")
		for i in range(1, len(parts) + 1):
			out.add(".".join(parts[:i]))
	return out


def undeclared_keys(fields, data):
	"""Paths of data that the fields do not declare (docs/api.md,
	"Fields": a leaf passes whole, lists are walked element by element)."""
	declared = declared_paths(fields)
	parents = {p.rsplit(".", 1)[0] for p in declared if "." in p}
	out = []

	def walk(prefix, v):
		if isinstance(v, list):
			for e in v:
				walk(prefix, e)
		elif isinstance(v, dict):
			for k, x in v.items():
				p = prefix + "." + k if prefix else k
				if p not in declared:
					out.append(p)
				elif p in parents:
					walk(p, x)
		elif v is not None:
			out.append(prefix + " (not an object)")

	walk("", data)
	return out


class State:
	work = None
	out = None
	base_port = None
	registry = None


def setUpModule():
	State.work = H.make_tmpdir("crossroads-gen-")
	State.out = os.path.join(State.work, "country")
	State.base_port = H.free_port()
	r = gen(State.out, "--base-port", str(State.base_port))
	if r.returncode != 0:
		raise RuntimeError("gen failed: %s" % r.stderr)
	with open(os.path.join(State.out, "registry.json")) as f:
		State.registry = json.load(f)


def tearDownModule():
	H.remove_tmpdir(State.work)


class TestGenerate(unittest.TestCase):

	def test_files(self):
		names = set(os.listdir(State.out))
		for s in SOURCES:
			self.assertIn(s + ".db", names)
			self.assertIn(s + ".conf", names)
		for n in ("registry.json", "directory.csv", "summary.json"):
			self.assertIn(n, names)
		with open(os.path.join(State.out, "summary.json")) as f:
			summary = json.load(f)
		self.assertEqual(summary["persons"], PERSONS)
		conn = sqlite3.connect("file:%s?mode=ro" % os.path.join(State.out,
		    "population.db"), uri=True)
		try:
			n = conn.execute("SELECT count(*) FROM person").fetchone()[0]
			distinct = conn.execute("SELECT count(DISTINCT id) FROM "
			    "person").fetchone()[0]
		finally:
			conn.close()
		self.assertEqual(n, PERSONS)
		self.assertEqual(distinct, PERSONS)

	def test_same_arguments_same_bytes(self):
		again = os.path.join(State.work, "again")
		r = gen(again, "--base-port", str(State.base_port))
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertEqual(digests(State.out), digests(again))
		H.remove_tmpdir(again)

	def test_other_seed_other_country(self):
		other = os.path.join(State.work, "other")
		r = gen(other, "--base-port", str(State.base_port), "--seed", "2")
		self.assertEqual(r.returncode, 0, r.stderr)
		a, b = digests(State.out), digests(other)
		for n in ("population.db", "directory.csv", "registry.json"):
			self.assertNotEqual(a[n], b[n], n)
		H.remove_tmpdir(other)

	def test_bad_arguments(self):
		self.assertEqual(H.run_cli(["gen", "--persons", "10"]).returncode, 2)
		r = H.run_cli(["gen", "--out", os.path.join(State.work, "x"),
		    "--scheme", "be-kbo"])
		self.assertEqual(r.returncode, 2)
		self.assertIn("--scheme", r.stderr)

	def test_registry_shape(self):
		reg = State.registry
		insts = {i["id"] for i in reg["institutions"]}
		svcs = {s["id"]: s for s in reg["services"]}
		for c in reg["clients"]:
			self.assertIn(c["institution"], insts)
			self.assertRegex(c["token"], r"^crt_[0-9a-f]{64}$")
		for s in svcs.values():
			self.assertIn(s["provider"], insts)
		for s in svcs.values():
			self.assertEqual(s["params"], [])
		for a in reg["authorizations"]:
			self.assertIn(a["consumer"], insts)
			# A declared path, or a path above declared ones.
			declared = declared_paths(svcs[a["service"]]["fields"])
			self.assertTrue(set(a["fields"]) <= declared, a)
		# Nested shapes: the address is an object, the household a
		# list of members, wages lists of contracts and payslips.
		self.assertTrue({"address.street", "address.postcode",
		    "household.subject", "household.role"} <=
		    set(svcs["population.person"]["fields"]))
		self.assertTrue({"contracts.employer", "pay.gross"} <=
		    set(svcs["employment.wages"]["fields"]))
		with open(os.path.join(State.out, "directory.csv")) as f:
			rows = csv.DictReader(f)
			self.assertEqual(rows.fieldnames, ["subject", "capacity",
			    "from", "to", "institution"])
			for row in rows:
				self.assertIn(row["institution"], insts)


class TestHub(unittest.TestCase):
	"""Imports into a hub store, serves, consults through the adapter."""

	@classmethod
	def setUpClass(cls):
		cls.db = os.path.join(State.work, "hub.db")
		reg = os.path.join(State.out, "registry.json")
		cls.first = H.run_cli(["registry", "import", reg, "--db", cls.db])
		cls.second = H.run_cli(["registry", "import", reg, "--db", cls.db])
		cls.dir = H.run_cli(["directory", "import",
		    os.path.join(State.out, "directory.csv"), "--db", cls.db],
		    timeout=300)
		cls.hub = None
		cls.src = None

	@classmethod
	def tearDownClass(cls):
		if cls.src is not None and cls.src.poll() is None:
			cls.src.kill()
			cls.src.wait(timeout=10)
		if cls.hub is not None:
			cls.hub.terminate()

	def test_1_imports(self):
		self.assertEqual(self.first.returncode, 0, self.first.stderr)
		n = len(State.registry["institutions"])
		self.assertIn("institutions: %d added, 0 already there" % n,
		    self.first.stdout)
		self.assertEqual(self.second.returncode, 0, self.second.stderr)
		for kind in ("institutions", "clients", "services",
		    "authorizations"):
			self.assertIn("%s: 0 added, %d already there" % (kind,
			    len(State.registry[kind])), self.second.stdout)
		self.assertEqual(H.db_query(self.db, "SELECT count(*) FROM "
		    "authorizations")[0][0], len(State.registry["authorizations"]))
		self.assertEqual(self.dir.returncode, 0, self.dir.stderr)
		self.assertIn("rejected 0", self.dir.stderr)

	def test_2_consultation(self):
		cls = type(self)
		cls.hub = H.Hub(State.work, db=self.db).start()
		out = os.path.join(State.work, "population.out")
		err = os.path.join(State.work, "population.err")
		cls.src = H._spawn([H.binaries()[0], "source", "--config",
		    os.path.join(State.out, "population.conf")], dict(os.environ),
		    out, err)
		deadline = time.monotonic() + H.READY_TIMEOUT
		while "source listening on" not in H._read(out):
			if cls.src.poll() is not None or time.monotonic() > deadline:
				self.fail("the population adapter did not start: %s"
				    % H._read(err))
			time.sleep(0.05)

		token = {c["institution"]: c["token"]
		    for c in State.registry["clients"]}["ONEM"]
		# A living person ONEM has integrated as unemployed, and one
		# it has not.
		with open(os.path.join(State.out, "directory.csv")) as f:
			rows = list(csv.DictReader(f))
		onem = {r["subject"] for r in rows if r["institution"] == "ONEM"
		    and r["capacity"] == "unemployed" and r["to"] == ""}
		others = {r["subject"] for r in rows} - {r["subject"] for r in rows
		    if r["institution"] == "ONEM"}
		self.assertTrue(onem and others)
		subject = sorted(onem)[0]

		r = cls.hub.consult(token, "population.person", subject,
		    "unemployment-benefit")
		self.assertEqual(r.status, 200, r)
		data = r.json["data"]
		self.assertEqual(r.json["source"], "RN")
		conn = sqlite3.connect("file:%s?mode=ro" % os.path.join(State.out,
		    "population.db"), uri=True)
		try:
			row = conn.execute("SELECT family_name, birth_date, "
			    "household_id FROM person WHERE id = ?",
			    (subject,)).fetchone()
			members = {m[0] for m in conn.execute("SELECT person FROM "
			    "member WHERE household_id = ?", (row[2],))}
		finally:
			conn.close()
		self.assertEqual(data["family_name"], row[0])
		self.assertEqual(data["birth_date"], row[1])
		self.assertEqual({m["subject"] for m in data["household"]},
		    members)
		self.assertIn(subject, members)
		# Minimization: not granted to ONEM for this purpose.
		for f in ("nationality", "sex", "household_id"):
			self.assertNotIn(f, data)

		r = cls.hub.consult(token, "population.person", sorted(others)[0],
		    "unemployment-benefit")
		self.assertEqual((r.status, r.error_code), (403, "NOT_INTEGRATED"))
		r = cls.hub.consult(token, "vehicles.owned", subject,
		    "unemployment-benefit")
		self.assertEqual((r.status, r.error_code), (403, "NOT_AUTHORIZED"))
		# A CPAS identifies an applicant before integrating them: an
		# authorization without capacities.
		cpas = {c["institution"]: c["token"]
		    for c in State.registry["clients"]}["CPAS_BXL"]
		r = cls.hub.consult(cpas, "population.person", sorted(others)[0],
		    "social-assistance-intake")
		self.assertEqual(r.status, 200, r)
		self.assertIn("household", r.json["data"])
		self.assertNotIn("nationality", r.json["data"])
		r = cls.hub.consult(cpas, "population.person", sorted(others)[0],
		    "social-assistance")
		self.assertEqual((r.status, r.error_code), (403, "NOT_INTEGRATED"))
		# The address is an object of the register's address table.
		conn = sqlite3.connect("file:%s?mode=ro" % os.path.join(State.out,
		    "population.db"), uri=True)
		try:
			addr = conn.execute("SELECT a.street, a.number, a.postcode, "
			    "a.municipality FROM person p JOIN household h ON h.id = "
			    "p.household_id JOIN address a ON a.id = h.address_id "
			    "WHERE p.id = ?", (subject,)).fetchone()
		finally:
			conn.close()
		self.assertEqual(data["address"], dict(zip(("street", "number",
		    "postcode", "municipality"), addr)))
		entries = cls.hub.log_entries(subject, consumer="ONEM")
		self.assertEqual(sorted(e["outcome"] for e in entries
		    if e["purpose"] != "reference-directory"),
		    ["denied", "granted"])
		# The import logged who integrated the person, as what.
		imported = [e for e in entries
		    if e["service"] == "directory.integrate"]
		self.assertTrue(imported, entries)
		for e in imported:
			self.assertEqual((e["client"], e["outcome"]),
			    ("operator", "granted"), e)
			self.assertTrue(e["request_id"].startswith("import-"), e)
		# The generated declarations match what the adapter answers.
		r = cls.hub.request("GET", "/metrics")
		self.assertNotIn("crossroads_source_undeclared_fields_total{",
		    r.body.decode())
		self.assertEqual(cls.hub.terminate(), 0)
		self.assertEqual(cls.hub.sanitizer_reports(), [])
		cls.hub = None


# A subject each service holds something on: (source, service, SQL).
HELD = [
	("population", "population.person", "SELECT p.id FROM person p JOIN "
	    "member m ON m.person = p.id ORDER BY p.id LIMIT 1"),
	("employment", "employment.wages", "SELECT person FROM contract "
	    "ORDER BY person LIMIT 1"),
	("employment", "employment.employer", "SELECT kbo FROM employer "
	    "ORDER BY kbo LIMIT 1"),
	("unemployment", "unemployment.benefits", "SELECT person FROM claim "
	    "ORDER BY person LIMIT 1"),
	("pensions", "pensions.pension", "SELECT person FROM pension "
	    "ORDER BY person LIMIT 1"),
	("family", "family.allowances", "SELECT beneficiary FROM allowance "
	    "ORDER BY beneficiary LIMIT 1"),
	("family", "family.allowances", "SELECT child FROM allowance "
	    "ORDER BY child LIMIT 1"),
	("disability", "disability.recognition", "SELECT person FROM "
	    "recognition ORDER BY person LIMIT 1"),
	("vehicles", "vehicles.owned", "SELECT owner FROM vehicle "
	    "ORDER BY owner LIMIT 1"),
	("land", "property.parcels", "SELECT owner FROM parcel "
	    "ORDER BY owner LIMIT 1"),
	("borders", "border.crossings", "SELECT person FROM crossing "
	    "ORDER BY person LIMIT 1"),
]


class TestDeclaredShapes(unittest.TestCase):
	"""Every generated adapter answers exactly the shape its service
	declares: nothing a hub would count as undeclared."""

	def test_adapters_answer_the_declared_shape(self):
		svcs = {s["id"]: s for s in State.registry["services"]}
		procs = {}
		try:
			for src, sid, sql in HELD:
				if src not in procs:
					procs[src] = self.start(src)
				p, port = procs[src]
				subject = H.db_query(os.path.join(State.out, src +
				    ".db"), sql)[0][0]
				path = "/" + svcs[sid]["endpoint"].split("/", 3)[3]
				r = H.http_request(port, "POST", path, {"subject":
				    subject, "params": {}})
				self.assertEqual(r.status, 200, (sid, r))
				data = r.json["data"]
				self.assertTrue(data, sid)
				self.assertEqual(undeclared_keys(svcs[sid]["fields"],
				    data), [], (sid, data))
		finally:
			for p, _ in procs.values():
				p.kill()
				p.wait(timeout=10)

	def start(self, src):
		"""The source's adapter on a port of the OS's choosing."""
		with open(os.path.join(State.out, src + ".conf")) as f:
			conf = f.read()
		conf = re.sub(r"(?m)^listen = .*$", "listen = 127.0.0.1:0", conf)
		conf = re.sub(r"(?m)^database = sqlite:(.*)$", lambda m:
		    "database = sqlite:" + os.path.join(State.out, m.group(1)),
		    conf)
		d = os.path.join(State.work, "shapes")
		os.makedirs(d, exist_ok=True)
		path = os.path.join(d, src + ".conf")
		with open(path, "w") as f:
			f.write(conf)
		out = os.path.join(State.work, src + ".shape.out")
		err = os.path.join(State.work, src + ".shape.err")
		p = H._spawn([H.binaries()[0], "source", "--config", path],
		    dict(os.environ), out, err)
		deadline = time.monotonic() + H.READY_TIMEOUT
		while True:
			m = re.search(r"source listening on [0-9.]+:(\d+)",
			    H._read(out))
			if m:
				return p, int(m.group(1))
			if p.poll() is not None or time.monotonic() > deadline:
				p.kill()
				self.fail("%s did not start: %s" % (src, H._read(err)))
			time.sleep(0.05)


if __name__ == "__main__":
	unittest.main(verbosity=2)
