"""
The exchange log as a transparency log (docs/exchange-log.md), against real
processes: signed tree heads, inclusion and consistency proofs checked by an
independent implementation below (RFC 9162 Merkle trees with hashlib, RFC
8032 Ed25519 verification in pure Python, the entry hash with BLAKE2b), the
headers of a consultation's answer, and the four ways an operator could
rewrite history (truncate the tail, delete everything, edit one entry and
re-hash the chain, fork the log) each caught by `log verify --head`, by the
hub's start-up check and by `log witness`.

Python 3 standard library only.
"""

import base64
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

# --- an independent RFC 9162 Merkle tree ---------------------------------


def sha256(b):
	return hashlib.sha256(b).digest()


def leaf_hash(entry_hash):
	return sha256(b"\x00" + entry_hash)


def node_hash(left, right):
	return sha256(b"\x01" + left + right)


def mth(leaves):
	"""MTH of a list of leaf hashes, by the RFC's recursion."""
	if not leaves:
		return sha256(b"")
	if len(leaves) == 1:
		return leaves[0]
	k = 1
	while k * 2 < len(leaves):
		k *= 2
	return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(index, size, leaf, path, root):
	"""RFC 9162 2.1.3.2."""
	if index >= size:
		return False
	fn, sn, r = index, size - 1, leaf
	for p in path:
		if sn == 0:
			return False
		if fn & 1 or fn == sn:
			r = node_hash(p, r)
			while not fn & 1 and fn != 0:
				fn >>= 1
				sn >>= 1
		else:
			r = node_hash(r, p)
		fn >>= 1
		sn >>= 1
	return sn == 0 and r == root


def verify_consistency(first, second, root1, root2, proof):
	"""RFC 9162 2.1.4.2."""
	if first == second:
		return not proof and root1 == root2
	if first == 0:
		return not proof
	if not proof:
		return False
	if first & (first - 1) == 0:
		proof = [root1] + proof
	fn, sn = first - 1, second - 1
	while fn & 1:
		fn >>= 1
		sn >>= 1
	fr = sr = proof[0]
	for c in proof[1:]:
		if sn == 0:
			return False
		if fn & 1 or fn == sn:
			fr = node_hash(c, fr)
			sr = node_hash(c, sr)
			while not fn & 1 and fn != 0:
				fn >>= 1
				sn >>= 1
		else:
			sr = node_hash(sr, c)
		fn >>= 1
		sn >>= 1
	return fr == root1 and sr == root2 and sn == 0


# --- RFC 8032 Ed25519 verification ----------------------------------------

_P = 2 ** 255 - 19
_Q = 2 ** 252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _recover_x(y, sign):
	if y >= _P:
		return None
	x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
	if x2 % _P == 0:
		return None if sign else 0
	x = pow(x2, (_P + 3) // 8, _P)
	if (x * x - x2) % _P != 0:
		x = x * _SQRT_M1 % _P
	if (x * x - x2) % _P != 0:
		return None
	if (x & 1) != sign:
		x = _P - x
	return x


def _add(a, b):
	A = (a[1] - a[0]) * (b[1] - b[0]) % _P
	B = (a[1] + a[0]) * (b[1] + b[0]) % _P
	C = 2 * a[3] * b[3] * _D % _P
	Dd = 2 * a[2] * b[2] % _P
	E, F, G, Hh = B - A, Dd - C, Dd + C, B + A
	return (E * F % _P, G * Hh % _P, F * G % _P, E * Hh % _P)


def _mul(s, pt):
	q = (0, 1, 1, 0)
	while s > 0:
		if s & 1:
			q = _add(q, pt)
		pt = _add(pt, pt)
		s >>= 1
	return q


def _equal(a, b):
	return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and \
	    (a[1] * b[2] - b[1] * a[2]) % _P == 0


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _decompress(s):
	y = int.from_bytes(s, "little")
	sign = y >> 255
	y &= (1 << 255) - 1
	x = _recover_x(y, sign)
	if x is None:
		return None
	return (x, y, 1, x * y % _P)


def ed25519_verify(public, msg, sig):
	if len(public) != 32 or len(sig) != 64:
		return False
	a = _decompress(public)
	r = _decompress(sig[:32])
	if a is None or r is None:
		return False
	s = int.from_bytes(sig[32:], "little")
	if s >= _Q:
		return False
	h = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(),
	    "little") % _Q
	return _equal(_mul(s, _G), _add(r, _mul(h, a)))


# --- the hub's encodings (docs/exchange-log.md) ----------------------------

def parse_ts(ts):
	"""RFC 3339 with milliseconds, UTC, to ms since the epoch."""
	import datetime
	d = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
	d = d.replace(tzinfo=datetime.timezone.utc)
	return int(d.timestamp()) * 1000 + d.microsecond // 1000


def head_message(h):
	return (b"crossroads-tree-head-v1\x00" +
	    struct.pack(">QQ", h["tree_size"], parse_ts(h["timestamp"])) +
	    bytes.fromhex(h["root_hash"]))


def head_signed_by(h, key):
	pk = base64.b64decode(key["public_key"])
	return (key["key_id"] == hashlib.sha256(pk).hexdigest() and
	    h["key_id"] == key["key_id"] and
	    ed25519_verify(pk, head_message(h),
	    base64.b64decode(h["signature"])))


TEXT_FIELDS = ("ts", "request_id", "consumer", "client", "end_user",
    "service", "provider", "subject", "purpose", "legal_basis", "outcome",
    "error_code")


def entry_hash(prev, seq, status, texts, params):
	h = hashlib.blake2b(digest_size=32)
	h.update(prev)
	h.update(struct.pack(">QI", seq, status & 0xFFFFFFFF))
	for t in list(texts) + ([params] if params else []):
		h.update(struct.pack(">I", len(t)))
		h.update(t)
	return h.digest()


def db_entry_hashes(db):
	return [bytes(r[0]) for r in H.db_query(db,
	    "SELECT hash FROM xlog ORDER BY seq")]


def rehash_chain(db, edit=None):
	"""Applies edit(conn) to the xlog table, then recomputes every hash
	of the chain, as an operator hiding the edit would."""
	conn = sqlite3.connect(db)
	try:
		if edit is not None:
			edit(conn)
		conn.text_factory = bytes
		rows = conn.execute("SELECT seq, status, params, " +
		    ", ".join(TEXT_FIELDS) + " FROM xlog ORDER BY seq").fetchall()
		prev = bytes(32)
		for seq, status, params, *texts in rows:
			h = entry_hash(prev, seq, status, texts, params)
			conn.execute("UPDATE xlog SET prev_hash = ?, hash = ? "
			    "WHERE seq = ?", (prev, h, seq))
			prev = h
		conn.commit()
	finally:
		conn.close()


def sql(db, text):
	conn = sqlite3.connect(db)
	try:
		conn.executescript(text)
		conn.commit()
	finally:
		conn.close()


class Base(unittest.TestCase):

	def setUp(self):
		self.w = H.make_tmpdir()
		self.hubs = []

	def tearDown(self):
		for h in self.hubs:
			h.kill()
		H.remove_tmpdir(self.w)

	def start(self, d=None, args=None, name="hub"):
		d = d or self.w
		h = H.Hub(d, name=name, args=args,
		    config={"log_head_interval_ms": 50})
		self.hubs.append(h)
		h.start()
		return h

	def setup_registry(self, h):
		h.institution("ONEM", "Employment", "unemployment")
		return h.client("ONEM")["token"]

	def consults(self, h, token, n, purpose="benefit"):
		"""n logged refusals (an unknown service: no source needed);
		the answers' (seq, hash) headers."""
		out = []
		for i in range(n):
			r = h.consult(token, "no.such.service", H.INSZ_VALID[0],
			    purpose)
			self.assertEqual(r.status, 404, r)
			out.append((int(r.header("X-Crossroads-Log-Seq")),
			    r.header("X-Crossroads-Log-Hash")))
		return out

	def head(self, h, at_least=0):
		"""The newest head once it covers at_least entries."""
		for _ in range(400):
			r = h.admin("GET", "/v1/log/head")
			self.assertEqual(r.status, 200, r)
			if r.json["tree_size"] >= at_least:
				return r.json
			time.sleep(0.025)
		self.fail("no head of %d entries" % at_least)

	def verify(self, db, head_file=None):
		args = ["log", "verify", "--db", db]
		if head_file is not None:
			args += ["--head", head_file]
		p = H.run_cli(args)
		return p.returncode, p.stdout + p.stderr

	def witness(self, h, state):
		p = H.run_cli(["log", "witness", "--hub",
		    "http://127.0.0.1:%d" % h.port, "--state", state, "--once"],
		    env={"CROSSROADS_TOKEN": H.ADMIN_TOKEN})
		return p.returncode, p.stdout + p.stderr

	def refused_start(self, h):
		"""The hub on h's files must refuse to start."""
		p = H.run_cli(["serve", "--listen", "127.0.0.1:%d" % H.free_port(),
		    "--db", h.db], timeout=60,
		    env={"CROSSROADS_ADMIN_TOKEN": H.ADMIN_TOKEN})
		self.assertNotEqual(p.returncode, 0, p.stderr)
		self.assertIn("does not extend", p.stderr)
		self.assertIn("--accept-log-rewrite", p.stderr)
		return p.stderr


class Transparency(Base):

	def test_heads_and_proofs_verify_independently(self):
		h = self.start()
		tok = self.setup_registry(h)
		got = self.consults(h, tok, 13)
		self.assertEqual([s for s, _ in got], list(range(1, 14)))
		# The headers name the entries as the log shows them.
		entries = {e["seq"]: e["hash"] for e in
		    h.log_entries(H.INSZ_VALID[0])}
		for seq, hx in got:
			self.assertEqual(entries[seq], hx)
		key = h.request("GET", "/v1/log/key", token=tok).json
		self.assertEqual(key["algorithm"], "ed25519")
		head = self.head(h, 13)
		self.assertEqual(head["tree_size"], 13)
		self.assertTrue(head_signed_by(head, key))
		forged = dict(head, tree_size=12)
		self.assertFalse(head_signed_by(forged, key))
		# The root is the tree of the stored entries' hashes.
		leaves = [leaf_hash(x) for x in db_entry_hashes(h.db)]
		self.assertEqual(mth(leaves).hex(), head["root_hash"])
		for size in (1, 5, 8, 13):
			root = mth(leaves[:size])
			for seq in range(1, size + 1):
				r = h.request("GET", "/v1/log/proof/inclusion?seq=%d"
				    "&tree_size=%d" % (seq, size), token=tok)
				self.assertEqual(r.status, 200, r)
				self.assertEqual(r.json["leaf_hash"],
				    leaf_hash(bytes.fromhex(got[seq - 1][1])).hex())
				path = [bytes.fromhex(x) for x in r.json["audit_path"]]
				self.assertTrue(verify_inclusion(seq - 1, size,
				    leaves[seq - 1], path, root), (seq, size))
				self.assertFalse(verify_inclusion(seq - 1, size,
				    leaves[seq % size], path, root) and size > 1)
		for first in range(0, 14):
			for second in range(first, 14):
				r = h.request("GET", "/v1/log/proof/consistency?"
				    "first=%d&second=%d" % (first, second), token=tok)
				self.assertEqual(r.status, 200, r)
				proof = [bytes.fromhex(x) for x in r.json["proof"]]
				self.assertTrue(verify_consistency(first, second,
				    mth(leaves[:first]), mth(leaves[:second]), proof),
				    (first, second))
		# Without tree_size: against the newest head.
		r = h.request("GET", "/v1/log/proof/inclusion?seq=2", token=tok)
		self.assertEqual(r.json["tree_size"], 13)
		# The metrics say the same.
		m = h.request("GET", "/metrics").body.decode()
		self.assertIn("\ncrossroads_log_head_tree_size 13\n", m)
		self.assertIn('crossroads_log_heads_total{outcome="failed"} 0\n', m)
		self.assertNotIn('crossroads_log_heads_total{outcome="published"} 0\n',
		    m)

	def test_bad_proof_requests(self):
		h = self.start()
		tok = self.setup_registry(h)
		self.consults(h, tok, 3)
		self.head(h, 3)
		for q, status in [
		    ("inclusion?seq=0&tree_size=3", 400),
		    ("inclusion?seq=4&tree_size=3", 400),
		    ("inclusion?tree_size=3", 400),
		    ("inclusion?seq=-1&tree_size=3", 400),
		    ("inclusion?seq=1&tree_size=x", 400),
		    ("inclusion?seq=1&tree_size=0", 400),
		    ("inclusion?seq=1&tree_size=99", 404),
		    ("inclusion?seq=99999999999999999999", 400),
		    ("consistency?first=3&second=2", 400),
		    ("consistency?second=2", 400),
		    ("consistency?first=1&second=4", 404),
		    ("consistency?first=1&second=+2", 400)]:
			r = h.request("GET", "/v1/log/proof/" + q, token=tok)
			self.assertEqual(r.status, status, (q, r))
			self.assertEqual(r.error_code,
			    "BAD_REQUEST" if status == 400 else "NOT_FOUND", q)
		for path in ("/v1/log/key", "/v1/log/head",
		    "/v1/log/proof/inclusion?seq=1&tree_size=1"):
			self.assertEqual(h.request("GET", path).status, 401, path)

	def test_key_file(self):
		h = self.start()
		key = h.admin("GET", "/v1/log/key").json
		path = h.db + ".log-key"
		self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
		self.assertEqual(h.terminate(), 0)
		h.start()
		self.assertEqual(h.admin("GET", "/v1/log/key").json, key)
		self.assertEqual(h.terminate(), 0)
		os.chmod(path, 0o644)
		p = H.run_cli(["serve", "--listen", "127.0.0.1:%d" % H.free_port(),
		    "--db", h.db], env={"CROSSROADS_ADMIN_TOKEN": H.ADMIN_TOKEN})
		self.assertNotEqual(p.returncode, 0)
		self.assertIn("chmod 600", p.stderr)

	def test_head_file_follows_the_log(self):
		h = self.start()
		tok = self.setup_registry(h)
		self.consults(h, tok, 4)
		self.assertEqual(h.terminate(), 0)
		with open(h.db + ".log-key.head") as f:
			saved = json.load(f)
		# The last head, written on the way out, covers every entry.
		self.assertEqual(saved["tree_size"], H.db_xlog_count(h.db))
		rc, out = self.verify(h.db, h.db + ".log-key.head")
		self.assertEqual(rc, 0, out)
		self.assertIn("extends the saved head", out)
		# With the hub's key, and with another one.
		h.start()
		keyf = os.path.join(self.w, "key.json")
		with open(keyf, "w") as f:
			json.dump(h.admin("GET", "/v1/log/key").json, f)
		self.assertEqual(h.terminate(), 0)
		p = H.run_cli(["log", "verify", "--db", h.db, "--head",
		    h.db + ".log-key.head", "--key", keyf])
		self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
		other = dict(json.load(open(keyf)),
		    public_key=base64.b64encode(bytes(range(32))).decode())
		other["key_id"] = hashlib.sha256(bytes(range(32))).hexdigest()
		with open(keyf, "w") as f:
			json.dump(other, f)
		p = H.run_cli(["log", "verify", "--db", h.db, "--head",
		    h.db + ".log-key.head", "--key", keyf])
		self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
		self.assertIn("NOT signed", p.stdout)

	def test_damaged_head_file_refused(self):
		h = self.start()
		self.assertEqual(h.terminate(), 0)
		with open(h.db + ".log-key.head", "w") as f:
			f.write("{\"tree_size\":")
		p = H.run_cli(["serve", "--listen", "127.0.0.1:%d" % H.free_port(),
		    "--db", h.db], env={"CROSSROADS_ADMIN_TOKEN": H.ADMIN_TOKEN})
		self.assertNotEqual(p.returncode, 0)
		self.assertIn("not a tree head", p.stderr)

	def test_without_head_file_the_database_head_holds(self):
		"""The head file gone too: the newest head in the database still
		catches a truncated tail."""
		h = self.start()
		tok = self.setup_registry(h)
		self.consults(h, tok, 5)
		self.assertEqual(h.terminate(), 0)
		os.unlink(h.db + ".log-key.head")
		sql(h.db, "DELETE FROM xlog WHERE seq > 2;")
		err = self.refused_start(h)
		self.assertIn("the database's newest head", err)
		self.assertIn("truncated", err)


class Tampering(Base):
	"""Each rewrite of history: `log verify --head` fails, the hub refuses
	to start on it, and once the operator forces it the witness sounds
	the alarm."""

	def prepare(self, n=6):
		h = self.start()
		tok = self.setup_registry(h)
		self.consults(h, tok, n)
		self.head(h, n)
		self.state = os.path.join(self.w, "witness")
		rc, out = self.witness(h, self.state)
		self.assertEqual(rc, 0, out)
		self.assertEqual(h.terminate(), 0)
		self.saved = os.path.join(self.w, "saved-head.json")
		shutil.copy(h.db + ".log-key.head", self.saved)
		self.tok = tok
		return h

	def caught(self, h, why, alarm):
		rc, out = self.verify(h.db, self.saved)
		self.assertEqual(rc, 1, out)
		self.assertIn("does NOT extend", out)
		self.assertIn(why, out)
		err = self.refused_start(h)
		self.assertIn(why, err)
		# Forced: served, loudly; the witness is not fooled.
		h.args = ["--accept-log-rewrite"]
		h.start()
		self.assertIn("SERVING AN EXCHANGE LOG THAT DOES NOT EXTEND",
		    h.stderr())
		rc, out = self.witness(h, self.state)
		self.assertEqual(rc, 1, out)
		self.assertIn("ALARM: " + alarm, out)
		with open(os.path.join(self.state, "status.json")) as f:
			self.assertEqual(json.load(f)["status"], "alarm")
		with open(os.path.join(self.state, "witness.prom")) as f:
			self.assertIn("crossroads_witness_alarm 1", f.read())
		# It stays raised until someone clears it.
		rc, out = self.witness(h, self.state)
		self.assertEqual(rc, 1, out)
		self.assertIn("not cleared", out)

	def test_truncated_tail(self):
		h = self.prepare()
		sql(h.db, "DELETE FROM xlog WHERE seq > 3;")
		rc, out = self.verify(h.db)
		self.assertEqual(rc, 0, out)	# the chain alone cannot tell
		self.caught(h, "truncated", "rollback")

	def test_everything_deleted(self):
		h = self.prepare()
		sql(h.db, "DELETE FROM xlog; DELETE FROM xlog_tree;"
		    " DELETE FROM xlog_heads;")
		self.caught(h, "truncated", "rollback")

	def test_edited_and_rehashed(self):
		h = self.prepare()

		def edit(conn):
			conn.execute("UPDATE xlog SET purpose = 'innocent'"
			    " WHERE seq = 2")
		rehash_chain(h.db, edit)
		sql(h.db, "DELETE FROM xlog_tree; DELETE FROM xlog_heads;")
		rc, out = self.verify(h.db)
		self.assertEqual(rc, 0, out)	# the chain alone cannot tell
		self.caught(h, "rewritten", "fork")

	def test_fork(self):
		"""Two continuations of one head: each fails the other's head,
		and the witness that saw one refuses the other."""
		a = self.prepare()
		bdir = os.path.join(self.w, "b")
		os.mkdir(bdir)
		for suffix in ("", ".log-key", ".log-key.head"):
			shutil.copy2(a.db + suffix, os.path.join(bdir, "hub.db" +
			    suffix))
		a.start()
		self.consults(a, self.tok, 3, purpose="branch-a")
		self.head(a, 9)
		rc, out = self.witness(a, self.state)
		self.assertEqual(rc, 0, out)
		self.assertEqual(a.terminate(), 0)
		b = self.start(bdir, name="hub-b")
		self.consults(b, self.tok, 4, purpose="branch-b")
		self.head(b, 10)
		self.assertEqual(b.terminate(), 0)
		rc, out = self.verify(b.db, a.db + ".log-key.head")
		self.assertEqual(rc, 1, out)
		self.assertIn("rewritten", out)
		rc, out = self.verify(a.db, b.db + ".log-key.head")
		self.assertEqual(rc, 1, out)
		# Both extend the head they forked from.
		self.assertEqual(self.verify(a.db, self.saved)[0], 0)
		self.assertEqual(self.verify(b.db, self.saved)[0], 0)
		b.start()
		rc, out = self.witness(b, self.state)
		self.assertEqual(rc, 1, out)
		self.assertIn("ALARM: fork", out)
		self.assertIn("consistency proof fails", out)


if __name__ == "__main__":
	unittest.main()
