"""
Integration tests of the hub under abuse (issue 10, section 5): one
address holding thousands of idle or trickling sockets (slowloris) while
other clients consult; headers and bodies that never complete; floods of
unauthenticated requests; per-client rate limits.

The attacker binds 127.0.0.2 as its source address (Linux routes all of
127.0.0.0/8 to lo, so it reaches the hub on 127.0.0.1) and the normal
clients connect from 127.0.0.1: two addresses on one machine.

No assertion here is about time: the slowloris test asserts that every
normal consultation succeeds within a per-request deadline that only a
hang would exceed; its latency figures are a benchmark (bench/abuse.py).
"""

import errno
import http.client
import json
import os
import resource
import select
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

PERSON_FIELDS = ["name", "birth_date", "address", "household", "death_date"]
ATTACKER = "127.0.0.2"
SOCKETS = 10000


def raise_nofile(want):
	"""Raises this process's open-file limit (inherited by the hub it
	starts) to at least want, as root if the hard limit is lower."""
	soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
	if soft >= want:
		return
	if hard != resource.RLIM_INFINITY and hard < want:
		try:
			resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
			return
		except (ValueError, OSError):
			raise unittest.SkipTest("RLIMIT_NOFILE hard limit %d < %d "
			    "and not root" % (hard, want))
	resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Slowloris:
	"""count sockets from ATTACKER to port, kept open: a socket the hub
	closes is opened again (at most reopen_rate a second). Half of them
	stay idle after connecting; the other half send a request's first
	line and then one header byte every trickle seconds, never ending
	the headers. Runs on its own thread until stop()."""

	def __init__(self, port, count=SOCKETS, trickle=1.0, reopen_rate=2000):
		self.port = port
		self.count = count
		self.trickle = trickle
		self.reopen_rate = reopen_rate
		self.ep = select.epoll()
		self.socks = {}		# fd -> [socket, 0 idle | 1 | 2 trickling, next]
		self.stopping = threading.Event()
		self.opened = 0
		self.closed_by_hub = 0
		self.connected_max = 0
		self.thread = threading.Thread(target=self._run, daemon=True)

	def _open(self, trickling):
		s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		s.setblocking(False)
		s.bind((ATTACKER, 0))
		err = s.connect_ex(("127.0.0.1", self.port))
		if err not in (0, errno.EINPROGRESS):
			s.close()
			return False
		self.socks[s.fileno()] = [s, 1 if trickling else 0,
		    time.monotonic()]
		self.ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
		self.opened += 1
		return True

	def _close(self, fd):
		s = self.socks.pop(fd)[0]
		self.ep.unregister(fd)
		s.close()

	def start(self):
		for i in range(self.count):
			self._open(i % 2 == 1)
		self.thread.start()
		return self

	def _run(self):
		budget = 0.0
		last = time.monotonic()
		while not self.stopping.is_set():
			for fd, ev in self.ep.poll(0.1):
				if fd in self.socks:
					# Readable or hung up: the hub closed it (or
					# answered, which a slowloris ignores).
					self._close(fd)
					self.closed_by_hub += 1
			now = time.monotonic()
			budget = min(self.reopen_rate, budget + (now - last) *
			    self.reopen_rate)
			last = now
			while len(self.socks) < self.count and budget >= 1:
				budget -= 1
				if not self._open(self.opened % 2 == 1):
					break
			self.connected_max = max(self.connected_max, len(self.socks))
			for rec in list(self.socks.values()):
				s, trickling, due = rec
				if not trickling or now < due:
					continue
				rec[2] = now + self.trickle
				try:
					# The first line once connected, then a byte.
					if trickling == 1:
						if s.getsockopt(socket.SOL_SOCKET,
						    socket.SO_ERROR) != 0:
							continue
						s.send(b"POST /v1/consult/population.person "
						    b"HTTP/1.1\r\nHost: x\r\nX-Slow: ")
						rec[1] = 2
					else:
						s.send(b"x")
				except OSError:
					pass

	def stop(self):
		self.stopping.set()
		self.thread.join(timeout=30)
		for fd in list(self.socks):
			self._close(fd)
		self.ep.close()


class AbuseCase(unittest.TestCase):
	config = None

	@classmethod
	def setUpClass(cls):
		raise_nofile(SOCKETS + 4096)
		cls.w = H.make_tmpdir()
		cls.fx = None
		cls.hub = None
		try:
			cls.fx = H.Fixture(cls.w, H.fixture_dataset()).start()
			cls.hub = H.Hub(cls.w, config=cls.config).start()
			h = cls.hub
			h.institution("RN", "National Register", "population")
			h.institution("ONEM", "Employment", "unemployment")
			cls.token = h.client("ONEM")["token"]
			h.service("population.person", "RN", cls.fx.url("/person"),
			    PERSON_FIELDS)
			h.authorize("ONEM", "population.person", "benefit", ["name"])
		except Exception:
			cls.tearDownClass()
			raise

	@classmethod
	def tearDownClass(cls):
		if cls.hub is not None:
			cls.hub.kill()
		if cls.fx is not None:
			cls.fx.kill()
		H.remove_tmpdir(cls.w)

	def consult(self, timeout=10):
		return self.hub.consult(self.token, "population.person",
		    H.INSZ_VALID[0], "benefit", timeout=timeout)


class SlowlorisTests(AbuseCase):

	def test_slowloris_from_one_address(self):
		"""10,000 idle or trickling sockets from 127.0.0.2 do not stop the
		consultations of a client on 127.0.0.1: each of them is answered
		200 within 10 s (a deadline only a hang would exceed; the
		latency figures are bench/abuse.py's)."""
		self.assertEqual(self.consult().status, 200)
		attack = Slowloris(self.hub.port).start()
		try:
			# The attacker's sockets are all open (connected or in the
			# hub's backlog) before the first consultation.
			time.sleep(1.0)
			failures = []
			for i in range(50):
				try:
					r = self.consult(timeout=10)
					if r.status != 200:
						failures.append(repr(r))
				except OSError as e:
					failures.append("request %d: %r" % (i, e))
				if len(failures) >= 5:
					break	# a hung hub: no need to wait for all
			self.assertEqual(failures, [], "consultations failed "
			    "under the slowloris")
		finally:
			attack.stop()
		sys.stderr.write("slowloris: %d opened, %d closed by the hub, "
		    "%d open at most\n" % (attack.opened, attack.closed_by_hub,
		    attack.connected_max))
		self.assertTrue(self.hub.running(), self.hub.stderr()[-2000:])
		self.assertEqual(self.consult().status, 200)

		# The daemon's "connection limit" message is not a line per
		# refused connection.
		lines = [l for l in self.hub.stderr().splitlines()
		    if "reached connection limit" in l]
		self.assertLess(len(lines), attack.closed_by_hub // 10, lines[:5])


def trickle(port, first, byte, count, every=0.1):
	"""Sends first, then byte count times, one every `every` seconds, on
	one connection from ATTACKER. Returns the number of bytes sent after
	first when the hub closed the connection, or None when all were sent
	and the hub still had not closed it."""
	s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	try:
		s.bind((ATTACKER, 0))
		s.settimeout(30)
		s.connect(("127.0.0.1", port))
		s.sendall(first)
		for i in range(count):
			r, _, _ = select.select([s], [], [], every)
			if r:
				# Closed (or answered: then the headers were taken as
				# complete, which these never are).
				try:
					data = s.recv(4096)
				except OSError:
					data = b""
				if data:
					raise AssertionError("answered: %r" % data[:200])
				return i
			try:
				s.sendall(byte)
			except OSError:
				return i
		return None
	finally:
		s.close()


class DeadlineTests(AbuseCase):
	# Trickling for 30 s (300 bytes, one each 100 ms) outlasts either
	# deadline 10 times over.
	config = {"header_timeout_ms": 3000, "body_timeout_ms": 3000}

	def metric(self, phase):
		body = self.hub.request("GET", "/metrics").body.decode()
		key = 'crossroads_http_deadline_closed_total{phase="%s"} ' % phase
		for l in body.splitlines():
			if l.startswith(key):
				return int(l[len(key):])
		return 0

	def test_trickled_headers_closed(self):
		"""A client that sends its headers one byte every 100 ms is never
		idle, but its connection is closed once header_timeout_ms has
		passed, before it ends its headers."""
		before = self.metric("headers")
		sent = trickle(self.hub.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
		    b"X-Slow: ", b"x", 300)
		self.assertIsNotNone(sent, "30 s of trickled headers and the "
		    "connection is still open")
		self.assertEqual(self.metric("headers") - before, 1)
		self.assertEqual(self.consult().status, 200)

	def test_trickled_body_closed(self):
		"""Headers complete, then a body of 300 bytes sent one byte every
		100 ms: closed once body_timeout_ms has passed."""
		before = self.metric("body")
		sent = trickle(self.hub.port, b"POST /v1/directory HTTP/1.1\r\n"
		    b"Host: x\r\nContent-Type: application/json\r\n"
		    b"Authorization: Bearer " + self.token.encode() +
		    b"\r\nContent-Length: 300\r\n\r\n", b" ", 300)
		self.assertIsNotNone(sent, "30 s of trickled body and the "
		    "connection is still open")
		self.assertEqual(self.metric("body") - before, 1)

	def test_headers_within_the_deadline_answered(self):
		"""Headers sent in pieces over 0.3 s, well within the deadline,
		get their answer."""
		s = socket.create_connection(("127.0.0.1", self.hub.port),
		    timeout=30)
		try:
			for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n",
			    b"Connection: close\r\n", b"\r\n"):
				s.sendall(part)
				time.sleep(0.1)
			out = b""
			while True:
				b = s.recv(4096)
				if not b:
					break
				out += b
		finally:
			s.close()
		self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:200])


def request_from(source, port, method, path, body=None, token=None,
    headers=None):
	"""One request from the address source: (status, headers, JSON)."""
	h = dict(headers or {})
	if token is not None:
		h["Authorization"] = "Bearer " + token
	if body is not None:
		body = json.dumps(body)
		h["Content-Type"] = "application/json"
	c = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
	    source_address=(source, 0))
	try:
		c.request(method, path, body=body, headers=h)
		r = c.getresponse()
		data = r.read()
		return (r.status, {k.lower(): v for k, v in r.getheaders()},
		    json.loads(data) if data else None)
	finally:
		c.close()


class UnauthTests(AbuseCase):
	# 5 at once, then one every 100 s: the test never sees a refill.
	config = {"unauth_rate_limit": "0.01/5"}

	def test_limited_and_logged_in_aggregate(self):
		"""Requests without a valid token from one address: the first 5
		are answered 401, the next ones 429 RATE_LIMITED with
		Retry-After; another address and a valid token from the same
		address are not limited. None gets an exchange-log entry of its
		own: at shutdown the log holds one entry per address and minute
		with the counts, and the chain verifies."""
		port = self.hub.port
		body = {"subject": H.INSZ_VALID[0], "purpose": "benefit"}
		rids = []
		got = []
		for i in range(8):
			rid = H.new_request_id("unauth")
			rids.append(rid)
			st, hdrs, j = request_from(ATTACKER, port, "POST",
			    "/v1/consult/population.person", body,
			    token="wrong-token-0123456789" if i % 2 else None,
			    headers={"X-Request-Id": rid})
			got.append((st, j["error"]["code"]))
			if st == 429:
				self.assertGreaterEqual(int(hdrs["retry-after"]), 1)
				self.assertEqual(j["error"]["request_id"], rid)
			else:
				self.assertNotIn("retry-after", hdrs)
		self.assertEqual(got, [(401, "UNAUTHENTICATED")] * 5 +
		    [(429, "RATE_LIMITED")] * 3)
		# Other routes are limited as well, for that address only.
		st, _, j = request_from(ATTACKER, port, "GET", "/v1/services")
		self.assertEqual((st, j["error"]["code"]), (429, "RATE_LIMITED"))
		st, _, j = request_from("127.0.0.1", port, "GET", "/v1/services")
		self.assertEqual((st, j["error"]["code"]), (401, "UNAUTHENTICATED"))
		# A valid token from the limited address is served.
		st, _, j = request_from(ATTACKER, port, "POST",
		    "/v1/consult/population.person", body, token=self.token)
		self.assertEqual(st, 200, j)
		m = self.hub.request("GET", "/metrics").body.decode()
		self.assertIn('crossroads_http_rate_limited_total{limit='
		    '"unauthenticated"} 4\n', m)
		self.assertEqual(self.hub.terminate(), 0)
		for rid in rids:
			self.assertEqual(H.db_query(self.hub.db, "SELECT seq FROM "
			    "xlog WHERE request_id = ?", (rid,)), [], rid)
		rows = H.db_query(self.hub.db, "SELECT request_id, consumer, "
		    "client, service, subject, outcome, status, error_code, params "
		    "FROM xlog WHERE status = 401 ORDER BY seq")
		agg = {}
		for row in rows:
			self.assertEqual(row[:8], ("", "", "", "", "", "denied", 401,
			    "UNAUTHENTICATED"), row)
			p = json.loads(row[8])
			self.assertEqual(sorted(p), ["address", "attempts", "minute",
			    "rate_limited"], p)
			self.assertRegex(p["minute"],
			    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$")
			a = agg.setdefault(p["address"], [0, 0, set()])
			a[0] += p["attempts"]
			a[1] += p["rate_limited"]
			self.assertNotIn(p["minute"], a[2], "two entries for one "
			    "address and minute")
			a[2].add(p["minute"])
		self.assertEqual({k: v[:2] for k, v in agg.items()},
		    {ATTACKER: [9, 4], "127.0.0.1": [1, 0]})
		v = H.log_verify(self.hub.db)
		self.assertEqual(v.returncode, 0, v.stdout + v.stderr)


class ClientRateTests(AbuseCase):
	# ONEM's clients: 3 at once, then one every 100 s (never within the
	# test); the other institutions: no limit (the default is off).
	config = {"client_rate_limit.institution.ONEM": "0.01/3",
	    "client_rate_limit.institution.FREE": "off"}

	def test_client_limited_alone(self):
		"""Past its bucket a client gets 429 RATE_LIMITED with
		Retry-After on every route, and its refused consultations are
		not consulted nor logged; another client of the same institution
		has its own bucket, a client of another institution and the
		operator are not limited."""
		h = self.hub
		tok = h.client("ONEM", "second")["token"]
		got = []
		rids = []
		for i in range(5):
			rid = H.new_request_id("limited")
			rids.append(rid)
			r = h.consult(tok, "population.person", H.INSZ_VALID[0],
			    "benefit", request_id=rid)
			got.append((r.status, r.error_code))
			if r.status == 429:
				self.assertGreaterEqual(int(r.header("Retry-After")), 1,
				    r)
				self.assertEqual(r.json["error"]["request_id"], rid)
		self.assertEqual(got, [(200, None)] * 3 + [(429, "RATE_LIMITED")]
		    * 2)
		r = h.request("GET", "/v1/services", token=tok)
		self.assertEqual((r.status, r.error_code), (429, "RATE_LIMITED"))
		r = h.request("POST", "/v1/directory", {"subject": H.INSZ_VALID[1],
		    "capacity": "jobseeker", "from": "2020-01-01", "to": None},
		    token=tok)
		self.assertEqual((r.status, r.error_code), (429, "RATE_LIMITED"))
		# Only the consultations answered 200 are in the log.
		for rid, (status, _) in zip(rids, got):
			rows = H.db_query(h.db, "SELECT status FROM xlog WHERE "
			    "request_id = ?", (rid,))
			self.assertEqual(rows, [(200,)] if status == 200 else [], rid)
		# The class's own ONEM client: a bucket of its own.
		self.assertEqual(self.consult().status, 200)
		h.institution("FREE", "Unlimited", "social")
		free = h.client("FREE")["token"]
		for _ in range(20):
			self.assertEqual(h.request("GET", "/v1/services",
			    token=free).status, 200)
		for _ in range(20):
			self.assertEqual(h.admin("GET", "/v1/services").status, 200)
		m = h.request("GET", "/metrics").body.decode()
		self.assertIn('crossroads_http_rate_limited_total{limit="client"} '
		    '4\n', m)


if __name__ == "__main__":
	unittest.main()
