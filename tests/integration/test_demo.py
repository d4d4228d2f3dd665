"""The demo's own flow, end to end: `crossroads demo` generates a country,
loads the hub, starts the nine source adapters and the hub, and prints
three commands; they must do what they say, and Ctrl-C must stop
everything."""
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

N_SOURCES = 9


def free_port_run(n):
    """A base port with n free consecutive ports after it, below the
    ephemeral range: there, the TIME_WAIT connections of a loaded machine
    (thousands, on the even ports that connect() takes) would leave no
    run of n free ports."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rnd = random.Random()
    for _ in range(50):
        base = rnd.randrange(10000, max(low - n, 10001))
        ok = True
        for p in range(base, base + n):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                s.close()
            if not ok:
                break
        if ok:
            return base
    raise RuntimeError("no run of free ports")


def port_open(port):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        return s.connect_ex(("127.0.0.1", port)) == 0
    finally:
        s.close()


class DemoTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = H.make_tmpdir("crossroads-demo-")
        hub, _ = H.binaries()
        # Ports picked free may be taken again before the demo binds them
        # (other processes on the machine): start again with others.
        for attempt in range(3):
            cls.port = H.free_port()
            cls.base = free_port_run(N_SOURCES)
            cls.out = open(os.path.join(cls.dir, "demo.%d.out" % attempt),
                           "w+")
            cls.proc = subprocess.Popen([hub, "demo", "--dir",
                os.path.join(cls.dir, "country"), "--persons", "1500",
                "--port", str(cls.port), "--base-port", str(cls.base)],
                stdout=cls.out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
            # The demo's own output and its children's logs (the hub, the
            # adapters, the loading steps): a sanitizer report in any of
            # them fails the tear-down.
            H.watch_stderr(cls.out.name, "crossroads demo")
            H.watch_stderr(os.path.join(cls.dir, "country", "logs", "*.log"),
                           "crossroads demo child")
            deadline = time.monotonic() + 120
            text = ""
            while time.monotonic() < deadline:
                text = cls.banner()
                if "Press Ctrl-C" in text or cls.proc.poll() is not None:
                    break
                time.sleep(0.2)
            cls.text = text
            if "Press Ctrl-C" in text or cls.proc.poll() is None:
                break
            cls.out.close()

    @classmethod
    def banner(cls):
        cls.out.flush()
        with open(cls.out.name) as f:
            return f.read()

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            os.killpg(cls.proc.pid, signal.SIGKILL)
            cls.proc.wait()
        cls.out.close()
        H.remove_tmpdir(cls.dir)

    def commands(self):
        """The three curl commands, parsed: (token, body, url)."""
        out = []
        for m in re.finditer(r"curl -s -H 'Authorization: Bearer (\S+)'"
                             r"(?: -d '(\{[^']*\})')? '?(http://[^'\s]+)'?",
                             self.text):
            out.append((m.group(1), m.group(2), m.group(3)))
        return out

    def call(self, token, body, url):
        path = url.split(":%d" % self.port, 1)[1]
        return H.http_request(self.port, "POST" if body else "GET", path,
                              body=json.loads(body) if body else None,
                              token=token)

    def test_1_flow(self):
        self.assertIn("Press Ctrl-C", self.text, self.text[-3000:])
        # Every adapter and the hub are up.
        self.assertTrue(port_open(self.port))
        for p in range(self.base, self.base + N_SOURCES):
            self.assertTrue(port_open(p), "source on port %d" % p)
        cmds = self.commands()
        self.assertEqual(len(cmds), 3, self.text)
        granted, refused, log = cmds
        r = self.call(*granted)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["data"], r)
        subject = r.json["subject"]
        r = self.call(*refused)
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json["error"]["code"], "NOT_INTEGRATED")
        r = self.call(*log)
        self.assertEqual(r.status, 200, r)
        outcomes = [e["outcome"] for e in r.json["entries"]
                    if e["subject"] == subject]
        self.assertIn("granted", outcomes)
        # The country's other registries answer through the hub too: any
        # authorization without capacities can be used on any valid person.
        reg = json.load(open(os.path.join(self.dir, "country",
                                          "registry.json")))
        tokens = {c["institution"]: c["token"] for c in reg["clients"]}
        persons = {s["id"] for s in reg["services"]
                   if s.get("subject_kind", "person") == "person"}
        served = set()
        for a in reg["authorizations"]:
            if (a["capacities"] or a["consumer"] not in tokens or
                    a["service"] not in persons):
                continue
            r = H.http_request(self.port, "POST",
                               "/v1/consult/" + a["service"],
                               body={"subject": subject,
                                     "purpose": a["purpose"]},
                               token=tokens[a["consumer"]])
            self.assertIn(r.status, (200, 404), r)
            if r.status == 404:
                self.assertEqual(r.json["error"]["code"], "NO_DATA")
            served.add(a["service"].split(".")[0])
        self.assertGreaterEqual(len(served), 1)

    def test_2_ctrl_c_stops_everything(self):
        self.assertIsNone(self.proc.poll())
        os.kill(self.proc.pid, signal.SIGINT)
        self.assertEqual(self.proc.wait(timeout=60), 0)
        self.assertIn("demo stopped", self.banner())
        for p in [self.port] + list(range(self.base, self.base + N_SOURCES)):
            self.assertFalse(port_open(p), "port %d still open" % p)
        # The hub drained and left an intact exchange log.
        r = H.log_verify(os.path.join(self.dir, "country", "hub.db"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
