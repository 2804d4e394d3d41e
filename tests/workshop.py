"""Class servers for the tests: ``python -m mock_server --workshop`` as real processes on loopback
(granian, real worker processes), learners who join them, and a real PostgreSQL.

PostgreSQL: ``MOCK_TEST_POSTGRES_URL`` names a running one (.ci/run starts one); without it, a
throwaway cluster is started from Debian's binaries (``/usr/lib/postgresql/*/bin``) in a temporary
folder, as the ``postgres`` user when we are root (PostgreSQL refuses to run as root). Without
those binaries the PostgreSQL tests skip — unless ``REQUIRE_POSTGRES`` is set (CI sets it).
"""
from __future__ import annotations

import glob
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import pytest
import requests

import mock_server

CLASS_CODE = "fern-1234"
SECRET = "instructor-test-secret"


@dataclass
class Learner:
    """One learner's world, shaped like a server handle for the helpers in flows.py (``url``)."""

    url: str  # the issuer, <base>/t/<tenant>
    key: str
    tenant: str

    @property
    def admin(self) -> dict:
        return {"Authorization": f"Bearer {self.key}"}


class ClassServer:
    """A class server process group (granian's main process and its workers)."""

    def __init__(self, db: str | None, workers: int = 2, port: int | None = None, *extra: str,
                 open_files: int | None = None, cwd=None):
        """`db` None: the default (a folder in `cwd`); `open_files`: the process's limit
        (ulimit -n), as a small machine or macOS has it."""
        self.db, self.workers = db, workers
        self.port = port or mock_server.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="class-server-", suffix=".log")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mock_server", "--workshop", "--port", str(self.port),
             *(["--db", db] if db else []), "--class-code", CLASS_CODE, "--instructor-secret", SECRET,
             # A few spare keys, not a class's thousand: each test's server would make them all
             # (--spare-keys in `extra` comes later and wins).
             "--workers", str(workers), "--spare-keys", "2", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd,
            preexec_fn=(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files)))
            if open_files else None)
        self._wait_until_up()

    @property
    def output(self) -> str:
        """What the server printed: its banner, then granian's log."""
        with open(self.log.name) as log:
            return log.read()

    def _wait_until_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"class server exited: {self.output[-3000:]}")
            try:
                if requests.get(self.url + "/", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("class server did not come up")

    def join(self, name: str = "Ada") -> Learner:
        answer = requests.post(f"{self.url}/workshop/join", json={"class_code": CLASS_CODE, "name": name})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        return Learner(body["issuer"], body["learner_key"], body["tenant"])

    def kill(self) -> None:
        """SIGKILL to the whole process group: no worker gets to finish anything."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def postgres_binaries() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary folder, on a free loopback port, gone at stop()."""

    def __init__(self, bindir: str):
        self.bindir, self.port = bindir, mock_server.free_port()
        self.folder = tempfile.mkdtemp(prefix="mock-pg-")
        self.data = os.path.join(self.folder, "data")
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if as_user:
            shutil.chown(self.folder, "postgres")
        self._as = as_user
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        self._run("pg_ctl", "-D", self.data, "-w", "-l", os.path.join(self.folder, "log"), "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                  "-c max_connections=200", "start")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as, os.path.join(self.bindir, tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.folder)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def postgres_server():
    """(url, stop) for the session's PostgreSQL, or skip/fail saying why there is none."""
    if url := os.environ.get("MOCK_TEST_POSTGRES_URL"):
        return url, lambda: None
    bindir = postgres_binaries()
    if bindir is None:
        message = "no PostgreSQL binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(f"REQUIRE_POSTGRES is set but there are {message}")
        pytest.skip(f"PostgreSQL tests skipped: {message}; CI sets REQUIRE_POSTGRES=1")
    cluster = ThrowawayPostgres(bindir)
    return cluster.url, cluster.stop


def fresh_database(server_url: str) -> str:
    """A new, empty database on that server: each class server test starts from nothing."""
    import psycopg

    name = f"class_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
