"""
Integration tests of TLS on every hop (issue 10, section 1), against a
real PKI made at test time with certtool: the hub serving HTTPS only (TLS
1.2 and 1.3), its certificate reloaded on SIGHUP without dropping open
connections, client certificates verified against a CA and
authenticating the client applications registered with them, and the
hub calling https:// sources and webhooks with verification.
"""

import http.client
import json
import os
import re
import threading
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402


def wait_for_line(hub, text, timeout=10):
	deadline = time.monotonic() + timeout
	while text not in hub.stderr():
		if time.monotonic() > deadline:
			raise AssertionError("no %r in the hub's stderr:\n%s" % (text,
			    hub.stderr()[-2000:]))
		time.sleep(0.02)


def peer_cert(port, ctx):
	"""The DER certificate the server presents on a new connection."""
	with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
		with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
			return t.getpeercert(binary_form=True)


def der(path):
	return ssl.PEM_cert_to_DER_cert(H.PKI.pem(path))


class ServeHTTPS(unittest.TestCase):
	"""The hub with --tls-cert and --tls-key, no client certificates."""

	@classmethod
	def setUpClass(cls):
		cls.w = H.make_tmpdir()
		cls.pki = H.PKI(os.path.join(cls.w, "pki"))
		a = cls.pki.issue("server-a", server=True)
		cls.b = cls.pki.issue("server-b", server=True)
		cls.a = a
		# The hub reads these paths; the reload test replaces them.
		cls.cert = os.path.join(cls.w, "hub.pem")
		cls.key = os.path.join(cls.w, "hub.key")
		shutil.copy(a[0], cls.cert)
		shutil.copy(a[1], cls.key)
		cls.hub = H.Hub(cls.w, config={"tls_cert": cls.cert,
		    "tls_key": cls.key}, tls=cls.pki.context()).start()

	@classmethod
	def tearDownClass(cls):
		cls.hub.kill()
		H.remove_tmpdir(cls.w)

	def test_https_answers(self):
		r = self.hub.request("GET", "/healthz")
		self.assertEqual(r.status, 200, r)
		self.assertIn("(HTTPS)", self.hub.stderr())

	def test_cli_trusts_the_hub_with_cacert(self):
		subjects = os.path.join(self.w, "subjects.txt")
		with open(subjects, "w") as f:
			f.write(H.INSZ_VALID[0] + "\n")
		args = [H.binaries()[0], "batch", "run", "--hub",
		    "https://127.0.0.1:%d" % self.hub.port, "--token",
		    H.ADMIN_TOKEN, "--bundle", "b", "--purpose", "p", "--quiet",
		    subjects]
		env = dict(os.environ)
		env.pop("CROSSROADS_CACERT", None)
		r = subprocess.run(args, capture_output=True, text=True,
		    timeout=60, env=env)
		self.assertIn("cannot be reached", r.stderr)
		# Reached, and answered: the operator is no client.
		for extra, e in ((["--cacert", self.pki.ca_cert], {}),
		    ([], {"CROSSROADS_CACERT": self.pki.ca_cert})):
			r = subprocess.run(args[:3] + extra + args[3:],
			    capture_output=True, text=True, timeout=60,
			    env=dict(env, **e))
			self.assertIn("403 NOT_AUTHORIZED", r.stderr)

	def test_no_certificate_registration_without_client_ca(self):
		self.hub.institution("ONEM")
		cert = self.pki.issue("client")
		r = self.hub.admin("POST", "/v1/institutions/ONEM/clients",
		    {"name": "app", "certificate": H.PKI.pem(cert[0])})
		self.assertEqual(r.status, 400, r)
		self.assertIn("does not verify client certificates",
		    r.json["error"]["message"])

	def test_plain_http_is_refused(self):
		with self.assertRaises((http.client.HTTPException, OSError)):
			r = H.http_request(self.hub.port, "GET", "/healthz",
			    timeout=5)
			# MHD may answer a plain request with a TLS alert
			# that http.client reads as garbage: never a 200.
			self.assertNotEqual(r.status, 200)
			raise OSError("answered")

	def gnutls_cli(self, version):
		return subprocess.run(["gnutls-cli", "--x509cafile",
		    self.pki.ca_cert, "--priority",
		    "NORMAL:-VERS-ALL:+VERS-" + version, "-p",
		    str(self.hub.port), "127.0.0.1"], stdin=subprocess.DEVNULL,
		    capture_output=True, text=True, timeout=30)

	def test_tls_versions(self):
		for v in ("TLS1.2", "TLS1.3"):
			r = self.gnutls_cli(v)
			self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
			self.assertIn("Handshake was completed", r.stdout)
		for v in ("TLS1.1", "TLS1.0"):
			r = self.gnutls_cli(v)
			self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
			self.assertNotIn("Handshake was completed", r.stdout)

	def test_reload_on_sighup(self):
		ctx = self.pki.context()
		conn = http.client.HTTPSConnection("127.0.0.1", self.hub.port,
		    timeout=30, context=ctx)
		conn.auto_open = 0	# a dropped connection is an error
		conn.connect()
		conn.request("GET", "/healthz")
		r = conn.getresponse()
		r.read()
		self.assertEqual(r.status, 200)
		before = conn.sock.getpeercert(binary_form=True)
		self.assertEqual(before, der(self.a[0]))

		# New files, then SIGHUP.
		shutil.copy(self.b[0], self.cert)
		shutil.copy(self.b[1], self.key)
		self.hub.proc.send_signal(signal.SIGHUP)
		wait_for_line(self.hub, "reloaded")
		# The kept-alive connection goes on, on its old certificate.
		sock = conn.sock
		conn.request("GET", "/healthz")
		r = conn.getresponse()
		r.read()
		self.assertEqual(r.status, 200)
		self.assertIs(conn.sock, sock)
		self.assertEqual(conn.sock.getpeercert(binary_form=True), before)
		conn.close()
		# A new one sees the new certificate.
		self.assertEqual(peer_cert(self.hub.port, ctx), der(self.b[0]))

		# A bad file at reload: logged, the certificate in use kept.
		with open(self.cert, "w") as f:
			f.write("-----BEGIN CERTIFICATE-----\nnot base64\n")
		self.hub.proc.send_signal(signal.SIGHUP)
		wait_for_line(self.hub, "reload failed")
		self.assertTrue(self.hub.running())
		self.assertEqual(peer_cert(self.hub.port, ctx), der(self.b[0]))
		# Back to A: a reload after a failed one works.
		shutil.copy(self.a[0], self.cert)
		shutil.copy(self.a[1], self.key)
		n = self.hub.stderr().count("reloaded")
		self.hub.proc.send_signal(signal.SIGHUP)
		deadline = time.monotonic() + 10
		while self.hub.stderr().count("reloaded") == n:
			self.assertLess(time.monotonic(), deadline)
			time.sleep(0.02)
		self.assertEqual(peer_cert(self.hub.port, ctx), der(self.a[0]))


def remove_client(db, client_id):
	"""The registration removed from the store, as an operator's removal
	of the client would (the hub keeps running)."""
	conn = sqlite3.connect(db, timeout=30)
	try:
		with conn:
			n = conn.execute("DELETE FROM clients WHERE id = ?",
			    (client_id,)).rowcount
	finally:
		conn.close()
	assert n == 1, n


def refused(hub, ctx):
	"""True when the handshake with ctx fails (no HTTP answer at all)."""
	try:
		H.http_request(hub.port, "GET", "/healthz", tls=ctx, timeout=10)
	except (ssl.SSLError, OSError, http.client.HTTPException):
		return True
	return False


class ClientCertificates(unittest.TestCase):
	"""--tls-client-auth require: a client application registered with
	a certificate authenticates by it."""

	config_extra = {"tls_client_auth": "require"}

	@classmethod
	def setUpClass(cls):
		cls.w = H.make_tmpdir()
		cls.pki = H.PKI(os.path.join(cls.w, "pki"))
		cls.other_ca = H.PKI(os.path.join(cls.w, "other"), name="other")
		srv = cls.pki.issue("server", server=True)
		cls.good = cls.pki.issue("client-good")
		cls.second = cls.pki.issue("client-second")
		cls.unregistered = cls.pki.issue("client-unregistered")
		cls.expired = cls.pki.issue("client-expired", expired=True)
		cls.wrong_ca = cls.other_ca.issue("client-wrong-ca")
		cfg = {"tls_cert": srv[0], "tls_key": srv[1],
		    "tls_client_ca": cls.pki.ca_cert}
		cfg.update(cls.config_extra)
		# The harness's own requests (health, operator) present a
		# registered-nowhere certificate of the right CA.
		cls.hub = H.Hub(cls.w, config=cfg,
		    tls=cls.pki.context(cls.unregistered)).start()
		cls.hub.institution("ONEM", "Employment", "unemployment")
		cls.hub.institution("CPAS", "Social assistance", "social")
		cls.reg = {}
		for name, cert, inst in (("good", cls.good, "ONEM"),
		    ("second", cls.second, "CPAS"),
		    ("expired", cls.expired, "ONEM"),
		    ("wrong_ca", cls.wrong_ca, "ONEM")):
			cls.reg[name] = cls.register(inst, name, cert)
		cls.plain = cls.hub.client("CPAS", "token-only")

	@classmethod
	def register(cls, inst, name, cert):
		r = cls.hub.admin("POST", "/v1/institutions/%s/clients" % inst,
		    {"name": name, "certificate": H.PKI.pem(cert[0])})
		if r.status != 201:
			raise AssertionError("register %s: %r" % (name, r))
		return r.json

	@classmethod
	def tearDownClass(cls):
		cls.hub.kill()
		H.remove_tmpdir(cls.w)

	def subs(self, cert=None, token=None):
		return H.http_request(self.hub.port, "GET", "/v1/subscriptions",
		    token=token, tls=self.pki.context(cert))

	def test_registration_stores_the_fingerprint(self):
		self.assertEqual(self.reg["good"]["cert_sha256"],
		    H.PKI.sha256(self.good[0]))
		self.assertIsNone(self.plain["cert_sha256"])

	def test_registration_refuses_what_is_not_one_certificate(self):
		for pem in ("hello", H.PKI.pem(self.good[1]),
		    H.PKI.pem(self.good[0]) + H.PKI.pem(self.second[0]),
		    "-----BEGIN CERTIFICATE-----\nAAAA\n"
		    "-----END CERTIFICATE-----\n"):
			r = self.hub.admin("POST", "/v1/institutions/ONEM/clients",
			    {"name": "x", "certificate": pem})
			self.assertEqual(r.status, 400, r)
			self.assertEqual(r.error_code, "BAD_REQUEST")
			self.assertIn("certificate", r.json["error"]["message"])

	def test_one_client_per_certificate(self):
		r = self.hub.admin("POST", "/v1/institutions/CPAS/clients",
		    {"name": "again", "certificate": H.PKI.pem(self.good[0])})
		self.assertEqual(r.status, 409, r)
		self.assertEqual(r.error_code, "CONFLICT")

	def test_good_certificate_authenticates(self):
		r = self.subs(self.good)
		self.assertEqual(r.status, 200, r)
		line = H.wait_access_line(self.hub.stderr_path,
		    r.header("x-request-id"))
		self.assertEqual(line["institution"], "ONEM")
		# With its own token too.
		r = self.subs(self.good, self.reg["good"]["token"])
		self.assertEqual(r.status, 200, r)

	def test_no_expired_or_wrong_ca_certificate_is_refused(self):
		self.assertFalse(refused(self.hub, self.pki.context(self.good)))
		self.assertTrue(refused(self.hub, self.pki.context()))
		self.assertTrue(refused(self.hub, self.pki.context(self.expired)))
		self.assertTrue(refused(self.hub, self.pki.context(
		    self.wrong_ca)))
		self.assertIn("client certificate refused", self.hub.stderr())

	def test_unregistered_certificate_is_no_client(self):
		r = self.subs(self.unregistered)
		self.assertEqual(r.status, 401, r)
		self.assertIn("no client is registered with this certificate",
		    r.json["error"]["message"])
		line = H.wait_access_line(self.hub.stderr_path,
		    r.header("x-request-id"))
		self.assertEqual(line["auth"], "unknown_certificate")

	def test_token_of_a_certificate_client_needs_its_certificate(self):
		r = self.subs(self.unregistered, self.reg["good"]["token"])
		self.assertEqual(r.status, 401, r)
		self.assertIn("must present its registered certificate",
		    r.json["error"]["message"])
		line = H.wait_access_line(self.hub.stderr_path,
		    r.header("x-request-id"))
		self.assertEqual(line["auth"], "certificate_required")

	def test_certificate_and_token_of_two_clients(self):
		r = self.subs(self.good, self.plain["token"])
		self.assertEqual(r.status, 401, r)
		self.assertIn("different clients", r.json["error"]["message"])

	def test_token_only_client(self):
		r = self.subs(self.unregistered, self.plain["token"])
		self.assertEqual(r.status, 200, r)

	def test_revoked_by_removal(self):
		cert = self.pki.issue("client-removed")
		reg = self.register("CPAS", "removed", cert)
		self.assertEqual(self.subs(cert).status, 200)
		remove_client(self.hub.db, reg["client_id"])
		r = self.subs(cert)
		self.assertEqual(r.status, 401, r)


class CertificateAndToken(ClientCertificates):
	"""optional client certificates, and tls_require_token: a client
	needs both its certificate and its token."""

	config_extra = {"tls_client_auth": "optional",
	    "tls_require_token": "on"}

	def test_good_certificate_authenticates(self):
		r = self.subs(self.good)
		self.assertEqual(r.status, 401, r)
		self.assertIn("requires the client's token",
		    r.json["error"]["message"])
		r = self.subs(self.good, self.reg["good"]["token"])
		self.assertEqual(r.status, 200, r)

	def test_no_expired_or_wrong_ca_certificate_is_refused(self):
		# Optional: no certificate is a handshake, not a client.
		self.assertFalse(refused(self.hub, self.pki.context()))
		self.assertTrue(refused(self.hub, self.pki.context(self.expired)))
		self.assertTrue(refused(self.hub, self.pki.context(
		    self.wrong_ca)))
		r = self.subs(None, self.reg["good"]["token"])
		self.assertEqual(r.status, 401, r)
		r = H.http_request(self.hub.port, "GET", "/v1/subscriptions",
		    token=H.ADMIN_TOKEN, tls=self.pki.context())
		self.assertEqual(r.status, 200, r)

	def test_token_only_client(self):
		# Every client needs a certificate here.
		r = self.subs(self.unregistered, self.plain["token"])
		self.assertEqual(r.status, 401, r)

	def test_revoked_by_removal(self):
		cert = self.pki.issue("client-removed")
		reg = self.register("CPAS", "removed", cert)
		self.assertEqual(self.subs(cert, reg["token"]).status, 200)
		remove_client(self.hub.db, reg["client_id"])
		self.assertEqual(self.subs(cert, reg["token"]).status, 401)


SOURCE_CONFIG = """listen = 127.0.0.1:0
database = sqlite:pop.db
tls_cert = %s
tls_key = %s
tls_client_ca = %s
tls_client_auth = require

[service population.person]
path = /person
query = SELECT name, address FROM person WHERE id = :subject
"""


class Source:
	"""`crossroads source` over HTTPS, requiring the hub's certificate."""

	def __init__(self, w, pki, cert):
		db = sqlite3.connect(os.path.join(w, "pop.db"))
		db.execute("CREATE TABLE person(id TEXT PRIMARY KEY, name TEXT, "
		    "address TEXT)")
		db.execute("INSERT INTO person VALUES(?, 'Jan Peeters', "
		    "'Rue de la Loi 16')", (H.INSZ_VALID[0],))
		db.commit()
		db.close()
		self.conf = os.path.join(w, "source.conf")
		with open(self.conf, "w") as f:
			f.write(SOURCE_CONFIG % (cert[0], cert[1], pki.ca_cert))
		self.out = os.path.join(w, "source.stdout")
		self.proc = H._spawn([H.binaries()[0], "source", "--config",
		    self.conf], dict(os.environ), self.out,
		    os.path.join(w, "source.stderr"))
		deadline = time.monotonic() + H.READY_TIMEOUT
		while True:
			m = re.search(r"source listening on 127\.0\.0\.1:(\d+)",
			    H._read(self.out))
			if m:
				self.port = int(m.group(1))
				break
			if time.monotonic() > deadline or self.proc.poll() is not None:
				raise RuntimeError("source did not start")
			time.sleep(0.02)

	def kill(self):
		self.proc.kill()
		self.proc.wait(timeout=10)


class Receiver:
	"""An https:// webhook endpoint in this process that requires a
	client certificate of the CA, and records who posted what."""

	def __init__(self, pki, cert):
		from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
		got = self.got = []

		class Handler(BaseHTTPRequestHandler):
			def log_message(self, *args):
				pass

			def do_POST(self):
				n = int(self.headers.get("Content-Length", "0"))
				body = json.loads(self.rfile.read(n))
				peer = self.connection.getpeercert()
				cn = dict(x[0] for x in peer["subject"])["commonName"]
				got.append((cn, body))
				self.send_response(200)
				self.send_header("Content-Length", "0")
				self.end_headers()

		ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
		ctx.load_cert_chain(cert[0], cert[1])
		ctx.load_verify_locations(pki.ca_cert)
		ctx.verify_mode = ssl.CERT_REQUIRED
		self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
		self.srv.socket = ctx.wrap_socket(self.srv.socket,
		    server_side=True)
		self.port = self.srv.server_address[1]
		self.thread = threading.Thread(target=self.srv.serve_forever,
		    daemon=True)
		self.thread.start()

	def stop(self):
		self.srv.shutdown()
		self.srv.server_close()


class Outbound(unittest.TestCase):
	"""The hub calls https:// sources and webhooks, verifying them and
	proving itself with its client certificate."""

	@classmethod
	def setUpClass(cls):
		cls.w = H.make_tmpdir()
		cls.pki = H.PKI(os.path.join(cls.w, "pki"))
		cls.other = H.PKI(os.path.join(cls.w, "other"), name="other")
		cls.hubcert = cls.pki.issue("crossroads-hub")
		cls.src = Source(cls.w, cls.pki, cls.pki.issue("source",
		    server=True))
		cls.rx = Receiver(cls.pki, cls.pki.issue("receiver", server=True))
		cls.hub = H.Hub(cls.w, config={
		    "webhook_ca_file": cls.pki.ca_cert,
		    "webhook_client_cert": cls.hubcert[0],
		    "webhook_client_key": cls.hubcert[1]}).start()
		h = cls.hub
		h.institution("RN", "National Register", "population")
		h.institution("ONEM", "Employment", "unemployment")
		cls.tok = h.client("ONEM")["token"]
		url = "https://127.0.0.1:%d/person" % cls.src.port
		for sid, extra in (
		    ("tls.ok", {"ca_file": cls.pki.ca_cert,
		    "client_cert": cls.hubcert[0],
		    "client_key": cls.hubcert[1]}),
		    ("tls.nocert", {"ca_file": cls.pki.ca_cert}),
		    ("tls.wrongca", {"ca_file": cls.other.ca_cert,
		    "client_cert": cls.hubcert[0],
		    "client_key": cls.hubcert[1]}),
		    ("tls.systemca", {"client_cert": cls.hubcert[0],
		    "client_key": cls.hubcert[1]})):
			body = {"id": sid, "provider": "RN", "endpoint": url,
			    "fields": ["name", "address"]}
			body.update(extra)
			r = h.admin("POST", "/v1/services", body)
			assert r.status == 201, r
			h.authorize("ONEM", sid, "benefit", ["name"])

	@classmethod
	def tearDownClass(cls):
		cls.hub.kill()
		cls.src.kill()
		cls.rx.stop()
		H.remove_tmpdir(cls.w)

	def test_https_source_with_the_hubs_certificate(self):
		r = self.hub.consult(self.tok, "tls.ok", H.INSZ_VALID[0],
		    "benefit")
		self.assertEqual(r.status, 200, r)
		self.assertEqual(r.json["data"], {"name": "Jan Peeters"})

	def test_refused_without_certificate_or_verification(self):
		for sid in ("tls.nocert", "tls.wrongca", "tls.systemca"):
			r = self.hub.consult(self.tok, sid, H.INSZ_VALID[0],
			    "benefit")
			self.assertEqual(r.status, 502, (sid, r))
			self.assertEqual(r.error_code, "SOURCE_UNAVAILABLE")

	def test_service_fields_are_checked(self):
		base = {"provider": "RN", "fields": ["name"],
		    "endpoint": "https://127.0.0.1:1/x"}
		for extra, why in (
		    ({"endpoint": "http://127.0.0.1:1/x",
		    "ca_file": self.pki.ca_cert}, "needs an https:// endpoint"),
		    ({"ca_file": "ca.pem"}, "absolute path"),
		    ({"client_cert": self.hubcert[0]}, "go together")):
			body = dict(base, id="tls.bad", **extra)
			r = self.hub.admin("POST", "/v1/services", body)
			self.assertEqual(r.status, 400, (extra, r))
			self.assertIn(why, r.json["error"]["message"])

	def test_files_are_the_operators_business(self):
		r = self.hub.admin("GET", "/v1/services")
		ok = [s for s in r.json["services"] if s["id"] == "tls.ok"][0]
		self.assertEqual(ok["ca_file"], self.pki.ca_cert)
		r = self.hub.request("GET", "/v1/services", token=self.tok)
		ok = [s for s in r.json["services"] if s["id"] == "tls.ok"][0]
		self.assertNotIn("ca_file", ok)
		self.assertNotIn("client_key", ok)

	def test_https_webhook(self):
		h = self.hub
		r = h.admin("POST", "/v1/event-types", {"id": "tls.event",
		    "provider": "RN", "fields": ["address"]})
		self.assertEqual(r.status, 201, r)
		h.authorize("ONEM", "tls.event", "benefit", ["address"])
		s = H.INSZ_VALID[1]
		h.capacity("jobseeker", institutions=["ONEM"])
		h.integrate(self.tok, s, "jobseeker")
		r = h.request("POST", "/v1/subscriptions", {
		    "event_type": "tls.event", "capacities": ["jobseeker"],
		    "delivery": {"url": "https://127.0.0.1:%d/hook" %
		    self.rx.port}}, token=self.tok)
		self.assertEqual(r.status, 201, r)
		rn = h.client("RN")["token"]
		r = h.request("POST", "/v1/events", {"type": "tls.event",
		    "subject": s, "occurred_at": "2024-05-01T12:00:00Z",
		    "data": {"address": "Rue 1"}}, token=rn)
		self.assertEqual(r.status, 201, r)
		deadline = time.monotonic() + 15
		while not self.rx.got:
			self.assertLess(time.monotonic(), deadline,
			    h.stderr()[-2000:])
			time.sleep(0.05)
		cn, body = self.rx.got[0]
		self.assertEqual(cn, "crossroads-hub")
		self.assertEqual(body["subject"], s)


class Shutdown(unittest.TestCase):
	"""SIGTERM drains an HTTPS hub with a kept-alive connection open, as
	a plain one."""

	def test_sigterm_with_a_connection_open(self):
		w = H.make_tmpdir()
		try:
			pki = H.PKI(os.path.join(w, "pki"))
			srv = pki.issue("server", server=True)
			hub = H.Hub(w, config={"tls_cert": srv[0],
			    "tls_key": srv[1]}, tls=pki.context()).start()
			conn = http.client.HTTPSConnection("127.0.0.1", hub.port,
			    timeout=30, context=pki.context())
			conn.request("GET", "/healthz")
			r = conn.getresponse()
			r.read()
			self.assertEqual(r.status, 200)
			self.assertEqual(hub.terminate(timeout=30), 0,
			    hub.stderr()[-2000:])
			conn.close()
		finally:
			H.remove_tmpdir(w)


class StartErrors(unittest.TestCase):
	"""A bad certificate or key stops the start, saying which file."""

	@classmethod
	def setUpClass(cls):
		cls.w = H.make_tmpdir()
		cls.pki = H.PKI(os.path.join(cls.w, "pki"))
		cls.srv = cls.pki.issue("server", server=True)
		cls.other = cls.pki.issue("other", server=True)

	@classmethod
	def tearDownClass(cls):
		H.remove_tmpdir(cls.w)

	def serve(self, *flags):
		env = dict(os.environ)
		env["CROSSROADS_ADMIN_TOKEN"] = H.ADMIN_TOKEN
		db = os.path.join(self.w, "never.db")
		r = subprocess.run([H.binaries()[0], "serve", "--listen",
		    "127.0.0.1:0", "--db", db] + list(flags), env=env,
		    capture_output=True, text=True, timeout=30)
		return r, os.path.exists(db)

	def test_missing_file(self):
		r, made = self.serve("--tls-cert", "/nonexistent.pem",
		    "--tls-key", self.srv[1])
		self.assertEqual(r.returncode, 1, r.stderr)
		self.assertIn("cannot read the certificate /nonexistent.pem",
		    r.stderr)
		self.assertFalse(made)

	def test_not_pem(self):
		bad = os.path.join(self.w, "bad.pem")
		with open(bad, "w") as f:
			f.write("hello\n")
		r, made = self.serve("--tls-cert", bad, "--tls-key", self.srv[1])
		self.assertEqual(r.returncode, 1, r.stderr)
		self.assertIn("the certificate " + bad, r.stderr)
		self.assertFalse(made)

	def test_key_of_another_certificate(self):
		r, made = self.serve("--tls-cert", self.srv[0], "--tls-key",
		    self.other[1])
		self.assertEqual(r.returncode, 1, r.stderr)
		self.assertIn("is not the key of the certificate", r.stderr)
		self.assertFalse(made)

	def test_settings_that_do_not_go_together(self):
		for flags, what in (
		    (["--tls-cert", self.srv[0]], "tls_cert and tls_key go "
		    "together"),
		    (["--tls-client-ca", self.pki.ca_cert],
		    "tls_client_ca needs tls_cert"),
		    (["--tls-cert", self.srv[0], "--tls-key", self.srv[1],
		    "--tls-client-auth", "require"], "needs tls_client_ca"),
		    (["--tls-client-auth", "sometimes"],
		    "expected none, optional or require")):
			r, made = self.serve(*flags)
			self.assertEqual(r.returncode, 2, (flags, r.stderr))
			self.assertIn(what, r.stderr)
			self.assertFalse(made)


if __name__ == "__main__":
	unittest.main()
