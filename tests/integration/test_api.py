"""
Integration tests of the hub's HTTP API against the contract
(docs/api.md): registry, authentication, reference
directory, consultation checks and their order, field filtering, source
failures, the exchange log, request ids and metrics.

One hub and a handful of fixture sources are shared by the whole module;
every test creates its own consumer institution and uses its own subjects,
so tests do not see each other's log entries or directory records.

Size: over 800 lines because every test of the contract runs against one
hub and one set of fixture sources started once (setUpModule); a second
file would start them again.
"""

import datetime
import itertools
import os
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

W = None		# work dir
HUB = None
FAST = None		# answers from a data file
SLOW = None		# --delay-ms 2000
FAIL = None		# --status 500
GARBAGE = None		# --garbage
NESTED = None		# answers with nested keys the service does not declare
DOWN_URL = None		# nothing listens there
SUBJECTS = H.SubjectPool(1)
_ids = itertools.count(1)

PERSON_FIELDS = ["name", "birth_date", "address", "household", "death_date"]
PERSON_PARAMS = [{"name": "detail", "type": "string"}]
KBO_FIELDS = ["name", "legal_form", "address", "nace"]

# A service declaring the shape of its answer as paths: address is an object
# of two declared members, household a list of objects, tags a list of
# scalars (a leaf), contact an object whose phone is a declared object.
NESTED_FIELDS = ["name", "address", "address.street", "address.city", "household",
    "household.name",
    "household.birth_date", "tags", "contact.phone.number", "death_date"]
NESTED_PARAMS = [{"name": "year", "type": "integer"},
    {"name": "on", "type": "date"}, {"name": "ratio", "type": "number"},
    {"name": "full", "type": "boolean"}, {"name": "unit", "type": "string"}]


def nested_data(subject):
	"""An answer that drifted from the declaration at every depth: four
	undeclared keys (address.secret, household[].medical twice, the
	top-level internal) and, named like declared fields at another depth,
	address.name and household[].street."""
	return {
		"name": "Person %s" % subject,
		"address": {"street": "Rue de la Loi 16", "city": "Brussels",
		    "secret": "door code 1234", "name": "not the person's name"},
		"household": [
		    {"name": "A", "birth_date": "1980-01-01",
		    "medical": "diabetes"},
		    {"name": "B", "birth_date": None, "medical": "asthma",
		    "street": "elsewhere"},
		    None],
		"tags": ["x", 1, {"deep": True}],
		"contact": {"phone": None},
		"death_date": None,
		"internal": "source-internal",
	}


# Undeclared keys in one answer of nested_data (counted whatever is granted).
NESTED_UNDECLARED = 6


def setUpModule():
	global W, HUB, FAST, SLOW, FAIL, GARBAGE, NESTED, DOWN_URL
	W = H.make_tmpdir()
	try:
		FAST = H.Fixture(W, H.fixture_dataset(), name="fast").start()
		NESTED = H.Fixture(W, {s: nested_data(s) for s in
		    [H.person(k) for k in range(1, H.N_KNOWN + 1)]},
		    name="nested").start()
		SLOW = H.Fixture(W, H.fixture_dataset(), delay_ms=2000,
		    name="slow").start()
		FAIL = H.Fixture(W, H.fixture_dataset(), status=500,
		    name="fail").start()
		GARBAGE = H.Fixture(W, H.fixture_dataset(), garbage=True,
		    name="garbage").start()
		DOWN_URL = "http://127.0.0.1:%d/person" % H.free_port()
		HUB = H.Hub(W).start()
		HUB.institution("RN", "National Register", "population")
		HUB.institution("KBO", "Crossroads Bank for Enterprises",
		    "enterprises")
		# The capacities the consumers declare, by their sectors (the
		# rule itself: test_capacities.py).
		HUB.capacity("jobseeker", sectors=["unemployment"])
		HUB.capacity("insured", sectors=["health", "unemployment"])
		HUB.capacity("beneficiary", sectors=["unemployment"])
		HUB.service("population.person", "RN", FAST.url("/person"),
		    PERSON_FIELDS, params=PERSON_PARAMS)
		HUB.service("nested.person", "RN", NESTED.url("/person"),
		    NESTED_FIELDS, params=NESTED_PARAMS)
		HUB.service("enterprise.basic", "KBO", FAST.url("/kbo"),
		    KBO_FIELDS, subject_kind="enterprise")
		HUB.service("slow.person", "RN", SLOW.url("/person"),
		    PERSON_FIELDS, timeout_ms=5000)
		HUB.service("timeout.person", "RN", SLOW.url("/person"),
		    PERSON_FIELDS, timeout_ms=300)
		HUB.service("broken.person", "RN", FAIL.url("/person"),
		    PERSON_FIELDS)
		HUB.service("garbage.person", "RN", GARBAGE.url("/person"),
		    PERSON_FIELDS)
		HUB.service("down.person", "RN", DOWN_URL, PERSON_FIELDS,
		    timeout_ms=2000)
	except Exception:
		tearDownModule()
		raise


def tearDownModule():
	for p in (HUB, FAST, SLOW, FAIL, GARBAGE, NESTED):
		if p is not None:
			p.kill()
	if W is not None:
		H.remove_tmpdir(W)


class Base(unittest.TestCase):

	def consumer(self, prefix="C", sector="unemployment"):
		"""A fresh institution with one client: (id, token, client_id)."""
		iid = "%s%d" % (prefix, next(_ids))
		HUB.institution(iid, sector=sector)
		c = HUB.client(iid)
		return iid, c["token"], c["client_id"]

	def assertError(self, r, status, code):
		self.assertEqual(r.status, status, r)
		self.assertEqual(r.error_code, code, r)
		err = r.json["error"]
		self.assertIsInstance(err.get("message"), str, r)
		self.assertEqual(err.get("request_id"), r.header("X-Request-Id"), r)

	def assertGranted(self, r, subject=None):
		self.assertEqual(r.status, 200, r)
		self.assertIsInstance(r.json.get("data"), dict, r)
		if subject is not None:
			self.assertEqual(r.json["subject"], subject)

	def entry(self, subject, request_id, consumer=None):
		"""The log entry of one request (found through the API)."""
		for e in HUB.log_entries(subject, consumer):
			if e["request_id"] == request_id:
				return e
		self.fail("no log entry with request_id %s for subject %s" %
		    (request_id, subject))

	def db_entry(self, request_id):
		"""The log entry of one request, read from the database."""
		rows = H.db_query(HUB.db, "SELECT outcome, status, error_code, "
		    "consumer, subject FROM xlog WHERE request_id = ?",
		    (request_id,))
		self.assertEqual(len(rows), 1, "entries for %s: %r" %
		    (request_id, rows))
		return dict(zip(("outcome", "status", "error_code", "consumer",
		    "subject"), rows[0]))


class GeneralTests(Base):

	def test_healthz(self):
		r = HUB.request("GET", "/healthz")
		self.assertEqual(r.status, 200)
		self.assertEqual(r.json, {"status": "ok"})
		self.assertTrue(r.header("X-Request-Id"))

	def test_request_id_echo(self):
		rid = "Abc.def_1:2-3"
		r = HUB.request("GET", "/healthz", headers={"X-Request-Id": rid})
		self.assertEqual(r.header("X-Request-Id"), rid)
		# Echoed on errors too, inside the body as well.
		r = HUB.request("GET", "/v1/no-such-thing",
		    headers={"X-Request-Id": rid})
		self.assertEqual(r.header("X-Request-Id"), rid)
		self.assertEqual(r.json["error"]["request_id"], rid)
		# 63 characters is the longest accepted value.
		rid = "r" * 63
		r = HUB.request("GET", "/healthz", headers={"X-Request-Id": rid})
		self.assertEqual(r.header("X-Request-Id"), rid)

	def test_request_id_invalid_replaced(self):
		for bad in ("r" * 64, "has space", "semi;colon", "quote\"x"):
			r = HUB.request("GET", "/healthz",
			    headers={"X-Request-Id": bad})
			got = r.header("X-Request-Id")
			self.assertTrue(got, bad)
			self.assertNotEqual(got, bad)
			self.assertRegex(got, r"^[A-Za-z0-9._:-]{1,63}$")

	def test_request_ids_unique(self):
		ids = {HUB.request("GET", "/healthz").header("X-Request-Id")
		    for _ in range(20)}
		self.assertEqual(len(ids), 20)

	def test_access_log(self):
		rid = H.new_request_id("acc")
		HUB.request("GET", "/v1/services", token=H.ADMIN_TOKEN,
		    headers={"X-Request-Id": rid})
		# The line is written when the hub has finished with the request,
		# which may be just after the client read the answer.
		deadline = time.monotonic() + 5
		while True:
			lines = [x for x in HUB.access_log()
			    if x.get("request_id") == rid]
			if lines or time.monotonic() > deadline:
				break
			time.sleep(0.02)
		self.assertEqual(len(lines), 1, HUB.stderr()[-2000:])
		self.assertEqual(lines[0].get("status"), 200)
		self.assertEqual(lines[0].get("method"), "GET")

	def test_unknown_route(self):
		for path in ("/v1/nope", "/nope", "/v2/consult/population.person"):
			r = HUB.request("GET", path, token=H.ADMIN_TOKEN)
			self.assertError(r, 404, "NOT_FOUND")

	def test_method_not_allowed(self):
		# Allow lists HEAD wherever GET is allowed.
		cases = [("DELETE", "/v1/institutions", {"GET", "HEAD", "POST"}),
		    ("PUT", "/v1/services", {"GET", "HEAD", "POST"}),
		    ("GET", "/v1/consult/population.person", {"POST"}),
		    ("POST", "/v1/log", {"GET", "HEAD"}),
		    ("POST", "/healthz", {"GET", "HEAD"}),
		    ("POST", "/v1/batches/x/results", {"GET", "HEAD"}),
		    # Reading the feed logs what it hands out: GET only.
		    ("POST", "/v1/feed", {"GET"})]
		for method, path, allow in cases:
			r = HUB.request(method, path, token=H.ADMIN_TOKEN,
			    body=b"{}" if method in ("POST", "PUT") else None)
			self.assertError(r, 405, "METHOD_NOT_ALLOWED")
			self.assertEqual(set(r.header("Allow").split(", ")), allow,
			    (method, path))
		r = HUB.request("HEAD", "/v1/consult/population.person",
		    token=H.ADMIN_TOKEN)
		self.assertEqual(r.status, 405, r)
		self.assertEqual(r.header("Allow"), "POST")
		_, tok, _ = self.consumer()
		r = HUB.request("HEAD", "/v1/feed", token=tok)
		self.assertEqual(r.status, 405, r)
		self.assertEqual(r.header("Allow"), "GET")

	def test_head_as_get(self):
		"""HEAD answers what GET would, status and headers, without a
		body."""
		_, tok, _ = self.consumer()
		cases = [("/healthz", None), ("/openapi.json", None),
		    ("/v1/services", H.ADMIN_TOKEN), ("/v1/services", tok),
		    ("/v1/institutions", H.ADMIN_TOKEN),
		    ("/v1/log?subject=" + H.INSZ_VALID[0], H.ADMIN_TOKEN),
		    ("/v1/bundles", tok),
		    # Errors too: 401, 403, 404 and 400.
		    ("/v1/services", None), ("/v1/institutions", tok),
		    ("/v1/no-such-thing", H.ADMIN_TOKEN),
		    ("/v1/log", H.ADMIN_TOKEN)]
		for path, token in cases:
			g = HUB.request("GET", path, token=token)
			h = HUB.request("HEAD", path, token=token)
			what = (path, token is not None)
			self.assertEqual(h.status, g.status, what)
			self.assertEqual(h.body, b"", what)
			self.assertEqual(set(h.headers) - {"date"},
			    set(g.headers) - {"date"}, what)
			for k in ("content-type", "content-length"):
				self.assertEqual(h.header(k), g.header(k), what)
		# /metrics changes between two requests: same status and type.
		g = HUB.request("GET", "/metrics")
		h = HUB.request("HEAD", "/metrics")
		self.assertEqual((h.status, h.body), (200, b""))
		self.assertEqual(h.header("content-type"), g.header("content-type"))
		# The access log says HEAD, and the route it took.
		rid = H.new_request_id("head")
		HUB.request("HEAD", "/v1/services", token=H.ADMIN_TOKEN,
		    headers={"X-Request-Id": rid})
		line = H.wait_access_line(HUB.stderr_path, rid)
		self.assertEqual((line["method"], line["route"], line["status"]),
		    ("HEAD", "services.list", 200))

	def test_openapi(self):
		r = HUB.request("GET", "/openapi.json")
		self.assertEqual(r.status, 200)
		self.assertIn("openapi", r.json)
		self.assertIn("paths", r.json)


class AuthTests(Base):

	def test_missing_or_bad_token(self):
		for hdr in (None, "Bearer", "Bearer wrong-token-0123456789",
		    "Basic " + H.ADMIN_TOKEN, "Bearer " + H.ADMIN_TOKEN + "x",
		    "bearer-" + H.ADMIN_TOKEN):
			h = {"Authorization": hdr} if hdr is not None else {}
			for method, path in (("GET", "/v1/services"),
			    ("GET", "/v1/institutions"),
			    ("POST", "/v1/directory"),
			    ("GET", "/v1/log?subject=" + H.INSZ_VALID[0])):
				r = HUB.request(method, path, headers=h,
				    body=b"{}" if method == "POST" else None)
				self.assertError(r, 401, "UNAUTHENTICATED")

	def test_bearer_case_insensitive(self):
		_, tok, _ = self.consumer()
		for scheme in ("bearer", "BEARER", "Bearer", "bEaReR"):
			for token, path in ((H.ADMIN_TOKEN, "/v1/institutions"),
			    (tok, "/v1/services")):
				r = HUB.request("GET", path, headers={"Authorization":
				    scheme + " " + token})
				self.assertEqual(r.status, 200, (scheme, r))
		# Not the scheme: still refused.
		for hdr in ("bearer-" + H.ADMIN_TOKEN, "Bearer:" + H.ADMIN_TOKEN,
		    "Bearers " + H.ADMIN_TOKEN):
			r = HUB.request("GET", "/v1/institutions",
			    headers={"Authorization": hdr})
			self.assertError(r, 401, "UNAUTHENTICATED")

	def test_missing_and_unknown_token_told_apart(self):
		# Well-formed like a client token, but never issued.
		tok = "crt_" + "0123456789abcdef" * 4
		missing = (None, "Bearer", "Bearer ", "Basic " + H.ADMIN_TOKEN,
		    "bearer-" + H.ADMIN_TOKEN)
		unknown = ("Bearer wrong-token-0123456789", "bearer " + tok,
		    "Bearer " + H.ADMIN_TOKEN + "x", "Bearer " + "t" * 300)
		before = MetricsTests.samples(HUB.request("GET",
		    "/metrics").body.decode())
		rids = {}
		for hdrs, message, reason in ((missing, "missing bearer token",
		    "missing_token"), (unknown, "unknown or revoked token",
		    "unknown_token")):
			for hdr in hdrs:
				for method, path in (("GET", "/v1/services"),
				    ("POST", "/v1/consult/population.person")):
					rid = H.new_request_id("auth")
					h = {"X-Request-Id": rid}
					if hdr is not None:
						h["Authorization"] = hdr
					r = HUB.request(method, path, headers=h,
					    body={"subject": H.INSZ_VALID[0],
					    "purpose": "p"} if method == "POST" else None)
					self.assertError(r, 401, "UNAUTHENTICATED")
					self.assertEqual(r.json["error"]["message"],
					    message, (hdr, path))
					rids[rid] = (reason, path)
		# The access log and the metrics say which.
		for rid, (reason, _) in rids.items():
			line = H.wait_access_line(HUB.stderr_path, rid)
			self.assertEqual((line["status"], line.get("auth")),
			    (401, reason), rid)
		after = MetricsTests.samples(HUB.request("GET",
		    "/metrics").body.decode())
		name = "crossroads_http_unauthenticated_total"
		for reason in ("missing_token", "unknown_token"):
			key = (name, frozenset({("reason", reason)}))
			self.assertEqual(after.get(key, 0) - before.get(key, 0),
			    sum(1 for v, _ in rids.values() if v == reason), reason)
		# Refused consultations have no entry of their own: they are
		# counted by address, in aggregate (test_abuse.UnauthTests).
		for rid, (_, path) in rids.items():
			rows = H.db_query(HUB.db, "SELECT status, error_code FROM xlog "
			    "WHERE request_id = ?", (rid,))
			self.assertEqual(rows, [], rid)

	def test_client_token_on_operator_endpoints(self):
		iid, tok, _ = self.consumer()
		cases = [("POST", "/v1/institutions", {"id": "X" + iid,
		    "name": "x", "sector": "y"}),
		    ("POST", "/v1/institutions/%s/clients" % iid, {"name": "z"}),
		    ("POST", "/v1/services", {"id": "x." + iid, "provider": "RN",
		    "endpoint": FAST.url(), "fields": ["name"]}),
		    ("POST", "/v1/authorizations", {"consumer": iid,
		    "service": "population.person", "purpose": "p",
		    "legal_basis": "l", "fields": ["name"]}),
		    ("GET", "/v1/authorizations", None),
		    ("DELETE", "/v1/authorizations/1", None),
		    ("GET", "/v1/log?subject=" + H.INSZ_VALID[0], None)]
		for method, path, body in cases:
			r = HUB.request(method, path, body=body, token=tok)
			self.assertError(r, 403, "NOT_AUTHORIZED")
		# Nothing was created behind the refusal.
		r = HUB.admin("GET", "/v1/institutions")
		ids = [i["id"] for i in r.json["institutions"]]
		self.assertNotIn("X" + iid, ids)

	def test_institution_list_operator_only(self):
		# The contract files the route under "Registry (operator token)".
		iid, tok, _ = self.consumer()
		r = HUB.request("GET", "/v1/institutions", token=tok)
		self.assertError(r, 403, "NOT_AUTHORIZED")
		r = HUB.admin("GET", "/v1/institutions")
		self.assertEqual(r.status, 200, r)
		self.assertIn(iid, [i["id"] for i in r.json["institutions"]])
		r = HUB.request("GET", "/v1/institutions")
		self.assertError(r, 401, "UNAUTHENTICATED")

	def test_operator_token_on_client_endpoints(self):
		s = SUBJECTS.known()
		cases = [("POST", "/v1/directory", {"subject": s,
		    "capacity": "jobseeker", "from": "2020-01-01", "to": None}),
		    ("POST", "/v1/directory/remove", {"subject": s,
		    "capacity": "jobseeker"}),
		    ("POST", "/v1/consult/population.person", {"subject": s,
		    "purpose": "p"})]
		for method, path, body in cases:
			r = HUB.admin(method, path, body)
			self.assertError(r, 403, "NOT_AUTHORIZED")
		r = HUB.admin("POST", "/v1/directory/batch",
		    '{"subject":"%s","capacity":"jobseeker","from":"2020-01-01",'
		    '"to":null}\n' % s, content_type="application/x-ndjson")
		self.assertError(r, 403, "NOT_AUTHORIZED")

	def test_services_directory_visible_to_clients(self):
		_, tok, _ = self.consumer()
		r = HUB.request("GET", "/v1/services", token=tok)
		self.assertEqual(r.status, 200, r)
		svcs = {s["id"]: s for s in r.json["services"]}
		self.assertIn("population.person", svcs)
		for s in svcs.values():
			self.assertNotIn("endpoint", s)
		self.assertEqual(svcs["population.person"]["provider"], "RN")
		r = HUB.admin("GET", "/v1/services")
		svcs = {s["id"]: s for s in r.json["services"]}
		self.assertEqual(svcs["population.person"]["endpoint"],
		    FAST.url("/person"))


class RegistryTests(Base):

	def test_institutions(self):
		iid = "INST-%d.x_y" % next(_ids)
		body = {"id": iid, "name": "Some Office", "sector": "health"}
		r = HUB.admin("POST", "/v1/institutions", body)
		self.assertEqual(r.status, 201, r)
		self.assertEqual(r.json, body)
		r = HUB.admin("POST", "/v1/institutions", body)
		self.assertError(r, 409, "CONFLICT")
		r = HUB.admin("GET", "/v1/institutions")
		self.assertEqual(r.status, 200)
		got = [i for i in r.json["institutions"] if i["id"] == iid]
		self.assertEqual(got, [body])

	def test_institution_bad_bodies(self):
		n = next(_ids)
		bad = [b"{", b"[]", b"", b"null", b'{"id": 5, "name": "x", '
		    b'"sector": "y"}',
		    '{"id": "B%d", "name": "x", "sector": "y", "extra": 1}' % n,
		    '{"name": "x", "sector": "y"}',
		    '{"id": "has space", "name": "x", "sector": "y"}',
		    '{"id": "sl/ash", "name": "x", "sector": "y"}',
		    '{"id": "", "name": "x", "sector": "y"}']
		for body in bad:
			r = HUB.admin("POST", "/v1/institutions", body)
			self.assertError(r, 400, "BAD_REQUEST")
		r = HUB.admin("GET", "/v1/institutions")
		self.assertNotIn("B%d" % n,
		    [i["id"] for i in r.json["institutions"]])

	def test_clients(self):
		iid, tok, cid = self.consumer()
		r = HUB.admin("POST", "/v1/institutions/%s/clients" % iid,
		    {"name": "second-app"})
		self.assertEqual(r.status, 201, r)
		self.assertEqual(r.json["institution"], iid)
		self.assertEqual(r.json["name"], "second-app")
		self.assertIsInstance(r.json["client_id"], str)
		self.assertNotEqual(r.json["client_id"], cid)
		self.assertGreaterEqual(len(r.json["token"]), 16)
		self.assertNotEqual(r.json["token"], tok)
		# Both tokens authenticate.
		for t in (tok, r.json["token"]):
			self.assertEqual(HUB.request("GET", "/v1/services",
			    token=t).status, 200)
		r = HUB.admin("POST", "/v1/institutions/NOPE-%d/clients" %
		    next(_ids), {"name": "x"})
		self.assertError(r, 404, "NOT_FOUND")
		r = HUB.admin("POST", "/v1/institutions/%s/clients" % iid,
		    {"name": "x", "bogus": True})
		self.assertError(r, 400, "BAD_REQUEST")

	def test_services(self):
		sid = "svc%d.person" % next(_ids)
		r = HUB.admin("POST", "/v1/services", {"id": sid, "provider": "RN",
		    "endpoint": FAST.url("/person"), "fields": ["name"]})
		self.assertEqual(r.status, 201, r)
		r = HUB.admin("GET", "/v1/services")
		svc = [s for s in r.json["services"] if s["id"] == sid][0]
		self.assertEqual(svc["timeout_ms"], 2000)
		self.assertEqual(svc["subject_kind"], "person")
		self.assertEqual(svc["fields"], ["name"])
		r = HUB.admin("POST", "/v1/services", {"id": sid, "provider": "RN",
		    "endpoint": FAST.url("/person"), "fields": ["name"]})
		self.assertError(r, 409, "CONFLICT")
		r = HUB.admin("POST", "/v1/services", {"id": sid + "x",
		    "provider": "NOPE%d" % next(_ids), "endpoint": FAST.url(),
		    "fields": ["name"]})
		self.assertError(r, 404, "NOT_FOUND")
		bad = [{"id": sid + "y", "provider": "RN",
		    "endpoint": "ftp://127.0.0.1/x", "fields": ["name"]},
		    {"id": sid + "y", "provider": "RN", "endpoint": "not a url",
		    "fields": ["name"]},
		    {"id": sid + "y", "provider": "RN", "endpoint": FAST.url(),
		    "fields": ["name"], "subject_kind": "robot"},
		    {"id": sid + "y", "provider": "RN", "endpoint": FAST.url(),
		    "fields": "name"},
		    {"id": sid + "y", "provider": "RN", "endpoint": FAST.url(),
		    "fields": ["name"], "timeout_ms": "fast"},
		    {"id": sid + "y", "provider": "RN", "endpoint": FAST.url(),
		    "fields": ["name"], "color": "blue"},
		    # Not a member of a service (docs/api.md), not stored.
		    {"id": sid + "y", "provider": "RN", "endpoint": FAST.url(),
		    "fields": ["name"], "description": "The register"},
		    {"provider": "RN", "endpoint": FAST.url(), "fields": ["name"]}]
		for body in bad:
			r = HUB.admin("POST", "/v1/services", body)
			self.assertError(r, 400, "BAD_REQUEST")
		r = HUB.admin("GET", "/v1/services")
		self.assertNotIn(sid + "y", [s["id"] for s in r.json["services"]])

	def test_authorizations(self):
		iid, _, _ = self.consumer()
		r = HUB.admin("POST", "/v1/authorizations", {"consumer": iid,
		    "service": "population.person", "purpose": "benefit",
		    "legal_basis": "Deliberation 22/123",
		    "fields": ["name", "address"], "capacities": ["jobseeker"]})
		self.assertEqual(r.status, 201, r)
		az = r.json
		self.assertIsInstance(az["id"], str)
		self.assertEqual(az["consumer"], iid)
		self.assertIn(az["valid_from"], (H.day(0), H.day(-1), H.day(1)))
		self.assertIsNone(az.get("valid_to"))
		r = HUB.admin("GET", "/v1/authorizations?consumer=" + iid)
		self.assertEqual(r.status, 200, r)
		self.assertEqual([a["id"] for a in r.json["authorizations"]],
		    [az["id"]])
		r = HUB.admin("GET", "/v1/authorizations")
		self.assertIn(az["id"], [a["id"] for a in
		    r.json["authorizations"]])
		r = HUB.admin("DELETE", "/v1/authorizations/" + az["id"])
		self.assertEqual(r.status, 204, r)
		self.assertEqual(r.body, b"")
		r = HUB.admin("DELETE", "/v1/authorizations/" + az["id"])
		self.assertError(r, 404, "NOT_FOUND")
		r = HUB.admin("GET", "/v1/authorizations?consumer=" + iid)
		self.assertEqual(r.json["authorizations"], [])

	def test_authorization_errors(self):
		iid, _, _ = self.consumer()
		base = {"consumer": iid, "service": "population.person",
		    "purpose": "benefit", "legal_basis": "L", "fields": ["name"]}
		r = HUB.admin("POST", "/v1/authorizations",
		    dict(base, consumer="NOPE%d" % next(_ids)))
		self.assertError(r, 404, "NOT_FOUND")
		r = HUB.admin("POST", "/v1/authorizations",
		    dict(base, service="no.such.service"))
		self.assertError(r, 404, "UNKNOWN_SERVICE")
		for body in (dict(base, fields=["name", "salary"]),
		    dict(base, fields="name"),
		    dict(base, valid_from="2020-02-30"),
		    dict(base, capacities="jobseeker"),
		    dict(base, unknown_field=1),
		    {k: v for k, v in base.items() if k != "purpose"}):
			r = HUB.admin("POST", "/v1/authorizations", body)
			self.assertError(r, 400, "BAD_REQUEST")
		r = HUB.admin("GET", "/v1/authorizations?consumer=" + iid)
		self.assertEqual(r.json["authorizations"], [])


class DirectoryTests(Base):

	def test_idempotent_integration(self):
		iid, tok, _ = self.consumer()
		s = SUBJECTS.known()
		rec = {"subject": s, "capacity": "jobseeker", "from": "2024-01-01",
		    "to": None}
		r = HUB.request("POST", "/v1/directory", rec, token=tok)
		self.assertEqual(r.status, 201, r)
		r = HUB.request("POST", "/v1/directory", rec, token=tok)
		self.assertEqual(r.status, 200, r)
		r = HUB.request("GET", "/v1/directory/" + s, token=tok)
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["subject"], s)
		self.assertEqual(len(r.json["entries"]), 1, r)
		e = r.json["entries"][0]
		self.assertEqual((e["institution"], e["capacity"], e["from"],
		    e["to"]), (iid, "jobseeker", "2024-01-01", None))
		self.assertEqual(e["sector"], "unemployment")

	def test_visibility(self):
		a, ta, _ = self.consumer(sector="unemployment")
		b, tb, _ = self.consumer(sector="health")
		s = SUBJECTS.known()
		HUB.integrate(ta, s, "jobseeker", "2022-01-01")
		HUB.integrate(tb, s, "insured", "2023-01-01", "2030-12-31")
		r = HUB.admin("GET", "/v1/directory/" + s)
		self.assertEqual(r.status, 200, r)
		got = sorted((e["institution"], e["sector"], e["capacity"],
		    e["from"], e["to"]) for e in r.json["entries"])
		self.assertEqual(got, sorted([
		    (a, "unemployment", "jobseeker", "2022-01-01", None),
		    (b, "health", "insured", "2023-01-01", "2030-12-31")]))
		r = HUB.request("GET", "/v1/directory/" + s, token=ta)
		self.assertEqual([e["institution"] for e in r.json["entries"]], [a])
		r = HUB.request("GET", "/v1/directory/" + s, token=tb)
		self.assertEqual([e["institution"] for e in r.json["entries"]], [b])
		_, tc, _ = self.consumer()
		r = HUB.request("GET", "/v1/directory/" + s, token=tc)
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["entries"], [])

	def test_from_defaults_to_today(self):
		_, tok, _ = self.consumer()
		s = SUBJECTS.known()
		r = HUB.request("POST", "/v1/directory", {"subject": s,
		    "capacity": "jobseeker"}, token=tok)
		self.assertEqual(r.status, 201, r)
		r = HUB.request("GET", "/v1/directory/" + s, token=tok)
		self.assertIn(r.json["entries"][0]["from"],
		    (H.day(0), H.day(-1), H.day(1)))
		self.assertIsNone(r.json["entries"][0]["to"])

	def test_invalid_records(self):
		_, tok, _ = self.consumer()
		s = SUBJECTS.known()
		r = HUB.request("POST", "/v1/directory", {"subject": H.INSZ_INVALID,
		    "capacity": "jobseeker", "from": "2024-01-01", "to": None},
		    token=tok)
		self.assertError(r, 400, "INVALID_SUBJECT")
		bad = [b"{", {"subject": s, "from": "2024-01-01"},
		    {"subject": s, "capacity": "jobseeker", "from": "2024-13-01"},
		    {"subject": s, "capacity": "jobseeker", "from": "2024-01-01",
		    "to": "2023-01-01"},
		    {"subject": s, "capacity": 7},
		    {"subject": s, "capacity": "jobseeker", "institution": "RN"},
		    {"subject": s, "capacity": "jobseeker", "bogus": 1}]
		for body in bad:
			r = HUB.request("POST", "/v1/directory", body, token=tok)
			self.assertError(r, 400, "BAD_REQUEST")
		r = HUB.request("GET", "/v1/directory/" + s, token=tok)
		self.assertEqual(r.json["entries"], [])

	def test_remove(self):
		_, tok, _ = self.consumer()
		s = SUBJECTS.known()
		r = HUB.request("POST", "/v1/directory/remove", {"subject": s,
		    "capacity": "jobseeker"}, token=tok)
		self.assertError(r, 404, "NOT_FOUND")
		HUB.integrate(tok, s, "jobseeker", "2020-01-01")
		r = HUB.request("POST", "/v1/directory/remove", {"subject": s,
		    "capacity": "jobseeker"}, token=tok)
		self.assertEqual(r.status, 200, r)
		r = HUB.request("GET", "/v1/directory/" + s, token=tok)
		self.assertEqual([e["to"] for e in r.json["entries"]], [H.day(-1)])
		# Nothing open any more.
		r = HUB.request("POST", "/v1/directory/remove", {"subject": s,
		    "capacity": "jobseeker"}, token=tok)
		self.assertError(r, 404, "NOT_FOUND")

	def test_batch_with_bad_lines(self):
		iid, tok, _ = self.consumer()
		s1, s2 = SUBJECTS.known(), SUBJECTS.known()
		lines = [
		    '{"subject":"%s","capacity":"jobseeker","from":"2020-01-01",'
		    '"to":null}' % s1,
		    '{"subject":"%s","capacity":' % s2,
		    '{"subject":"%s","capacity":"jobseeker","from":"2020-01-01"}'
		    % H.INSZ_INVALID,
		    '{"subject":"%s","capacity":"jobseeker","from":"2021-01-01",'
		    '"to":null}' % s2,
		    '{"subject":"%s","from":"2020-01-01"}' % s1,
		    '{"subject":"%s","capacity":"x","from":"2020-01-01","y":1}' % s1,
		]
		r = HUB.request("POST", "/v1/directory/batch",
		    "\n".join(lines) + "\n", token=tok,
		    content_type="application/x-ndjson")
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["accepted"], 2, r)
		rej = {x["line"]: x["error"]["code"] for x in r.json["rejected"]}
		self.assertEqual(rej, {2: "BAD_REQUEST", 3: "INVALID_SUBJECT",
		    5: "BAD_REQUEST", 6: "BAD_REQUEST"}, r)
		for x in r.json["rejected"]:
			self.assertIsInstance(x["error"].get("message"), str)
		r = HUB.request("GET", "/v1/directory/" + s2, token=tok)
		self.assertEqual([(e["capacity"], e["from"]) for e in
		    r.json["entries"]], [("jobseeker", "2021-01-01")])
		# The accepted records count for consultations.
		HUB.authorize(iid, "population.person", "benefit", ["name"],
		    ["jobseeker"])
		for s in (s1, s2):
			self.assertGranted(HUB.consult(tok, "population.person", s,
			    "benefit"), s)

	def test_batch_large_body_allowed(self):
		# Bigger than the 1 MiB JSON limit: batches have their own.
		_, tok, _ = self.consumer()
		s = SUBJECTS.known()
		line = ('{"subject":"%s","capacity":"jobseeker","from":"%%s",'
		    '"to":"%%s"}' % s)
		n = 1200
		pad = " " * 900
		start = datetime.date(2020, 1, 1)
		days = [(start + datetime.timedelta(days=i)).isoformat()
		    for i in range(n)]
		body = "\n".join((line % (d, d)) + pad for d in days) + "\n"
		self.assertGreater(len(body), 1024 * 1024)
		r = HUB.request("POST", "/v1/directory/batch", body, token=tok,
		    content_type="application/x-ndjson")
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["accepted"], n, r)
		self.assertEqual(r.json["rejected"], [])


class ConsultTests(Base):

	def setUp(self):
		self.iid, self.tok, self.cid = self.consumer()

	def test_granted_field_filtering(self):
		s = SUBJECTS.known()
		HUB.authorize(self.iid, "population.person", "benefit",
		    ["name", "address"], ["jobseeker"])
		HUB.integrate(self.tok, s, "jobseeker")
		r = HUB.consult(self.tok, "population.person", s, "benefit")
		self.assertGranted(r, s)
		want = H.person_data(s)
		self.assertEqual(r.json["data"], {"name": want["name"],
		    "address": want["address"]})
		self.assertEqual(r.json["service"], "population.person")
		self.assertEqual(r.json["source"], "RN")
		self.assertEqual(r.json["request_id"], r.header("X-Request-Id"))
		self.assertEqual(set(r.json), {"request_id", "service", "source",
		    "subject", "data"})
		# Another purpose of the same consumer grants other fields.
		HUB.authorize(self.iid, "population.person", "statistics",
		    ["birth_date"], [])
		r = HUB.consult(self.tok, "population.person", s, "statistics",
		    params={"detail": "full"})
		self.assertGranted(r, s)
		self.assertEqual(r.json["data"], {"birth_date": want["birth_date"]})

	def test_request_id_reaches_reply_and_log(self):
		s = SUBJECTS.known()
		HUB.authorize(self.iid, "population.person", "benefit", ["name"])
		rid = H.new_request_id("echo")
		r = HUB.consult(self.tok, "population.person", s, "benefit",
		    request_id=rid)
		self.assertGranted(r, s)
		self.assertEqual(r.header("X-Request-Id"), rid)
		self.assertEqual(r.json["request_id"], rid)
		e = self.entry(s, rid, self.iid)
		self.assertEqual(e["outcome"], "granted")

	def test_no_capacities_no_integration_needed(self):
		s = SUBJECTS.known()
		HUB.authorize(self.iid, "population.person", "identify", ["name"])
		self.assertGranted(HUB.consult(self.tok, "population.person", s,
		    "identify"), s)
		HUB.authorize(self.iid, "population.person", "identify2", ["name"],
		    [])
		self.assertGranted(HUB.consult(self.tok, "population.person", s,
		    "identify2"), s)

	def test_enterprise_service(self):
		HUB.authorize(self.iid, "enterprise.basic", "check",
		    ["name", "nace"])
		r = HUB.consult(self.tok, "enterprise.basic", H.KBO_VALID, "check")
		self.assertGranted(r, H.KBO_VALID)
		self.assertEqual(r.json["data"], {"name": "Acme SA",
		    "nace": "62010"})
		self.assertEqual(r.json["source"], "KBO")
		r = HUB.consult(self.tok, "enterprise.basic", H.KBO_INVALID, "check")
		self.assertError(r, 400, "INVALID_SUBJECT")

	def test_deny_by_default(self):
		s = SUBJECTS.known()
		HUB.integrate(self.tok, s, "jobseeker")
		# No authorization at all.
		r = HUB.consult(self.tok, "population.person", s, "benefit")
		self.assertError(r, 403, "NOT_AUTHORIZED")
		# An authorization for another purpose, another service, another
		# consumer.
		HUB.authorize(self.iid, "population.person", "other", ["name"])
		HUB.authorize(self.iid, "enterprise.basic", "benefit", ["name"])
		other, _, _ = self.consumer()
		HUB.authorize(other, "population.person", "benefit", ["name"])
		r = HUB.consult(self.tok, "population.person", s, "benefit")
		self.assertError(r, 403, "NOT_AUTHORIZED")
		# Not yet valid, no longer valid.
		HUB.authorize(self.iid, "population.person", "benefit", ["name"],
		    valid_from=H.day(30))
		HUB.authorize(self.iid, "population.person", "benefit", ["name"],
		    valid_from="2020-01-01", valid_to=H.day(-30))
		r = HUB.consult(self.tok, "population.person", s, "benefit")
		self.assertError(r, 403, "NOT_AUTHORIZED")
		# A reference date inside an old authorization does not help:
		# authorization validity is judged on today.
		r = HUB.consult(self.tok, "population.person", s, "benefit",
		    reference_date="2021-01-01")
		self.assertError(r, 403, "NOT_AUTHORIZED")
		# Granted, then revoked.
		az = HUB.authorize(self.iid, "population.person", "benefit",
		    ["name"])
		self.assertGranted(HUB.consult(self.tok, "population.person", s,
		    "benefit"))
		r = HUB.admin("DELETE", "/v1/authorizations/" + az["id"])
		self.assertEqual(r.status, 204)
		r = HUB.consult(self.tok, "population.person", s, "benefit")
		self.assertError(r, 403, "NOT_AUTHORIZED")

	def test_not_integrated(self):
		s = SUBJECTS.known()
		HUB.authorize(self.iid, "population.person", "benefit", ["name"],
		    ["jobseeker", "beneficiary"])
		r = HUB.consult(self.tok, "population.person", s, "benefit")
		self.assertError(r, 403, "NOT_INTEGRATED")
		# Another capacity, or another institution's integration.
		HUB.integrate(self.tok, s, "insured")
		_, tok2, _ = self.consumer()
		HUB.integrate(tok2, s, "jobseeker")
		r = HUB.consult(self.tok, "population.person", s, "benefit")
		self.assertError(r, 403, "NOT_INTEGRATED")
		# Any one of the listed capacities suffices.
		HUB.integrate(self.tok, s, "beneficiary")
		self.assertGranted(HUB.consult(self.tok, "population.person", s,
		    "benefit"), s)

	def test_ended_integrations(self):
		HUB.authorize(self.iid, "population.person", "benefit", ["name"],
		    ["jobseeker"])

		def c(s, ref=None):
			return HUB.consult(self.tok, "population.person", s, "benefit",
			    reference_date=ref)

		# Removed: no longer counts today, still counts in the past.
		s = SUBJECTS.known()
		HUB.integrate(self.tok, s, "jobseeker", "2020-01-01")
		self.assertGranted(c(s), s)
		r = HUB.request("POST", "/v1/directory/remove", {"subject": s,
		    "capacity": "jobseeker"}, token=self.tok)
		self.assertEqual(r.status, 200, r)
		self.assertError(c(s), 403, "NOT_INTEGRATED")
		self.assertError(c(s, H.day(0)), 403, "NOT_INTEGRATED")
		self.assertGranted(c(s, "2021-06-01"), s)
		self.assertGranted(c(s, H.day(-1)), s)
		# Removed with an explicit end date.
		s = SUBJECTS.known()
		HUB.integrate(self.tok, s, "jobseeker", "2020-01-01")
		r = HUB.request("POST", "/v1/directory/remove", {"subject": s,
		    "capacity": "jobseeker", "to": "2022-06-30"}, token=self.tok)
		self.assertEqual(r.status, 200, r)
		self.assertError(c(s), 403, "NOT_INTEGRATED")
		self.assertError(c(s, "2022-07-01"), 403, "NOT_INTEGRATED")
		self.assertGranted(c(s, "2022-06-30"), s)
		# A record whose period is over: dates are inclusive.
		s = SUBJECTS.known()
		HUB.integrate(self.tok, s, "jobseeker", "2020-01-01", "2021-12-31")
		self.assertError(c(s), 403, "NOT_INTEGRATED")
		self.assertGranted(c(s, "2020-01-01"), s)
		self.assertGranted(c(s, "2021-12-31"), s)
		self.assertError(c(s, "2019-12-31"), 403, "NOT_INTEGRATED")
		self.assertError(c(s, "2022-01-01"), 403, "NOT_INTEGRATED")
		# A record that starts in the future.
		s = SUBJECTS.known()
		HUB.integrate(self.tok, s, "jobseeker", H.day(30))
		self.assertError(c(s), 403, "NOT_INTEGRATED")
		self.assertError(c(s, "2021-06-01"), 403, "NOT_INTEGRATED")

	def test_check_order(self):
		s = SUBJECTS.known()
		svc = "population.person"
		# Unauthenticated beats everything else.
		r = HUB.request("POST", "/v1/consult/no.such", {"subject":
		    H.INSZ_INVALID, "purpose": "x"})
		self.assertError(r, 401, "UNAUTHENTICATED")
		# Subject checked before the service.
		r = HUB.consult(self.tok, "no.such.service", H.INSZ_INVALID, "x")
		self.assertError(r, 400, "INVALID_SUBJECT")
		r = HUB.consult(self.tok, svc, H.INSZ_INVALID, "x")
		self.assertError(r, 400, "INVALID_SUBJECT")
		# An empty subject fails the body's shape, the others the scheme.
		for bad, code in (("8507300332", "INVALID_SUBJECT"),
		    ("850730033288", "INVALID_SUBJECT"),
		    ("8507300332x", "INVALID_SUBJECT"), ("", "BAD_REQUEST")):
			r = HUB.consult(self.tok, svc, bad, "x")
			self.assertError(r, 400, code)
		# Service before authorization.
		r = HUB.consult(self.tok, "no.such.service", s, "x")
		self.assertError(r, 404, "UNKNOWN_SERVICE")
		# Authorization before integration.
		r = HUB.consult(self.tok, svc, s, "x")
		self.assertError(r, 403, "NOT_AUTHORIZED")
		HUB.authorize(self.iid, svc, "x", ["name"], ["jobseeker"])
		r = HUB.consult(self.tok, svc, s, "x")
		self.assertError(r, 403, "NOT_INTEGRATED")
		# Integration before the source: NO_DATA only once integrated.
		u = H.SubjectPool.unknown(1)
		r = HUB.consult(self.tok, svc, u, "x")
		self.assertError(r, 403, "NOT_INTEGRATED")
		HUB.integrate(self.tok, u, "jobseeker")
		r = HUB.consult(self.tok, svc, u, "x")
		self.assertError(r, 404, "NO_DATA")

	def test_bad_request_bodies(self):
		s = SUBJECTS.known()
		HUB.authorize(self.iid, "population.person", "benefit", ["name"])
		bad = [b"{", b"", b"[]", b'"x"', b"{\"subject\": \"%s\"}" %
		    s.encode(),
		    {"purpose": "benefit"},
		    {"subject": int(s), "purpose": "benefit"},
		    {"subject": s, "purpose": 5},
		    {"subject": s, "purpose": "benefit", "params": [1]},
		    {"subject": s, "purpose": "benefit", "params": "x"},
		    {"subject": s, "purpose": "benefit",
		    "reference_date": "2024-02-30"},
		    {"subject": s, "purpose": "benefit", "reference_date": "today"},
		    {"subject": s, "purpose": "benefit", "fields": ["name"]},
		    {"subject": s, "purpose": "benefit", "unknown": True}]
		for body in bad:
			r = HUB.request("POST", "/v1/consult/population.person", body,
			    token=self.tok)
			self.assertError(r, 400, "BAD_REQUEST")
		self.assertGranted(HUB.consult(self.tok, "population.person", s,
		    "benefit"))

	def test_body_over_default_limit(self):
		s = SUBJECTS.known()
		body = ('{"subject":"%s","purpose":"benefit","params":{"x":"%s"}}'
		    % (s, "a" * (1024 * 1024)))
		r = HUB.request("POST", "/v1/consult/population.person", body,
		    token=self.tok)
		self.assertError(r, 413, "PAYLOAD_TOO_LARGE")
		r = HUB.admin("POST", "/v1/institutions", '{"id":"Z","name":"%s",'
		    '"sector":"x"}' % ("n" * (1024 * 1024 + 1)))
		self.assertError(r, 413, "PAYLOAD_TOO_LARGE")

	def test_source_no_data(self):
		u = H.SubjectPool.unknown(2)
		HUB.authorize(self.iid, "population.person", "benefit", ["name"])
		rid = H.new_request_id("nodata")
		r = HUB.consult(self.tok, "population.person", u, "benefit",
		    request_id=rid)
		self.assertError(r, 404, "NO_DATA")
		e = self.entry(u, rid, self.iid)
		self.assertEqual((e["outcome"], e["status"], e["error_code"]),
		    ("granted", 404, "NO_DATA"))

	def test_source_failures(self):
		for svc in ("down.person", "broken.person", "garbage.person"):
			HUB.authorize(self.iid, svc, "benefit", ["name"])
			s = SUBJECTS.known()
			rid = H.new_request_id("fail")
			r = HUB.consult(self.tok, svc, s, "benefit", request_id=rid)
			self.assertError(r, 502, "SOURCE_UNAVAILABLE")
			e = self.entry(s, rid, self.iid)
			self.assertEqual((e["outcome"], e["status"], e["error_code"]),
			    ("failed", 502, "SOURCE_UNAVAILABLE"), svc)

	def test_source_timeout(self):
		s = SUBJECTS.known()
		HUB.authorize(self.iid, "timeout.person", "benefit", ["name"])
		rid = H.new_request_id("tmo")
		r = HUB.consult(self.tok, "timeout.person", s, "benefit",
		    request_id=rid)
		self.assertError(r, 504, "SOURCE_TIMEOUT")
		# timeout_ms is 300, the source needs 2000: the hub must not
		# wait for the source.
		self.assertLess(r.elapsed, 1.7, "took %.2f s" % r.elapsed)
		e = self.entry(s, rid, self.iid)
		self.assertEqual((e["outcome"], e["status"], e["error_code"]),
		    ("failed", 504, "SOURCE_TIMEOUT"))


class LogTests(Base):

	def test_every_attempt_logged(self):
		iid, tok, cid = self.consumer()
		s = SUBJECTS.known()
		HUB.authorize(iid, "population.person", "ok", ["name"])
		HUB.authorize(iid, "population.person", "cap", ["name"],
		    ["jobseeker"])
		cases = [
		    # (body, token, service, status, code, outcome)
		    ({"subject": s, "purpose": "ok"}, tok, "population.person",
		    200, "", "granted"),
		    ({"subject": H.INSZ_INVALID, "purpose": "ok"}, tok,
		    "population.person", 400, "INVALID_SUBJECT", "denied"),
		    ({"subject": s, "purpose": "ok"}, tok, "no.such", 404,
		    "UNKNOWN_SERVICE", "denied"),
		    ({"subject": s, "purpose": "nope"}, tok, "population.person",
		    403, "NOT_AUTHORIZED", "denied"),
		    ({"subject": s, "purpose": "cap"}, tok, "population.person",
		    403, "NOT_INTEGRATED", "denied"),
		]
		for body, t, svc, status, code, outcome in cases:
			rid = H.new_request_id("every")
			r = HUB.request("POST", "/v1/consult/" + svc, body, token=t,
			    headers={"X-Request-Id": rid})
			self.assertEqual(r.status, status, r)
			e = self.entry(body["subject"], rid)
			self.assertEqual((e["outcome"], e["status"], e["consumer"],
			    e["service"]), (outcome, status, iid, svc), e)
			self.assertEqual(e["error_code"] or "", code, e)
		# Without a valid token the caller is nobody: no entry of its
		# own, a count by address and minute (test_abuse.UnauthTests).
		rid = H.new_request_id("unauth")
		r = HUB.request("POST", "/v1/consult/population.person",
		    {"subject": s, "purpose": "ok"}, token="wrong-token-123456789",
		    headers={"X-Request-Id": rid})
		self.assertError(r, 401, "UNAUTHENTICATED")
		self.assertEqual(H.db_query(HUB.db, "SELECT seq FROM xlog WHERE "
		    "request_id = ?", (rid,)), [])
		for body in (b"{not json", {"subject": s, "purpose": "ok",
		    "bogus": 1}):
			rid = H.new_request_id("badreq")
			r = HUB.request("POST", "/v1/consult/population.person", body,
			    token=tok, headers={"X-Request-Id": rid})
			self.assertError(r, 400, "BAD_REQUEST")
			e = self.db_entry(rid)
			self.assertEqual((e["outcome"], e["status"], e["error_code"],
			    e["consumer"]), ("denied", 400, "BAD_REQUEST", iid))

	def test_entry_fields_and_end_user(self):
		iid, tok, cid = self.consumer()
		s = SUBJECTS.known()
		HUB.authorize(iid, "population.person", "benefit", ["name"],
		    legal_basis="Deliberation 99/001")
		rid = H.new_request_id("eu")
		r = HUB.consult(tok,
		    "population.person", s, "benefit", request_id=rid,
		    end_user="agent-0042")
		self.assertGranted(r, s)
		e = self.entry(s, rid, iid)
		want = {"request_id": rid, "consumer": iid, "client": cid,
		    "end_user": "agent-0042", "service": "population.person",
		    "provider": "RN", "subject": s, "purpose": "benefit",
		    "legal_basis": "Deliberation 99/001", "outcome": "granted",
		    "status": 200}
		for k, v in want.items():
			self.assertEqual(e.get(k), v, k)
		self.assertIn(e.get("error_code"), ("", None))
		self.assertIsInstance(e["seq"], int)
		self.assertRegex(e["ts"],
		    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
		self.assertRegex(e["hash"], r"^[0-9a-f]{64}$")
		# Without X-End-User the field is empty.
		rid = H.new_request_id("noeu")
		HUB.consult(tok, "population.person", s, "benefit",
		    request_id=rid)
		self.assertIn(self.entry(s, rid, iid)["end_user"], ("", None))

	def test_query_filters(self):
		a, ta, _ = self.consumer()
		b, tb, _ = self.consumer()
		s = SUBJECTS.known()
		for iid in (a, b):
			HUB.authorize(iid, "population.person", "benefit", ["name"])
		for t in (ta, tb, ta, tb, ta):
			self.assertGranted(HUB.consult(t, "population.person", s,
			    "benefit"))
		r = HUB.admin("GET", "/v1/log?subject=" + s)
		self.assertEqual(r.status, 200, r)
		all_ = r.json["entries"]
		self.assertEqual(len(all_), 5)
		seqs = [e["seq"] for e in all_]
		self.assertEqual(seqs, sorted(seqs, reverse=True))
		self.assertEqual(len(set(e["hash"] for e in all_)), 5)
		self.assertEqual([e["consumer"] for e in all_], [a, b, a, b, a])
		r = HUB.admin("GET", "/v1/log?subject=%s&consumer=%s" % (s, a))
		self.assertEqual([e["consumer"] for e in r.json["entries"]],
		    [a, a, a])
		r = HUB.admin("GET", "/v1/log?subject=%s&limit=2" % s)
		self.assertEqual([e["seq"] for e in r.json["entries"]], seqs[:2])
		r = HUB.admin("GET", "/v1/log?subject=%s&limit=2&before=%d" %
		    (s, seqs[1]))
		self.assertEqual([e["seq"] for e in r.json["entries"]], seqs[2:4])
		r = HUB.admin("GET", "/v1/log?subject=%s&consumer=%s&limit=1" %
		    (s, b))
		self.assertEqual([e["seq"] for e in r.json["entries"]], [seqs[1]])
		r = HUB.admin("GET", "/v1/log?subject=" + SUBJECTS.known())
		self.assertEqual(r.json["entries"], [])
		for q in ("/v1/log", "/v1/log?subject=%s&limit=abc" % s,
		    "/v1/log?subject=%s&limit=-1" % s,
		    "/v1/log?subject=%s&before=x" % s):
			r = HUB.admin("GET", q)
			self.assertError(r, 400, "BAD_REQUEST")


class MetricsTests(Base):

	@staticmethod
	def samples(text):
		"""{(name, frozenset(labels)): value}"""
		out = {}
		for line in text.splitlines():
			if not line or line.startswith("#"):
				continue
			name_labels, _, value = line.rpartition(" ")
			if "{" in name_labels:
				name, _, rest = name_labels.partition("{")
				labels = {}
				for kv in rest.rstrip("}").split(","):
					if kv:
						k, _, v = kv.partition("=")
						labels[k] = v.strip('"')
			else:
				name, labels = name_labels, {}
			out[(name, frozenset(labels.items()))] = float(value)
		return out

	def total(self, samples, name, **labels):
		return sum(v for (n, ls), v in samples.items() if n == name and
		    all((k, val) in ls for k, val in labels.items()))

	def test_metrics(self):
		iid, tok, _ = self.consumer()
		HUB.authorize(iid, "population.person", "benefit", ["name"])
		HUB.authorize(iid, "down.person", "benefit", ["name"])
		r = HUB.request("GET", "/metrics")
		self.assertEqual(r.status, 200, r)
		before = self.samples(r.body.decode())
		for _ in range(3):
			self.assertGranted(HUB.consult(tok, "population.person",
			    SUBJECTS.known(), "benefit"))
		self.assertEqual(HUB.consult(tok, "down.person", SUBJECTS.known(),
		    "benefit").status, 502)
		r = HUB.request("GET", "/metrics")
		self.assertEqual(r.status, 200, r)
		self.assertTrue(r.header("Content-Type").startswith("text/plain"),
		    r.header("Content-Type"))
		text = r.body.decode()
		after = self.samples(text)
		self.assertIn("# TYPE crossroads_consult_duration_seconds "
		    "histogram", text)
		self.assertIn("# TYPE crossroads_http_requests_total counter", text)
		d = (self.total(after, "crossroads_http_requests_total",
		    route="consult", status="200") -
		    self.total(before, "crossroads_http_requests_total",
		    route="consult", status="200"))
		self.assertGreaterEqual(d, 3)
		d = (self.total(after, "crossroads_consult_duration_seconds_count")
		    - self.total(before,
		    "crossroads_consult_duration_seconds_count"))
		self.assertGreaterEqual(d, 4)
		inf = [v for (n, ls), v in after.items() if
		    n == "crossroads_consult_duration_seconds_bucket" and
		    ("le", "+Inf") in ls]
		self.assertEqual(inf, [self.total(after,
		    "crossroads_consult_duration_seconds_count")])
		self.assertIn("crossroads_consult_duration_seconds_sum",
		    [n for n, _ in after])
		self.assertGreater(self.total(after,
		    "crossroads_source_duration_seconds_count"), 0)
		errs = [ls for (n, ls), v in after.items() if
		    n == "crossroads_source_errors_total" and v > 0]
		self.assertTrue(errs, "no source error counted")
		self.assertTrue(all(any(k == "kind" for k, _ in ls) for ls in errs))
		self.assertTrue(any(n.startswith("crossroads_xlog_batch_size")
		    for n, _ in after), "crossroads_xlog_batch_size missing")



def metric(name, **labels):
	"""The value of one sample of GET /metrics (0 when absent)."""
	r = HUB.request("GET", "/metrics")
	assert r.status == 200, r
	samples = MetricsTests.samples(r.body.decode())
	return MetricsTests.total(None, samples, name, **labels)


class NestedFieldTests(Base):
	"""Fields are paths: the hub drops what is not granted at every depth,
	and never passes on what the service does not declare."""

	def setUp(self):
		self.iid, self.tok, self.cid = self.consumer()

	def grant(self, fields, purpose=None):
		purpose = purpose or "p%d" % next(_ids)
		HUB.authorize(self.iid, "nested.person", purpose, fields)
		return purpose

	def data(self, fields):
		s = SUBJECTS.known()
		r = HUB.consult(self.tok, "nested.person", s, self.grant(fields))
		self.assertGranted(r, s)
		return r.json["data"]

	def test_parent_grants_its_declared_children_only(self):
		d = self.data(["name", "address", "household"])
		self.assertEqual(set(d), {"name", "address", "household"})
		# Not address.secret, not address.name (declared only at the top).
		self.assertEqual(d["address"], {"street": "Rue de la Loi 16",
		    "city": "Brussels"})
		# Element by element; a null element stays null.
		self.assertEqual(d["household"], [
		    {"name": "A", "birth_date": "1980-01-01"},
		    {"name": "B", "birth_date": None}, None])

	def test_sub_paths_grant_only_themselves(self):
		d = self.data(["address.street", "household.name",
		    "contact.phone.number"])
		self.assertEqual(d, {"address": {"street": "Rue de la Loi 16"},
		    "household": [{"name": "A"}, {"name": "B"}, None],
		    "contact": {"phone": None}})
		d = self.data(["household.birth_date"])
		self.assertEqual(d, {"household": [{"birth_date": "1980-01-01"},
		    {"birth_date": None}, None]})

	def test_leaf_passes_whole(self):
		# tags has no declared sub-field: it is a value, passed as is.
		d = self.data(["tags", "death_date"])
		self.assertEqual(d, {"tags": ["x", 1, {"deep": True}],
		    "death_date": None})

	def test_undeclared_keys_counted_never_passed(self):
		name = "crossroads_source_undeclared_fields_total"
		before = metric(name, service="nested.person")
		d1 = self.data(["name"])
		d2 = self.data(NESTED_FIELDS)
		after = metric(name, service="nested.person")
		# Counted on every answer, whatever the consumer is granted.
		self.assertEqual(after - before, 2 * NESTED_UNDECLARED)
		self.assertEqual(set(d1), {"name"})
		self.assertNotIn("internal", d2)
		self.assertNotIn("secret", d2["address"])
		self.assertNotIn("name", d2["address"])
		for m in d2["household"][:2]:
			self.assertNotIn("medical", m)
			self.assertNotIn("street", m)
		# The operator's log names the service and the first such key.
		err = HUB.stderr()
		self.assertIn("nested.person", err)
		self.assertIn("address.secret", err)

	def test_authorization_grants_declared_paths_only(self):
		for bad in ("address.secret", "address..street", "address.",
		    ".address", "address street", "household[].name",
		    "household.name.first", "tags.x", "nope"):
			r = HUB.admin("POST", "/v1/authorizations", {"consumer":
			    self.iid, "service": "nested.person", "purpose": "p",
			    "legal_basis": "L", "fields": ["name", bad]})
			self.assertError(r, 400, "BAD_REQUEST")
			self.assertIn("'%s'" % bad, r.json["error"]["message"])
		r = HUB.admin("GET", "/v1/authorizations?consumer=" + self.iid)
		self.assertEqual(r.json["authorizations"], [])
		# A parent declared through its children is declared.
		for ok in (["address"], ["contact.phone"], ["contact"]):
			r = HUB.admin("POST", "/v1/authorizations", {"consumer":
			    self.iid, "service": "nested.person", "purpose": "p",
			    "legal_basis": "L", "fields": ok})
			self.assertEqual(r.status, 201, r)
			self.assertEqual(r.json["fields"], ok)

	def test_service_fields_are_paths(self):
		sid = "svc%d.nested" % next(_ids)
		body = {"id": sid, "provider": "RN", "endpoint": NESTED.url(),
		    "fields": ["name", "address.street", "household.name"]}
		r = HUB.admin("POST", "/v1/services", body)
		self.assertEqual(r.status, 201, r)
		self.assertEqual(r.json["params"], [])
		r = HUB.admin("GET", "/v1/services")
		svc = [x for x in r.json["services"] if x["id"] == sid][0]
		self.assertEqual(svc["fields"], body["fields"])
		self.assertEqual(svc["params"], [])
		for bad in ("a..b", "a.", ".a", "a b", "a/b", "h[].n", "é"):
			r = HUB.admin("POST", "/v1/services", dict(body,
			    id=sid + "x", fields=["name", bad]))
			self.assertError(r, 400, "BAD_REQUEST")
			self.assertIn("'%s'" % bad, r.json["error"]["message"])

	def test_service_params_declaration(self):
		sid = "svc%d.params" % next(_ids)
		decl = [{"name": "year", "type": "integer"},
		    {"name": "on", "type": "date"}]
		body = {"id": sid, "provider": "RN", "endpoint": NESTED.url(),
		    "fields": ["name"], "params": decl}
		r = HUB.admin("POST", "/v1/services", body)
		self.assertEqual(r.status, 201, r)
		self.assertEqual(r.json["params"], decl)
		r = HUB.request("GET", "/v1/services", token=self.tok)
		svc = [x for x in r.json["services"] if x["id"] == sid][0]
		self.assertEqual(svc["params"], decl)
		for bad in ("year", {"name": "year"}, [1], [{"name": "year"}],
		    [{"type": "date"}],
		    [{"name": "year", "type": "float"}],
		    [{"name": "a b", "type": "string"}],
		    [{"name": "", "type": "string"}],
		    [{"name": "a", "type": "string"}, {"name": "a",
		    "type": "integer"}],
		    [{"name": "a", "type": "string", "required": True}],
		    [{"name": "\u00e9" * 40, "type": "string"}]):
			r = HUB.admin("POST", "/v1/services", dict(body,
			    id=sid + "x", params=bad))
			self.assertError(r, 400, "BAD_REQUEST")
		r = HUB.admin("GET", "/v1/services")
		self.assertNotIn(sid + "x", [x["id"] for x in r.json["services"]])


class ParamsTests(Base):
	"""A consultation's params are checked against the service's
	declaration, passed to the source, and logged."""

	def setUp(self):
		self.iid, self.tok, self.cid = self.consumer()
		HUB.authorize(self.iid, "nested.person", "benefit", ["name"])

	def test_undeclared_or_wrong_type_refused_and_logged(self):
		bad = [({"month": 3}, "month"), ({"year": "2024"}, "year"),
		    ({"year": 2024.5}, "year"), ({"year": None}, "year"),
		    ({"year": [2024]}, "year"), ({"on": "2024-02-30"}, "on"),
		    ({"on": 20240201}, "on"), ({"full": "yes"}, "full"),
		    ({"full": 1}, "full"), ({"ratio": "0.5"}, "ratio"),
		    ({"unit": 5}, "unit"), ({"year": 2024, "x": 1}, "x")]
		seen = NESTED.last()["count"]
		for params, name in bad:
			s = SUBJECTS.known()
			rid = H.new_request_id("param")
			r = HUB.consult(self.tok, "nested.person", s, "benefit",
			    params=params, request_id=rid)
			self.assertError(r, 400, "BAD_REQUEST")
			self.assertIn("params.%s" % name, r.json["error"]["message"])
			e = self.entry(s, rid, self.iid)
			self.assertEqual((e["outcome"], e["status"], e["error_code"]),
			    ("denied", 400, "BAD_REQUEST"))
			self.assertEqual(e["params"], params)
		# A name no service could declare, long and not ASCII: a 400
		# whose message is still valid UTF-8.
		r = HUB.consult(self.tok, "nested.person", SUBJECTS.known(),
		    "benefit", params={"\u00e9" * 40: 1})
		self.assertError(r, 400, "BAD_REQUEST")
		# None of them reached the source.
		self.assertEqual(NESTED.last()["count"], seen)
		# A service that declares no params takes none.
		HUB.authorize(self.iid, "enterprise.basic", "check", ["name"])
		r = HUB.consult(self.tok, "enterprise.basic", H.KBO_VALID, "check",
		    params={"detail": "full"})
		self.assertError(r, 400, "BAD_REQUEST")
		self.assertGranted(HUB.consult(self.tok, "enterprise.basic",
		    H.KBO_VALID, "check", params={}))
		# Checked once the service is known, before the authorization.
		other, tok2, _ = self.consumer()
		r = HUB.consult(tok2, "nested.person", SUBJECTS.known(), "benefit",
		    params={"month": 3})
		self.assertError(r, 400, "BAD_REQUEST")

	def test_declared_params_passed_and_logged(self):
		s = SUBJECTS.known()
		params = {"year": 2024, "on": "2024-02-29", "ratio": 1,
		    "full": False, "unit": "EUR \u20ac"}
		rid = H.new_request_id("param")
		r = HUB.consult(self.tok, "nested.person", s, "benefit",
		    params=params, request_id=rid)
		self.assertGranted(r, s)
		last = NESTED.last()
		self.assertEqual(last["x_request_id"], rid)
		self.assertEqual(last["body"]["params"], params)
		e = self.entry(s, rid, self.iid)
		self.assertEqual(e["params"], params)
		# Some of them, or none: null in the log when none were sent.
		for sent, logged in (({"ratio": 0.25}, {"ratio": 0.25}),
		    ({}, None), (None, None)):
			rid = H.new_request_id("param")
			r = HUB.consult(self.tok, "nested.person", s, "benefit",
			    params=sent, request_id=rid)
			self.assertGranted(r, s)
			self.assertEqual(self.entry(s, rid, self.iid)["params"],
			    logged)
		# The stored text is canonical: compact, keys sorted.
		rows = H.db_query(HUB.db, "SELECT params FROM xlog WHERE "
		    "request_id = ?", (e["request_id"],))
		self.assertEqual(rows, [('{"full":false,"on":"2024-02-29",'
		    '"ratio":1,"unit":"EUR \u20ac","year":2024}',)])

	def test_params_too_large_refused(self):
		s = SUBJECTS.known()
		rid = H.new_request_id("param")
		r = HUB.consult(self.tok, "nested.person", s, "benefit",
		    params={"unit": "u" * 2000}, request_id=rid)
		self.assertError(r, 400, "BAD_REQUEST")
		self.assertIn("params", r.json["error"]["message"])
		e = self.entry(s, rid, self.iid)
		self.assertEqual((e["status"], e["error_code"], e["params"]),
		    (400, "BAD_REQUEST", None))


class OldLogTests(Base):
	"""A log written before entries had params still verifies, and
	extends."""

	def test_entries_without_params_still_verify(self):
		d = os.path.join(W, "oldlog")
		os.mkdir(d)
		hub = H.Hub(d, name="oldhub").start()
		try:
			hub.institution("RN", "National Register", "population")
			hub.institution("ONEM", "Employment", "unemployment")
			tok = hub.client("ONEM")["token"]
			hub.service("population.person", "RN", FAST.url("/person"),
			    PERSON_FIELDS)
			hub.authorize("ONEM", "population.person", "benefit",
			    ["name"])
			for k in range(3):
				r = hub.consult(tok, "population.person",
				    H.INSZ_VALID[k], "benefit")
				self.assertEqual(r.status, 200, r)
			r = hub.consult(tok, "population.person", H.INSZ_VALID[0],
			    "other")
			self.assertEqual(r.status, 403, r)
			self.assertEqual(hub.terminate(), 0)
		finally:
			hub.kill()
		# Back to the schema of before (version 5): no params anywhere,
		# no health table (version 7), no client certificates (8), no
		# capacities (9), no Merkle tree nor heads (10).
		conn = sqlite3.connect(hub.db)
		try:
			conn.execute("DROP INDEX clients_cert")
			conn.execute("ALTER TABLE clients DROP COLUMN cert_sha256")
			for col in ("ca_file", "client_cert", "client_key"):
				conn.execute("ALTER TABLE services DROP COLUMN " + col)
			conn.execute("DROP TABLE health")
			conn.execute("DROP TABLE capacities")
			conn.execute("DROP TABLE xlog_tree")
			conn.execute("DROP TABLE xlog_heads")
			# Nor the clients' lifecycle (version 11), named operators
			# (version 12) or the audit trail (version 13).
			conn.execute("DROP TABLE audit")
			conn.execute("DROP TABLE operators")
			conn.execute("DROP TABLE client_usage")
			conn.execute("DROP INDEX clients_prev_token")
			for col in ("expires_ms", "revoked_ms", "prev_token_hash",
			    "prev_valid_until_ms"):
				conn.execute("ALTER TABLE clients DROP COLUMN " + col)
			conn.execute("ALTER TABLE xlog DROP COLUMN params")
			conn.execute("ALTER TABLE services DROP COLUMN params")
			conn.execute("PRAGMA user_version = 5")
			conn.commit()
		finally:
			conn.close()
		r = H.log_verify(hub.db)
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.assertIn("4", r.stdout + r.stderr)
		# The hub migrates it and appends entries with params after them.
		hub = H.Hub(d, name="oldhub2").start()
		try:
			r = hub.admin("GET", "/v1/services")
			self.assertEqual(r.json["services"][0]["params"], [])
			r = hub.consult(hub.client("ONEM")["token"],
			    "population.person", H.INSZ_VALID[0], "benefit",
			    params={"x": 1})
			self.assertEqual((r.status, r.error_code),
			    (400, "BAD_REQUEST"), r)
			self.assertEqual(hub.terminate(), 0)
		finally:
			hub.kill()
		self.assertEqual(H.db_query(hub.db, "SELECT params FROM xlog "
		    "ORDER BY seq"), [("",)] * 4 + [('{"x":1}',)])
		r = H.log_verify(hub.db)
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.assertEqual(run_doc_verifier(hub.db).returncode, 0)


def run_doc_verifier(db):
	"""Runs the independent verifier printed in docs/exchange-log.md."""
	doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
	    "..", "docs", "exchange-log.md")
	with open(doc) as f:
		text = f.read()
	code = text.split("```python\n", 1)[1].split("```", 1)[0]
	path = os.path.join(W, "verify_xlog.py")
	with open(path, "w") as f:
		f.write(code)
	return subprocess.run([sys.executable, path, db], stdin=subprocess.DEVNULL,
	    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
	    timeout=120)


class ZZShutdownTests(Base):
	"""Runs last (classes run in name order): the shared hub, after every
	other test, stops cleanly, without sanitizer reports, chain intact."""

	def test_clean_shutdown(self):
		self.assertEqual(HUB.terminate(), 0, HUB.stderr()[-2000:])
		self.assertEqual(HUB.sanitizer_reports(), [])
		r = H.log_verify(HUB.db)
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		# With entries that carry params, and others that do not.
		self.assertGreater(H.db_query(HUB.db, "SELECT count(*) FROM xlog "
		    "WHERE params <> ''")[0][0], 0)
		r = run_doc_verifier(HUB.db)
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		self.assertTrue(r.stdout.startswith("OK "), r.stdout)


if __name__ == "__main__":
	unittest.main()
