"""
Integration tests of events (docs/events.md): event types, publishing by
the authentic source only, payload and timestamp validation, routing by
the reference directory (read through pull feeds), field filtering by the
subscriber's authorization, ordering, cursors, long polls, the exchange
log of feed deliveries, NDJSON batches, and a SIGKILL of the hub in the
middle of a stream of publishes.

One hub is shared by the functional tests; each test uses its own event
type and subjects so that feeds do not see each other's events. The crash
test runs its own hub.
"""

import itertools
import json
import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

W = None
HUB = None
TOK = {}		# institution -> client token
CLIENT = {}		# institution -> client id
_subjects = itertools.count(1)
_types = itertools.count(1)

ADDRESS_FIELDS = ["street", "city", "postcode"]
STAMP = "2024-05-01T10:00:00Z"


def subject():
	return H.person(next(_subjects))


def setUpModule():
	global W, HUB
	W = H.make_tmpdir()
	HUB = H.Hub(W, config={"feed_max_wait": 30}).start()
	for iid in ("RN", "ONEM", "CPAS", "MUT"):
		HUB.institution(iid)
		c = HUB.client(iid)
		TOK[iid] = c["token"]
		CLIENT[iid] = c["client_id"]
	declare(HUB)


# Who declares what in the directory (the capacity catalogue).
DECLARED = {"jobseeker": ["ONEM", "CPAS"], "trainee": ["ONEM"],
    "beneficiary": ["CPAS"], "member": ["MUT"]}


def declare(hub):
	for cap, insts in DECLARED.items():
		hub.capacity(cap, insts)


def tearDownModule():
	if HUB is not None:
		HUB.kill()
	H.remove_tmpdir(W)


def event_type(fields=None, all_integrations=None, provider="RN"):
	"""A fresh event type published by provider."""
	tid = "population.t%d" % next(_types)
	body = {"id": tid, "provider": provider,
	    "fields": fields or ADDRESS_FIELDS}
	if all_integrations is not None:
		body["all_integrations"] = all_integrations
	r = HUB.admin("POST", "/v1/event-types", body)
	assert r.status == 201, r
	return tid


def authorize(consumer, tid, fields, capacities=None, purpose="follow-up",
    valid_from="2020-01-01", valid_to=None):
	return HUB.authorize(consumer, tid, purpose, fields, capacities,
	    valid_from=valid_from, valid_to=valid_to)


def subscribe(inst, tid, capacities=None, purpose=None, delivery=None):
	body = {"event_type": tid, "delivery": delivery if delivery is not None
	    else {"feed": True}}
	if capacities is not None:
		body["capacities"] = capacities
	if purpose is not None:
		body["purpose"] = purpose
	return HUB.request("POST", "/v1/subscriptions", body, token=TOK[inst])


def publish(tid, subj, data=None, occurred_at=STAMP, token=None):
	body = {"type": tid, "subject": subj, "occurred_at": occurred_at}
	if data is not None:
		body["data"] = data
	return HUB.request("POST", "/v1/events", body,
	    token=token or TOK["RN"])


def publish_ok(tid, subj, data=None, occurred_at=STAMP):
	r = publish(tid, subj, data, occurred_at)
	assert r.status == 201, r
	return r.json["id"]


def batch(tid_lines, token=None):
	body = "\n".join(l if isinstance(l, str) else json.dumps(l)
	    for l in tid_lines) + "\n"
	return HUB.request("POST", "/v1/events/batch", body,
	    token=token or TOK["RN"], content_type="application/x-ndjson")


def feed(inst, after="0", limit=1000, wait=None, sub=None, headers=None,
    hub=None, token=None):
	q = "/v1/feed?after=%s&limit=%d" % (after, limit)
	if wait is not None:
		q += "&wait=%d" % wait
	if sub is not None:
		q += "&subscription=" + sub
	h = hub or HUB
	return h.request("GET", q, token=token or TOK[inst], headers=headers)


def read_all(inst, sub=None, page=1000, hub=None, token=None):
	"""Every event of the institution's feed(s), following the cursor."""
	out, after = [], "0"
	while True:
		r = feed(inst, after, page, sub=sub, hub=hub, token=token)
		assert r.status == 200, r
		out.extend(r.json["events"])
		if not r.json["events"]:
			assert r.json["next"] == after, r
			return out
		after = r.json["next"]


class Base(unittest.TestCase):
	pass


class EventTypeTests(Base):

	def test_registration_errors(self):
		tid = event_type()
		r = HUB.admin("POST", "/v1/event-types", {"id": tid,
		    "provider": "RN", "fields": ["x"]})
		self.assertEqual((r.status, r.error_code), (409, "CONFLICT"))
		r = HUB.admin("POST", "/v1/event-types", {"id": "x.nobody",
		    "provider": "NOBODY", "fields": ["x"]})
		self.assertEqual((r.status, r.error_code), (404, "NOT_FOUND"))
		r = HUB.request("POST", "/v1/event-types", {"id": "x.client",
		    "provider": "RN", "fields": ["x"]}, token=TOK["RN"])
		self.assertEqual((r.status, r.error_code), (403, "NOT_AUTHORIZED"))
		r = HUB.admin("POST", "/v1/event-types", {"id": "x.bad",
		    "provider": "RN"})
		self.assertEqual((r.status, r.error_code), (400, "BAD_REQUEST"))
		r = HUB.admin("POST", "/v1/event-types", {"id": "bad id",
		    "provider": "RN", "fields": []})
		self.assertEqual((r.status, r.error_code), (400, "BAD_REQUEST"))
		# A service and an event type may not share an id: an
		# authorization names either.
		HUB.service("population.svc", "RN", "http://127.0.0.1:9/x",
		    ["name"])
		r = HUB.admin("POST", "/v1/event-types", {"id": "population.svc",
		    "provider": "RN", "fields": ["name"]})
		self.assertEqual((r.status, r.error_code), (409, "CONFLICT"))
		# ...whichever comes first.
		r = HUB.admin("POST", "/v1/services", {"id": tid,
		    "provider": "RN", "endpoint": "http://127.0.0.1:9/x",
		    "fields": ["x"]})
		self.assertEqual((r.status, r.error_code), (409, "CONFLICT"))

	def test_list_and_defaults(self):
		tid = event_type(all_integrations=True)
		r = HUB.request("GET", "/v1/event-types", token=TOK["ONEM"])
		self.assertEqual(r.status, 200, r)
		mine = [t for t in r.json["event_types"] if t["id"] == tid]
		self.assertEqual(len(mine), 1)
		self.assertEqual(mine[0]["provider"], "RN")
		self.assertEqual(mine[0]["fields"], ADDRESS_FIELDS)
		self.assertIs(mine[0]["all_integrations"], True)
		r = HUB.request("GET", "/v1/event-types")
		self.assertEqual(r.status, 401)

	def test_authorization_of_event_type(self):
		tid = event_type()
		r = HUB.admin("POST", "/v1/authorizations", {"consumer": "ONEM",
		    "service": tid, "purpose": "p", "legal_basis": "L",
		    "fields": ["city", "not-a-field"]})
		self.assertEqual((r.status, r.error_code), (400, "BAD_REQUEST"))
		r = HUB.admin("POST", "/v1/authorizations", {"consumer": "NOPE",
		    "service": tid, "purpose": "p", "legal_basis": "L",
		    "fields": ["city"]})
		self.assertEqual((r.status, r.error_code), (404, "NOT_FOUND"))
		a = authorize("ONEM", tid, ["city"])
		self.assertEqual(a["service"], tid)
		r = HUB.admin("GET", "/v1/authorizations?consumer=ONEM")
		self.assertIn(a["id"], [x["id"] for x in r.json["authorizations"]])
		# Services still go the usual way.
		r = HUB.admin("POST", "/v1/authorizations", {"consumer": "ONEM",
		    "service": "no.such.thing", "purpose": "p", "legal_basis": "L",
		    "fields": []})
		self.assertEqual((r.status, r.error_code), (404, "UNKNOWN_SERVICE"))


class PublishTests(Base):

	def setUp(self):
		self.tid = event_type()

	def test_only_the_provider_publishes(self):
		s = subject()
		r = publish(self.tid, s, token=TOK["ONEM"])
		self.assertEqual((r.status, r.error_code), (403, "NOT_AUTHORIZED"))
		r = publish(self.tid, s, token=H.ADMIN_TOKEN)
		self.assertEqual((r.status, r.error_code), (403, "NOT_AUTHORIZED"))
		r = HUB.request("POST", "/v1/events", {"type": self.tid,
		    "subject": s, "occurred_at": STAMP})
		self.assertEqual(r.status, 401)
		r = publish("population.unknown", s)
		self.assertEqual((r.status, r.error_code), (404, "NOT_FOUND"))

	def test_payload_validation(self):
		s = subject()
		r = publish(self.tid, s, {"city": "Namur", "salary": 1})
		self.assertEqual((r.status, r.error_code), (400, "BAD_REQUEST"))
		self.assertIn("salary", r.json["error"]["message"])
		r = publish(self.tid, s, data=["city"])
		self.assertEqual((r.status, r.error_code), (400, "BAD_REQUEST"))
		r = publish(self.tid, H.INSZ_INVALID, {"city": "Namur"})
		self.assertEqual((r.status, r.error_code), (400, "INVALID_SUBJECT"))
		r = HUB.request("POST", "/v1/events", {"type": self.tid,
		    "subject": s, "occurred_at": STAMP, "extra": 1},
		    token=TOK["RN"])
		self.assertEqual((r.status, r.error_code), (400, "BAD_REQUEST"))
		r = HUB.request("POST", "/v1/events", "{not json", token=TOK["RN"])
		self.assertEqual((r.status, r.error_code), (400, "BAD_REQUEST"))
		self.assertEqual(publish(self.tid, s, {}).status, 201)
		self.assertEqual(publish(self.tid, s).status, 201)
		self.assertEqual(publish(self.tid, s, {"city": None,
		    "street": {"n": 1}}).status, 201)

	def test_occurred_at_validation(self):
		s = subject()
		for bad in ("2024-05-01", "2024-13-01T00:00:00Z",
		    "2024-02-30T00:00:00Z", "2024-05-01T24:00:00Z",
		    "2024-05-01T10:00:00", "2024-05-01 10:00:00Z", "yesterday",
		    "2024-05-01T10:00:00+2:00", "2024-05-01T10:00:00.Z", ""):
			r = publish(self.tid, s, occurred_at=bad)
			self.assertEqual((r.status, r.error_code),
			    (400, "BAD_REQUEST"), bad)
		for good in ("2024-05-01T10:00:00Z", "2024-05-01t10:00:00z",
		    "2024-05-01T10:00:00.123456Z", "2024-05-01T01:30:00+02:00",
		    "2024-05-01T23:30:00-05:00"):
			r = publish(self.tid, s, occurred_at=good)
			self.assertEqual(r.status, 201, (good, r))

	def test_ids_increase(self):
		s = subject()
		ids = [int(publish_ok(self.tid, s, {"city": str(i)}))
		    for i in range(20)]
		self.assertEqual(ids, sorted(ids))
		self.assertEqual(len(set(ids)), 20)
		r = batch([{"type": self.tid, "subject": s,
		    "occurred_at": STAMP}] * 5)
		bids = [int(i) for i in r.json["ids"]]
		self.assertEqual(bids, sorted(bids))
		self.assertGreater(bids[0], ids[-1])

	def test_batch_with_bad_lines(self):
		s = subject()
		ok = {"type": self.tid, "subject": s, "occurred_at": STAMP,
		    "data": {"city": "Liège"}}
		lines = [ok, "{broken", dict(ok, type="population.unknown"),
		    dict(ok, subject=H.INSZ_INVALID), dict(ok, occurred_at="x"),
		    dict(ok, data={"salary": 1}), "", ok, "[1,2]", ok]
		r = batch(lines)
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["accepted"], 3)
		self.assertEqual(len(r.json["ids"]), 3)
		rej = {x["line"]: x["error"]["code"] for x in r.json["rejected"]}
		self.assertEqual(rej, {2: "BAD_REQUEST", 3: "NOT_FOUND",
		    4: "INVALID_SUBJECT", 5: "BAD_REQUEST", 6: "BAD_REQUEST",
		    9: "BAD_REQUEST"})
		r = batch([ok], token=TOK["ONEM"])
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["accepted"], 0)
		self.assertEqual(r.json["rejected"][0]["error"]["code"],
		    "NOT_AUTHORIZED")
		r = batch(["{broken"])
		self.assertEqual((r.status, r.json["accepted"], r.json["ids"]),
		    (200, 0, []))


class SubscriptionTests(Base):

	def test_create_list_delete(self):
		tid = event_type()
		r = subscribe("ONEM", tid)
		self.assertEqual((r.status, r.error_code), (403, "NOT_AUTHORIZED"))
		authorize("ONEM", tid, ["city"], purpose="benefit")
		r = subscribe("ONEM", tid, purpose="other-purpose")
		self.assertEqual((r.status, r.error_code), (403, "NOT_AUTHORIZED"))
		r = subscribe("ONEM", "population.unknown")
		self.assertEqual((r.status, r.error_code), (404, "NOT_FOUND"))
		for bad in ({}, {"feed": True, "url": "http://x/"},
		    {"url": "ftp://x/"}, {"feed": False}, {"fed": True}):
			r = subscribe("ONEM", tid, delivery=bad)
			self.assertEqual((r.status, r.error_code),
			    (400, "BAD_REQUEST"), bad)
		r = HUB.admin("POST", "/v1/subscriptions", {"event_type": tid,
		    "delivery": {"feed": True}})
		self.assertEqual((r.status, r.error_code), (403, "NOT_AUTHORIZED"))
		r = subscribe("ONEM", tid, ["jobseeker"], purpose="benefit")
		self.assertEqual(r.status, 201, r)
		sub = r.json
		self.assertRegex(sub["secret"], "^[0-9a-f]{64}$")
		self.assertEqual(sub["delivery"], {"feed": True})
		self.assertEqual(sub["capacities"], ["jobseeker"])
		r = subscribe("ONEM", tid, delivery={"url": "https://example.org/h"})
		self.assertEqual(r.status, 201, r)
		hook = r.json
		self.assertNotEqual(hook["secret"], sub["secret"])
		self.assertEqual(hook["delivery"], {"url": "https://example.org/h"})

		r = HUB.request("GET", "/v1/subscriptions", token=TOK["ONEM"])
		ids = [s["id"] for s in r.json["subscriptions"]]
		self.assertIn(sub["id"], ids)
		self.assertNotIn("secret", json.dumps(r.json))
		r = HUB.request("GET", "/v1/subscriptions", token=TOK["CPAS"])
		self.assertNotIn(sub["id"], [s["id"] for s in
		    r.json["subscriptions"]])
		r = HUB.admin("GET", "/v1/subscriptions")
		self.assertIn(sub["id"], [s["id"] for s in
		    r.json["subscriptions"]])

		r = HUB.request("DELETE", "/v1/subscriptions/" + sub["id"],
		    token=TOK["CPAS"])
		self.assertEqual((r.status, r.error_code), (404, "NOT_FOUND"))
		r = HUB.request("DELETE", "/v1/subscriptions/" + sub["id"],
		    token=TOK["ONEM"])
		self.assertEqual(r.status, 204)
		r = HUB.admin("DELETE", "/v1/subscriptions/" + hook["id"])
		self.assertEqual(r.status, 204)
		r = HUB.request("DELETE", "/v1/subscriptions/" + sub["id"],
		    token=TOK["ONEM"])
		self.assertEqual(r.status, 404)

	def test_capacities_bounded_by_authorization(self):
		tid = event_type()
		authorize("CPAS", tid, ["city"], capacities=["beneficiary"])
		r = subscribe("CPAS", tid, ["jobseeker"])
		self.assertEqual((r.status, r.error_code), (403, "NOT_AUTHORIZED"))
		r = subscribe("CPAS", tid)
		self.assertEqual(r.status, 201, r)
		self.assertEqual(r.json["capacities"], ["beneficiary"])

	def test_feed_subscription_parameter(self):
		tid = event_type()
		authorize("ONEM", tid, ["city"])
		onem = subscribe("ONEM", tid).json["id"]
		authorize("CPAS", tid, ["city"])
		cpas = subscribe("CPAS", tid).json["id"]
		r = feed("ONEM", sub=cpas)
		self.assertEqual((r.status, r.error_code), (404, "NOT_FOUND"))
		r = feed("ONEM", sub="nope")
		self.assertEqual(r.status, 404)
		self.assertEqual(feed("ONEM", sub=onem).status, 200)
		for q in ("after=x", "limit=0", "limit=1001", "wait=-1",
		    "after=1&wait=abc"):
			r = HUB.request("GET", "/v1/feed?" + q, token=TOK["ONEM"])
			self.assertEqual((r.status, r.error_code),
			    (400, "BAD_REQUEST"), q)
		r = HUB.admin("GET", "/v1/feed")
		self.assertEqual(r.status, 403)


class RoutingTests(Base):
	"""Who receives what: the matrix of the issue, read through feeds."""

	@classmethod
	def setUpClass(cls):
		cls.addr = event_type()
		cls.death = event_type(["death_date"], all_integrations=True)
		HUB.authorize("ONEM", cls.addr, "follow-up", ["city"],
		    legal_basis="Deliberation ONEM/1")
		HUB.authorize("CPAS", cls.addr, "follow-up", ADDRESS_FIELDS,
		    legal_basis="Deliberation CPAS/1")
		authorize("ONEM", cls.death, ["death_date"])
		cls.sub_onem = subscribe("ONEM", cls.addr, ["jobseeker"]).json
		cls.sub_cpas = subscribe("CPAS", cls.addr).json
		cls.sub_death = subscribe("ONEM", cls.death, ["jobseeker"]).json
		# MUT is integrated but not authorized: it cannot subscribe.
		r = subscribe("MUT", cls.addr)
		assert r.status == 403, r
		cls.mut_refused = r
		S = cls.S = {k: subject() for k in ("in", "none", "ended", "wrong",
		    "future", "both", "mut")}
		HUB.integrate(TOK["ONEM"], S["in"], "jobseeker")
		HUB.integrate(TOK["ONEM"], S["ended"], "jobseeker", "2020-01-01",
		    "2023-12-31")
		HUB.integrate(TOK["ONEM"], S["wrong"], "trainee")
		HUB.integrate(TOK["ONEM"], S["future"], "jobseeker", "2030-01-01")
		HUB.integrate(TOK["ONEM"], S["both"], "jobseeker")
		HUB.integrate(TOK["CPAS"], S["both"], "beneficiary")
		HUB.integrate(TOK["CPAS"], S["wrong"], "beneficiary")
		HUB.integrate(TOK["MUT"], S["mut"], "member")
		HUB.integrate(TOK["MUT"], S["in"], "member")
		data = {"street": "Rue Haute 1", "city": "Bruxelles",
		    "postcode": "1000"}
		cls.ids = {k: publish_ok(cls.addr, s, data) for k, s in S.items()}
		# Integrated until 2023-12-31: an event that occurred before.
		cls.ids["ended-before"] = publish_ok(cls.addr, S["ended"], data,
		    "2023-06-01T08:00:00Z")
		cls.death_ids = {k: publish_ok(cls.death, S[k], {"death_date":
		    "2024-04-30"}) for k in ("wrong", "none", "in")}
		cls.onem = read_all("ONEM")
		cls.cpas = read_all("CPAS")
		cls.mut = read_all("MUT")

	def got(self, events, tid):
		return {e["id"] for e in events if e["type"] == tid}

	def test_matrix(self):
		ids = self.ids
		self.assertEqual(self.got(self.onem, self.addr), {ids["in"],
		    ids["both"], ids["ended-before"]})
		self.assertEqual(self.got(self.cpas, self.addr), {ids["both"],
		    ids["wrong"]})
		self.assertEqual(self.mut, [])

	def test_all_integrations_ignores_capacities(self):
		# "wrong" is integrated by ONEM as trainee only; still told.
		self.assertEqual(self.got(self.onem, self.death),
		    {self.death_ids["wrong"], self.death_ids["in"]})
		# CPAS has the subject integrated but did not subscribe.
		self.assertEqual(self.got(self.cpas, self.death), set())

	def test_field_filtering(self):
		e = [x for x in self.onem if x["id"] == self.ids["in"]][0]
		self.assertEqual(e["data"], {"city": "Bruxelles"})
		self.assertEqual(e["subject"], self.S["in"])
		self.assertEqual(e["type"], self.addr)
		self.assertEqual(e["occurred_at"], STAMP)
		self.assertEqual(e["subscription"], self.sub_onem["id"])
		e = [x for x in self.cpas if x["id"] == self.ids["both"]][0]
		self.assertEqual(e["data"], {"street": "Rue Haute 1",
		    "city": "Bruxelles", "postcode": "1000"})

	def test_cursors_and_subscription_filter(self):
		cursors = [int(e["cursor"]) for e in self.onem]
		self.assertEqual(cursors, sorted(cursors))
		self.assertEqual(len(set(cursors)), len(cursors))
		only = read_all("ONEM", sub=self.sub_death["id"])
		self.assertEqual({e["type"] for e in only}, {self.death})
		self.assertEqual(len(only), 2)

	def test_exchange_log_of_feed_deliveries(self):
		s = subject()
		HUB.integrate(TOK["ONEM"], s, "jobseeker")
		eid = publish_ok(self.addr, s, {"city": "Gent"})
		after = self.onem[-1]["cursor"] if self.onem else "0"
		rid = H.new_request_id("feed")
		r = feed("ONEM", after, headers={"X-Request-Id": rid})
		self.assertEqual(r.status, 200, r)
		self.assertIn(eid, [e["id"] for e in r.json["events"]])
		entries = HUB.log_entries(s, "ONEM")
		mine = [e for e in entries if e["request_id"] == rid]
		self.assertEqual(len(mine), 1, entries)
		e = mine[0]
		self.assertEqual((e["consumer"], e["client"], e["service"],
		    e["provider"], e["subject"], e["purpose"], e["legal_basis"],
		    e["outcome"], e["status"]), ("ONEM", CLIENT["ONEM"], self.addr,
		    "RN", s, "event-delivery", "Deliberation ONEM/1", "granted",
		    200))

	def test_revoked_authorization_stops_delivery(self):
		tid = event_type()
		a = authorize("CPAS", tid, ["city"])
		sub = subscribe("CPAS", tid).json["id"]
		s = subject()
		HUB.integrate(TOK["CPAS"], s, "beneficiary")
		publish_ok(tid, s, {"city": "Mons"})
		r = HUB.admin("DELETE", "/v1/authorizations/" + a["id"])
		self.assertEqual(r.status, 204)
		r = feed("CPAS", sub=sub)
		self.assertEqual(r.status, 200)
		self.assertEqual(r.json["events"], [])
		self.assertNotEqual(r.json["next"], "0")


class OrderingTests(Base):

	def test_order_per_subscription_and_subject(self):
		tid = event_type()
		authorize("ONEM", tid, ADDRESS_FIELDS)
		sub = subscribe("ONEM", tid).json["id"]
		subs = [subject() for _ in range(3)]
		for s in subs:
			HUB.integrate(TOK["ONEM"], s, "jobseeker")
		sent = {s: [] for s in subs}
		lines = []
		for i in range(300):
			s = subs[i % 3]
			lines.append({"type": tid, "subject": s,
			    "occurred_at": STAMP, "data": {"postcode": str(i)}})
			sent[s].append(str(i))
		r = batch(lines[:150])
		self.assertEqual(r.json["accepted"], 150)
		# Singles in between, from several threads: ordered by id.
		for k in range(150, 200):
			publish_ok(tid, lines[k]["subject"], lines[k]["data"])
		r = batch(lines[200:])
		self.assertEqual(r.json["accepted"], 100)
		got = {s: [] for s in subs}
		ids = {s: [] for s in subs}
		for e in read_all("ONEM", sub=sub, page=7):
			got[e["subject"]].append(e["data"]["postcode"])
			ids[e["subject"]].append(int(e["id"]))
		self.assertEqual(got, sent)
		for s in subs:
			self.assertEqual(ids[s], sorted(ids[s]))

	def test_cursor_paging(self):
		tid = event_type()
		authorize("ONEM", tid, ["city"])
		sub = subscribe("ONEM", tid).json["id"]
		s = subject()
		HUB.integrate(TOK["ONEM"], s, "jobseeker")
		want = [publish_ok(tid, s, {"city": str(i)}) for i in range(23)]
		pages, after, seen = 0, "0", []
		while True:
			r = feed("ONEM", after, 5, sub=sub)
			ev = r.json["events"]
			if not ev:
				break
			pages += 1
			self.assertLessEqual(len(ev), 5)
			self.assertEqual(r.json["next"], ev[-1]["cursor"])
			self.assertTrue(all(int(e["cursor"]) > int(after)
			    for e in ev))
			seen += [e["id"] for e in ev]
			after = r.json["next"]
		self.assertEqual(pages, 5)
		self.assertEqual(seen, want)
		# Reading again from a cursor gives the same events again.
		r = feed("ONEM", "0", 3, sub=sub)
		self.assertEqual([e["id"] for e in r.json["events"]], want[:3])


class LongPollTests(Base):

	def test_wakes_on_publish(self):
		tid = event_type()
		authorize("ONEM", tid, ["city"])
		# Two feeds of one institution, told apart by capacity.
		sub = subscribe("ONEM", tid, ["jobseeker"]).json["id"]
		other = subscribe("ONEM", tid, ["trainee"]).json["id"]
		s, s2 = subject(), subject()
		HUB.integrate(TOK["ONEM"], s, "jobseeker")
		HUB.integrate(TOK["ONEM"], s2, "trainee")
		res = {}

		def poll(key, on):
			t0 = time.monotonic()
			res[key] = feed("ONEM", "0", sub=on, wait=10)
			res[key + "_t"] = (t0, time.monotonic())

		t = threading.Thread(target=poll, args=("r", sub))
		t.start()
		t2 = threading.Thread(target=poll, args=("r2", other))
		t2.start()
		# An event for someone else: it reaches the other feed (the
		# proof it was published, routed and its waiters tried) and
		# does not answer this one.
		eid2 = publish_ok(tid, s2, {"city": "x"})
		t2.join(15)
		self.assertFalse(t2.is_alive())
		self.assertEqual([e["id"] for e in res["r2"].json["events"]],
		    [eid2])
		self.assertTrue(t.is_alive(), res.get("r"))
		t0 = time.monotonic()
		eid = publish_ok(tid, s, {"city": "Liège"})
		t.join(15)
		self.assertFalse(t.is_alive())
		r = res["r"]
		self.assertEqual(r.status, 200, r)
		# Only this feed's event, answered once it was published (not
		# when the wait of 10 s ran out: that answer would be empty).
		self.assertEqual([e["id"] for e in r.json["events"]], [eid])
		self.assertLess(res["r_t"][0], t0)
		self.assertGreater(res["r_t"][1], t0)

	def test_expires_empty(self):
		tid = event_type()
		authorize("ONEM", tid, ["city"])
		sub = subscribe("ONEM", tid).json["id"]
		r = feed("ONEM", "0", sub=sub, wait=1)
		self.assertEqual(r.status, 200)
		self.assertEqual(r.json, {"events": [], "next": "0"})
		self.assertGreater(r.elapsed, 0.9)
		self.assertLess(r.elapsed, 3.0)
		# wait=0 answers at once.
		r = feed("ONEM", "0", sub=sub, wait=0)
		self.assertLess(r.elapsed, 0.5)

	def test_many_waiters(self):
		tid = event_type()
		authorize("ONEM", tid, ["city"])
		sub = subscribe("ONEM", tid).json["id"]
		s = subject()
		HUB.integrate(TOK["ONEM"], s, "jobseeker")
		out = []
		lock = threading.Lock()

		def poll():
			r = feed("ONEM", "0", sub=sub, wait=10)
			with lock:
				out.append(r)

		ts = [threading.Thread(target=poll) for _ in range(20)]
		for t in ts:
			t.start()
		time.sleep(0.7)
		eid = publish_ok(tid, s, {"city": "x"})
		for t in ts:
			t.join(15)
		self.assertEqual(len(out), 20)
		for r in out:
			self.assertEqual(r.status, 200)
			self.assertEqual([e["id"] for e in r.json["events"]], [eid])


class ZZShutdownTests(Base):
	"""Last: a parked long poll does not hold up SIGTERM; clean exit."""

	def test_clean_shutdown(self):
		res = {}

		def poll():
			try:
				res["r"] = feed("MUT", "0", wait=30)
			except Exception as e:  # noqa: BLE001
				res["e"] = e

		t = threading.Thread(target=poll)
		t.start()
		time.sleep(0.5)
		t0 = time.monotonic()
		self.assertEqual(HUB.terminate(), 0, HUB.stderr()[-2000:])
		self.assertLess(time.monotonic() - t0, 5.0)
		t.join(10)
		self.assertEqual(res.get("r").status, 200, res)
		self.assertEqual(HUB.sanitizer_reports(), [])
		r = H.log_verify(HUB.db)
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class CrashTests(unittest.TestCase):
	"""SIGKILL during a stream of publishes: nothing acknowledged is lost,
	nothing reaches anyone not entitled."""

	TOTAL = int(os.environ.get("CROSSROADS_EVENTS_CRASH_TOTAL", "100000"))
	BATCH = 2000
	NSUBJ = 40

	def setUp(self):
		self.w = H.make_tmpdir()
		self.hub = H.Hub(self.w).start()

	def tearDown(self):
		self.hub.kill()
		H.remove_tmpdir(self.w)

	def test_sigkill_mid_stream(self):
		h = self.hub
		tok = {}
		for iid in ("RN", "ONEM", "CPAS"):
			h.institution(iid)
			tok[iid] = h.client(iid)["token"]
		h.institution("MUT")
		declare(h)
		r = h.admin("POST", "/v1/event-types", {"id": "population.moved",
		    "provider": "RN", "fields": ["city", "seq"]})
		self.assertEqual(r.status, 201, r)
		h.authorize("ONEM", "population.moved", "p", ["seq"])
		h.authorize("CPAS", "population.moved", "p", ["seq"])
		for iid, caps in (("ONEM", ["jobseeker"]), ("CPAS", ["beneficiary"])):
			r = h.request("POST", "/v1/subscriptions", {"event_type":
			    "population.moved", "capacities": caps, "delivery":
			    {"feed": True}}, token=tok[iid])
			self.assertEqual(r.status, 201, r)
		subj = [H.person(1000 + k) for k in range(self.NSUBJ)]
		recs = []
		for k, s in enumerate(subj):
			if k < 20:
				recs.append(("ONEM", s, "jobseeker"))
			elif k < 30:
				recs.append(("ONEM", s, "trainee"))
			if 10 <= k < 30:
				recs.append(("CPAS", s, "beneficiary"))
			if k >= 35:
				recs.append(("CPAS", s, "jobseeker"))
		for iid, s, cap in recs:
			h.integrate(tok[iid], s, cap)
		entitled = {"ONEM": set(subj[:20]), "CPAS": set(subj[10:30])}

		accepted = {}		# event id -> subject
		state = {"sent": 0, "errors": 0}
		lock = threading.Lock()
		stop = threading.Event()

		def body(start):
			return "".join(json.dumps({"type": "population.moved",
			    "subject": subj[i % self.NSUBJ], "occurred_at": STAMP,
			    "data": {"seq": i, "city": "c"}}) + "\n"
			    for i in range(start, start + self.BATCH))

		def publisher(first, step):
			start = first
			while start < self.TOTAL and not stop.is_set():
				try:
					r = H.http_request(h.port, "POST",
					    "/v1/events/batch", body(start),
					    token=tok["RN"], timeout=60,
					    content_type="application/x-ndjson")
				except Exception:  # noqa: BLE001
					with lock:
						state["errors"] += 1
					time.sleep(0.05)
					continue
				if r.status != 200:
					with lock:
						state["errors"] += 1
					time.sleep(0.05)
					continue
				assert r.json["accepted"] == self.BATCH, r
				with lock:
					for k, eid in enumerate(r.json["ids"]):
						accepted[eid] = subj[(start + k) %
						    self.NSUBJ]
					state["sent"] += self.BATCH
				start += step

		# Two publishers: their batches share group commits.
		t0 = time.monotonic()
		ths = [threading.Thread(target=publisher, args=(k * self.BATCH,
		    2 * self.BATCH)) for k in range(2)]
		for th in ths:
			th.start()
		try:
			while state["sent"] < self.TOTAL * 0.4 and \
			    any(th.is_alive() for th in ths):
				time.sleep(0.01)
			# Somewhere inside a batch's parse, commit or answer.
			time.sleep(random.uniform(0, 0.2))
			h.kill()
			n_at_kill = len(accepted)
			time.sleep(0.3)
			h.start()
			for th in ths:
				th.join(300)
		finally:
			stop.set()
		th = ths[0] if ths[0].is_alive() else ths[1]
		self.assertFalse(th.is_alive())
		t_pub = time.monotonic() - t0
		self.assertGreater(n_at_kill, 0)
		self.assertGreaterEqual(len(accepted), self.TOTAL)

		got = {}
		for iid in ("ONEM", "CPAS"):
			evs = read_all(iid, hub=h, token=tok[iid])
			got[iid] = evs
			ids = {e["id"] for e in evs}
			# Every acknowledged event reaches every entitled one.
			want = {i for i, s in accepted.items() if s in
			    entitled[iid]}
			self.assertEqual(want - ids, set(), iid)
			# Nothing reaches anyone not entitled (events durable
			# but unacknowledged at the kill included).
			wrong = [e for e in evs if e["subject"] not in
			    entitled[iid]]
			self.assertEqual(wrong, [], iid)
			# In order per subject.
			last = {}
			for e in evs:
				self.assertGreater(int(e["id"]), last.get(
				    e["subject"], 0))
				last[e["subject"]] = int(e["id"])
			self.assertEqual({k for k in e["data"]}, {"seq"})
		self.assertEqual(h.terminate(), 0)
		self.assertEqual(h.sanitizer_reports(), [])
		r = H.log_verify(h.db)
		self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
		sys.stderr.write("\n[crash] %d events acknowledged (%d at the "
		    "kill, %d failed batches), publish %.1f s, total %.1f s; "
		    "delivered ONEM %d, CPAS %d\n" % (len(accepted), n_at_kill,
		    state["errors"], t_pub, time.monotonic() - t0,
		    len(got["ONEM"]), len(got["CPAS"])))


if __name__ == "__main__":
	unittest.main()
