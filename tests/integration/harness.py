"""
Helpers shared by the integration tests: start the real `crossroads` hub and
the fixture authentic source on 127.0.0.1 with free ports, talk to them over
HTTP, and make sure every process started is killed and every temporary
directory removed, whatever happens to the test.

Python 3 standard library only.

Size: over 800 lines because it is the one place that starts, watches
and stops every real process the integration tests use.
"""

import atexit
import datetime
import glob
import http.client
import itertools
import json
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ADMIN_TOKEN = "itest-admin-token-0123456789abcdef"
READY_TIMEOUT = 10.0		# seconds to wait for /healthz
HTTP_TIMEOUT = 60.0		# per request; generous for a loaded CI box

# Subjects that the contract names (Belgian INSZ, KBO).
INSZ_VALID = ["85073003328", "17073003384", "01490700185"]
INSZ_INVALID = "85073003329"
KBO_VALID = "0203201340"
KBO_INVALID = "0203201341"

_procs = []
_procs_lock = threading.Lock()
_tmpdirs = []


def _cleanup():
	with _procs_lock:
		procs = list(_procs)
	for p in procs:
		if p.poll() is None:
			try:
				p.kill()
				p.wait(timeout=10)
			except Exception:
				pass
	# What no remove_tmpdir() looked at (a test that failed before its
	# tear-down, a directory left in place): a report still fails the run.
	found = _collect_reports()
	for d in _tmpdirs:
		shutil.rmtree(d, ignore_errors=True)
	if found:
		sys.stderr.write(_format_reports(found) + "\n")
		sys.stderr.flush()
		os._exit(1)


atexit.register(_cleanup)


# --- sanitizer reports -----------------------------------------------------
#
# The suite also runs on sanitizer builds: `make check-asan` (AddressSanitizer,
# LeakSanitizer, UBSan) and `make check-tsan` (ThreadSanitizer). A report from
# any process a test started fails the run, whether or not that test looks at
# the process's stderr: every stderr file of a process started through this
# module is watched, and scanned when its directory is removed
# (remove_tmpdir(), at the end of the test or module that made it: the
# AssertionError fails that test's tear-down) and at exit (exit status 1);
# run_cli() checks the output of the command it ran. The processes inherit
# the environment, hence ASAN_OPTIONS / TSAN_OPTIONS (halt_on_error=1 under
# `make check-tsan`: the process stops at its first report).

# "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING:
# ThreadSanitizer: data race", "FATAL: ThreadSanitizer: unexpected memory
# mapping", ...; UBSan's reports say "runtime error:".
_SANITIZER_MARKS = ("Sanitizer", "runtime error:")
# Not a report: the count of suppressed ones that TSAN_OPTIONS
# print_suppressions=1 prints at exit (tests/tsan.supp).
_NOT_REPORTS = ("ThreadSanitizer: Matched ",)

_watched = []			# [label, glob pattern]
_watched_lock = threading.Lock()


def sanitizer_lines(text):
	"""The lines of text that belong to a sanitizer report's headline."""
	return [l for l in text.splitlines() if _is_report_line(l)]


def _is_report_line(l):
	return any(m in l for m in _SANITIZER_MARKS) and \
	    not any(l.startswith(m) for m in _NOT_REPORTS)


def watch_stderr(pattern, label=None):
	"""Scans the file(s) matching pattern (a path or a glob) for sanitizer
	reports when their directory is removed and at exit."""
	with _watched_lock:
		_watched.append([label or os.path.basename(pattern), pattern])


def _report_excerpt(text, nlines=40):
	"""From the first report line on: the report with its stacks."""
	lines = text.splitlines()
	for i, l in enumerate(lines):
		if _is_report_line(l):
			return "\n".join(lines[max(0, i - 1):i + nlines])
	return ""


def _collect_reports(under=None):
	"""[(label, path, excerpt)] of the watched files (those below `under`
	when given, which are then no longer watched) holding a report."""
	with _watched_lock:
		if under is None:
			mine = list(_watched)
		else:
			root = os.path.join(os.path.abspath(under), "")
			mine = [w for w in _watched
			    if os.path.abspath(w[1]).startswith(root)]
			for w in mine:
				_watched.remove(w)
	found = []
	for label, pattern in mine:
		for path in sorted(glob.glob(pattern)):
			text = _read(path)
			if sanitizer_lines(text):
				found.append((label, path, _report_excerpt(text)))
	return found


def _format_reports(found):
	out = ["sanitizer report(s) from %d process(es):" % len(found)]
	for label, path, excerpt in found:
		out.append("--- %s (%s):" % (label, path))
		out.append(excerpt)
	return "\n".join(out)


def binaries():
	"""Paths of the hub and of the fixture source (env, else build/)."""
	here = os.path.dirname(os.path.abspath(__file__))
	root = os.path.dirname(os.path.dirname(here))
	hub = os.environ.get("CROSSROADS_BIN",
	    os.path.join(root, "build", "crossroads"))
	fix = os.environ.get("CROSSROADS_FIXTURE_SOURCE",
	    os.path.join(root, "build", "crossroads-fixture-source"))
	for p in (hub, fix):
		if not os.access(p, os.X_OK):
			raise RuntimeError("binary not found or not executable: %s "
			    "(set CROSSROADS_BIN and CROSSROADS_FIXTURE_SOURCE)" % p)
	return hub, fix


def make_tmpdir(prefix="crossroads-itest-"):
	"""A temporary directory removed at exit (and by remove_tmpdir)."""
	d = tempfile.mkdtemp(prefix=prefix)
	_tmpdirs.append(d)
	return d


def remove_tmpdir(d):
	"""Removes d; raises AssertionError, after removing it, when a process
	whose stderr was in d printed a sanitizer report (see above)."""
	found = _collect_reports(under=d)
	shutil.rmtree(d, ignore_errors=True)
	if found:
		raise AssertionError(_format_reports(found))


def free_port():
	s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	try:
		s.bind(("127.0.0.1", 0))
		return s.getsockname()[1]
	finally:
		s.close()


def today():
	return datetime.datetime.now(datetime.timezone.utc).date()


def day(offset):
	"""Today plus offset days, as YYYY-MM-DD."""
	return (today() + datetime.timedelta(days=offset)).isoformat()


def new_request_id(prefix="it"):
	return "%s-%s" % (prefix, uuid.uuid4().hex[:24])


# --- identifiers -----------------------------------------------------------

def insz(yy, mm, dd, seq):
	"""A valid INSZ of someone born 19yy-mm-dd with serial seq."""
	base = "%02d%02d%02d%03d" % (yy, mm, dd, seq)
	return base + "%02d" % (97 - int(base) % 97)


_subject_counter = itertools.count(1)
_subject_lock = threading.Lock()


def person(k):
	"""The k-th generated valid INSZ (k >= 1, distinct for k < 997*...)."""
	return insz(50 + (k // 997) % 49, 1 + k % 12, 1 + k % 28, 1 + k % 997)


# Subjects 1..N_KNOWN are in the fixture's data file; above, NO_DATA.
N_KNOWN = 600


def person_data(subject):
	return {
		"name": "Person %s" % subject,
		"birth_date": "1970-01-%02d" % (1 + int(subject[-2:]) % 28),
		"address": "Rue de la Loi 16, 1000 Brussels",
		"household": [subject],
		"death_date": None,
		# Not among the service's fields: the hub must never pass it on.
		"internal_note": "source-internal",
	}


def fixture_dataset():
	d = {}
	for k in range(1, N_KNOWN + 1):
		s = person(k)
		d[s] = person_data(s)
	for s in INSZ_VALID:
		d[s] = person_data(s)
	d[KBO_VALID] = {"name": "Acme SA", "legal_form": "SA",
	    "address": "Avenue Louise 1, 1050 Brussels", "nace": "62010"}
	return d


class SubjectPool:
	"""Hands out fresh subjects so that tests do not share log entries."""

	def __init__(self, start=1):
		self._it = itertools.count(start)
		self._lock = threading.Lock()

	def known(self):
		with self._lock:
			k = next(self._it)
		if k > N_KNOWN:
			raise RuntimeError("subject pool exhausted")
		return person(k)

	@staticmethod
	def unknown(k):
		return person(N_KNOWN + 100 + k)


# --- HTTP ------------------------------------------------------------------

class Response:
	def __init__(self, status, headers, body, elapsed):
		self.status = status
		self.headers = headers		# lower-case names
		self.body = body
		self.elapsed = elapsed
		self._json = None
		self._parsed = False

	def header(self, name):
		return self.headers.get(name.lower())

	@property
	def json(self):
		if not self._parsed:
			self._parsed = True
			try:
				self._json = json.loads(self.body.decode("utf-8"))
			except (ValueError, UnicodeDecodeError):
				self._json = None
		return self._json

	@property
	def error_code(self):
		j = self.json
		if isinstance(j, dict) and isinstance(j.get("error"), dict):
			return j["error"].get("code")
		return None

	def __repr__(self):
		b = self.body[:400]
		return "<Response %d %r>" % (self.status, b)


def http_request(port, method, path, body=None, token=None, headers=None,
    timeout=HTTP_TIMEOUT, content_type=None, tls=None):
	"""One request on a fresh connection (so it is safe from any thread);
	over HTTPS with tls, an ssl.SSLContext (PKI.context)."""
	h = {}
	if body is not None and not isinstance(body, (bytes, str)):
		body = json.dumps(body)
		h["Content-Type"] = "application/json"
	if isinstance(body, str):
		body = body.encode("utf-8")
	if content_type is not None:
		h["Content-Type"] = content_type
	elif body is not None and "Content-Type" not in h:
		h["Content-Type"] = "application/json"
	if token is not None:
		h["Authorization"] = "Bearer " + token
	if headers:
		h.update(headers)
	if tls is not None:
		conn = http.client.HTTPSConnection("127.0.0.1", port,
		    timeout=timeout, context=tls)
	else:
		conn = http.client.HTTPConnection("127.0.0.1", port,
		    timeout=timeout)
	t0 = time.monotonic()
	try:
		try:
			conn.request(method, path, body=body, headers=h)
		except (BrokenPipeError, ConnectionResetError):
			# The server may answer (413) and close before it has
			# read a large body: its answer is still readable.
			if body is None or len(body) < 65536:
				raise
		r = conn.getresponse()
		data = r.read()
		elapsed = time.monotonic() - t0
		hdrs = {k.lower(): v for k, v in r.getheaders()}
		return Response(r.status, hdrs, data, elapsed)
	finally:
		conn.close()


def raw_request(port, method, path, body=None, headers=None,
    timeout=HTTP_TIMEOUT):
	"""One request written byte for byte on a socket, for what http.client
	refuses to send: a path, header values or a body of any bytes (path,
	header names and values are bytes or ASCII str). Connection: close,
	the answer read to the end of the stream."""
	def b(v):
		return v if isinstance(v, bytes) else v.encode("ascii")
	if body is not None and not isinstance(body, bytes):
		body = json.dumps(body).encode("utf-8")
	lines = [b(method) + b" " + b(path) + b" HTTP/1.1", b"Host: 127.0.0.1",
	    b"Connection: close"]
	for k, v in (headers or {}).items():
		lines.append(b(k) + b": " + b(v))
	if body is not None:
		lines.append(b"Content-Length: %d" % len(body))
	data = b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")
	t0 = time.monotonic()
	with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
		s.sendall(data)
		chunks = []
		while True:
			c = s.recv(65536)
			if not c:
				break
			chunks.append(c)
	raw = b"".join(chunks)
	head, _, rest = raw.partition(b"\r\n\r\n")
	lines = head.decode("latin-1").split("\r\n")
	status = int(lines[0].split(" ")[1])
	hdrs = {}
	for l in lines[1:]:
		k, _, v = l.partition(":")
		hdrs[k.strip().lower()] = v.strip()
	if "chunked" in hdrs.get("transfer-encoding", ""):
		out = b""
		while rest:
			size, _, rest = rest.partition(b"\r\n")
			n = int(size.split(b";")[0], 16)
			if n == 0:
				break
			out += rest[:n]
			rest = rest[n + 2:]
		rest = out
	elif "content-length" in hdrs:
		rest = rest[:int(hdrs["content-length"])]
	return Response(status, hdrs, rest, time.monotonic() - t0)


# --- processes -------------------------------------------------------------

def _spawn(args, env, out_path, err_path):
	out = open(out_path, "wb")
	err = open(err_path, "wb")
	try:
		p = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL,
		    stdout=out, stderr=err, start_new_session=True)
	finally:
		out.close()
		err.close()
	with _procs_lock:
		_procs.append(p)
	watch_stderr(err_path, "%s (pid %d)" % (" ".join(
	    os.path.basename(a) for a in args[:2]), p.pid))
	return p


def _read(path):
	try:
		with open(path, "rb") as f:
			return f.read().decode("utf-8", "replace")
	except OSError:
		return ""


def access_lines(path):
	"""The access-log lines of a stderr file, parsed. Every line that
	starts with '{' must be one JSON object in valid UTF-8, whatever the
	requests carried: anything else raises AssertionError."""
	try:
		with open(path, "rb") as f:
			data = f.read()
	except OSError:
		return []
	out = []
	for raw in data.split(b"\n"):
		if not raw.startswith(b"{"):
			continue
		try:
			j = json.loads(raw.decode("utf-8"))
		except (UnicodeDecodeError, ValueError) as e:
			raise AssertionError("access-log line is not valid JSON "
			    "(%s): %r" % (e, raw))
		if not isinstance(j, dict):
			raise AssertionError("access-log line is not an object: %r"
			    % raw)
		out.append(j)
	return out


def wait_access_line(path, request_id, timeout=10):
	"""The access line of request_id: it is written once the server is
	done with the request, which may be just after the client read the
	answer."""
	deadline = time.monotonic() + timeout
	while True:
		lines = [x for x in access_lines(path)
		    if x.get("request_id") == request_id]
		if lines or time.monotonic() > deadline:
			break
		time.sleep(0.02)
	if len(lines) != 1:
		raise AssertionError("%d access lines for %s" % (len(lines),
		    request_id))
	return lines[0]


def raw_send(port, data, timeout=HTTP_TIMEOUT):
	"""Sends bytes as they are on a new connection; returns every byte
	of the answer (the server closes the connection)."""
	s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
	try:
		s.sendall(data)
		out = b""
		while True:
			b = s.recv(65536)
			if not b:
				return out
			out += b
	finally:
		s.close()


def keepalive_exchange(port, data, timeout=HTTP_TIMEOUT, quiet=1.0):
	"""Sends bytes on one connection that the client keeps open and reads
	until the server closes it or stays quiet for `quiet` seconds:
	(the bytes read, True when the server closed the connection)."""
	s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
	try:
		s.sendall(data)
		s.settimeout(quiet)
		out = b""
		while True:
			try:
				b = s.recv(65536)
			except socket.timeout:
				return out, False
			except ConnectionResetError:
				return out, True
			if not b:
				return out, True
			out += b
	finally:
		s.close()


def listen_inode(pid, port):
	"""The inode of the IPv4 socket LISTENing on 127.0.0.1:port in pid's
	network namespace, from /proc."""
	want = "0100007F:%04X" % port
	with open("/proc/%d/net/tcp" % pid) as f:
		for line in f.readlines()[1:]:
			cols = line.split()
			if cols[1] == want and cols[3] == "0A":
				return int(cols[9])
	return None


def open_socket_inodes(pid):
	"""The inodes of the sockets that pid holds open."""
	out = set()
	d = "/proc/%d/fd" % pid
	for fd in os.listdir(d):
		try:
			t = os.readlink(os.path.join(d, fd))
		except OSError:
			continue
		if t.startswith("socket:["):
			out.add(int(t[8:-1]))
	return out


def connect_refused(port):
	"""True when a connection to 127.0.0.1:port is refused. A reset
	counts too: a connection that reached the backlog just before the
	listener was shut down is reset, never accepted."""
	s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
	s.settimeout(5)
	try:
		s.connect(("127.0.0.1", port))
		return False
	except (ConnectionRefusedError, ConnectionResetError):
		return True
	finally:
		s.close()


def start_slow_upload(port, path, headers=b""):
	"""Starts a POST whose body never completes: the server has read the
	headers (it answered 100 Continue), so the request is in flight until
	finish_slow_upload. Returns the socket."""
	s = socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT)
	s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
	    b"Content-Type: application/json\r\nContent-Length: 2\r\n"
	    b"Expect: 100-continue\r\nConnection: close\r\n" + headers +
	    b"\r\n")
	got = b""
	while b"\r\n\r\n" not in got:
		b = s.recv(4096)
		if not b:
			break
		got += b
	if not got.startswith(b"HTTP/1.1 100"):
		s.close()
		raise AssertionError("expected 100 Continue, got %r" % got)
	return s


def finish_slow_upload(s):
	"""Sends the body of start_slow_upload; returns the status."""
	try:
		s.sendall(b"{}")
		out = b""
		while True:
			b = s.recv(65536)
			if not b:
				break
			out += b
	finally:
		s.close()
	return int(out.split(b" ", 2)[1]) if out.startswith(b"HTTP/") else None


def _healthy(port, tls=None):
	try:
		r = http_request(port, "GET", "/healthz", timeout=2, tls=tls)
		return r.status == 200
	except (OSError, http.client.HTTPException):
		return False


class PKI:
	"""A certificate authority made at test time with certtool (GnuTLS),
	and the certificates it (or another CA) signs, in dir. Every file is
	a real PEM file; keys are ECDSA P-256."""

	def __init__(self, d, name="ca"):
		self.dir = d
		os.makedirs(d, exist_ok=True)
		self.name = name
		self.ca_key = self._key(name)
		self.ca_cert = os.path.join(d, name + ".pem")
		self._certtool(["--generate-self-signed", "--load-privkey",
		    self.ca_key, "--outfile", self.ca_cert], name,
		    'cn = "Crossroads test CA %s"\nca\ncert_signing_key\n'
		    'crl_signing_key\nexpiration_days = 30\n' % name)

	def _key(self, name):
		path = os.path.join(self.dir, name + ".key")
		subprocess.run(["certtool", "--generate-privkey", "--key-type",
		    "ecdsa", "--curve", "secp256r1", "--outfile", path],
		    check=True, capture_output=True)
		return path

	def _certtool(self, args, name, template):
		tmpl = os.path.join(self.dir, name + ".tmpl")
		with open(tmpl, "w") as f:
			f.write(template)
		r = subprocess.run(["certtool"] + args + ["--template", tmpl],
		    capture_output=True, text=True)
		if r.returncode != 0:
			raise RuntimeError("certtool %s: %s" % (name, r.stderr))

	def issue(self, name, server=False, expired=False):
		"""(cert, key) paths of a new certificate for name: a server's
		for 127.0.0.1 and localhost, else a client's; expired: valid in
		2020 only."""
		key = self._key(name)
		cert = os.path.join(self.dir, name + ".pem")
		t = 'cn = "%s"\nserial = %d\nsigning_key\n' % (name,
		    int.from_bytes(os.urandom(8), "big") >> 1)
		if server:
			t += 'ip_address = "127.0.0.1"\ndns_name = "localhost"\n' \
			    'tls_www_server\nencryption_key\n'
		else:
			t += "tls_www_client\n"
		if expired:
			t += 'activation_date = "2020-01-01 00:00:00"\n' \
			    'expiration_date = "2020-12-31 00:00:00"\n'
		else:
			t += "expiration_days = 30\n"
		self._certtool(["--generate-certificate", "--load-privkey", key,
		    "--load-ca-certificate", self.ca_cert,
		    "--load-ca-privkey", self.ca_key, "--outfile", cert],
		    name, t)
		return cert, key

	def context(self, cert=None):
		"""A client's ssl.SSLContext trusting this CA, presenting cert
		(a (cert, key) pair) when given."""
		c = ssl.create_default_context(cafile=self.ca_cert)
		if cert is not None:
			c.load_cert_chain(cert[0], cert[1])
		return c

	@staticmethod
	def pem(path):
		with open(path) as f:
			return f.read()

	@staticmethod
	def sha256(path):
		"""The fingerprint the hub stores: SHA-256 of the DER, hex."""
		import hashlib
		der = ssl.PEM_cert_to_DER_cert(PKI.pem(path))
		return hashlib.sha256(der).hexdigest()


class Hub:
	"""A `crossroads serve` process."""

	def __init__(self, workdir, config=None, db=None, name="hub",
	    env=None, prefix=None, tls=None, args=None):
		"""tls: an ssl.SSLContext the harness talks to the hub with;
		the config then holds tls_cert and tls_key."""
		self.bin, _ = binaries()
		self.args = list(args or [])	# more `serve` options
		self.prefix = prefix or []	# e.g. setpriv, to run as another user
		self.workdir = workdir
		self.name = name
		self.db = db or os.path.join(workdir, "hub.db")
		self.config = config
		self.extra_env = env or {}
		self.proc = None
		self.port = None
		self.starts = 0
		self.tls = tls

	@property
	def stderr_path(self):
		return os.path.join(self.workdir, "%s.%d.stderr" % (self.name,
		    self.starts))

	@property
	def stdout_path(self):
		return os.path.join(self.workdir, "%s.%d.stdout" % (self.name,
		    self.starts))

	def start(self):
		args_cfg = []
		if self.config is not None:
			cfg = os.path.join(self.workdir, self.name + ".conf")
			with open(cfg, "w") as f:
				for k, v in self.config.items():
					f.write("%s = %s\n" % (k, v))
			args_cfg = ["--config", cfg]
		env = dict(os.environ)
		env["CROSSROADS_ADMIN_TOKEN"] = ADMIN_TOKEN
		env.update(self.extra_env)
		last = ""
		# A port picked by bind(0) may be taken again before the hub binds
		# it: retry a few times with another one.
		for _ in range(3):
			self.starts += 1
			self.port = free_port()
			args = self.prefix + [self.bin, "serve", "--listen",
			    "127.0.0.1:%d" % self.port, "--db", self.db] + args_cfg + \
			    self.args
			self.proc = _spawn(args, env, self.stdout_path,
			    self.stderr_path)
			deadline = time.monotonic() + READY_TIMEOUT
			while time.monotonic() < deadline:
				if self.proc.poll() is not None:
					break
				if _healthy(self.port, self.tls):
					return self
				time.sleep(0.05)
			last = self.stderr()[-2000:]
			self.kill()
		raise RuntimeError("hub did not become ready in %.0f s; "
		    "stderr:\n%s" % (READY_TIMEOUT, last))

	def stderr(self):
		return _read(self.stderr_path)

	def access_log(self):
		"""The JSON access-log lines of the current process."""
		return access_lines(self.stderr_path)

	def running(self):
		return self.proc is not None and self.proc.poll() is None

	def kill(self):
		"""SIGKILL, then reap."""
		if self.proc is not None and self.proc.poll() is None:
			self.proc.kill()
			self.proc.wait(timeout=10)

	def terminate(self, timeout=30):
		"""SIGTERM; returns the exit status (None when it did not exit)."""
		if self.proc is None:
			return None
		if self.proc.poll() is None:
			self.proc.send_signal(signal.SIGTERM)
		try:
			return self.proc.wait(timeout=timeout)
		except subprocess.TimeoutExpired:
			self.kill()
			return None

	def sanitizer_reports(self):
		"""Lines of AddressSanitizer/LeakSanitizer/UBSan/ThreadSanitizer
		reports, if any (the suite also runs on sanitizer builds)."""
		return sanitizer_lines(self.stderr())

	def request(self, method, path, body=None, token=None, **kw):
		kw.setdefault("tls", self.tls)
		return http_request(self.port, method, path, body=body, token=token,
		    **kw)

	def admin(self, method, path, body=None, **kw):
		return self.request(method, path, body=body, token=ADMIN_TOKEN,
		    **kw)

	# Scenario helpers: each asserts its own success so that a failure
	# points at the set-up step rather than at a later check.

	def _ok(self, r, want, what):
		if r.status not in want:
			raise AssertionError("%s: expected %s, got %r" % (what, want,
			    r))
		return r

	def institution(self, iid, name=None, sector="social"):
		r = self.admin("POST", "/v1/institutions", {"id": iid,
		    "name": name or ("Institution " + iid), "sector": sector})
		self._ok(r, (201,), "create institution " + iid)
		return iid

	def client(self, iid, name="app"):
		r = self.admin("POST", "/v1/institutions/%s/clients" % iid,
		    {"name": name})
		self._ok(r, (201,), "create client for " + iid)
		return r.json

	def service(self, sid, provider, endpoint, fields, timeout_ms=None,
	    subject_kind=None, params=None):
		body = {"id": sid, "provider": provider, "endpoint": endpoint,
		    "fields": fields}
		if params is not None:
			body["params"] = params
		if timeout_ms is not None:
			body["timeout_ms"] = timeout_ms
		if subject_kind is not None:
			body["subject_kind"] = subject_kind
		r = self.admin("POST", "/v1/services", body)
		self._ok(r, (201,), "create service " + sid)
		return sid

	def capacity(self, cid, institutions=(), sectors=()):
		"""Lets institutions and sectors declare capacity cid in the
		directory (the catalogue): creates it, or adds them to who holds
		it already (PUT)."""
		body = {"id": cid, "name": "Capacity " + cid,
		    "institutions": list(institutions), "sectors": list(sectors)}
		r = self.admin("POST", "/v1/capacities", body)
		if r.status == 409:
			cur = [c for c in self.admin("GET", "/v1/capacities")
			    .json["capacities"] if c["id"] == cid][0]
			for k in ("institutions", "sectors"):
				body[k] = sorted(set(cur[k]) | set(body[k]))
			r = self.admin("PUT", "/v1/capacities/" + cid, body)
			return self._ok(r, (200,), "extend capacity " + cid)
		return self._ok(r, (201,), "create capacity " + cid)

	def authorize(self, consumer, service, purpose, fields, capacities=None,
	    valid_from="2020-01-01", valid_to=None, legal_basis="Deliberation 22/123",
	    declare=True):
		"""An authorization; with declare (the default) the consumer is
		also let declare the capacities it requires (self.capacity), as
		an operator who authorizes an institution on the persons it
		integrates as X lets it declare X. The hub's rule stays whole:
		a capacity no one declared is refused (test_capacities.py)."""
		if declare and capacities:
			for c in capacities:
				self.capacity(c, [consumer])
		body = {"consumer": consumer, "service": service,
		    "purpose": purpose, "legal_basis": legal_basis,
		    "fields": fields, "valid_to": valid_to}
		if capacities is not None:
			body["capacities"] = capacities
		if valid_from is not None:
			body["valid_from"] = valid_from
		r = self.admin("POST", "/v1/authorizations", body)
		self._ok(r, (201,), "create authorization")
		return r.json

	def integrate(self, token, subject, capacity, frm="2020-01-01", to=None):
		body = {"subject": subject, "capacity": capacity, "from": frm,
		    "to": to}
		r = self.request("POST", "/v1/directory", body, token=token)
		self._ok(r, (200, 201), "integrate %s as %s" % (subject, capacity))
		return r

	def consult(self, token, service, subject, purpose, params=None,
	    reference_date=None, request_id=None, end_user=None, timeout=None):
		body = {"subject": subject, "purpose": purpose}
		if params is not None:
			body["params"] = params
		if reference_date is not None:
			body["reference_date"] = reference_date
		h = {}
		if request_id is not None:
			h["X-Request-Id"] = request_id
		if end_user is not None:
			h["X-End-User"] = end_user
		kw = {}
		if timeout is not None:
			kw["timeout"] = timeout
		return self.request("POST", "/v1/consult/" + service, body,
		    token=token, headers=h, **kw)

	def log_entries(self, subject, consumer=None, page=200):
		"""Every log entry of a subject (newest first), following `before`."""
		out = []
		before = None
		for _ in range(10000):
			q = "/v1/log?subject=%s&limit=%d" % (subject, page)
			if consumer is not None:
				q += "&consumer=" + consumer
			if before is not None:
				q += "&before=%d" % before
			r = self.admin("GET", q)
			self._ok(r, (200,), "GET " + q)
			entries = r.json["entries"]
			if not entries:
				break
			out.extend(entries)
			before = min(e["seq"] for e in entries)
			if len(entries) < page:
				break
		return out


class Fixture:
	"""A crossroads-fixture-source process."""

	def __init__(self, workdir, data=None, delay_ms=None, status=None,
	    garbage=False, synthetic=False, name="fixture"):
		_, self.bin = binaries()
		self.workdir = workdir
		self.name = name
		self.data = data if data is not None else {}
		self.opts = []
		if delay_ms is not None:
			self.opts += ["--delay-ms", str(delay_ms)]
		if status is not None:
			self.opts += ["--status", str(status)]
		if garbage:
			self.opts.append("--garbage")
		if synthetic:
			self.opts.append("--synthetic")
		# --data excludes the other answer modes.
		self.use_data = not (status is not None or garbage or synthetic)
		self.proc = None
		self.port = None
		self.starts = 0

	def url(self, path="/source"):
		return "http://127.0.0.1:%d%s" % (self.port, path)

	def last(self):
		"""What the source last received: {"count","x_request_id","body"}."""
		r = http_request(self.port, "GET", "/last")
		if r.status != 200:
			raise RuntimeError("GET /last: %r" % (r,))
		return r.json

	def start(self):
		data_path = os.path.join(self.workdir, self.name + ".json")
		with open(data_path, "w") as f:
			json.dump(self.data, f)
		last = ""
		for _ in range(3):
			self.starts += 1
			self.port = free_port()
			out = os.path.join(self.workdir, "%s.%d.stdout" % (self.name,
			    self.starts))
			err = os.path.join(self.workdir, "%s.%d.stderr" % (self.name,
			    self.starts))
			args = [self.bin, "--listen", "127.0.0.1:%d" % self.port]
			if self.use_data:
				args += ["--data", data_path]
			args += self.opts
			self.proc = _spawn(args, dict(os.environ), out, err)
			deadline = time.monotonic() + READY_TIMEOUT
			while time.monotonic() < deadline:
				if self.proc.poll() is not None:
					break
				# With --status the health check may answer that
				# status too: the "listening" line is enough.
				if "fixture-source listening on" in _read(out) or \
				    _healthy(self.port):
					return self
				time.sleep(0.05)
			last = _read(err)[-2000:]
			self.kill()
		raise RuntimeError("fixture source did not become ready; stderr:"
		    "\n%s" % last)

	def kill(self):
		if self.proc is not None and self.proc.poll() is None:
			self.proc.kill()
			self.proc.wait(timeout=10)


def run_cli(args, timeout=120, env=None):
	"""Runs `crossroads ARGS...`; CompletedProcess with text output.
	Raises AssertionError when the command printed a sanitizer report."""
	hub, _ = binaries()
	e = dict(os.environ)
	if env:
		e.update(env)
	p = subprocess.run([hub] + list(args), env=e, stdin=subprocess.DEVNULL,
	    stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
	    text=True)
	if sanitizer_lines(p.stderr):
		raise AssertionError(_format_reports([("crossroads " +
		    " ".join(args[:2]), "stderr", _report_excerpt(p.stderr))]))
	return p


def log_verify(db):
	return run_cli(["log", "verify", "--db", db])


def db_query(db, sql, params=()):
	"""Reads the hub's SQLite database directly (read-only)."""
	conn = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
	try:
		return conn.execute(sql, params).fetchall()
	finally:
		conn.close()


def db_xlog_count(db):
	return db_query(db, "SELECT count(*) FROM xlog")[0][0]
