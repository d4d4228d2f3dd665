"""The demo's own flow, end to end: `crossroads demo` generates a country,
loads the hub, starts the nine source adapters and the hub, loads a bundle
and an event type, and prints commands (consultations, the exchange log,
an event to publish and its feed, a verification); each must give exactly
the answer it says, and Ctrl-C must stop everything. Every hop is HTTPS
with the demo's own CA, the sources answering the hub's certificate
only."""
import http.client
import json
import os
import random
import re
import signal
import socket
import ssl
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

    def tls(self, name):
        return os.path.join(self.dir, "country", "tls", name)

    def ctx(self, client=False):
        """Trusting the demo CA; with the hub's client certificate."""
        c = ssl.create_default_context(cafile=self.tls("ca.pem"))
        if client:
            c.load_cert_chain(self.tls("hub-client.pem"),
                              self.tls("hub-client.key"))
        return c

    def hub(self, *args, **kw):
        return H.http_request(self.port, *args, tls=self.ctx(), **kw)

    def commands(self):
        """The curl commands, parsed: (token, body, url); each trusts the
        demo CA."""
        out = []
        for m in re.finditer(r"curl -s --cacert (\S+) "
                             r"-H 'Authorization: Bearer (\S+)'"
                             r"(?: -d '(\{[^']*\})')? '?(https://[^'\s]+)'?",
                             self.text):
            self.assertEqual(os.path.realpath(m.group(1)),
                             os.path.realpath(self.tls("ca.pem")))
            out.append((m.group(2), m.group(3), m.group(4)))
        return out

    def call(self, token, body, url):
        path = url.split(":%d" % self.port, 1)[1]
        return self.hub("POST" if body else "GET", path,
                              body=json.loads(body) if body else None,
                              token=token)

    def registry(self):
        with open(os.path.join(self.dir, "country", "registry.json")) as f:
            return json.load(f)

    def source_answer(self, endpoint, subject, consumer, purpose):
        """What the adapter itself answers: the truth the hub passes on."""
        port = int(endpoint.split(":")[2].split("/")[0])
        path = "/" + endpoint.split("/", 3)[3]
        self.assertTrue(endpoint.startswith("https://"), endpoint)
        return H.http_request(port, "POST", path, body={
            "subject": subject, "params": {}, "request_id": "test-demo",
            "consumer": consumer, "purpose": purpose},
            tls=self.ctx(client=True))

    def test_1_flow(self):
        self.assertIn("Press Ctrl-C", self.text, self.text[-3000:])
        # Every adapter and the hub are up.
        self.assertTrue(port_open(self.port))
        for p in range(self.base, self.base + N_SOURCES):
            self.assertTrue(port_open(p), "source on port %d" % p)
        # A source answers the hub's certificate, and nobody else.
        r = H.http_request(self.base, "GET", "/healthz",
                           tls=self.ctx(client=True))
        self.assertEqual(r.status, 200, r)
        with self.assertRaises((ssl.SSLError, OSError,
                                http.client.HTTPException)):
            H.http_request(self.base, "GET", "/healthz", tls=self.ctx())
        cmds = self.commands()
        self.assertEqual(len(cmds), 6, self.text)
        granted, refused, log, event, feed, verify = cmds
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
                    if e["subject"] == subject
                    and e["purpose"] != "reference-directory"]
        self.assertEqual(outcomes, ["granted"])
        # The demo's directory was loaded through the capacity rule, and
        # each integration is in the log.
        self.assertTrue([e for e in r.json["entries"]
                         if e["subject"] == subject
                         and e["service"] == "directory.integrate"
                         and e["outcome"] == "granted"], r.json)
        reg = self.registry()
        tokens = {c["institution"]: c["token"] for c in reg["clients"]}
        services = {s["id"]: s for s in reg["services"]}
        # The country's other registries answer through the hub exactly
        # as the adapter behind each does: any authorization without
        # capacities can be used on any valid person.
        served = set()
        for a in reg["authorizations"]:
            svc = services.get(a["service"])
            if (a["capacities"] or a["consumer"] not in tokens or
                    svc is None or svc["subject_kind"] != "person"):
                continue
            src = self.source_answer(svc["endpoint"], subject,
                                     a["consumer"], a["purpose"])
            r = self.hub("POST",
                               "/v1/consult/" + a["service"],
                               body={"subject": subject,
                                     "purpose": a["purpose"]},
                               token=tokens[a["consumer"]])
            self.assertEqual(r.status, src.status, (a, r, src))
            if src.status == 404:
                self.assertEqual(r.error_code, "NO_DATA")
                continue
            want = {k: v for k, v in src.json["data"].items()
                    if k in a["fields"]}
            self.assertEqual(set(r.json["data"]), set(want), a)
            for k, v in want.items():
                if not isinstance(v, (dict, list)):
                    self.assertEqual(r.json["data"][k], v, (a, k))
            served.add(a["service"])
        self.assertGreaterEqual(len(served), 1)
        self.check_event(event, feed)
        self.check_verification(verify)

    def check_event(self, event, feed):
        """The event is stored (id 1, the first) and routed to the feed
        of the institution that follows its subject."""
        token, body, url = event
        self.assertRegex(self.text, r"provider's client token \(RN "
                         r"publishes population.address_changed\):\n  " +
                         token + "\n")
        r = self.call(*event)
        self.assertEqual((r.status, r.json), (201, {"id": "1"}), r)
        ftoken, _, _ = feed
        subs = self.hub("GET", "/v1/subscriptions",
                              token=ftoken)
        self.assertEqual(subs.status, 200, subs)
        self.assertEqual(len(subs.json["subscriptions"]), 1, subs)
        sent = json.loads(body)
        r = self.call(*feed)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"events": [{
            "id": "1", "cursor": "1", "type": sent["type"],
            "subject": sent["subject"], "occurred_at": sent["occurred_at"],
            "data": sent["data"],
            "subscription": subs.json["subscriptions"][0]["id"]}],
            "next": "1"})

    def check_verification(self, verify):
        """The verification answers, for the applicant and each member of
        the household, what each consultation on its own answers."""
        token, body, url = verify
        asked = json.loads(body)
        self.assertTrue(url.endswith("/v1/verify/social-assistance"), url)
        with open(os.path.join(os.path.dirname(os.path.dirname(
                os.path.dirname(os.path.abspath(__file__)))), "demo",
                "bundle-social-assistance.json")) as f:
            bundle = json.load(f)
        r = self.call(*verify)
        self.assertEqual(r.status, 200, r)
        v = r.json
        self.assertEqual((v["bundle"], v["subject"], v["household"]),
                         ("social-assistance", asked["subject"], True))
        pop = self.hub("POST",
                             "/v1/consult/population.person",
                             body={"subject": asked["subject"],
                                   "purpose": asked["purpose"]},
                             token=token)
        self.assertEqual(pop.status, 200, pop)
        others = [m["subject"] for m in pop.json["data"]["household"]
                  if m["subject"] != asked["subject"]]
        self.assertEqual([m["subject"] for m in v["members"]],
                         [asked["subject"]] + others)
        complete = True
        for m in v["members"]:
            self.assertEqual(sorted(m["results"]),
                             sorted(bundle["services"]))
            for sid, res in m["results"].items():
                c = self.hub("POST", "/v1/consult/" + sid,
                                   body={"subject": m["subject"],
                                         "purpose": asked["purpose"]},
                                   token=token)
                if c.status == 200:
                    self.assertEqual(res, {"status": "ok",
                                           "data": c.json["data"]})
                    continue
                status = {404: "no_data", 403: "denied"}[c.status]
                self.assertEqual(res, {"status": status, "error": {
                    "code": c.error_code,
                    "message": c.json["error"]["message"]}})
                complete = complete and status == "no_data"
        self.assertEqual(v["complete"], complete)

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
