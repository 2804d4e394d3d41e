"""A class server at the size of a class: more learners than a small machine's file limit would
hold open at once, a cap on learners, joins limited per address, a disk budget per learner, and
the class's data in a folder of its own."""
from __future__ import annotations

import http.client
import resource
import socket
import subprocess
import time

import pytest
import requests

from flows import call_api, code_tokens
from mock_server.workshop.serve import IDLE_CONNECTION
from test_workshop import INSTRUCTOR, client_credentials
from test_workshop_storage import database, through
from workshop import CLASS_CODE, ClassServer

# A worker's limit of open files (ulimit -n): lower than macOS's 256. Each learner's world used to
# keep about 5 files open in every worker it had served, so this many learners outgrew it.
OPEN_FILES = 96
LEARNERS = 24


def join(server, name: str, address: str | None = None) -> requests.Response:
    return requests.post(f"{server.url}/workshop/join", json={"class_code": CLASS_CODE, "name": name},
                         headers={"X-Forwarded-For": address} if address else {})


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_class_larger_than_the_file_limit_holds_every_learner(backend, tmp_path, request):
    db = database(backend, tmp_path, request)
    workers = 2 if backend == "sqlite" else 1  # on PostgreSQL: two processes sharing the database
    servers = [ClassServer(db, workers, open_files=OPEN_FILES)]
    if backend == "postgresql":  # as behind a load balancer
        servers.append(ClassServer(db, workers, None, "--public-url", servers[0].url, open_files=OPEN_FILES))
    try:
        learners = [servers[i % len(servers)].join(f"Learner {i}") for i in range(LEARNERS)]
        for turn in range(2):  # everyone, then everyone again: the first learners after the last
            for i, learner in enumerate(learners):
                world = through(learner, servers[(i + turn) % len(servers)], servers[0])
                metadata = requests.get(f"{world.url}/.well-known/openid-configuration")
                assert metadata.status_code == 200 and metadata.json()["issuer"] == learner.url
                got = client_credentials(world)
                assert got.status_code == 200, got.text
                assert call_api(world, "list_customers", got.json()["access_token"]).status_code == 200
                if i % 8 == turn:  # a sign-in, consent and code exchange now and then
                    assert call_api(world, "list_customers",
                                    code_tokens(world, scope="customers:ro")["access_token"]).status_code == 200
    finally:
        for server in servers:
            server.stop()


def small_class(tmp_path, *limits: str) -> ClassServer:
    """One worker behind a trusted proxy (so a test can speak for several addresses)."""
    return ClassServer(str(tmp_path / "class.sqlite3"), 1, None, "--trust-proxy", *limits)


def test_joins_are_limited_per_address_and_a_full_class_refuses_the_next_learner(tmp_path):
    server = small_class(tmp_path, "--max-learners", "4", "--joins-per-address", "3")
    try:
        first = [join(server, f"Ada {i}", "203.0.113.7") for i in range(4)]
        assert [answer.status_code for answer in first] == [201, 201, 201, 429]
        assert first[3].json()["error"] == "access_denied" and "address" in first[3].json()["error_description"]
        assert join(server, "Bob", "198.51.100.2").status_code == 201  # another address: welcome
        full = join(server, "Carol", "192.0.2.9")
        assert full.status_code == 403 and full.json()["error"] == "access_denied"
        assert "full" in full.json()["error_description"] and "4 learners" in full.json()["error_description"]
        limits = requests.get(f"{server.url}/instructor/feed", headers=INSTRUCTOR).json()["limits"]
        assert (limits["learners"], limits["max_learners"], limits["joins_per_address"]) == (4, 4, 3)
    finally:
        server.stop()


def test_a_learners_transcript_keeps_within_its_disk_budget(tmp_path):
    budget = 64 * 1024
    server = small_class(tmp_path, "--disk-per-learner", str(budget / 2**20))
    try:
        learner, other = server.join("Ada"), server.join("Bob")
        for n in range(40):  # 40 requests of 8 KB each: five times the budget
            requests.post(f"{learner.url}/token", data={"grant_type": "client_credentials",
                                                        "pad": f"{n:03}" + "x" * 8000})
        started = time.monotonic()
        messages = requests.get(f"{learner.url}/_mock/transcript", headers=learner.admin).json()["messages"]
        assert time.monotonic() - started < 1
        kept = sum(len(m["path"]) + len(m["request_body"]) + len(m["response_body"]) for m in messages)
        assert kept <= budget * 1.5, kept  # the budget, and at most a trim's worth beyond it
        assert "pad=039" in messages[-1]["request_body"]  # the newest are the ones kept
        assert requests.get(f"{other.url}/_mock/transcript", headers=other.admin).json()["messages"] == []
        feed = requests.get(f"{server.url}/instructor/feed", headers=INSTRUCTOR).json()
        assert feed["limits"]["disk_per_learner"] == budget
        shown = {x["tenant"]: x for x in feed["learners"]}
        assert 0 < shown[learner.tenant]["transcript_bytes"] <= budget * 1.5
    finally:
        server.stop()


def test_without_db_the_class_data_goes_to_a_folder_git_ignores(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    server = ClassServer(None, 1, None, cwd=tmp_path)
    try:
        server.join("Ada")
        folder = tmp_path / "workshop-data"
        assert f"class data          {folder}" in server.output
        assert (folder / "class.sqlite3").is_file()
    finally:
        server.stop()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path,
                            capture_output=True, text=True, check=True).stdout
    assert status == ""
    assert [p.name for p in tmp_path.iterdir() if p.name != ".git"] == ["workshop-data"]


def answered(connection: http.client.HTTPConnection) -> int:
    connection.request("GET", "/")
    response = connection.getresponse()
    response.read()
    return response.status


def test_a_class_keeps_more_connections_alive_than_it_has_learners(tmp_path):
    """Every learner's kernel and browser keep a connection alive. Granian's default (1,024
    connections shared by the workers) made the 1,025th wait for an idle one to time out; each
    worker now holds what its file limit leaves after the learners' files: here one worker, at
    2,048 files, 1,792 connections. (With two workers at 1,024 each holds 768, and how the
    kernel shares 1,200 connections between the two is up to it: once, in a loaded CI run, a
    connection waited longer than 3 s.)"""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))  # this test's own 1,200 sockets
    server = ClassServer(str(tmp_path / "class.sqlite3"), 1, open_files=2048)
    held, started = [], time.monotonic()
    try:
        # All requests sent first, then every answer read: quick enough (~1 s, IDLE_CONNECTION
        # is 5 s) that no connection idles out and frees a slot a refused one could take.
        for _ in range(1200):
            held.append(socket.create_connection(("127.0.0.1", server.port), timeout=3))
            held[-1].sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
        for number, connection in enumerate(held, 1):
            assert connection.recv(12) == b"HTTP/1.1 200", f"connection {number} was not answered"
        assert time.monotonic() - started < IDLE_CONNECTION, "too slow to hold them all at once"
    finally:
        for connection in held:
            connection.close()
        server.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_an_idle_connection_is_closed_and_a_busy_one_kept(tmp_path):
    """An idle keep-alive connection is closed after IDLE_CONNECTION seconds, so a class's
    kernels and browsers do not hold every connection a worker can take."""
    server = small_class(tmp_path)
    try:
        idle, busy = (http.client.HTTPConnection("127.0.0.1", server.port) for _ in range(2))
        assert answered(idle) == answered(busy) == 200
        started = time.monotonic()
        while time.monotonic() - started < IDLE_CONNECTION + 1.5:  # busy: a request every second
            time.sleep(1)
            assert answered(busy) == 200
            busy.sock.setblocking(False)  # still the same connection: nothing from the server
            with pytest.raises(BlockingIOError):
                busy.sock.recv(1)
            busy.sock.setblocking(True)
        idle.sock.settimeout(2)
        assert idle.sock.recv(1) == b"", "the idle connection is still open"
    finally:
        server.stop()
