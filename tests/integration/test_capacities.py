"""
Integration tests of governed integrations (docs/api.md, "Capacities"):
the capacity catalogue, the rule it imposes on directory writes (by
institution, by sector, deny by default: 403 CAPACITY_NOT_ALLOWED with
nothing stored), batches, the registry file's capacities, and the
exchange-log entry of every directory change, seen by the subject's log
query and covered by `crossroads log verify`.

One hub shared by the module; every test uses its own institutions,
capacities and subjects.
"""

import itertools
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

W = None
HUB = None
SUBJECTS = H.SubjectPool(1)
_ids = itertools.count(1)


def setUpModule():
	global W, HUB
	W = H.make_tmpdir()
	HUB = H.Hub(W).start()


def tearDownModule():
	if HUB is not None:
		HUB.kill()
	if W is not None:
		H.remove_tmpdir(W)


def uid(prefix):
	return "%s%d" % (prefix, next(_ids))


def capacity(cid, institutions=None, sectors=None, name=None):
	body = {"id": cid, "name": name or ("Capacity " + cid)}
	if institutions is not None:
		body["institutions"] = institutions
	if sectors is not None:
		body["sectors"] = sectors
	return HUB.admin("POST", "/v1/capacities", body)


def directory_rows(subject):
	return H.db_query(HUB.db, "SELECT institution, capacity, from_date, "
	    "to_date FROM directory WHERE subject = ? ORDER BY institution, "
	    "capacity", (subject,))


def xlog_commits():
	"""Group commits of the exchange log so far (/metrics)."""
	r = HUB.request("GET", "/metrics")
	for line in r.body.decode().splitlines():
		if line.startswith("crossroads_xlog_batch_size_count "):
			return int(line.split()[1])
	raise AssertionError("no crossroads_xlog_batch_size_count")


def dir_log(subject):
	"""The subject's directory entries in the log, oldest first."""
	return [e for e in reversed(HUB.log_entries(subject))
	    if e["purpose"] == "reference-directory"]


class CatalogueTests(unittest.TestCase):

	def test_create_list_conflict_update(self):
		inst = HUB.institution(uid("CI"), sector="unemployment")
		cid = uid("cap-")
		r = capacity(cid, [inst], ["unemployment"], "Jobseeker")
		self.assertEqual(r.status, 201, r)
		self.assertEqual(r.json, {"id": cid, "name": "Jobseeker",
		    "institutions": [inst], "sectors": ["unemployment"]})
		# Re-POST: 409, the rule is unchanged.
		r = capacity(cid, [], [])
		self.assertEqual((r.status, r.error_code), (409, "CONFLICT"), r)
		# Any authenticated caller reads the catalogue.
		tok = HUB.client(inst)["token"]
		r = HUB.request("GET", "/v1/capacities", token=tok)
		self.assertEqual(r.status, 200, r)
		got = [c for c in r.json["capacities"] if c["id"] == cid]
		self.assertEqual(got, [{"id": cid, "name": "Jobseeker",
		    "institutions": [inst], "sectors": ["unemployment"]}])
		self.assertEqual(HUB.request("GET", "/v1/capacities").status, 401)
		# PUT replaces who may declare it.
		r = HUB.admin("PUT", "/v1/capacities/" + cid, {"id": cid,
		    "name": "Jobseeker (narrowed)", "sectors": ["other"]})
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["institutions"], [])
		r = HUB.admin("GET", "/v1/capacities")
		got = [c for c in r.json["capacities"] if c["id"] == cid]
		self.assertEqual(got[0]["sectors"], ["other"])
		self.assertEqual(got[0]["institutions"], [])

	def test_bad_requests(self):
		inst = HUB.institution(uid("CB"))
		tok = HUB.client(inst)["token"]
		r = HUB.request("POST", "/v1/capacities", {"id": uid("c"),
		    "name": "x"}, token=tok)
		self.assertEqual(r.status, 403, r)
		r = capacity(uid("c"), ["NO-SUCH-INSTITUTION"])
		self.assertEqual((r.status, r.error_code), (400, "BAD_REQUEST"), r)
		r = capacity("bad id!", [inst])
		self.assertEqual((r.status, r.error_code), (400, "BAD_REQUEST"), r)
		r = HUB.admin("POST", "/v1/capacities", {"id": uid("c"),
		    "name": "x", "holders": []})
		self.assertEqual((r.status, r.error_code), (400, "BAD_REQUEST"), r)
		cid = uid("c")
		r = HUB.admin("PUT", "/v1/capacities/" + cid, {"id": cid,
		    "name": "x"})
		self.assertEqual((r.status, r.error_code), (404, "NOT_FOUND"), r)
		r = HUB.admin("PUT", "/v1/capacities/other", {"id": cid,
		    "name": "x"})
		self.assertEqual((r.status, r.error_code), (400, "BAD_REQUEST"), r)


class RuleTests(unittest.TestCase):

	def setUp(self):
		self.sector = uid("sector-")
		self.inst = HUB.institution(uid("RI"), sector=self.sector)
		self.other = HUB.institution(uid("RO"), sector=uid("osector-"))
		self.tok = HUB.client(self.inst)["token"]
		self.otok = HUB.client(self.other)["token"]
		self.by_inst = uid("byinst-")
		self.by_sector = uid("bysector-")
		self.assertEqual(capacity(self.by_inst, [self.inst]).status, 201)
		self.assertEqual(capacity(self.by_sector, [],
		    [self.sector]).status, 201)

	def put(self, tok, subject, cap, frm="2024-01-01", to=None):
		return HUB.request("POST", "/v1/directory", {"subject": subject,
		    "capacity": cap, "from": frm, "to": to}, token=tok)

	def test_allowed_by_institution(self):
		s = SUBJECTS.known()
		r = self.put(self.tok, s, self.by_inst)
		self.assertEqual(r.status, 201, r)
		self.assertEqual(directory_rows(s),
		    [(self.inst, self.by_inst, "2024-01-01", None)])

	def test_allowed_by_sector(self):
		s = SUBJECTS.known()
		r = self.put(self.tok, s, self.by_sector)
		self.assertEqual(r.status, 201, r)
		self.assertEqual(directory_rows(s),
		    [(self.inst, self.by_sector, "2024-01-01", None)])

	def test_refused_nothing_stored(self):
		s = SUBJECTS.known()
		# Another institution, of another sector: held by neither.
		for cap in (self.by_inst, self.by_sector):
			r = self.put(self.otok, s, cap)
			self.assertEqual((r.status, r.error_code),
			    (403, "CAPACITY_NOT_ALLOWED"), r)
			self.assertIn(self.other, r.json["error"]["message"])
		# Not in the catalogue at all: deny by default.
		r = self.put(self.tok, s, uid("unknown-"))
		self.assertEqual((r.status, r.error_code),
		    (403, "CAPACITY_NOT_ALLOWED"), r)
		self.assertIn("not in the catalogue", r.json["error"]["message"])
		self.assertEqual(directory_rows(s), [])
		r = HUB.request("GET", "/v1/directory/" + s, token=self.otok)
		self.assertEqual(r.json["entries"], [])
		# The refusals are logged as denied, with who tried what.
		log = dir_log(s)
		self.assertEqual([(e["consumer"], e["outcome"], e["status"],
		    e["error_code"]) for e in log],
		    [(self.other, "denied", 403, "CAPACITY_NOT_ALLOWED")] * 2 +
		    [(self.inst, "denied", 403, "CAPACITY_NOT_ALLOWED")])

	def test_narrowed_capacity_refuses_new_but_ends_old(self):
		s = SUBJECTS.known()
		self.assertEqual(self.put(self.tok, s, self.by_inst).status, 201)
		r = HUB.admin("PUT", "/v1/capacities/" + self.by_inst,
		    {"id": self.by_inst, "name": "withdrawn"})
		self.assertEqual(r.status, 200, r)
		r = self.put(self.tok, s, self.by_inst, frm="2025-01-01")
		self.assertEqual(r.error_code, "CAPACITY_NOT_ALLOWED", r)
		r = HUB.request("POST", "/v1/directory/remove", {"subject": s,
		    "capacity": self.by_inst, "to": "2024-06-30"}, token=self.tok)
		self.assertEqual(r.status, 200, r)
		self.assertEqual(directory_rows(s),
		    [(self.inst, self.by_inst, "2024-01-01", "2024-06-30")])

	def test_batch_reports_refused_lines_and_applies_the_rest(self):
		s = [SUBJECTS.known() for _ in range(4)]
		lines = [
		    {"subject": s[0], "capacity": self.by_inst,
		     "from": "2024-01-01", "to": None},
		    {"subject": s[1], "capacity": uid("unknown-"),
		     "from": "2024-01-01", "to": None},
		    {"subject": s[2], "capacity": self.by_sector,
		     "from": "2024-01-01", "to": None},
		    {"subject": s[3], "capacity": self.by_inst,
		     "from": "2024-01-01", "to": None},
		]
		body = "\n".join(json.dumps(l) for l in lines) + "\n"
		r = HUB.request("POST", "/v1/directory/batch", body.encode(),
		    token=self.otok, headers={"Content-Type":
		    "application/x-ndjson"})
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["accepted"], 0, r)
		self.assertEqual([(x["line"], x["error"]["code"]) for x in
		    r.json["rejected"]], [(k, "CAPACITY_NOT_ALLOWED") for k in
		    (1, 2, 3, 4)])
		r = HUB.request("POST", "/v1/directory/batch", body.encode(),
		    token=self.tok, headers={"Content-Type":
		    "application/x-ndjson"})
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["accepted"], 3, r)
		self.assertEqual([(x["line"], x["error"]["code"]) for x in
		    r.json["rejected"]], [(2, "CAPACITY_NOT_ALLOWED")])
		self.assertEqual(directory_rows(s[0]),
		    [(self.inst, self.by_inst, "2024-01-01", None)])
		self.assertEqual(directory_rows(s[1]), [])
		self.assertEqual(directory_rows(s[2]),
		    [(self.inst, self.by_sector, "2024-01-01", None)])
		self.assertEqual([(e["consumer"], e["service"], e["outcome"])
		    for e in dir_log(s[2])],
		    [(self.other, "directory.integrate", "denied"),
		     (self.inst, "directory.integrate", "granted")])


class LogTests(unittest.TestCase):

	def test_integrate_and_end_are_logged(self):
		inst = HUB.institution(uid("LI"), sector="pensions")
		cl = HUB.client(inst)
		cap = uid("pensioner-")
		self.assertEqual(capacity(cap, [], ["pensions"]).status, 201)
		s = SUBJECTS.known()
		r = HUB.request("POST", "/v1/directory", {"subject": s,
		    "capacity": cap, "from": "2024-01-01", "to": None},
		    token=cl["token"], headers={"X-Request-Id": "dir-put-1",
		    "X-End-User": "agent-7"})
		self.assertEqual(r.status, 201, r)
		r = HUB.request("POST", "/v1/directory/remove", {"subject": s,
		    "capacity": cap, "to": "2024-12-31"}, token=cl["token"],
		    headers={"X-Request-Id": "dir-end-1"})
		self.assertEqual(r.status, 200, r)
		log = dir_log(s)
		self.assertEqual(len(log), 2, log)
		put, end = log
		self.assertEqual((put["request_id"], put["consumer"],
		    put["client"], put["end_user"], put["service"],
		    put["subject"], put["outcome"], put["status"],
		    put["error_code"], put["params"]),
		    ("dir-put-1", inst, cl["client_id"], "agent-7",
		    "directory.integrate", s, "granted", 201, None,
		    {"capacity": cap, "from": "2024-01-01", "to": None}))
		self.assertEqual((end["request_id"], end["consumer"],
		    end["service"], end["status"], end["params"]),
		    ("dir-end-1", inst, "directory.end", 200,
		    {"capacity": cap, "to": "2024-12-31"}))
		self.assertLess(put["seq"], end["seq"])
		# The same again: idempotent (200), and logged again.
		r = HUB.request("POST", "/v1/directory", {"subject": s,
		    "capacity": cap, "from": "2024-01-01", "to": "2024-12-31"},
		    token=cl["token"])
		self.assertEqual(r.status, 200, r)
		self.assertEqual([e["status"] for e in dir_log(s)],
		    [201, 200, 200])
		# The chain covers them.
		p = H.log_verify(HUB.db)
		self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

	def test_batch_logged_in_few_transactions(self):
		inst = HUB.institution(uid("LB"), sector="family")
		tok = HUB.client(inst)["token"]
		cap = uid("child-")
		self.assertEqual(capacity(cap, [inst]).status, 201)
		subjects = [SUBJECTS.known() for _ in range(300)]
		body = "".join(json.dumps({"subject": x, "capacity": cap,
		    "from": "2024-01-01"}) + "\n" for x in subjects)
		before = H.db_xlog_count(HUB.db)
		commits = xlog_commits()
		r = HUB.request("POST", "/v1/directory/batch", body.encode(),
		    token=tok, headers={"Content-Type": "application/x-ndjson"})
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json, {"accepted": 300, "rejected": []})
		self.assertEqual(H.db_xlog_count(HUB.db) - before, 300)
		# 300 entries, one group commit (nothing else runs meanwhile).
		self.assertEqual(xlog_commits() - commits, 1)
		for x in (subjects[0], subjects[-1]):
			self.assertEqual([(e["consumer"], e["service"],
			    e["params"]["capacity"]) for e in dir_log(x)],
			    [(inst, "directory.integrate", cap)])


class ImportTests(unittest.TestCase):
	"""`crossroads registry import` of capacities, then `crossroads
	directory import` under the rule, with no hub running."""

	def test_registry_and_directory_import(self):
		d = os.path.join(W, uid("import-"))
		os.mkdir(d)
		db = os.path.join(d, "hub.db")
		reg = os.path.join(d, "registry.json")
		with open(reg, "w") as f:
			json.dump({"institutions": [
			    {"id": "ONEM", "name": "Employment",
			     "sector": "unemployment"},
			    {"id": "MUT", "name": "Mutual", "sector": "health"}],
			    "capacities": [{"id": "unemployed", "name": "Unemployed",
			     "institutions": ["ONEM"]},
			    {"id": "insured", "name": "Insured",
			     "sectors": ["health"]}]}, f)
		p = H.run_cli(["registry", "import", reg, "--db", db])
		self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
		self.assertIn("capacities: 2 added, 0 already there", p.stdout)
		p = H.run_cli(["registry", "import", reg, "--db", db])
		self.assertIn("capacities: 0 added, 2 already there", p.stdout)
		s = [SUBJECTS.known() for _ in range(3)]
		csv = os.path.join(d, "dir.csv")
		with open(csv, "w") as f:
			f.write("subject,capacity,from,to,institution\n"
			    "%s,unemployed,2024-01-01,,ONEM\n"
			    "%s,insured,2024-01-01,,ONEM\n"
			    "%s,insured,2024-01-01,,MUT\n" % tuple(s))
		p = H.run_cli(["directory", "import", csv, "--db", db])
		self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
		self.assertIn("may not declare capacity 'insured'", p.stderr)
		rows = H.db_query(db, "SELECT subject, institution, capacity "
		    "FROM directory ORDER BY subject")
		self.assertEqual(sorted(rows), sorted([(s[0], "ONEM",
		    "unemployed"), (s[2], "MUT", "insured")]))
		log = H.db_query(db, "SELECT subject, consumer, client, service, "
		    "outcome, status, error_code FROM xlog ORDER BY seq")
		self.assertEqual(sorted(log), sorted([
		    (s[0], "ONEM", "operator", "directory.integrate", "granted",
		     201, ""),
		    (s[1], "ONEM", "operator", "directory.integrate", "denied",
		     403, "CAPACITY_NOT_ALLOWED"),
		    (s[2], "MUT", "operator", "directory.integrate", "granted",
		     201, "")]))
		p = H.log_verify(db)
		self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
	unittest.main()
