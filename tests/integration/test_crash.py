"""
Crash safety and tamper evidence of the exchange log.

- Every reply to a consultation means its log entry was durable: after a
  SIGKILL the database holds at least as many entries as replies received,
  the hash chain verifies, and a restarted hub continues the chain.
- `crossroads log verify` names the first entry that was modified or
  removed behind the hub's back.
"""

import concurrent.futures
import os
import re
import sqlite3
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402

PERSON_FIELDS = ["name", "birth_date", "address", "household", "death_date"]


class CrashCase(unittest.TestCase):

	def setUp(self):
		self.w = H.make_tmpdir()
		self.fx = H.Fixture(self.w, H.fixture_dataset()).start()
		self.hub = H.Hub(self.w).start()
		h = self.hub
		h.institution("RN", "National Register", "population")
		h.institution("ONEM", "Employment", "unemployment")
		self.token = h.client("ONEM")["token"]
		h.service("population.person", "RN", self.fx.url("/person"),
		    PERSON_FIELDS)
		h.authorize("ONEM", "population.person", "benefit", ["name"],
		    ["jobseeker"])
		self.subject = H.person(1)
		h.integrate(self.token, self.subject, "jobseeker")

	def tearDown(self):
		self.hub.kill()
		self.fx.kill()
		H.remove_tmpdir(self.w)

	def consult(self, i, prefix="crash"):
		return self.hub.consult(self.token, "population.person",
		    self.subject, "benefit", request_id="%s-%05d" % (prefix, i),
		    timeout=30)

	def verify_ok(self):
		v = H.log_verify(self.hub.db)
		out = v.stdout + v.stderr
		self.assertEqual(v.returncode, 0, out)
		m = re.search(r"exchange log intact: (\d+) entries", out)
		self.assertIsNotNone(m, out)
		n = int(m.group(1))
		self.assertEqual(n, H.db_xlog_count(self.hub.db))
		return n

	def chain_is_dense(self):
		rows = H.db_query(self.hub.db, "SELECT min(seq), max(seq), "
		    "count(*) FROM xlog")
		lo, hi, n = rows[0]
		self.assertEqual((lo, hi), (1, n), "seq range %r" % (rows,))

	def restart_and_continue(self, n_before):
		h = self.hub
		h.start()
		for i in range(10):
			r = self.consult(i, "after")
			self.assertEqual(r.status, 200, r)
		entries = h.log_entries(self.subject, "ONEM", page=50)
		after = [e for e in entries if e["request_id"].startswith("after-")]
		self.assertEqual(len(after), 10)
		self.assertTrue(all(e["seq"] > n_before for e in after))
		self.assertEqual(h.terminate(), 0)
		n = self.verify_ok()
		self.assertEqual(n, n_before + 10)
		self.chain_is_dense()


class CrashTests(CrashCase):

	def test_sigkill_after_last_reply(self):
		n = 300
		with concurrent.futures.ThreadPoolExecutor(32) as ex:
			results = list(ex.map(self.consult, range(n)))
		# Immediately: nothing else has happened since the last reply.
		self.hub.kill()
		got = [r for r in results if r.status == 200]
		self.assertEqual(len(got), n, [r for r in results
		    if r.status != 200][:3])
		n_db = self.verify_ok()
		self.assertGreaterEqual(n_db, len(got))
		ids = {row[0] for row in H.db_query(self.hub.db,
		    "SELECT request_id FROM xlog")}
		self.assertTrue({"crash-%05d" % i for i in range(n)} <= ids)
		self.chain_is_dense()
		self.restart_and_continue(n_db)

	def test_sigkill_mid_stream(self):
		"""Killed while consultations are still arriving."""
		n = 600
		replies = []
		lock = threading.Lock()
		half = threading.Event()

		def one(i):
			try:
				r = self.consult(i)
			except Exception:
				return
			with lock:
				replies.append(r)
				if len(replies) >= n // 3:
					half.set()

		with concurrent.futures.ThreadPoolExecutor(32) as ex:
			futs = [ex.submit(one, i) for i in range(n)]
			self.assertTrue(half.wait(timeout=120))
			self.hub.kill()
			for f in futs:
				f.result()
		answered = [r for r in replies if r.status == 200]
		self.assertGreaterEqual(len(answered), n // 3)
		n_db = self.verify_ok()
		self.assertGreaterEqual(n_db, len(answered))
		ids = {row[0] for row in H.db_query(self.hub.db,
		    "SELECT request_id FROM xlog")}
		missing = [r.json["request_id"] for r in answered
		    if r.json["request_id"] not in ids]
		self.assertEqual(missing, [], "answered but not logged")
		self.chain_is_dense()
		self.restart_and_continue(n_db)


class TamperTests(CrashCase):

	def fill(self, n=20):
		for i in range(n):
			self.assertEqual(self.consult(i, "t").status, 200)
		self.assertEqual(self.hub.terminate(), 0)
		# Entry 1 is the integration of setUp (a directory change).
		self.assertEqual(self.verify_ok(), n + 1)

	def tamper(self, sql, params=()):
		conn = sqlite3.connect(self.hub.db, timeout=30)
		try:
			cur = conn.execute(sql, params)
			conn.commit()
			self.assertEqual(cur.rowcount, 1)
		finally:
			conn.close()

	def assertBrokenAt(self, seq):
		v = H.log_verify(self.hub.db)
		out = v.stdout + v.stderr
		self.assertEqual(v.returncode, 1, out)
		m = re.search(r"exchange log BROKEN at entry (\d+)", out)
		self.assertIsNotNone(m, out)
		self.assertEqual(int(m.group(1)), seq, out)

	def test_modified_row(self):
		self.fill()
		self.tamper("UPDATE xlog SET purpose = 'fraud' WHERE seq = 7")
		self.assertBrokenAt(7)

	def test_modified_outcome_of_last_row(self):
		self.fill()
		self.tamper("UPDATE xlog SET outcome = 'denied', status = 403 "
		    "WHERE seq = (SELECT max(seq) FROM xlog)")
		self.assertBrokenAt(21)

	def test_deleted_row(self):
		self.fill()
		self.tamper("DELETE FROM xlog WHERE seq = 12")
		v = H.log_verify(self.hub.db)
		out = v.stdout + v.stderr
		self.assertEqual(v.returncode, 1, out)
		m = re.search(r"exchange log BROKEN at entry (\d+)", out)
		self.assertIsNotNone(m, out)
		self.assertIn(int(m.group(1)), (11, 12, 13), out)

	def test_modified_hash(self):
		self.fill()
		self.tamper("UPDATE xlog SET hash = zeroblob(32) WHERE seq = 5")
		self.assertBrokenAt(5)


if __name__ == "__main__":
	unittest.main()
