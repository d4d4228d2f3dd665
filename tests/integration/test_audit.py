"""
Integration tests of authorization changes (PATCH: end, narrow, never
widen; their history) and of the hash-chained audit trail (GET /v1/audit,
crossroads audit verify), against two hub processes on one database.
"""

import itertools
import json
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

W = None
HUB = None
PEER = None
SRC = None
_ids = itertools.count(1)
SUBJECT = H.INSZ_VALID[0]
FIELDS = ["name", "birth_date", "address", "household", "death_date"]


def setUpModule():
	global W, HUB, PEER, SRC
	W = H.make_tmpdir()
	try:
		SRC = H.Fixture(W, H.fixture_dataset()).start()
		HUB = H.Hub(W).start()
		PEER = H.Hub(W, db=HUB.db, name="peer").start()
		HUB.institution("RN", "National Register", "population")
		HUB.service("population.person", "RN", SRC.url("/person"), FIELDS)
	except Exception:
		tearDownModule()
		raise


def tearDownModule():
	for p in (HUB, PEER, SRC):
		if p is not None:
			p.kill()
	if W is not None:
		H.remove_tmpdir(W)


def audit(after=0, hub=None, **q):
	"""Every audit entry after seq `after`, following pages."""
	out = []
	while True:
		path = "/v1/audit?after=%d" % after
		for k, v in q.items():
			path += "&%s=%s" % (k, v)
		r = (hub or HUB).admin("GET", path)
		assert r.status == 200, r
		page = r.json["entries"]
		if not page:
			return out
		out.extend(page)
		after = page[-1]["seq"]


def last_seq():
	entries = audit()
	return entries[-1]["seq"] if entries else 0


class Base(unittest.TestCase):

	def consumer(self):
		iid = "AU%d" % next(_ids)
		HUB.institution(iid)
		return iid, HUB.client(iid)["token"]


class PatchTests(Base):

	def authz(self, iid, purpose, fields=("name", "address"), **kw):
		return HUB.authorize(iid, "population.person", purpose,
		    list(fields), **kw)

	# Consultations go to HUB only: the exchange log of an SQLite
	# database has one writing process (docs/architecture.md).

	def test_narrow_fields_takes_effect_at_once(self):
		iid, tok = self.consumer()
		a = self.authz(iid, "p1")
		r = HUB.consult(tok, "population.person", SUBJECT, "p1")
		self.assertEqual(set(r.json["data"]), {"name", "address"})
		r = HUB.admin("PATCH", "/v1/authorizations/" + a["id"],
		    {"fields": ["name"]})
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["fields"], ["name"])
		self.assertEqual(r.json["id"], a["id"])
		self.assertEqual(r.json["purpose"], "p1")
		r = HUB.consult(tok, "population.person", SUBJECT, "p1")
		self.assertEqual(r.status, 200, r)
		self.assertEqual(set(r.json["data"]), {"name"})
		listed = [x for x in HUB.admin("GET", "/v1/authorizations?"
		    "consumer=" + iid).json["authorizations"]]
		self.assertEqual([x["fields"] for x in listed], [["name"]])

	def test_end_it(self):
		iid, tok = self.consumer()
		a = self.authz(iid, "p2")
		self.assertEqual(HUB.consult(tok, "population.person", SUBJECT,
		    "p2").status, 200)
		yesterday = H.day(-1)
		r = HUB.admin("PATCH", "/v1/authorizations/" + a["id"],
		    {"valid_to": yesterday})
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["valid_to"], yesterday)
		r = HUB.consult(tok, "population.person", SUBJECT, "p2")
		self.assertEqual((r.status, r.error_code),
		    (403, "NOT_AUTHORIZED"), r)

	def test_widening_is_refused(self):
		iid, tok = self.consumer()
		a = self.authz(iid, "p3", valid_from="2021-01-01",
		    valid_to="2030-12-31")
		for body in ({"fields": ["name", "birth_date"]},
		    {"fields": ["death_date"]},
		    {"valid_to": "2031-01-01"}, {"valid_to": None},
		    {"valid_from": "2020-12-31"}):
			r = HUB.admin("PATCH", "/v1/authorizations/" + a["id"], body)
			self.assertEqual((r.status, r.error_code),
			    (409, "CONFLICT"), (body, r))
			self.assertIn("new authorization", r.json["error"]["message"])
		# Nothing changed.
		got = HUB.admin("GET", "/v1/authorizations?consumer=" +
		    iid).json["authorizations"][0]
		self.assertEqual((got["fields"], got["valid_from"],
		    got["valid_to"]), (["name", "address"], "2021-01-01",
		    "2030-12-31"))
		# Narrower in every way at once is fine.
		r = HUB.admin("PATCH", "/v1/authorizations/" + a["id"],
		    {"fields": ["address"], "valid_from": "2022-01-01",
		    "valid_to": "2029-12-31"})
		self.assertEqual(r.status, 200, r)
		self.assertEqual((r.json["fields"], r.json["valid_from"],
		    r.json["valid_to"]), (["address"], "2022-01-01",
		    "2029-12-31"))

	def test_an_open_authorization_may_get_an_end(self):
		iid, _ = self.consumer()
		a = self.authz(iid, "p4")
		r = HUB.admin("PATCH", "/v1/authorizations/" + a["id"],
		    {"valid_to": "2027-01-01"})
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["valid_to"], "2027-01-01")

	def test_bad_patches(self):
		iid, tok = self.consumer()
		a = self.authz(iid, "p5", valid_from="2021-01-01")
		for body, status in (({}, 400), ({"purpose": "x"}, 400),
		    ({"valid_to": "2020-06-01"}, 400), ({"fields": "name"}, 400),
		    ({"valid_to": "someday"}, 400)):
			r = HUB.admin("PATCH", "/v1/authorizations/" + a["id"], body)
			self.assertEqual(r.status, status, (body, r))
		r = HUB.admin("PATCH", "/v1/authorizations/nope",
		    {"valid_to": "2027-01-01"})
		self.assertEqual((r.status, r.error_code), (404, "NOT_FOUND"))
		r = HUB.request("PATCH", "/v1/authorizations/" + a["id"],
		    {"valid_to": "2027-01-01"}, token=tok)
		self.assertEqual(r.status, 403, r)
		self.assertEqual(HUB.consult(tok, "population.person", SUBJECT,
		    "p5").status, 200)

	def test_history(self):
		iid, _ = self.consumer()
		a = self.authz(iid, "p6")
		HUB.admin("PATCH", "/v1/authorizations/" + a["id"],
		    {"fields": ["name"]})
		HUB.admin("PATCH", "/v1/authorizations/" + a["id"],
		    {"valid_to": "2027-01-01"})
		r = HUB.admin("GET", "/v1/authorizations/%s/history" % a["id"])
		self.assertEqual(r.status, 200, r)
		h = r.json["history"]
		self.assertEqual([e["action"] for e in h], ["authorization.create",
		    "authorization.update", "authorization.update"])
		self.assertIsNone(h[0]["before"])
		self.assertEqual(h[0]["after"]["fields"], ["name", "address"])
		self.assertEqual(h[1]["before"]["fields"], ["name", "address"])
		self.assertEqual(h[1]["after"]["fields"], ["name"])
		self.assertIsNone(h[1]["after"]["valid_to"])
		self.assertEqual(h[2]["after"]["valid_to"], "2027-01-01")
		self.assertEqual({e["actor"] for e in h}, {"admin"})
		# Deleted, its history stays readable.
		self.assertEqual(HUB.admin("DELETE", "/v1/authorizations/" +
		    a["id"]).status, 204)
		h = HUB.admin("GET", "/v1/authorizations/%s/history" %
		    a["id"]).json["history"]
		self.assertEqual(h[-1]["action"], "authorization.delete")
		self.assertEqual(h[-1]["before"]["valid_to"], "2027-01-01")
		self.assertIsNone(h[-1]["after"])
		r = HUB.admin("GET", "/v1/authorizations/nope/history")
		self.assertEqual(r.status, 404, r)


class AuditTests(Base):

	def entries_of(self, obj):
		return audit(object=obj)

	def test_every_kind_of_change_is_audited(self):
		start = last_seq()
		iid, tok = self.consumer()
		sec = HUB.admin("POST", "/v1/operators", {"name": "sec%d" %
		    next(_ids), "role": "security"}).json
		cl = HUB.request("POST", "/v1/institutions/%s/clients" % iid,
		    {"name": "second"}, token=sec["token"]).json
		HUB.request("POST", "/v1/institutions/%s/clients/%s/rotate" % (
		    iid, cl["client_id"]), {"overlap_seconds": 0},
		    token=sec["token"])
		HUB.request("DELETE", "/v1/institutions/%s/clients/%s" % (iid,
		    cl["client_id"]), token=sec["token"])
		sid = "svc.%d" % next(_ids)
		HUB.service(sid, "RN", SRC.url("/person"), ["name"])
		et = "ev.%d" % next(_ids)
		r = HUB.admin("POST", "/v1/event-types", {"id": et,
		    "provider": "RN", "fields": ["name"]})
		self.assertEqual(r.status, 201, r)
		HUB.authorize(iid, et, "follow", ["name"])
		r = HUB.request("POST", "/v1/subscriptions", {"event_type": et,
		    "delivery": {"feed": True}}, token=tok)
		self.assertEqual(r.status, 201, r)
		sub = r.json
		self.assertEqual(HUB.request("DELETE", "/v1/subscriptions/" +
		    sub["id"], token=tok).status, 204)
		bid = "bundle-%d" % next(_ids)
		r = HUB.admin("POST", "/v1/bundles", {"id": bid,
		    "services": ["population.person"], "deadline_ms": 1000})
		self.assertEqual(r.status, 201, r)
		got = audit(after=start)
		acts = [(e["action"], e["object"], e["actor"]) for e in got]
		client_id = HUB.admin("GET", "/v1/institutions/%s/clients" %
		    iid).json["clients"]
		first = [c for c in client_id if c["name"] == "app"][0]
		want = [
		    ("institution.create", "institution:" + iid, "admin"),
		    ("client.create", "client:" + first["client_id"], "admin"),
		    ("operator.create", "operator:" + sec["operator_id"], "admin"),
		    ("client.create", "client:" + cl["client_id"], sec["name"]),
		    ("client.rotate", "client:" + cl["client_id"], sec["name"]),
		    ("client.revoke", "client:" + cl["client_id"], sec["name"]),
		    ("service.create", "service:" + sid, "admin"),
		    ("event_type.create", "event_type:" + et, "admin"),
		    ("authorization.create", None, "admin"),
		    ("subscription.create", "subscription:" + sub["id"],
		    first["client_id"]),
		    ("subscription.delete", "subscription:" + sub["id"],
		    first["client_id"]),
		    ("bundle.create", "bundle:" + bid, "admin"),
		]
		self.assertEqual(len(acts), len(want), acts)
		for (a, o, who), (wa, wo, wwho) in zip(acts, want):
			self.assertEqual(a, wa, acts)
			if wo is not None:
				self.assertEqual(o, wo)
			self.assertEqual(who, wwho, (a, o))
		by = {e["action"]: e for e in got}
		self.assertEqual(by["institution.create"]["after"]["id"], iid)
		self.assertIsNone(by["institution.create"]["before"])
		rev = by["client.revoke"]
		self.assertIsNone(rev["before"]["revoked_at"])
		self.assertIsNotNone(rev["after"]["revoked_at"])
		self.assertIsNone(by["subscription.delete"]["after"])
		self.assertEqual(by["subscription.delete"]["before"]["event_type"],
		    et)
		for e in got:
			self.assertRegex(e["hash"], r"^[0-9a-f]{64}$")
			self.assertRegex(e["ts"],
			    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
		# No secret of any kind.
		text = json.dumps(got)
		for secret in (tok, sec["token"], cl["token"], sub["secret"]):
			self.assertNotIn(secret[4:], text)

	def test_failed_change_is_not_audited(self):
		iid, _ = self.consumer()
		before = last_seq()
		r = HUB.admin("POST", "/v1/institutions", {"id": iid, "name": "x",
		    "sector": "s"})
		self.assertEqual(r.status, 409, r)
		r = HUB.admin("DELETE", "/v1/authorizations/nope")
		self.assertEqual(r.status, 404, r)
		self.assertEqual(last_seq(), before)

	def test_after_and_roles(self):
		iid, tok = self.consumer()
		s = last_seq()
		page = HUB.admin("GET", "/v1/audit?after=%d" % (s - 1)).json
		self.assertEqual([e["seq"] for e in page["entries"]], [s])
		r = HUB.admin("GET", "/v1/audit?after=0&limit=1")
		self.assertEqual([e["seq"] for e in r.json["entries"]], [1])
		aud = HUB.admin("POST", "/v1/operators", {"name": "aud%d" %
		    next(_ids), "role": "auditor"}).json
		self.assertEqual(HUB.request("GET", "/v1/audit",
		    token=aud["token"]).status, 200)
		self.assertEqual(HUB.request("GET", "/v1/audit",
		    token=tok).status, 403)
		self.assertEqual(HUB.request("GET", "/v1/audit").status, 401)
		for bad in ("after=-1", "after=x", "limit=0", "limit=1001"):
			r = HUB.admin("GET", "/v1/audit?" + bad)
			self.assertEqual(r.status, 400, (bad, r))

	def test_two_processes_chain_one_trail(self):
		"""Changes through both hubs, interleaved: one chain, no gap,
		and it verifies."""
		start = last_seq()
		for k in range(6):
			hub = (HUB, PEER)[k % 2]
			r = hub.admin("POST", "/v1/institutions", {"id": "TP%d" %
			    next(_ids), "name": "x", "sector": "s"})
			self.assertEqual(r.status, 201, r)
		got = audit(after=start, hub=PEER)
		self.assertEqual([e["seq"] for e in got],
		    list(range(start + 1, start + 7)))
		r = H.run_cli(["audit", "verify", "--db", HUB.db])
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.assertIn("audit trail intact", r.stdout)


class VerifyTests(unittest.TestCase):
	"""crossroads audit verify on a copy that is tampered with."""

	def make_db(self, name):
		d = os.path.join(W, name)
		os.makedirs(d)
		hub = H.Hub(d).start()
		try:
			for k in range(4):
				hub.institution("V%d" % k)
		finally:
			self.assertEqual(hub.terminate(), 0)
		return hub.db

	def verify(self, db):
		return H.run_cli(["audit", "verify", "--db", db])

	def test_intact(self):
		db = self.make_db("v-intact")
		r = self.verify(db)
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.assertIn("4 entries", r.stdout)

	def test_edited_entry(self):
		db = self.make_db("v-edit")
		conn = sqlite3.connect(db)
		conn.execute("UPDATE audit SET actor = 'someone-else' "
		    "WHERE seq = 2")
		conn.commit()
		conn.close()
		r = self.verify(db)
		self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
		self.assertIn("BROKEN at entry 2", r.stdout)

	def test_edited_before_after(self):
		db = self.make_db("v-after")
		conn = sqlite3.connect(db)
		conn.execute("UPDATE audit SET after = replace(after, 'V2', "
		    "'V9') WHERE seq = 3")
		conn.commit()
		conn.close()
		r = self.verify(db)
		self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
		self.assertIn("BROKEN at entry 3", r.stdout)

	def test_deleted_entry(self):
		db = self.make_db("v-delete")
		conn = sqlite3.connect(db)
		conn.execute("DELETE FROM audit WHERE seq = 2")
		conn.commit()
		conn.close()
		r = self.verify(db)
		self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
		self.assertIn("BROKEN at entry 3", r.stdout)

	def test_registry_import_is_audited(self):
		d = os.path.join(W, "v-import")
		os.makedirs(d)
		db = os.path.join(d, "hub.db")
		token = "crt_" + "5a" * 32
		reg = os.path.join(d, "registry.json")
		with open(reg, "w") as f:
			json.dump({"institutions": [{"id": "RI", "name": "R",
			    "sector": "s"}], "clients": [{"institution": "RI",
			    "name": "app", "token": token}], "services": [{"id":
			    "ri.person", "provider": "RI", "endpoint":
			    "http://127.0.0.1:9/p", "fields": ["name"]}],
			    "authorizations": [{"consumer": "RI", "service":
			    "ri.person", "purpose": "x", "legal_basis": "y",
			    "fields": ["name"]}]}, f)
		r = H.run_cli(["registry", "import", reg, "--db", db])
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		rows = H.db_query(db, "SELECT actor, action, after FROM audit "
		    "ORDER BY seq")
		self.assertEqual([(a, b) for a, b, _ in rows], [
		    ("registry-import", "institution.create"),
		    ("registry-import", "client.create"),
		    ("registry-import", "service.create"),
		    ("registry-import", "authorization.create")])
		self.assertNotIn(token[4:], json.dumps(rows))
		# Again: everything is skipped, nothing is audited.
		r = H.run_cli(["registry", "import", reg, "--db", db])
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.assertEqual(H.db_query(db, "SELECT count(*) FROM audit")[0][0],
		    4)
		r = self.verify(db)
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

	def test_usage(self):
		r = H.run_cli(["audit", "verify"])
		self.assertEqual(r.returncode, 2)
		self.assertIn("missing --db", r.stderr)
		r = H.run_cli(["audit", "verify", "--db",
		    os.path.join(W, "nothing-here.db")])
		self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
	unittest.main()
