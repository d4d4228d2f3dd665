#!/usr/bin/env python3
"""A throw-away PostgreSQL cluster for the tests (Debian's `postgresql`).

PostgreSQL refuses to run as root, so when the tests run as root (CI) the
cluster belongs to the `postgres` user: its directory is chown'ed to it and
initdb and pg_ctl run through runuser. As any other user it is that user's.
The server listens on 127.0.0.1 on a free port and on a socket in the
cluster's own directory; authentication is `trust` for the superuser
`postgres`, which is fine for a cluster that lives as long as a test run.

From Python:

    with PgCluster() as pg:
        url = pg.url            # postgresql://postgres@127.0.0.1:PORT/crossroads

From a shell or a meson test (the C unit tests):

    pgcluster.py run -- COMMAND ARGS...

starts a cluster, runs COMMAND with CR_TEST_PG_URL set to the URL, stops
the cluster and exits with COMMAND's status.
"""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile

DBNAME = "crossroads"


def pg_bindir():
    """The newest installed server's bin directory; exits when none."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                  key=lambda p: int(p.split("/")[4]))
    if not dirs:
        sys.exit("pgcluster: PostgreSQL is not installed "
                 "(scripts/install-deps.sh installs it)")
    return os.path.dirname(dirs[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self):
        self.bindir = pg_bindir()
        self.root = os.geteuid() == 0
        self.dir = None
        self.port = None
        self.url = None

    def _run(self, *args):
        cmd = [os.path.join(self.bindir, args[0])] + list(args[1:])
        if self.root:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, cwd=self.dir)

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="cr-pg-")
        if self.root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        data = os.path.join(self.dir, "data")
        try:
            self._run("initdb", "-D", data, "-U", "postgres", "-A", "trust",
                      "-E", "UTF8", "--locale=C")
            # fsync off: the tests never survive a machine crash, and a
            # cluster per run should cost little of the shared cores.
            for _ in range(5):
                self.port = free_port()
                try:
                    self._run("pg_ctl", "-D", data, "-w", "-t", "60",
                              "-l", os.path.join(self.dir, "log"),
                              "-o", "-p %d -k %s -c listen_addresses=127.0.0.1"
                              " -c fsync=off -c max_connections=200"
                              % (self.port, self.dir), "start")
                    break
                except subprocess.CalledProcessError:
                    continue  # port taken between the probe and the bind
            else:
                raise RuntimeError("pgcluster: the server did not start: "
                                   + self.log())
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port),
                      "-U", "postgres", DBNAME)
        except BaseException:
            self.stop()
            raise
        self.url = "postgresql://postgres@127.0.0.1:%d/%s" % (self.port,
                                                              DBNAME)
        return self

    def log(self):
        try:
            with open(os.path.join(self.dir, "log")) as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.dir is None:
            return
        data = os.path.join(self.dir, "data")
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            try:
                self._run("pg_ctl", "-D", data, "-w", "-m", "immediate",
                          "stop")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv):
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        sys.exit("usage: pgcluster.py run -- COMMAND [ARGS...]")
    with PgCluster() as pg:
        env = dict(os.environ, CR_TEST_PG_URL=pg.url)
        rc = subprocess.call(argv[2:], env=env)
        if rc != 0:
            sys.stderr.write("pgcluster: server log:\n" + pg.log())
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
