"""
The README's five-minute tour, as a reader pastes it: the shell block is
taken from README.md and run with bash twice in a row in the same
directory. Each paste must start clean, give the same answers (tokens,
ids, times and hashes aside), and stop what it started, so that the
second paste finds its ports free and its data gone.

The only changes made to the block: `make` is skipped (the suite runs on a
built tree), the binaries are the ones under test, and the ports are free
ones instead of 8080 and 9001.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def tour_block():
	with open(os.path.join(ROOT, "README.md")) as f:
		text = f.read()
	m = re.search(r"^## A five-minute tour with curl\n.*?^```sh\n(.*?)^```$",
	    text, re.S | re.M)
	if m is None:
		raise AssertionError("README.md: no shell block in the tour")
	return m.group(1)


def port_open(port):
	s = socket.socket()
	s.settimeout(0.5)
	try:
		return s.connect_ex(("127.0.0.1", port)) == 0
	finally:
		s.close()


# What differs between two pastes by design.
VOLATILE = [
	(re.compile(r"crt_[0-9a-f]{64}"), "TOKEN"),
	(re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
	    r"[0-9a-f]{12}"), "UUID"),
	(re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "TIME"),
	(re.compile(r"[0-9a-f]{64}"), "HASH"),
	(re.compile(r'"request_id":"[^"]*"'), '"request_id":"RID"'),
	(re.compile(r'"id":"[0-9a-f]{32}"'), '"id":"ID"'),
]


def normalize(out):
	for rx, repl in VOLATILE:
		out = rx.sub(repl, out)
	return out


class ReadmeTourTest(unittest.TestCase):

	def setUp(self):
		self.w = H.make_tmpdir("crossroads-readme-")
		os.symlink(os.path.join(ROOT, "demo"), os.path.join(self.w, "demo"))
		hub, fix = H.binaries()
		self.hub_port, self.src_port = H.free_port(), H.free_port()
		block = tour_block()
		self.assertIn("\nmake\n", "\n" + block)
		block = re.sub(r"^make$", ":", block, flags=re.M)
		block = block.replace("./build/crossroads-fixture-source", fix)
		block = block.replace("./build/crossroads ", hub + " ")
		block = block.replace("127.0.0.1:8080", "127.0.0.1:%d" %
		    self.hub_port)
		block = block.replace("127.0.0.1:9001", "127.0.0.1:%d" %
		    self.src_port)
		self.script = os.path.join(self.w, "tour.sh")
		with open(self.script, "w") as f:
			f.write(block)

	def tearDown(self):
		H.remove_tmpdir(self.w)

	def paste(self):
		"""Runs the block; its output. Whatever it leaves running (its
		process group) is killed afterwards, once checked."""
		env = dict(os.environ)
		env.pop("CROSSROADS_ADMIN_TOKEN", None)
		out = os.path.join(self.w, "out")
		err = os.path.join(self.w, "err")
		with open(out, "w") as fo, open(err, "w") as fe:
			p = subprocess.Popen(["bash", self.script], cwd=self.w,
			    env=env, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
			    start_new_session=True)
		try:
			rc = p.wait(timeout=120)
			with open(err) as f:
				stderr = f.read()
			# Stopped what it started.
			self.assertFalse(port_open(self.hub_port), stderr[-2000:])
			self.assertFalse(port_open(self.src_port), stderr[-2000:])
			self.assertEqual(rc, 0, stderr[-2000:])
			self.assertEqual([l for l in stderr.splitlines()
			    if "Sanitizer" in l or "runtime error:" in l], [])
		finally:
			try:
				os.killpg(p.pid, signal.SIGKILL)
			except ProcessLookupError:
				pass
			p.wait()
		with open(out) as f:
			return f.read()

	def test_pasted_twice(self):
		first = self.paste()
		for want in (
		    '{"id":"RN","name":"National Register","sector":"population"}',
		    '{"id":"ONEM","name":"National Employment Office",'
		    '"sector":"unemployment"}',
		    '"code":"NOT_INTEGRATED"',
		    '{"id":"jobseeker","name":"Registered jobseeker",'
		    '"institutions":[],"sectors":["unemployment"]}',
		    '"service":"directory.integrate"',
		    '"data":{"name":"',
		    # Two consultations and the integration between them.
		    "exchange log intact: 3 entries\n"):
			self.assertIn(want, first)
		self.assertNotIn("CONFLICT", first)
		second = self.paste()
		self.assertEqual(normalize(second), normalize(first))


if __name__ == "__main__":
	unittest.main()
