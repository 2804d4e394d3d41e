"""Shared fixtures: real servers on free loopback ports (helpers for flows are in flows.py)."""
from __future__ import annotations

import os

# Under pytest-xdist every worker gets ports of its own for what tests start at fixed ports (the
# kernels JupyterLab runs, the app's redirect URI, a notebook's servers at offsets up to +10): the
# notebooks under nbval run beside them, in their own process (scripts/run_tests.py), with the
# default ports their committed outputs name. Set before mock_server is imported: it reads them.
if (_worker := os.environ.get("PYTEST_XDIST_WORKER")) is not None:
    os.environ["MOCK_SERVER_PORT"] = str(6100 + 20 * int(_worker.removeprefix("gw")))
    os.environ["MOCK_APP_PORT"] = str(9100 + 20 * int(_worker.removeprefix("gw")))

# Each server started here writes its owner key on a card (mock_server/owner.py): in a folder of
# this run's, not the user's home; kernels and JupyterLab started by the tests inherit it.
if "MOCK_SERVER_CARDS" not in os.environ:
    import tempfile

    os.environ["MOCK_SERVER_CARDS"] = tempfile.mkdtemp(prefix="mock-server-cards-")

import pytest  # noqa: E402

import mock_server  # noqa: E402
from mock_server.runner import PortTaken  # noqa: E402


@pytest.fixture
def start_server():
    """Start servers with any options; all are stopped after the test."""
    started = []

    def start(**options):
        handle = mock_server.start(**options) if "port" in options else on_a_free_port(options)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()


def on_a_free_port(options: dict, attempts: int = 3):
    """A server on a port free when picked: another test process may bind it before this one
    does (free_port cannot reserve it), and then the next free one is tried."""
    for attempt in range(attempts):
        try:
            return mock_server.start(port=mock_server.free_port(), **options)
        except PortTaken:
            if attempt == attempts - 1:
                raise


@pytest.fixture
def server(start_server):
    """A fresh deterministic server with the secure defaults."""
    return start_server(seed=7)


@pytest.fixture(scope="session")
def class_server(tmp_path_factory):
    """One class server for the session (SQLite, two granian workers); tests join their own learners."""
    from workshop import ClassServer

    server = ClassServer(str(tmp_path_factory.mktemp("class") / "class.sqlite3"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server's URL for the session (workshop.postgres_server says which)."""
    from workshop import postgres_server

    url, stop = postgres_server()
    yield url
    stop()


@pytest.fixture(scope="module")
def lab():
    """What a notebook's `lab = setup()` gives, on a fresh server of this module's own (seed=None:
    the client libraries' randomness is left alone for the other modules)."""
    from oauth_lab.lab import setup

    lab = setup(seed=None, port=mock_server.free_port())
    yield lab
    lab.handle.stop()


# `make test` hands whole modules (classes, for the JupyterLab groups) to its xdist workers in
# collection order (scripts/run_tests.py: --no-loadscope-reorder; xdist's own order is "most tests
# first", which started the one-test hub run last, a minute after everything else had finished).
# The longest go first, each taking a worker while the many short modules fill the others.
LONGEST_FIRST = ("browser/test_real_hub.py", "browser/test_jupyterlab.py", "browser/test_proxy.py",
                 "test_packaging.py", "test_workshop_limits.py", "test_binder.py",
                 "test_workshop_storage.py", "browser/test_lab_start.py")


def pytest_collection_modifyitems(items):
    rank = {module: place for place, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0].removeprefix("tests/"), len(rank)))
