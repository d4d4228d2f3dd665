"""
Integration tests of credentials with a lifecycle (docs/api.md, "Client
credentials"): listing an institution's clients without their tokens,
revocation (at once, through the registry cache and on another hub process
on the same database), rotation with an overlap, expiry, last use.

Two hubs serve one SQLite file for the whole module: HUB takes the
operator's writes, PEER is the other process whose cache must follow.
"""

import datetime
import itertools
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

W = None
HUB = None
PEER = None
_ids = itertools.count(1)

CLIENT_FIELDS = {"client_id", "institution", "name", "created_at",
    "expires_at", "last_used_at", "revoked_at", "cert_sha256",
    "previous_valid_until"}


def setUpModule():
	global W, HUB, PEER
	W = H.make_tmpdir()
	try:
		HUB = H.Hub(W).start()
		PEER = H.Hub(W, db=HUB.db, name="peer").start()
	except Exception:
		tearDownModule()
		raise


def tearDownModule():
	for p in (HUB, PEER):
		if p is not None:
			p.kill()
	if W is not None:
		H.remove_tmpdir(W)


def rfc3339(dt):
	return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class Base(unittest.TestCase):

	def institution(self):
		iid = "CR%d" % next(_ids)
		HUB.institution(iid)
		return iid

	def whoami(self, hub, token):
		"""An authenticated request that any client may make."""
		return hub.request("GET", "/v1/services", token=token)

	def clients(self, iid, hub=None):
		r = (hub or HUB).admin("GET", "/v1/institutions/%s/clients" % iid)
		self.assertEqual(r.status, 200, r)
		return {c["client_id"]: c for c in r.json["clients"]}


class ListTests(Base):

	def test_list_never_shows_a_token(self):
		iid = self.institution()
		a = HUB.client(iid, "app-a")
		b = HUB.client(iid, "app-b")
		other = self.institution()
		HUB.client(other, "elsewhere")
		r = HUB.admin("GET", "/v1/institutions/%s/clients" % iid)
		self.assertEqual(r.status, 200, r)
		text = r.body.decode("utf-8")
		for tok in (a["token"], b["token"]):
			self.assertNotIn(tok[4:], text)
		got = {c["client_id"]: c for c in r.json["clients"]}
		self.assertEqual(set(got), {a["client_id"], b["client_id"]})
		for c in got.values():
			self.assertEqual(set(c), CLIENT_FIELDS)
			self.assertNotIn("token", c)
			self.assertIsNone(c["revoked_at"])
			self.assertIsNone(c["expires_at"])
			self.assertIsNone(c["cert_sha256"])
			self.assertRegex(c["created_at"],
			    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
		self.assertEqual(got[a["client_id"]]["name"], "app-a")

	def test_list_unknown_institution(self):
		r = HUB.admin("GET", "/v1/institutions/NOPE/clients")
		self.assertEqual(r.status, 404, r)
		self.assertEqual(r.error_code, "NOT_FOUND")

	def test_list_needs_the_operator(self):
		iid = self.institution()
		c = HUB.client(iid)
		r = HUB.request("GET", "/v1/institutions/%s/clients" % iid,
		    token=c["token"])
		self.assertEqual(r.status, 403, r)
		r = HUB.request("GET", "/v1/institutions/%s/clients" % iid)
		self.assertEqual(r.status, 401, r)


class RevokeTests(Base):

	def test_revoked_token_gets_401_at_once(self):
		iid = self.institution()
		c = HUB.client(iid)
		keep = HUB.client(iid, "kept")
		self.assertEqual(self.whoami(HUB, c["token"]).status, 200)
		r = HUB.admin("DELETE", "/v1/institutions/%s/clients/%s" %
		    (iid, c["client_id"]))
		self.assertEqual(r.status, 204, r)
		r = self.whoami(HUB, c["token"])
		self.assertEqual(r.status, 401, r)
		self.assertEqual(r.error_code, "UNAUTHENTICATED")
		# The institution's other client is untouched.
		self.assertEqual(self.whoami(HUB, keep["token"]).status, 200)
		got = self.clients(iid)
		self.assertRegex(got[c["client_id"]]["revoked_at"],
		    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
		self.assertIsNone(got[keep["client_id"]]["revoked_at"])
		# Again: nothing changes, still 204.
		r = HUB.admin("DELETE", "/v1/institutions/%s/clients/%s" %
		    (iid, c["client_id"]))
		self.assertEqual(r.status, 204, r)
		self.assertEqual(self.clients(iid)[c["client_id"]]["revoked_at"],
		    got[c["client_id"]]["revoked_at"])

	def test_revoked_on_another_hub_process(self):
		"""PEER has the client in its registry cache; a revocation
		through HUB holds on PEER's very next request."""
		iid = self.institution()
		c = HUB.client(iid)
		# PEER loads the client (its cache follows HUB's write).
		self.assertEqual(self.whoami(PEER, c["token"]).status, 200)
		self.assertEqual(self.whoami(PEER, c["token"]).status, 200)
		r = HUB.admin("DELETE", "/v1/institutions/%s/clients/%s" %
		    (iid, c["client_id"]))
		self.assertEqual(r.status, 204, r)
		r = self.whoami(PEER, c["token"])
		self.assertEqual(r.status, 401, r)

	def test_revoke_unknown_or_of_another_institution(self):
		iid = self.institution()
		other = self.institution()
		c = HUB.client(iid)
		r = HUB.admin("DELETE", "/v1/institutions/%s/clients/%s" %
		    (other, c["client_id"]))
		self.assertEqual(r.status, 404, r)
		self.assertEqual(r.error_code, "NOT_FOUND")
		r = HUB.admin("DELETE", "/v1/institutions/%s/clients/nope" % iid)
		self.assertEqual(r.status, 404, r)
		self.assertEqual(self.whoami(HUB, c["token"]).status, 200)

	def test_a_client_cannot_revoke(self):
		iid = self.institution()
		c = HUB.client(iid)
		r = HUB.request("DELETE", "/v1/institutions/%s/clients/%s" %
		    (iid, c["client_id"]), token=c["token"])
		self.assertEqual(r.status, 403, r)
		self.assertEqual(self.whoami(HUB, c["token"]).status, 200)


class RotateTests(Base):

	def rotate(self, iid, cid, body=None, hub=None):
		return (hub or HUB).admin("POST",
		    "/v1/institutions/%s/clients/%s/rotate" % (iid, cid), body)

	def test_rotate_with_the_default_overlap(self):
		iid = self.institution()
		c = HUB.client(iid)
		# To the millisecond, as the hub keeps it.
		before = datetime.datetime.now(datetime.timezone.utc)
		before = before.replace(microsecond=before.microsecond // 1000 *
		    1000)
		r = self.rotate(iid, c["client_id"])
		self.assertEqual(r.status, 201, r)
		new = r.json["token"]
		self.assertNotEqual(new, c["token"])
		self.assertTrue(new.startswith("crt_"))
		until = datetime.datetime.strptime(r.json["previous_valid_until"],
		    "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
		# The documented default: 24 hours.
		self.assertGreaterEqual(until, before + datetime.timedelta(
		    hours=24))
		self.assertLess(until, before + datetime.timedelta(hours=24,
		    minutes=5))
		# Both work during the overlap, here and on the other process.
		for hub in (HUB, PEER):
			self.assertEqual(self.whoami(hub, new).status, 200)
			self.assertEqual(self.whoami(hub, c["token"]).status, 200)
		got = self.clients(iid)[c["client_id"]]
		self.assertEqual(got["previous_valid_until"],
		    r.json["previous_valid_until"])
		# A second rotation ends the first token at once.
		r2 = self.rotate(iid, c["client_id"], {"overlap_seconds": 60})
		self.assertEqual(r2.status, 201, r2)
		self.assertEqual(self.whoami(HUB, c["token"]).status, 401)
		self.assertEqual(self.whoami(PEER, c["token"]).status, 401)
		self.assertEqual(self.whoami(HUB, new).status, 200)
		self.assertEqual(self.whoami(HUB, r2.json["token"]).status, 200)

	def test_rotate_without_overlap(self):
		iid = self.institution()
		c = HUB.client(iid)
		self.assertEqual(self.whoami(PEER, c["token"]).status, 200)
		r = self.rotate(iid, c["client_id"], {"overlap_seconds": 0})
		self.assertEqual(r.status, 201, r)
		for hub in (HUB, PEER):
			self.assertEqual(self.whoami(hub, c["token"]).status, 401)
			self.assertEqual(self.whoami(hub, r.json["token"]).status,
			    200)
		self.assertIsNone(self.clients(iid)[c["client_id"]]
		    ["previous_valid_until"])

	def test_rotate_revoked_unknown_bad(self):
		iid = self.institution()
		c = HUB.client(iid)
		HUB.admin("DELETE", "/v1/institutions/%s/clients/%s" %
		    (iid, c["client_id"]))
		r = self.rotate(iid, c["client_id"])
		self.assertEqual(r.status, 409, r)
		self.assertEqual(r.error_code, "CONFLICT")
		r = self.rotate(iid, "nope")
		self.assertEqual(r.status, 404, r)
		c2 = HUB.client(iid)
		for bad in ({"overlap_seconds": -1}, {"overlap_seconds": "1"},
		    {"overlap_seconds": 90 * 86400 + 1}, {"other": 1}):
			r = self.rotate(iid, c2["client_id"], bad)
			self.assertEqual(r.status, 400, (bad, r))
			self.assertEqual(r.error_code, "BAD_REQUEST")
		self.assertEqual(self.whoami(HUB, c2["token"]).status, 200)


class ExpiryTests(Base):

	def test_expires_at_on_creation(self):
		iid = self.institution()
		later = datetime.datetime.now(datetime.timezone.utc) + \
		    datetime.timedelta(days=30)
		r = HUB.admin("POST", "/v1/institutions/%s/clients" % iid,
		    {"name": "temp", "expires_at": rfc3339(later)})
		self.assertEqual(r.status, 201, r)
		c = r.json
		self.assertEqual(self.whoami(HUB, c["token"]).status, 200)
		got = self.clients(iid)[c["client_id"]]
		self.assertEqual(got["expires_at"],
		    later.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
		# An offset is taken as the instant it names.
		r = HUB.admin("POST", "/v1/institutions/%s/clients" % iid,
		    {"name": "offset", "expires_at": "2999-01-01T02:00:00+02:00"})
		self.assertEqual(r.status, 201, r)
		self.assertEqual(self.clients(iid)[r.json["client_id"]]
		    ["expires_at"], "2999-01-01T00:00:00.000Z")

	def test_expires_at_refused(self):
		iid = self.institution()
		for bad in ("2001-01-01T00:00:00Z", "tomorrow", "2999-01-01", 5):
			r = HUB.admin("POST", "/v1/institutions/%s/clients" % iid,
			    {"name": "x", "expires_at": bad})
			self.assertEqual(r.status, 400, (bad, r))
			self.assertEqual(r.error_code, "BAD_REQUEST")
		self.assertEqual(self.clients(iid), {})

	def test_expired_token_gets_401(self):
		"""The expiry is passed by moving it back in the database (as
		another process could), so that no test waits for the clock."""
		iid = self.institution()
		r = HUB.admin("POST", "/v1/institutions/%s/clients" % iid,
		    {"name": "soon", "expires_at": "2999-01-01T00:00:00Z"})
		c = r.json
		for hub in (HUB, PEER):
			self.assertEqual(self.whoami(hub, c["token"]).status, 200)
		conn = sqlite3.connect(HUB.db, timeout=30)
		try:
			conn.execute("UPDATE clients SET expires_ms = 1000 "
			    "WHERE id = ?", (c["client_id"],))
			conn.commit()
		finally:
			conn.close()
		for hub in (HUB, PEER):
			r = self.whoami(hub, c["token"])
			self.assertEqual(r.status, 401, r)


class LastUseTests(Base):

	def test_last_used_at(self):
		iid = self.institution()
		c = HUB.client(iid)
		unused = HUB.client(iid, "unused")
		self.assertIsNone(self.clients(iid)[c["client_id"]]
		    ["last_used_at"])
		self.assertEqual(self.whoami(HUB, c["token"]).status, 200)
		# This process shows its own uses before writing them.
		got = self.clients(iid)
		self.assertRegex(got[c["client_id"]]["last_used_at"],
		    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$")
		self.assertIsNone(got[unused["client_id"]]["last_used_at"])


class LastUseDurableTests(Base):
	"""Its own hub: it is stopped to see what it wrote."""

	def test_last_use_written_at_stop_not_per_request(self):
		d = os.path.join(W, "lastuse")
		os.makedirs(d)
		# A flush an hour away: only the stop writes.
		hub = H.Hub(d, config={"client_usage_flush_ms": 3600000}).start()
		try:
			hub.institution("LU")
			c = hub.client("LU")
			for _ in range(20):
				self.assertEqual(self.whoami(hub, c["token"]).status,
				    200)
			# Not written per request.
			self.assertEqual(H.db_query(hub.db, "SELECT count(*) FROM "
			    "client_usage")[0][0], 0)
			self.assertEqual(hub.terminate(), 0)
			rows = H.db_query(hub.db, "SELECT client, last_used_ms "
			    "FROM client_usage")
			self.assertEqual([r[0] for r in rows], [c["client_id"]])
			hub.start()
			got = self.clients("LU", hub)[c["client_id"]]
			self.assertIsNotNone(got["last_used_at"])
		finally:
			hub.kill()


class OperatorTests(Base):
	"""Named operator accounts and their roles."""

	def operator(self, role, by=None, name=None):
		name = name or "op-%s-%d" % (role, next(_ids))
		body = {"name": name, "role": role}
		if by is None:
			r = HUB.admin("POST", "/v1/operators", body)
		else:
			r = HUB.request("POST", "/v1/operators", body, token=by)
		self.assertEqual(r.status, 201, r)
		self.assertEqual((r.json["name"], r.json["role"]), (name, role))
		self.assertRegex(r.json["token"], r"^cro_[0-9a-f]{64}$")
		return r.json

	def status(self, token, method, path, body=None, hub=None):
		return (hub or HUB).request(method, path, body, token=token).status

	def test_create_and_list_never_shows_a_token(self):
		a = self.operator("auditor")
		r = HUB.admin("GET", "/v1/operators")
		self.assertEqual(r.status, 200, r)
		self.assertNotIn(a["token"][4:], r.body.decode("utf-8"))
		got = {o["operator_id"]: o for o in r.json["operators"]}
		self.assertEqual(set(got[a["operator_id"]]), {"operator_id",
		    "name", "role", "created_at", "revoked_at"})
		self.assertEqual(got[a["operator_id"]]["role"], "auditor")
		self.assertIsNone(got[a["operator_id"]]["revoked_at"])

	def test_bad_operators(self):
		for body in ({"name": "admin", "role": "auditor"},
		    {"name": "has space", "role": "auditor"},
		    {"name": "x", "role": "root"}, {"name": "x"},
		    {"name": "x", "role": "admin", "other": 1}):
			r = HUB.admin("POST", "/v1/operators", body)
			self.assertEqual(r.status, 400, (body, r))
			self.assertEqual(r.error_code, "BAD_REQUEST")
		o = self.operator("auditor")
		r = HUB.admin("POST", "/v1/operators", {"name": o["name"],
		    "role": "security"})
		self.assertEqual(r.status, 409, r)
		self.assertEqual(r.error_code, "CONFLICT")

	def test_auditor_reads_and_changes_nothing(self):
		tok = self.operator("auditor")["token"]
		iid = self.institution()
		c = HUB.client(iid)
		for path in ("/v1/institutions", "/v1/services",
		    "/v1/authorizations", "/v1/operators",
		    "/v1/institutions/%s/clients" % iid,
		    "/v1/log?subject=85073003328", "/v1/event-types",
		    "/v1/subscriptions", "/v1/bundles",
		    "/v1/directory/85073003328"):
			self.assertEqual(self.status(tok, "GET", path), 200, path)
		writes = (("POST", "/v1/institutions", {"id": "AUD%d" %
		    next(_ids), "name": "x", "sector": "s"}),
		    ("POST", "/v1/institutions/%s/clients" % iid, {"name": "x"}),
		    ("DELETE", "/v1/institutions/%s/clients/%s" % (iid,
		    c["client_id"]), None),
		    ("POST", "/v1/institutions/%s/clients/%s/rotate" % (iid,
		    c["client_id"]), None),
		    ("POST", "/v1/operators", {"name": "sneaky",
		    "role": "auditor"}),
		    ("POST", "/v1/services", {"id": "s", "provider": iid,
		    "endpoint": "http://127.0.0.1:1/", "fields": ["a"]}),
		    ("DELETE", "/v1/authorizations/nope", None),
		    ("DELETE", "/v1/subscriptions/nope", None),
		    ("POST", "/v1/bundles", {"id": "b"}),
		    ("POST", "/v1/event-types", {"id": "e", "provider": iid,
		    "fields": ["a"]}))
		for method, path, body in writes:
			r = HUB.request(method, path, body, token=tok)
			self.assertEqual(r.status, 403, (method, path, r))
			self.assertEqual(r.error_code, "NOT_AUTHORIZED")
		# Nothing changed.
		self.assertEqual(self.whoami(HUB, c["token"]).status, 200)
		self.assertEqual(len(self.clients(iid)), 1)
		# Not a client either.
		self.assertEqual(self.status(tok, "POST",
		    "/v1/consult/population.person", {"subject": "85073003328",
		    "purpose": "x"}), 403)

	def test_security_manages_credentials_only(self):
		tok = self.operator("security")["token"]
		iid = self.institution()
		r = HUB.request("POST", "/v1/institutions/%s/clients" % iid,
		    {"name": "by-security"}, token=tok)
		self.assertEqual(r.status, 201, r)
		c = r.json
		r = HUB.request("POST", "/v1/institutions/%s/clients/%s/rotate" %
		    (iid, c["client_id"]), {"overlap_seconds": 0}, token=tok)
		self.assertEqual(r.status, 201, r)
		self.assertEqual(self.status(tok, "DELETE",
		    "/v1/institutions/%s/clients/%s" % (iid, c["client_id"])), 204)
		self.assertEqual(self.whoami(HUB, r.json["token"]).status, 401)
		# Operators other than admins.
		aud = self.operator("auditor", by=tok)
		self.assertEqual(self.status(tok, "DELETE", "/v1/operators/" +
		    aud["operator_id"]), 204)
		r = HUB.request("POST", "/v1/operators", {"name": "wannabe",
		    "role": "admin"}, token=tok)
		self.assertEqual(r.status, 403, r)
		adm = self.operator("admin")
		for method, path in (("DELETE", "/v1/operators/" +
		    adm["operator_id"]), ("POST", "/v1/operators/%s/rotate" %
		    adm["operator_id"])):
			self.assertEqual(self.status(tok, method, path), 403, path)
		self.assertEqual(self.status(adm["token"], "GET",
		    "/v1/institutions"), 200)
		# The rest of the registry is an admin's.
		self.assertEqual(self.status(tok, "POST", "/v1/institutions",
		    {"id": "SEC%d" % next(_ids), "name": "x", "sector": "s"}), 403)
		self.assertEqual(self.status(tok, "DELETE",
		    "/v1/authorizations/nope"), 403)
		self.assertEqual(self.status(tok, "GET", "/v1/institutions"), 200)

	def test_named_admin_does_everything(self):
		tok = self.operator("admin")["token"]
		iid = "ADM%d" % next(_ids)
		self.assertEqual(self.status(tok, "POST", "/v1/institutions",
		    {"id": iid, "name": "x", "sector": "s"}), 201)
		r = HUB.request("POST", "/v1/institutions/%s/clients" % iid,
		    {"name": "a"}, token=tok)
		self.assertEqual(r.status, 201, r)
		self.operator("admin", by=tok)

	def test_revoked_operator_gets_401_on_every_process(self):
		o = self.operator("auditor")
		for hub in (HUB, PEER):
			self.assertEqual(self.status(o["token"], "GET",
			    "/v1/institutions", hub=hub), 200)
		self.assertEqual(HUB.admin("DELETE", "/v1/operators/" +
		    o["operator_id"]).status, 204)
		for hub in (HUB, PEER):
			r = hub.request("GET", "/v1/institutions", token=o["token"])
			self.assertEqual(r.status, 401, r)
			self.assertEqual(r.error_code, "UNAUTHENTICATED")
		got = {x["operator_id"]: x for x in
		    HUB.admin("GET", "/v1/operators").json["operators"]}
		self.assertIsNotNone(got[o["operator_id"]]["revoked_at"])
		# Revoked: no new token.
		r = HUB.admin("POST", "/v1/operators/%s/rotate" % o["operator_id"])
		self.assertEqual(r.status, 409, r)
		r = HUB.admin("DELETE", "/v1/operators/nope")
		self.assertEqual(r.status, 404, r)

	def test_rotate_operator(self):
		o = self.operator("security")
		r = HUB.admin("POST", "/v1/operators/%s/rotate" % o["operator_id"])
		self.assertEqual(r.status, 201, r)
		self.assertRegex(r.json["token"], r"^cro_[0-9a-f]{64}$")
		for hub in (HUB, PEER):
			self.assertEqual(self.status(o["token"], "GET",
			    "/v1/institutions", hub=hub), 401)
			self.assertEqual(self.status(r.json["token"], "GET",
			    "/v1/institutions", hub=hub), 200)

	def test_client_token_is_no_operator(self):
		iid = self.institution()
		c = HUB.client(iid)
		for method, path in (("GET", "/v1/operators"),
		    ("POST", "/v1/operators")):
			r = HUB.request(method, path, {"name": "x", "role":
			    "auditor"} if method == "POST" else None,
			    token=c["token"])
			self.assertEqual(r.status, 403, r)
		# A well-formed operator token that was never issued.
		r = HUB.request("GET", "/v1/institutions", token="cro_" + "ab" * 32)
		self.assertEqual(r.status, 401, r)


if __name__ == "__main__":
	unittest.main()
