"""
Integration tests of the command line as a new user meets it: `--help` and
`-h` on every subcommand (one line per option, exit 0), `--version`,
`crossroads help`, usage errors (exit 2, the missing option named, nothing
written), a bad `--listen` refused before any file is touched (hub and
source adapter), and a bind error that names the real address.

Python 3 standard library only. CROSSROADS_BIN is the crossroads binary.
"""

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Every subcommand and the long options its --help must list, one line each.
COMMANDS = {
	"serve": {"--config", "--listen", "--db", "--threads", "--verbose",
	    "--tls-cert", "--tls-key", "--tls-client-ca", "--tls-client-auth",
	    "--log-key", "--log-head-file", "--accept-log-rewrite", "--help"},
	"log verify": {"--db", "--head", "--key", "--help"},
	"log witness": {"--hub", "--state", "--token", "--once", "--interval",
	    "--help"},
	"directory import": {"--db", "--institution", "--id-scheme", "--help"},
	"registry import": {"--db", "--help"},
	"source": {"--config", "--listen", "--check", "--verbose",
	    "--tls-cert", "--tls-key", "--tls-client-ca", "--tls-client-auth",
	    "--help"},
	"gen": {"--out", "--persons", "--seed", "--scheme", "--base-port",
	    "--as-of", "--quiet", "--help"},
	"demo": {"--dir", "--persons", "--seed", "--port", "--base-port",
	    "--help"},
	"batch run": {"--bundle", "--purpose", "--hub", "--token", "--out",
	    "--household", "--reference-date", "--interval", "--quiet",
	    "--cacert",
	    "--help"},
}
# Commands that take a sub-command, and their sub-commands.
GROUPS = {"log": ["verify", "witness"], "directory": ["import"],
    "registry": ["import"], "batch": ["run"]}
TOP_LEVEL = ["serve", "log", "directory", "source", "gen", "registry",
    "demo", "batch", "version", "help"]

# An option line of a usage text: "  -d, --db PATH    what it is", or
# "      --household    what it is" for an option without a letter.
OPTION_LINE = re.compile(r"^  (?:-[A-Za-z], |    )(--[a-z][a-z-]*)"
    r"(?: [A-Z][A-Z0-9_.:|-]*)?  +\S")

# --listen values that must be refused (numeric host and port required).
BAD_LISTEN = ["nowhere", "localhost:8080", "127.0.0.1", "127.0.0.1:",
    "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x", "127.0.0.1:http",
    "[::1]8080", "[::1", "[]:8080", ":8080", "999.0.0.1:8080"]


def project_version():
	with open(os.path.join(ROOT, "meson.build")) as f:
		m = re.search(r"version\s*:\s*'([^']+)'", f.read())
	return m.group(1)


def run(args, cwd=None, env=None, timeout=60):
	"""crossroads ARGS in cwd; CompletedProcess with text output."""
	e = dict(os.environ)
	e.setdefault("CROSSROADS_ADMIN_TOKEN", H.ADMIN_TOKEN)
	e.pop("CROSSROADS_TOKEN", None)
	if env:
		e.update(env)
	return subprocess.run([H.binaries()[0]] + list(args), cwd=cwd, env=e,
	    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
	    stderr=subprocess.PIPE, timeout=timeout, text=True)


def option_lines(text):
	"""{long option: number of lines describing it} of a usage text."""
	out = {}
	for line in text.splitlines():
		m = OPTION_LINE.match(line)
		if m:
			out[m.group(1)] = out.get(m.group(1), 0) + 1
	return out


class Help(unittest.TestCase):

	def test_every_subcommand_help(self):
		for cmd, opts in COMMANDS.items():
			for flag in ("--help", "-h"):
				p = run(cmd.split() + [flag])
				what = "%s %s" % (cmd, flag)
				self.assertEqual(p.returncode, 0, (what, p.stderr))
				self.assertEqual(p.stderr, "", what)
				self.assertTrue(p.stdout.startswith("usage: crossroads "
				    + cmd + " "), (what, p.stdout))
				self.assertEqual(option_lines(p.stdout),
				    {o: 1 for o in opts}, (what, p.stdout))

	def test_help_wins_over_other_arguments(self):
		# A user adding --help to a half-typed command gets the help,
		# not an error about what is still missing.
		w = H.make_tmpdir()
		p = run(["serve", "--listen", "nowhere", "--help"], cwd=w)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertIn("--listen", p.stdout)
		p = run(["batch", "run", "--help"], cwd=w)
		self.assertEqual(p.returncode, 0, p.stderr)
		self.assertEqual(os.listdir(w), [])

	def test_groups(self):
		for group, subs in GROUPS.items():
			p = run([group, "--help"])
			self.assertEqual(p.returncode, 0, (group, p.stderr))
			for s in subs:
				self.assertIn("crossroads %s %s" % (group, s), p.stdout)
			p = run([group])
			self.assertEqual(p.returncode, 2, group)
			self.assertIn("crossroads %s %s" % (group, subs[0]), p.stderr)
			p = run([group, "nope"])
			self.assertEqual(p.returncode, 2, group)
			self.assertIn("crossroads %s: unknown command 'nope'" % group,
			    p.stderr)

	def test_top_level(self):
		for args in (["help"], ["--help"], ["-h"]):
			p = run(args)
			self.assertEqual(p.returncode, 0, (args, p.stderr))
			for c in TOP_LEVEL:
				self.assertRegex(p.stdout, r"(?m)^  %s\b" % c, args)
		p = run([])
		self.assertEqual(p.returncode, 2)
		for c in TOP_LEVEL:
			self.assertRegex(p.stderr, r"(?m)^  %s\b" % c)
		p = run(["nope"])
		self.assertEqual(p.returncode, 2)
		self.assertIn("crossroads: unknown command 'nope'", p.stderr)

	def test_help_command(self):
		for cmd in COMMANDS:
			p = run(["help"] + cmd.split())
			self.assertEqual(p.returncode, 0, (cmd, p.stderr))
			self.assertEqual(p.stdout, run(cmd.split() + ["--help"]).stdout,
			    cmd)
		p = run(["help", "nope"])
		self.assertEqual(p.returncode, 2)
		self.assertIn("unknown command 'nope'", p.stderr)

	def test_version(self):
		want = "crossroads %s\n" % project_version()
		for args in (["--version"], ["version"]):
			p = run(args)
			self.assertEqual(p.returncode, 0, p.stderr)
			self.assertEqual(p.stdout, want)


class UsageErrors(unittest.TestCase):

	def setUp(self):
		self.w = H.make_tmpdir()

	def tearDown(self):
		H.remove_tmpdir(self.w)

	def assertUsage(self, args, message):
		p = run(args, cwd=self.w)
		self.assertEqual(p.returncode, 2, (args, p.stderr))
		self.assertIn(message, p.stderr, args)
		# The usage follows, and how to get the whole help.
		self.assertIn("usage: crossroads ", p.stderr, args)
		self.assertIn("--help", p.stderr, args)
		self.assertEqual(p.stdout, "", args)
		self.assertEqual(os.listdir(self.w), [], args)

	def test_missing_options_named(self):
		f = os.path.join(self.w, "nothing.csv")
		self.assertUsage(["log", "verify"],
		    "crossroads log verify: missing --db")
		self.assertUsage(["registry", "import", f],
		    "crossroads registry import: missing --db")
		self.assertUsage(["registry", "import", "--db", "x.db"],
		    "crossroads registry import: missing FILE")
		self.assertUsage(["directory", "import", f],
		    "crossroads directory import: missing --db")
		self.assertUsage(["directory", "import", "--db", "x.db"],
		    "crossroads directory import: missing FILE")
		self.assertUsage(["gen"], "crossroads gen: missing --out")
		self.assertUsage(["source"], "crossroads source: missing --config")
		self.assertUsage(["batch", "run", f, "--purpose", "p", "--token",
		    "t"], "crossroads batch run: missing --bundle")
		self.assertUsage(["batch", "run", f, "--bundle", "b", "--token",
		    "t"], "crossroads batch run: missing --purpose")
		self.assertUsage(["batch", "run", "--bundle", "b", "--purpose", "p",
		    "--token", "t"], "crossroads batch run: missing FILE")
		self.assertUsage(["batch", "run", f, "--bundle", "b", "--purpose",
		    "p"], "crossroads batch run: missing --token")

	def test_bad_options(self):
		self.assertUsage(["serve", "--nope"],
		    "crossroads serve: unknown option --nope")
		self.assertUsage(["serve", "-Q"],
		    "crossroads serve: unknown option -Q")
		self.assertUsage(["serve", "--db"],
		    "crossroads serve: --db needs a value")
		self.assertUsage(["serve", "extra"],
		    "crossroads serve: unexpected argument 'extra'")
		self.assertUsage(["log", "verify", "--db", "x.db", "more"],
		    "crossroads log verify: unexpected argument 'more'")
		self.assertUsage(["gen", "--out", "o", "--persons", "lots"],
		    "crossroads gen: --persons:")
		self.assertUsage(["demo", "--port", "0"],
		    "crossroads demo: --port:")
		self.assertUsage(["batch", "run", "f", "--bundle", "b", "--purpose",
		    "p", "--token", "t", "--interval", "1"],
		    "crossroads batch run: --interval:")
		self.assertUsage(["serve", "--threads", "many"],
		    "crossroads serve: --threads:")


class Listen(unittest.TestCase):

	def setUp(self):
		self.w = H.make_tmpdir()
		self.db = os.path.join(self.w, "sub", "hub.db")

	def tearDown(self):
		H.remove_tmpdir(self.w)

	def assertRefused(self, p, spec, what):
		self.assertEqual(p.returncode, 2, (what, spec, p.stderr))
		self.assertIn("'%s'" % spec, p.stderr, what)
		self.assertIn("expected HOST:PORT", p.stderr, what)

	def test_bad_listen_flag_touches_nothing(self):
		for spec in BAD_LISTEN:
			p = run(["serve", "--listen", spec, "--db", self.db], cwd=self.w)
			self.assertRefused(p, spec, "serve --listen")
			self.assertIn("--listen", p.stderr)
			# Neither the database nor its directory was created.
			self.assertEqual(os.listdir(self.w), [], spec)

	def test_bad_listen_in_config_touches_nothing(self):
		cfg = os.path.join(self.w, "hub.conf")
		for spec in BAD_LISTEN:
			with open(cfg, "w") as f:
				f.write("listen = %s\n" % spec)
			p = run(["serve", "--config", cfg, "--db", self.db], cwd=self.w)
			self.assertRefused(p, spec, "serve listen =")
			self.assertEqual(os.listdir(self.w), ["hub.conf"], spec)

	def test_bad_listen_source(self):
		db = os.path.join(self.w, "pop.db")
		c = sqlite3.connect(db)
		c.execute("CREATE TABLE person(id TEXT, name TEXT)")
		c.commit()
		c.close()
		cfg = os.path.join(self.w, "pop.conf")
		with open(cfg, "w") as f:
			f.write("listen = 127.0.0.1:0\ndatabase = pop.db\n"
			    "[service p]\npath = /p\n"
			    "query = SELECT name FROM person WHERE id = :subject\n")
		for spec in BAD_LISTEN:
			p = run(["source", "--config", cfg, "--listen", spec],
			    cwd=self.w)
			self.assertRefused(p, spec, "source --listen")

	def test_source_listen_flag(self):
		"""--listen overrides the config file's listen, as for serve."""
		db = os.path.join(self.w, "pop.db")
		c = sqlite3.connect(db)
		c.execute("CREATE TABLE person(id TEXT, name TEXT)")
		c.commit()
		c.close()
		cfg = os.path.join(self.w, "pop.conf")
		with open(cfg, "w") as f:
			f.write("listen = 127.0.0.1:1\ndatabase = pop.db\n"
			    "[service p]\npath = /p\n"
			    "query = SELECT name FROM person WHERE id = :subject\n")
		out = os.path.join(self.w, "src.out")
		err = os.path.join(self.w, "src.err")
		proc = H._spawn([H.binaries()[0], "source", "--config", cfg,
		    "--listen", "127.0.0.1:0"], dict(os.environ), out, err)
		try:
			port = wait_for(lambda: re.search(r"source listening on "
			    r"127\.0\.0\.1:(\d+)\n", H._read(out)), proc, err)
			port = int(port.group(1))
			self.assertNotEqual(port, 0)
			r = H.http_request(port, "GET", "/healthz")
			self.assertEqual(r.status, 200, r)
		finally:
			proc.kill()
			proc.wait(timeout=10)

	def test_listening_line_shows_the_real_port(self):
		out = os.path.join(self.w, "hub.out")
		err = os.path.join(self.w, "hub.err")
		env = dict(os.environ)
		env["CROSSROADS_ADMIN_TOKEN"] = H.ADMIN_TOKEN
		proc = H._spawn([H.binaries()[0], "serve", "--listen", "127.0.0.1:0",
		    "--db", os.path.join(self.w, "hub.db")], env, out, err)
		try:
			m = wait_for(lambda: re.search(r"listening on 127\.0\.0\.1:"
			    r"(\d+)\b", H._read(err)), proc, err)
			port = int(m.group(1))
			self.assertNotEqual(port, 0)
			r = H.http_request(port, "GET", "/healthz")
			self.assertEqual(r.status, 200, r)
		finally:
			proc.kill()
			proc.wait(timeout=10)

	def test_bind_error_names_the_address(self):
		busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		busy.bind(("127.0.0.1", 0))
		busy.listen(1)
		port = busy.getsockname()[1]
		want = "cannot listen on 127.0.0.1:%d: Address already in use" % port
		try:
			p = run(["serve", "--listen", "127.0.0.1:%d" % port, "--db",
			    self.db], cwd=self.w)
			self.assertEqual(p.returncode, 1, p.stderr)
			self.assertIn(want, p.stderr)
			# It failed before creating anything.
			self.assertEqual(os.listdir(self.w), [])

			db = os.path.join(self.w, "pop.db")
			c = sqlite3.connect(db)
			c.execute("CREATE TABLE person(id TEXT, name TEXT)")
			c.commit()
			c.close()
			cfg = os.path.join(self.w, "pop.conf")
			with open(cfg, "w") as f:
				f.write("listen = 127.0.0.1:%d\ndatabase = pop.db\n"
				    "[service p]\npath = /p\nquery = SELECT name FROM "
				    "person WHERE id = :subject\n" % port)
			p = run(["source", "--config", cfg], cwd=self.w)
			self.assertEqual(p.returncode, 1, p.stderr)
			self.assertIn(want, p.stderr)
		finally:
			busy.close()


def wait_for(cond, proc, err_path, timeout=H.READY_TIMEOUT):
	"""Polls cond() until it is true; fails when proc exits first."""
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		v = cond()
		if v:
			return v
		if proc.poll() is not None:
			break
		time.sleep(0.02)
	raise AssertionError("condition not met; stderr:\n" +
	    H._read(err_path)[-2000:])


if __name__ == "__main__":
	unittest.main()
