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


if __name__ == "__main__":
	unittest.main()
