"""
Integration tests of bundles and verifications (docs/verification.md):
bundle definitions (validation, conflicts, listing), the parallel fan-out
(a verification takes about as long as its slowest source), the deadline
and partial results, refusals inside a bundle (not authorized, not
integrated, source errors), the household fan-out, the exchange log of
every sub-consultation, and the rules end to end on fixture data.

One hub and a set of fixture sources are shared; each test uses its own
subjects and bundles.
"""

import http.server
import itertools
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

W = None
HUB = None
FIX = {}
TOK = {}
_subjects = itertools.count(700)
_bundles = itertools.count(1)
PURPOSE = "social-assistance"


def subject():
	return H.person(next(_subjects))


# Subjects with data in the data fixtures.
APPLICANT = H.person(1)		# household of three, every rule fires
PARTNER = H.person(2)
CHILD = H.person(3)
CLEAN = H.person(4)		# alone, no rule fires
LONER = H.person(5)		# population answers without a household
DENIED_MEMBER = H.person(6)	# household with a member CPAS cannot see
OUTSIDER = H.person(7)


def population_data():
	hh = [{"subject": s, "role": r} for s, r in
	    ((APPLICANT, "head"), (PARTNER, "partner"), (CHILD, "child"))]
	d = {
		APPLICANT: {"name": "A", "household": hh, "death_date": None},
		PARTNER: {"name": "P", "household": hh, "death_date": None},
		CHILD: {"name": "C", "household": hh,
		    "death_date": "2025-02-11"},
		CLEAN: {"name": "Clean", "household": [{"subject": CLEAN}],
		    "death_date": None},
		LONER: {"name": "Loner", "death_date": None},
		DENIED_MEMBER: {"name": "D", "household": [
		    {"subject": DENIED_MEMBER}, {"subject": OUTSIDER}],
		    "death_date": None},
		OUTSIDER: {"name": "O", "household": [
		    {"subject": DENIED_MEMBER}, {"subject": OUTSIDER}],
		    "death_date": None},
	}
	return d


WAGES = {
	APPLICANT: {"employed": 1, "pay": [
	    {"month": "2026-07", "gross": 3100.0, "contract": 1},
	    {"month": "2026-08", "gross": 3100.0, "contract": 1}]},
	PARTNER: {"employed": 1, "pay": [
	    {"month": "2026-08", "gross": 2200.0, "contract": 2}]},
	CLEAN: {"employed": 1, "pay": [
	    {"month": "2026-08", "gross": 2100.0, "contract": 3}]},
	DENIED_MEMBER: {"employed": 1, "pay": [
	    {"month": "2026-08", "gross": 2900.0, "contract": 4}]},
}
BENEFITS = {
	APPLICANT: {"status": "receiving", "payments": [
	    {"month": "2026-08", "amount": 1350.0}]},
}
VEHICLES = {
	APPLICANT: {"count": 2, "vehicles": [{"plate": "1-ABC-123",
	    "value": 8000.0}, {"plate": "1-XYZ-999", "value": 41000.0}]},
	CLEAN: {"count": 1, "vehicles": [{"plate": "1-CLN-001",
	    "value": 6500.0}]},
}
CROSSINGS = {
	APPLICANT: {"count": 2, "crossings": [
	    {"date": "2025-01-10", "direction": "exit", "country": "MA"},
	    {"date": "2025-04-20", "direction": "entry", "country": "MA"}]},
	CLEAN: {"count": 2, "crossings": [
	    {"date": "2025-07-01", "direction": "exit", "country": "FR"},
	    {"date": "2025-07-15", "direction": "entry", "country": "FR"}]},
}

RULES = [
	{"id": "deceased-member", "type": "present",
	    "service": "population.person", "field": "death_date"},
	{"id": "abroad-over-90-days", "type": "span",
	    "service": "border.crossings", "field": "crossings[]",
	    "date": "date", "kind": "direction", "start": "exit",
	    "end": "entry", "op": ">", "value": 90},
	{"id": "household-income", "type": "sum", "scope": "household",
	    "terms": [{"service": "employment.wages", "field": "pay[].gross"},
	    {"service": "unemployment.benefits",
	    "field": "payments[].amount"}],
	    "per": "month", "op": ">", "value": 5000},
	{"id": "vehicle-value", "type": "compare",
	    "service": "vehicles.owned", "field": "vehicles[].value",
	    "op": ">", "value": 25000},
	{"id": "benefit-and-full-time-wages", "type": "incompatible",
	    "records": [{"service": "unemployment.benefits",
	    "field": "payments[]", "month": "month"},
	    {"service": "employment.wages", "field": "pay[]",
	    "month": "month", "where": [{"field": "gross", "op": ">=",
	    "value": 2000}]}]},
]
RULE_SERVICES = ["population.person", "employment.wages",
    "unemployment.benefits", "vehicles.owned", "border.crossings"]


def setUpModule():
	global W, HUB
	W = H.make_tmpdir()
	FIX["pop"] = H.Fixture(W, data=population_data(), name="pop").start()
	FIX["wages"] = H.Fixture(W, data=WAGES, name="wages").start()
	FIX["benefits"] = H.Fixture(W, data=BENEFITS, name="benefits").start()
	FIX["vehicles"] = H.Fixture(W, data=VEHICLES, name="vehicles").start()
	FIX["crossings"] = H.Fixture(W, data=CROSSINGS,
	    name="crossings").start()
	for ms in (300, 600, 900, 2000):
		FIX["d%d" % ms] = H.Fixture(W, synthetic=True, delay_ms=ms,
		    name="d%d" % ms).start()
	FIX["fail"] = H.Fixture(W, status=500, name="fail").start()
	HUB = H.Hub(W).start()
	for iid in ("RN", "ONSS", "ONEM", "DIV", "BORDER", "CPAS", "OTHER"):
		HUB.institution(iid)
	for iid in ("CPAS", "OTHER"):
		TOK[iid] = HUB.client(iid)["token"]
	synth = ["name", "birth_date"]
	HUB.service("population.person", "RN", FIX["pop"].url(),
	    ["name", "household", "death_date"])
	HUB.service("employment.wages", "ONSS", FIX["wages"].url(),
	    ["employed", "pay"])
	HUB.service("unemployment.benefits", "ONEM", FIX["benefits"].url(),
	    ["status", "payments"])
	HUB.service("vehicles.owned", "DIV", FIX["vehicles"].url(),
	    ["count", "vehicles"])
	HUB.service("border.crossings", "BORDER", FIX["crossings"].url(),
	    ["count", "crossings"])
	for ms in (300, 600, 900):
		HUB.service("t.d%d" % ms, "RN", FIX["d%d" % ms].url(), synth)
	HUB.service("t.slow", "RN", FIX["d2000"].url(), synth,
	    timeout_ms=5000)
	HUB.service("t.fail", "RN", FIX["fail"].url(), synth)
	HUB.service("t.unauthorized", "RN", FIX["d300"].url(), synth)
	HUB.service("t.integrated", "RN", FIX["d300"].url(), synth)
	for sid, fields in (("population.person", ["name", "household",
	    "death_date"]), ("employment.wages", ["employed", "pay"]),
	    ("unemployment.benefits", ["status", "payments"]),
	    ("vehicles.owned", ["count", "vehicles"]),
	    ("border.crossings", ["count", "crossings"]),
	    ("t.d300", synth), ("t.d600", synth), ("t.d900", synth),
	    ("t.slow", synth), ("t.fail", synth)):
		HUB.authorize("CPAS", sid, PURPOSE, fields)
	HUB.authorize("CPAS", "t.integrated", PURPOSE, synth,
	    capacities=["integration-income"])
	# OUTSIDER's wages need an integration CPAS does not have.
	HUB.service("t.wages-integrated", "ONSS", FIX["wages"].url(),
	    ["employed", "pay"])
	HUB.authorize("CPAS", "t.wages-integrated", PURPOSE,
	    ["employed", "pay"], capacities=["integration-income"])
	HUB.integrate(TOK["CPAS"], DENIED_MEMBER, "integration-income")


def tearDownModule():
	if HUB is not None:
		HUB.kill()
	for f in FIX.values():
		f.kill()
	H.remove_tmpdir(W)


def bundle(services, rules=None, deadline_ms=None, household=True,
    members="household[].subject"):
	bid = "b%d" % next(_bundles)
	body = {"id": bid, "services": services}
	if rules is not None:
		body["rules"] = rules
	if deadline_ms is not None:
		body["deadline_ms"] = deadline_ms
	if household:
		body["household"] = {"service": "population.person",
		    "members": members}
	r = HUB.admin("POST", "/v1/bundles", body)
	if r.status != 201:
		raise AssertionError("bundle: %r" % r)
	return bid


def verify(bid, subj, household=False, token=None, request_id=None,
    purpose=PURPOSE, **extra):
	body = {"subject": subj, "purpose": purpose}
	if household:
		body["household"] = True
	body.update(extra)
	h = {"X-Request-Id": request_id} if request_id else {}
	t = time.monotonic()
	r = HUB.request("POST", "/v1/verify/" + bid, body,
	    token=token or TOK["CPAS"], headers=h)
	return r, time.monotonic() - t


def results_of(answer, subj):
	for m in answer["members"]:
		if m["subject"] == subj:
			return m["results"]
	raise AssertionError("no member %s in %r" % (subj, answer))


class BundleDefinitionTests(unittest.TestCase):

	def test_create_get_list_conflict(self):
		body = {"id": "def-ok", "services": ["t.d300", "t.d600"],
		    "rules": [{"id": "r", "type": "present", "service": "t.d300",
		    "field": "name"}]}
		r = HUB.admin("POST", "/v1/bundles", body)
		self.assertEqual(r.status, 201, r)
		self.assertEqual(r.json["deadline_ms"], 3000)
		self.assertEqual(r.json["rules"], body["rules"])
		r = HUB.admin("POST", "/v1/bundles", body)
		self.assertEqual((r.status, r.error_code), (409, "CONFLICT"))
		r = HUB.request("GET", "/v1/bundles/def-ok", token=TOK["OTHER"])
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["services"], ["t.d300", "t.d600"])
		r = HUB.request("GET", "/v1/bundles", token=TOK["CPAS"])
		self.assertIn("def-ok", [b["id"] for b in r.json["bundles"]])
		r = HUB.admin("GET", "/v1/bundles/nope")
		self.assertEqual((r.status, r.error_code), (404, "NOT_FOUND"))
		self.assertEqual(HUB.request("GET", "/v1/bundles").status, 401)

	def test_only_the_operator_creates(self):
		body = {"id": "def-client", "services": ["t.d300"]}
		r = HUB.request("POST", "/v1/bundles", body, token=TOK["CPAS"])
		self.assertEqual(r.status, 403, r)
		r = HUB.request("POST", "/v1/bundles", body)
		self.assertEqual(r.status, 401, r)

	def test_bad_definitions(self):
		cases = [
			({"id": "x1", "services": ["t.d300"], "rules": [
			    {"id": "weird", "type": "magic"}]},
			    "rules[0] (weird): unknown type 'magic'"),
			({"id": "x2", "services": ["t.d300"], "rules": [
			    {"id": "bad-op", "type": "compare", "service": "t.d300",
			    "field": "name", "op": "=>", "value": 1}]},
			    "rules[0] (bad-op): unknown op '=>'"),
			({"id": "x3", "services": ["t.d300", "no.such"]},
			    "services[1]: no service 'no.such'"),
			({"id": "x4", "services": ["t.d300"], "rules": [
			    {"id": "other", "type": "present",
			    "service": "t.d600"}]}, "not in the bundle's services"),
			({"id": "x5", "services": ["t.d300"],
			    "deadline_ms": 999999}, "deadline_ms"),
			({"id": "x 6", "services": ["t.d300"]}, "'id'"),
			({"id": "x7", "services": ["t.d300"], "household": {
			    "service": "t.d300", "members": "a..b"}}, "members"),
		]
		for body, want in cases:
			r = HUB.admin("POST", "/v1/bundles", body)
			self.assertEqual((r.status, r.error_code),
			    (400, "BAD_REQUEST"), (body, r))
			self.assertIn(want, r.json["error"]["message"])
		r = HUB.admin("POST", "/v1/bundles", "{not json")
		self.assertEqual(r.status, 400)
		r = HUB.admin("GET", "/v1/bundles/x1")
		self.assertEqual(r.status, 404)


class RequestTests(unittest.TestCase):

	def test_refusals_before_any_consultation(self):
		bid = bundle(["t.d300"], household=False)
		s = subject()
		r, _ = verify(bid, s, token="nope")
		self.assertEqual((r.status, r.error_code), (401, "UNAUTHENTICATED"))
		r, _ = verify(bid, s, token=H.ADMIN_TOKEN)
		self.assertEqual(r.status, 403)
		r, _ = verify("no-such-bundle", s)
		self.assertEqual((r.status, r.error_code), (404, "NOT_FOUND"))
		r, _ = verify(bid, H.INSZ_INVALID)
		self.assertEqual((r.status, r.error_code), (400, "INVALID_SUBJECT"))
		r, _ = verify(bid, s, colour="red")
		self.assertEqual((r.status, r.error_code), (400, "BAD_REQUEST"))
		r = HUB.request("POST", "/v1/verify/" + bid, {"subject": s},
		    token=TOK["CPAS"])
		self.assertEqual(r.status, 400)
		self.assertEqual(HUB.log_entries(s), [])


class ParallelTests(unittest.TestCase):

	def test_takes_as_long_as_the_slowest_source(self):
		bid = bundle(["t.d300", "t.d600", "t.d900"], household=False)
		r, elapsed = verify(bid, subject())
		self.assertEqual(r.status, 200, r)
		res = r.json["members"][0]["results"]
		for sid in ("t.d300", "t.d600", "t.d900"):
			self.assertEqual(res[sid]["status"], "ok", res)
		self.assertTrue(r.json["complete"])
		# Sequential would be 1.8 s.
		self.assertGreaterEqual(elapsed, 0.85)
		self.assertLess(elapsed, 1.5, elapsed)

	def test_deadline_gives_partial_results(self):
		bid = bundle(["t.d300", "t.slow"], deadline_ms=500,
		    household=False)
		s = subject()
		rid = H.new_request_id("deadline")
		r, elapsed = verify(bid, s, request_id=rid)
		self.assertEqual(r.status, 200, r)
		res = r.json["members"][0]["results"]
		self.assertEqual(res["t.d300"]["status"], "ok")
		self.assertEqual(res["t.slow"]["status"], "timeout")
		self.assertEqual(res["t.slow"]["error"]["code"], "SOURCE_TIMEOUT")
		self.assertFalse(r.json["complete"])
		self.assertGreaterEqual(elapsed, 0.45)
		self.assertLess(elapsed, 1.2, elapsed)
		# The late consultation is still logged (cut at the deadline).
		deadline = time.monotonic() + 10
		while time.monotonic() < deadline:
			ent = [e for e in HUB.log_entries(s)
			    if e["request_id"] == rid]
			if len(ent) == 2:
				break
			time.sleep(0.1)
		by = {e["service"]: e for e in ent}
		self.assertEqual(sorted(by), ["t.d300", "t.slow"])
		self.assertEqual(by["t.d300"]["outcome"], "granted")
		self.assertEqual(by["t.slow"]["outcome"], "failed")
		self.assertEqual(by["t.slow"]["error_code"], "SOURCE_TIMEOUT")
		self.assertEqual(HUB.sanitizer_reports(), [])


class RefusalTests(unittest.TestCase):

	def test_denied_and_failed_services_inside_a_bundle(self):
		bid = bundle(["t.d300", "t.unauthorized", "t.integrated",
		    "t.fail"], household=False)
		s = subject()
		rid = H.new_request_id("denied")
		r, _ = verify(bid, s, request_id=rid)
		self.assertEqual(r.status, 200, r)
		res = r.json["members"][0]["results"]
		self.assertEqual(res["t.d300"]["status"], "ok")
		self.assertEqual(res["t.unauthorized"]["status"], "denied")
		self.assertEqual(res["t.unauthorized"]["error"]["code"],
		    "NOT_AUTHORIZED")
		self.assertEqual(res["t.integrated"]["status"], "denied")
		self.assertEqual(res["t.integrated"]["error"]["code"],
		    "NOT_INTEGRATED")
		self.assertEqual(res["t.fail"]["status"], "error")
		self.assertEqual(res["t.fail"]["error"]["code"],
		    "SOURCE_UNAVAILABLE")
		self.assertNotIn("data", res["t.unauthorized"])
		# Each one logged as a single consultation would be.
		ent = {e["service"]: e for e in HUB.log_entries(s)
		    if e["request_id"] == rid}
		self.assertEqual(len(ent), 4)
		self.assertEqual(ent["t.d300"]["outcome"], "granted")
		self.assertEqual(ent["t.unauthorized"]["outcome"], "denied")
		self.assertEqual(ent["t.unauthorized"]["error_code"],
		    "NOT_AUTHORIZED")
		self.assertEqual(ent["t.integrated"]["error_code"],
		    "NOT_INTEGRATED")
		self.assertEqual(ent["t.fail"]["outcome"], "failed")
		for e in ent.values():
			self.assertEqual(e["consumer"], "CPAS")
			self.assertEqual(e["purpose"], PURPOSE)
		# Integrated now: the same bundle gets the data.
		HUB.integrate(TOK["CPAS"], s, "integration-income")
		r, _ = verify(bid, s)
		res = r.json["members"][0]["results"]
		self.assertEqual(res["t.integrated"]["status"], "ok")

	def test_consumer_without_authorizations(self):
		bid = bundle(["t.d300", "t.d600"], household=False)
		r, _ = verify(bid, subject(), token=TOK["OTHER"])
		self.assertEqual(r.status, 200, r)
		for v in r.json["members"][0]["results"].values():
			self.assertEqual((v["status"], v["error"]["code"]),
			    ("denied", "NOT_AUTHORIZED"))


class HouseholdTests(unittest.TestCase):

	def test_fan_out_to_members(self):
		bid = bundle(["population.person", "t.d300", "t.d600"])
		rid = H.new_request_id("household")
		r, elapsed = verify(bid, APPLICANT, household=True,
		    request_id=rid)
		self.assertEqual(r.status, 200, r)
		self.assertTrue(r.json["household"])
		self.assertEqual([m["subject"] for m in r.json["members"]],
		    [APPLICANT, PARTNER, CHILD])
		for m in r.json["members"]:
			for sid in ("population.person", "t.d300", "t.d600"):
				self.assertEqual(m["results"][sid]["status"], "ok",
				    (m["subject"], sid))
		# Two rounds at most (household, then members), in parallel.
		self.assertLess(elapsed, 1.6, elapsed)
		for s in (APPLICANT, PARTNER, CHILD):
			ent = [e for e in HUB.log_entries(s)
			    if e["request_id"] == rid]
			self.assertEqual(sorted(e["service"] for e in ent),
			    ["population.person", "t.d300", "t.d600"], s)
			self.assertTrue(all(e["outcome"] == "granted"
			    for e in ent))

	def test_without_household_only_the_applicant(self):
		bid = bundle(["population.person", "t.d300"])
		r, _ = verify(bid, APPLICANT)
		self.assertEqual([m["subject"] for m in r.json["members"]],
		    [APPLICANT])
		self.assertFalse(r.json["household"])

	def test_members_not_granted_or_missing(self):
		# The members path names a field CPAS is not granted: none.
		bid = bundle(["population.person", "t.d300"],
		    members="secret_household[].subject",
		    rules=[{"id": "inc", "type": "sum", "scope": "household",
		    "service": "t.d300", "field": "name", "op": ">",
		    "value": 1}])
		r, _ = verify(bid, APPLICANT, household=True)
		self.assertEqual(len(r.json["members"]), 1)
		self.assertIn("names no members", r.json["household_problem"])
		self.assertEqual([u["rule"] for u in r.json["undetermined"]],
		    ["inc"])
		self.assertFalse(r.json["complete"])
		bid = bundle(["population.person"])
		r, _ = verify(bid, LONER, household=True)
		self.assertEqual(len(r.json["members"]), 1)

	def test_member_denied(self):
		bid = bundle(["population.person", "t.wages-integrated"],
		    rules=[{"id": "wages-high", "type": "sum", "scope":
		    "household", "service": "t.wages-integrated",
		    "field": "pay[].gross", "op": ">", "value": 100}])
		r, _ = verify(bid, DENIED_MEMBER, household=True)
		res = results_of(r.json, OUTSIDER)
		self.assertEqual(res["t.wages-integrated"]["status"], "denied")
		self.assertEqual(results_of(r.json, DENIED_MEMBER)[
		    "t.wages-integrated"]["status"], "ok")
		# The household sum cannot be known: no flag, undetermined.
		self.assertEqual(r.json["flags"], [])
		self.assertEqual(len(r.json["undetermined"]), 1)
		self.assertIn("NOT_INTEGRATED", r.json["undetermined"][0]["reason"])


class RuleTests(unittest.TestCase):

	@classmethod
	def setUpClass(cls):
		cls.bid = bundle(RULE_SERVICES, rules=RULES)

	def test_every_example_fires(self):
		r, _ = verify(self.bid, APPLICANT, household=True,
		    reference_date="2026-09-30")
		self.assertEqual(r.status, 200, r)
		got = sorted((f["rule"], f["subject"]) for f in r.json["flags"])
		self.assertEqual(got, sorted([
		    ("deceased-member", CHILD),
		    ("abroad-over-90-days", APPLICANT),
		    # 2026-08: 3100 + 2200 + 1350 = 6650 > 5000
		    ("household-income", APPLICANT),
		    ("vehicle-value", APPLICANT),
		    ("benefit-and-full-time-wages", APPLICANT),
		]), r.json["flags"])
		detail = {f["rule"]: f["detail"] for f in r.json["flags"]}
		self.assertIn("2026-08", detail["household-income"])
		self.assertIn("6650.00", detail["household-income"])
		self.assertIn("100 days", detail["abroad-over-90-days"])
		self.assertIn("41000", detail["vehicle-value"])
		self.assertEqual(r.json["undetermined"], [])

	def test_none_fires_on_a_clean_case(self):
		r, _ = verify(self.bid, CLEAN, household=True,
		    reference_date="2026-09-30")
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["flags"], [])
		self.assertEqual(r.json["undetermined"], [])
		self.assertTrue(r.json["complete"])

	def test_household_rule_without_household(self):
		r, _ = verify(self.bid, APPLICANT)
		und = [u["rule"] for u in r.json["undetermined"]]
		self.assertEqual(und, ["household-income"])
		self.assertNotIn("household-income",
		    [f["rule"] for f in r.json["flags"]])


class _Gate:
	"""A population source that holds the applicants' requests until
	released, so that the test knows when all of them are in flight,
	and the members' ones until it closes."""

	def __init__(self, members):
		gate = self
		self.release = threading.Event()
		self.closing = threading.Event()
		self.arrived = 0
		self.lock = threading.Lock()

		class Handler(http.server.BaseHTTPRequestHandler):
			protocol_version = "HTTP/1.1"

			def log_message(self, *args):
				pass

			def do_POST(self):
				n = int(self.headers.get("Content-Length", "0"))
				subj = json.loads(self.rfile.read(n))["subject"]
				if subj in members:
					gate.closing.wait(60)
				else:
					with gate.lock:
						gate.arrived += 1
					gate.release.wait(60)
				hh = [{"subject": s} for s in [subj] + members]
				b = json.dumps({"data": {"name": "N",
				    "household": hh, "death_date": None}}).encode()
				self.send_response(200)
				self.send_header("Content-Type", "application/json")
				self.send_header("Content-Length", str(len(b)))
				self.end_headers()
				self.wfile.write(b)

		class Server(http.server.ThreadingHTTPServer):
			daemon_threads = True
			request_queue_size = 256

			def handle_error(self, request, client_address):
				pass	# the hub closing its kept-alive connections

		self.srv = Server(("127.0.0.1", 0), Handler)
		self.port = self.srv.server_address[1]
		threading.Thread(target=self.srv.serve_forever,
		    daemon=True).start()

	def count(self):
		with self.lock:
			return self.arrived

	def close(self):
		self.release.set()
		self.closing.set()
		self.srv.shutdown()
		self.srv.server_close()


class ShutdownTests(unittest.TestCase):
	"""SIGTERM with verifications in flight and drain_timeout_ms = 0: the
	household members' consultations are still being started when the
	hub stops; verification stops first, answers what is pending as
	UNAVAILABLE, and nothing touches the stopped parts (under ASan: no
	report)."""

	N = 80			# verifications in flight
	NSVC = 16		# services consulted for each member

	def setUp(self):
		self.w = H.make_tmpdir()
		self.members = [H.person(200 + k) for k in range(15)]
		self.gate = _Gate(self.members)
		# Member services: no answer before the hub stops.
		self.slow = H.Fixture(self.w, synthetic=True, delay_ms=30000,
		    name="slow").start()
		self.fast = H.Fixture(self.w, synthetic=True, name="fast").start()
		self.hub = H.Hub(self.w, name="shutdown",
		    config={"drain_timeout_ms": 0}).start()

	def tearDown(self):
		self.hub.kill()
		self.slow.kill()
		self.fast.kill()
		self.gate.close()
		H.remove_tmpdir(self.w)

	def test_sigterm_while_households_fan_out(self):
		h = self.hub
		for iid in ("RN", "CPAS"):
			h.institution(iid)
		tok = h.client("CPAS")["token"]
		h.service("population.person", "RN",
		    "http://127.0.0.1:%d/person" % self.gate.port,
		    ["name", "household", "death_date"], timeout_ms=60000)
		h.authorize("CPAS", "population.person", PURPOSE,
		    ["name", "household", "death_date"])
		h.service("marker", "RN", self.fast.url(), ["name"])
		h.authorize("CPAS", "marker", PURPOSE, ["name"])
		svcs = ["population.person"]
		for k in range(self.NSVC):
			sid = "m.s%d" % k
			h.service(sid, "RN", self.slow.url("/m%d" % k),
			    ["name", "birth_date"], timeout_ms=60000)
			h.authorize("CPAS", sid, PURPOSE, ["name", "birth_date"])
			svcs.append(sid)
		r = h.admin("POST", "/v1/bundles", {"id": "fan", "services":
		    svcs, "deadline_ms": 60000, "household": {"service":
		    "population.person", "members": "household[].subject"}})
		self.assertEqual(r.status, 201, r)
		applicants = [H.person(300 + k) for k in range(self.N)]
		answers = {}

		def one(subj):
			try:
				answers[subj] = h.request("POST", "/v1/verify/fan",
				    {"subject": subj, "purpose": PURPOSE,
				    "household": True}, token=tok)
			except OSError as e:
				answers[subj] = e

		threads = [threading.Thread(target=one, args=(s,))
		    for s in applicants]
		for t in threads:
			t.start()
		deadline = time.monotonic() + 60
		while self.gate.count() < self.N:
			self.assertLess(time.monotonic(), deadline,
			    "population calls in flight: %d" % self.gate.count())
			time.sleep(0.01)
		self.gate.release.set()
		while H.db_query(h.db, "SELECT count(*) FROM xlog WHERE "
		    "service = 'population.person'")[0][0] < self.N:
			self.assertLess(time.monotonic(), deadline)
			time.sleep(0.005)
		# The log writer calls back a group before it writes the next:
		# once a later consultation is answered, every household is
		# known, and the members' consultations (15 x (NSVC + 1) each)
		# are being started as the hub stops.
		r = h.consult(tok, "marker", H.person(999), PURPOSE)
		self.assertEqual(r.status, 200, r)
		self.assertEqual(h.terminate(timeout=120), 0, h.stderr()[-3000:])
		self.assertEqual(h.sanitizer_reports(), [])
		for t in threads:
			t.join(60)
		for subj in applicants:
			r = answers.get(subj)
			self.assertIsInstance(r, H.Response, subj)
			self.assertEqual(r.status, 200, r)
			self.assertFalse(r.json["complete"])
			self.assertEqual([m["subject"] for m in r.json["members"]],
			    [subj] + self.members)
			for m in r.json["members"]:
				for sid, res in m["results"].items():
					if m["subject"] == subj and \
					    sid == "population.person":
						self.assertEqual(res["status"], "ok")
						continue
					self.assertEqual((res["status"],
					    res["error"]["code"]), ("error",
					    "UNAVAILABLE"), (m["subject"], sid))
		self.assertEqual(H.log_verify(h.db).returncode, 0)


class ZZSanitizerTests(unittest.TestCase):

	def test_clean_shutdown(self):
		time.sleep(2.5)		# late consultations complete
		self.assertEqual(HUB.terminate(), 0)
		self.assertEqual(HUB.sanitizer_reports(), [])
		self.assertEqual(H.log_verify(HUB.db).returncode, 0)


if __name__ == "__main__":
	unittest.main()
