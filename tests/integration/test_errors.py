"""
Integration tests of what a consumer gets back when its input or a source
goes wrong (issue 9, defects 5, 7 and 8):

- any bytes in the path, the query string, the headers the hub reads
  (X-End-User, X-Request-Id) or the body get the contract's 4xx, with a
  request id, in a body that is valid UTF-8 JSON; an over-long value is
  refused, never cut into a shorter one that means something else;
- the exchange log records, for every consultation, the status that was
  sent, and a refused attempt keeps its subject and purpose;
- a source's failure reaches the consumer as its code and a neutral
  message: where the source lives and what went wrong with it are for the
  operator's log and the metrics only, in consultations, verifications
  and batch results alike.

Requests go through a raw socket (harness.raw_request) so that they carry
exactly the bytes written here.
"""

import json
import os
import re
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

W = None
HUB = None
FAST = None
SLOW = None
FAIL = None
DOWN_PORT = None
TOK = None
CONSUMER = "C1"
PURPOSE = "benefit"
SUBJECTS = H.SubjectPool(1)
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
    r"[0-9a-f]{12}$")
NEUTRAL_UNAVAILABLE = "the authentic source is unavailable"
NEUTRAL_TIMEOUT = "the authentic source did not answer in time"


def setUpModule():
	global W, HUB, FAST, SLOW, FAIL, DOWN_PORT, TOK
	W = H.make_tmpdir()
	try:
		FAST = H.Fixture(W, H.fixture_dataset(), name="fast").start()
		SLOW = H.Fixture(W, H.fixture_dataset(), delay_ms=2000,
		    name="slow").start()
		FAIL = H.Fixture(W, H.fixture_dataset(), status=500,
		    name="fail").start()
		DOWN_PORT = H.free_port()
		HUB = H.Hub(W).start()
		HUB.institution("RN", "National Register", "population")
		HUB.institution(CONSUMER)
		TOK = HUB.client(CONSUMER)["token"]
		fields = ["name", "address"]
		HUB.service("population.person", "RN", FAST.url("/person"), fields)
		HUB.service("down.person", "RN", "http://127.0.0.1:%d/person" %
		    DOWN_PORT, fields)
		HUB.service("broken.person", "RN", FAIL.url("/person"), fields)
		HUB.service("timeout.person", "RN", SLOW.url("/person"), fields,
		    timeout_ms=300)
		for s in ("population.person", "down.person",
		    "broken.person", "timeout.person"):
			HUB.authorize(CONSUMER, s, PURPOSE, ["name"])
	except Exception:
		tearDownModule()
		raise


def tearDownModule():
	for p in (HUB, FAST, SLOW, FAIL):
		if p is not None:
			p.kill()
	if W is not None:
		H.remove_tmpdir(W)


def raw(method, path, body=None, token=None, headers=None):
	h = {}
	if token is not None:
		h["Authorization"] = "Bearer " + token
	if body is not None:
		h["Content-Type"] = "application/json"
	h.update(headers or {})
	return H.raw_request(HUB.port, method, path, body=body, headers=h)


def consult(service, body, headers=None):
	"""POST /v1/consult/<service> (bytes: sent as is)."""
	if isinstance(service, str):
		service = urllib.parse.quote(service, safe="").encode("ascii")
	return raw("POST", b"/v1/consult/" + service, body, token=TOK,
	    headers=headers)


def body_of(subject, purpose=PURPOSE):
	return json.dumps({"subject": subject, "purpose": purpose},
	    ensure_ascii=False).encode("utf-8")


def log_entry(request_id, subject):
	"""The entry of one request, through GET /v1/log?subject=..."""
	q = "/v1/log?subject=%s&consumer=%s&limit=1000" % (
	    urllib.parse.quote(subject, safe=""), CONSUMER)
	r = HUB.admin("GET", q)
	if r.status != 200:
		raise AssertionError("GET %s: %r" % (q, r))
	found = [e for e in r.json["entries"] if e["request_id"] == request_id]
	if len(found) != 1:
		raise AssertionError("entries of %s for %r: %r" % (request_id,
		    subject, found))
	return found[0]


def db_entry(request_id):
	"""The entry of one request read from the database: for refusals whose
	subject could not be read, which GET /v1/log cannot select. The text
	columns must decode as UTF-8 (sqlite3 raises otherwise)."""
	rows = H.db_query(HUB.db, "SELECT status, error_code, subject, purpose, "
	    "end_user, service FROM xlog WHERE request_id = ?", (request_id,))
	if len(rows) != 1:
		raise AssertionError("entries of %s: %r" % (request_id, rows))
	return dict(zip(("status", "error_code", "subject", "purpose",
	    "end_user", "service"), rows[0]))


class Base(unittest.TestCase):

	def assertError(self, r, status, code):
		"""The contract's error body, valid UTF-8 JSON, with the request id
		of the X-Request-Id header."""
		self.assertEqual(r.status, status, r)
		try:
			j = json.loads(r.body.decode("utf-8"))
		except (UnicodeDecodeError, ValueError) as e:
			self.fail("body is not UTF-8 JSON (%s): %r" % (e, r))
		err = j.get("error")
		self.assertIsInstance(err, dict, r)
		self.assertEqual(err.get("code"), code, r)
		self.assertIsInstance(err.get("message"), str, r)
		self.assertTrue(err["message"], r)
		rid = r.header("X-Request-Id")
		self.assertTrue(rid, r)
		self.assertEqual(err.get("request_id"), rid, r)
		return err

	def assertLogged(self, r, subject, code):
		"""The consultation's log entry carries the status sent."""
		e = log_entry(r.header("X-Request-Id"), subject)
		self.assertEqual(e["status"], r.status, (e, r))
		self.assertEqual(e["error_code"], code, (e, r))
		return e


class BodyTests(Base):

	def test_invalid_utf8_in_the_body(self):
		s = SUBJECTS.known()
		for bad in (b"\xe9\xe9",		# Latin-1
		    b"\xc0\xaf",			# overlong '/'
		    b"\xed\xa0\x80",			# UTF-16 surrogate
		    b"\xf0\x9f\x98",			# 4-byte sequence cut short
		    b"\xf4\x90\x80\x80",		# beyond U+10FFFF
		    b"\xff"):
			for body in (b'{"subject":"' + bad + b'","purpose":"x"}',
			    b'{"subject":"' + s.encode() + b'","purpose":"' + bad +
			    b'"}', b'{"subject":"' + s.encode() + b'",' + bad +
			    b'}', bad):
				r = consult("population.person", body)
				err = self.assertError(r, 400, "BAD_REQUEST")
				self.assertNotIn("\ufffd", err["message"])
				e = db_entry(r.header("X-Request-Id"))
				self.assertEqual((e["status"], e["error_code"]),
				    (400, "BAD_REQUEST"), (bad, body))

	def test_non_ascii_subjects_are_invalid_subjects(self):
		# Each fits the 64 bytes a subject may have, but not the 31 of
		# a normalized identifier: the message and the log show it whole.
		for subject in ("\u00e9" * 20, "\U0001F600" * 16,
		    "8507300332\u00e9", "\u20ac" * 21, "85073003328\U0001F600"):
			r = consult("population.person", body_of(subject))
			err = self.assertError(r, 400, "INVALID_SUBJECT")
			self.assertIn(subject, err["message"])
			e = self.assertLogged(r, subject, "INVALID_SUBJECT")
			self.assertEqual(e["subject"], subject)
			self.assertEqual(e["purpose"], PURPOSE)

	def test_over_long_subject_refused(self):
		for subject in ("1" * 65, "\U0001F600" * 17, "8" * 1000):
			r = consult("population.person", body_of(subject))
			self.assertError(r, 400, "BAD_REQUEST")
			e = db_entry(r.header("X-Request-Id"))
			self.assertEqual((e["status"], e["error_code"]),
			    (400, "BAD_REQUEST"))
			# Recorded cut at a character boundary, as text.
			self.assertTrue(e["subject"] and
			    subject.startswith(e["subject"]), e)

	def test_over_long_purpose_refused(self):
		s = SUBJECTS.known()
		purpose = "\U0001F600" * 40		# 160 bytes, limit 127
		r = consult("population.person", body_of(s, purpose))
		self.assertError(r, 400, "BAD_REQUEST")
		e = self.assertLogged(r, s, "BAD_REQUEST")
		self.assertTrue(e["purpose"] and purpose.startswith(e["purpose"]),
		    e)


	def test_directory_subject_not_cut(self):
		# 33 bytes whose first 31 are a valid INSZ and separators: cut to
		# a 31-byte buffer, they would integrate that person.
		cut = H.INSZ_VALID[0] + " " * 20 + "99"
		for subject in (cut, "\u00e9" * 20, "\U0001F600" * 16):
			r = raw("POST", b"/v1/directory", {"subject": subject,
			    "capacity": "jobseeker"}, token=TOK)
			err = self.assertError(r, 400, "INVALID_SUBJECT")
			self.assertIn(subject, err["message"])
		r = HUB.request("GET", "/v1/directory/" + H.INSZ_VALID[0],
		    token=TOK)
		self.assertEqual((r.status, r.json["entries"]), (200, []), r)
		lines = "".join(json.dumps({"subject": s, "capacity": "jobseeker"},
		    ensure_ascii=False) + "\n" for s in (cut, "\u00e9" * 20))
		r = raw("POST", b"/v1/directory/batch", lines.encode("utf-8"),
		    token=TOK, headers={"Content-Type": "application/x-ndjson"})
		self.assertEqual(r.status, 200, r)
		j = json.loads(r.body.decode("utf-8"))
		self.assertEqual(j["accepted"], 0, j)
		self.assertEqual([x["error"]["code"] for x in j["rejected"]],
		    ["INVALID_SUBJECT", "INVALID_SUBJECT"], j)


class PathTests(Base):

	def test_service_ids_of_any_bytes(self):
		for svc, logged in ((b"\xe9x", "\\xE9x"), (b"%FFx", "\\xFFx"),
		    (b"%C3", "\\xC3"), (b"%0Ax", "\\x0Ax"),
		    (b"no.such%F0%9F%98%80", "no.such\U0001F600")):
			s = SUBJECTS.known()
			r = consult(svc, body_of(s))
			err = self.assertError(r, 404, "UNKNOWN_SERVICE")
			self.assertIn(logged, err["message"])
			e = self.assertLogged(r, s, "UNKNOWN_SERVICE")
			self.assertEqual(e["service"], logged)
			self.assertEqual(e["purpose"], PURPOSE)

	def test_nul_in_the_path_is_not_an_end(self):
		# MHD hands the path on as a C string: a decoded %00 would end
		# it, and population.person%00xyz would consult population.person.
		s = SUBJECTS.known()
		r = consult(b"population.person%00xyz", body_of(s))
		self.assertError(r, 404, "UNKNOWN_SERVICE")
		e = self.assertLogged(r, s, "UNKNOWN_SERVICE")
		self.assertEqual(e["service"], "population.person%00xyz")
		r = raw("GET", b"/v1/directory/" + H.INSZ_VALID[0].encode() +
		    b"%00abc", token=TOK)
		self.assertError(r, 400, "INVALID_SUBJECT")

	def test_over_long_service_ids(self):
		# Longer than any service id (127 bytes): unknown, and logged
		# (cut at a character boundary), not answered 404 NOT_FOUND
		# as if the route did not exist.
		for svc in ("a" * 128, "p" * 300, "\U0001F600" * 40,
		    "population.person" + "x" * 200):
			s = SUBJECTS.known()
			r = consult(svc, body_of(s))
			self.assertError(r, 404, "UNKNOWN_SERVICE")
			e = self.assertLogged(r, s, "UNKNOWN_SERVICE")
			self.assertTrue(e["service"] and svc.startswith(e["service"]),
			    e)

	def test_unknown_routes_of_any_bytes(self):
		for path in (b"/v1/\xe9\xff", b"/v1/%FF%FE", b"/\xf0\x9f\x98",
		    b"/v1/" + b"\xe9" * 3000):
			r = raw("GET", path, token=TOK)
			err = self.assertError(r, 404, "NOT_FOUND")
			self.assertNotIn("\ufffd", err["message"])

	def test_directory_subjects_of_any_bytes(self):
		for subject in (b"\xe9\xff", b"%E9%FF", b"%F0%9F%98%80" * 10,
		    b"1" * 300, b"8507300332%C3%A9", b"%0A"):
			r = raw("GET", b"/v1/directory/" + subject, token=TOK)
			self.assertError(r, 400, "INVALID_SUBJECT")

	def test_ids_in_other_routes(self):
		for method, path in (
		    ("DELETE", b"/v1/authorizations/%E9"),
		    ("DELETE", b"/v1/authorizations/" + b"a" * 500),
		    ("GET", b"/v1/bundles/\xe9"),
		    ("GET", b"/v1/batches/%FF"),
		    ("GET", b"/v1/batches/%FF/results"),
		    ("DELETE", b"/v1/subscriptions/\xe9"),
		    ("GET", b"/v1/subscriptions/%E9/dead-letters")):
			r = raw(method, path, token=H.ADMIN_TOKEN)
			self.assertError(r, 404, "NOT_FOUND")
		r = raw("POST", b"/v1/verify/%E9\xe9", {"subject": SUBJECTS.known(),
		    "purpose": PURPOSE}, token=TOK)
		self.assertError(r, 404, "NOT_FOUND")

	def test_institution_id_not_cut(self):
		# The longest institution id (63 bytes), and one byte more: the
		# client must not be made for the shorter one.
		iid = "I" * 63
		HUB.institution(iid)
		for path in (iid + "Z", iid + "\u00e9", "\u00e9", "%C3"):
			r = raw("POST", b"/v1/institutions/" + urllib.parse.quote(
			    path, safe="%").encode("ascii") + b"/clients",
			    {"name": "app"}, token=H.ADMIN_TOKEN)
			self.assertError(r, 404, "NOT_FOUND")
		r = HUB.admin("POST", "/v1/institutions/%s/clients" % iid,
		    {"name": "app"})
		self.assertEqual(r.status, 201, r)


class QueryTests(Base):

	def test_log_query_of_any_bytes(self):
		for q in (b"%E9", b"\xe9", b"%F0%9F%98", b"1" * 65):
			r = raw("GET", b"/v1/log?subject=" + q,
			    token=H.ADMIN_TOKEN)
			self.assertError(r, 400, "BAD_REQUEST")

	def test_nul_in_a_query_is_not_an_end(self):
		s = SUBJECTS.known()
		self.assertEqual(consult("population.person", body_of(s)).status,
		    200)
		r = raw("GET", b"/v1/log?subject=" + s.encode() + b"%00x",
		    token=H.ADMIN_TOKEN)
		self.assertEqual(r.status, 200, r)
		self.assertEqual(json.loads(r.body)["entries"], [], r)

	def test_batch_query_and_body_of_any_bytes(self):
		r = HUB.admin("POST", "/v1/bundles", {"id": "errors-b1",
		    "services": ["population.person"]})
		self.assertEqual(r.status, 201, r)
		ok = ("%s\n" % SUBJECTS.known()).encode()
		for query, body in ((b"bundle=errors-b1&purpose=%E9", ok),
		    (b"bundle=%E9&purpose=" + PURPOSE.encode(), ok),
		    (b"bundle=errors-b1&purpose=\xe9", ok),
		    (b"bundle=errors-b1&purpose=" + PURPOSE.encode(),
		    b"subject\n\xe9\xe9\n")):
			r = raw("POST", b"/v1/batches?" + query, body, token=TOK,
			    headers={"Content-Type": "text/csv"})
			self.assertError(r, 400, "BAD_REQUEST")


class HeaderTests(Base):

	def test_end_user_not_utf8(self):
		for eu, logged in ((b"agent-\xe9", "agent-\\xE9"),
		    (b"\xff\xfe", "\\xFF\\xFE"), (b"a\tb", "a\\x09b")):
			s = SUBJECTS.known()
			r = consult("population.person", body_of(s),
			    headers={"X-End-User": eu})
			self.assertError(r, 400, "BAD_REQUEST")
			e = self.assertLogged(r, s, "BAD_REQUEST")
			self.assertEqual((e["subject"], e["purpose"], e["end_user"]),
			    (s, PURPOSE, logged))

	def test_end_user_utf8(self):
		s = SUBJECTS.known()
		eu = "agent-\u00e9\u20ac\U0001F600"
		r = consult("population.person", body_of(s),
		    headers={"X-End-User": eu.encode("utf-8")})
		self.assertEqual(r.status, 200, r)
		e = self.assertLogged(r, s, None)
		self.assertEqual(e["end_user"], eu)

	def test_end_user_too_long(self):
		# Refused, but the log still says who asked what for whom.
		for eu in ("a" * 128, "a" * 300, "\U0001F600" * 40):
			s = SUBJECTS.known()
			r = consult("population.person", body_of(s),
			    headers={"X-End-User": eu.encode("utf-8")})
			err = self.assertError(r, 400, "BAD_REQUEST")
			self.assertIn("X-End-User", err["message"])
			e = self.assertLogged(r, s, "BAD_REQUEST")
			self.assertEqual((e["subject"], e["purpose"]), (s, PURPOSE))
			self.assertTrue(e["end_user"] and eu.startswith(
			    e["end_user"]), e)

	def test_request_id_of_any_bytes_replaced(self):
		for rid in (b"\xe9\xff", b"id-\xf0\x9f\x98\x80", b"a" * 64,
		    b"a b"):
			s = SUBJECTS.known()
			r = consult("population.person", body_of(s),
			    headers={"X-Request-Id": rid})
			self.assertEqual(r.status, 200, r)
			got = r.header("X-Request-Id")
			self.assertRegex(got, UUID_RE)
			self.assertEqual(json.loads(r.body)["request_id"], got)
			self.assertLogged(r, s, None)


class SourceErrorTests(Base):
	"""Nothing a consumer receives names where a source lives."""

	def assertNeutral(self, text):
		low = text.lower()
		for w in ("127.0.0.1", "localhost", "http:", "curl", "connect",
		    ":%d" % DOWN_PORT, ":%d" % FAIL.port, ":%d" % SLOW.port):
			self.assertNotIn(w, low, text)

	def test_consult(self):
		for svc, status, code, msg in (
		    ("down.person", 502, "SOURCE_UNAVAILABLE", NEUTRAL_UNAVAILABLE),
		    ("broken.person", 502, "SOURCE_UNAVAILABLE",
		    NEUTRAL_UNAVAILABLE),
		    ("timeout.person", 504, "SOURCE_TIMEOUT", NEUTRAL_TIMEOUT)):
			s = SUBJECTS.known()
			r = consult(svc, body_of(s))
			err = self.assertError(r, status, code)
			self.assertEqual(err["message"], msg)
			self.assertNeutral(r.body.decode())
			self.assertLogged(r, s, code)
		# The operator's log has the detail, with the request id.
		rid = r.header("X-Request-Id")
		deadline = time.monotonic() + 10
		while rid not in HUB.stderr() and time.monotonic() < deadline:
			time.sleep(0.05)
		lines = [l for l in HUB.stderr().splitlines() if "down.person" in l
		    and "127.0.0.1:%d" % DOWN_PORT in l]
		self.assertTrue(lines, HUB.stderr()[-3000:])
		lines = [l for l in HUB.stderr().splitlines() if "broken.person"
		    in l and "500" in l]
		self.assertTrue(lines, HUB.stderr()[-3000:])

	def test_verify_and_batch(self):
		r = HUB.admin("POST", "/v1/bundles", {"id": "errors-sources",
		    "services": ["down.person", "broken.person", "timeout.person",
		    "population.person"]})
		self.assertEqual(r.status, 201, r)
		s = SUBJECTS.known()
		r = raw("POST", b"/v1/verify/errors-sources", {"subject": s,
		    "purpose": PURPOSE}, token=TOK)
		self.assertEqual(r.status, 200, r)
		self.assertNeutral(r.body.decode())
		res = json.loads(r.body)["members"][0]["results"]
		self.assertEqual(res["down.person"]["error"],
		    {"code": "SOURCE_UNAVAILABLE", "message": NEUTRAL_UNAVAILABLE})
		self.assertEqual(res["broken.person"]["error"],
		    {"code": "SOURCE_UNAVAILABLE", "message": NEUTRAL_UNAVAILABLE})
		self.assertEqual(res["population.person"]["status"], "ok")

		r = HUB.request("POST", "/v1/batches?bundle=errors-sources&"
		    "purpose=" + PURPOSE, "subject\n%s\n%s\n" % (SUBJECTS.known(),
		    SUBJECTS.known()), token=TOK, content_type="text/csv")
		self.assertEqual(r.status, 202, r)
		bid = r.json["id"]
		deadline = time.monotonic() + 60
		while time.monotonic() < deadline:
			st = HUB.request("GET", "/v1/batches/" + bid, token=TOK)
			if st.json["status"] in ("done", "failed"):
				break
			time.sleep(0.05)
		self.assertEqual(st.json["status"], "done", st)
		r = HUB.request("GET", "/v1/batches/%s/results" % bid, token=TOK)
		self.assertEqual(r.status, 200, r)
		lines = r.body.decode().splitlines()
		self.assertEqual(len(lines), 2, r)
		self.assertNeutral(r.body.decode())
		for l in lines:
			res = json.loads(l)["members"][0]["results"]
			self.assertEqual(res["down.person"]["error"]["message"],
			    NEUTRAL_UNAVAILABLE)

	def test_metrics_by_service_and_kind(self):
		before = self.counts()
		for svc in ("down.person", "broken.person", "timeout.person"):
			consult(svc, body_of(SUBJECTS.known()))
		after = self.counts()
		for key in (("down.person", "unavailable"),
		    ("broken.person", "bad_response"),
		    ("timeout.person", "timeout")):
			self.assertEqual(after.get(key, 0) - before.get(key, 0), 1,
			    (key, after))

	@staticmethod
	def counts():
		r = HUB.request("GET", "/metrics")
		out = {}
		pat = re.compile(r'^crossroads_source_errors_total\{service="([^"]*)",'
		    r'kind="([^"]*)"\} (\d+)$')
		for line in r.body.decode().splitlines():
			m = pat.match(line)
			if m:
				out[(m.group(1), m.group(2))] = int(m.group(3))
		return out


class ZZShutdownTests(unittest.TestCase):

	def test_clean_shutdown(self):
		self.assertEqual(HUB.terminate(), 0, HUB.stderr()[-2000:])
		self.assertEqual(HUB.sanitizer_reports(), [])
		r = H.log_verify(HUB.db)
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
	unittest.main()
