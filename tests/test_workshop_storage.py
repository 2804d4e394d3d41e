"""A class server's state in its database: SIGKILL mid-load loses nothing that was answered, and
two server processes sharing one PostgreSQL serve every learner's world alike."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import requests

from flows import APP_CALLBACK, RESOURCE_SERVER, authorization_url, call_api, code_tokens, query_of, token
from oauth_lab.user_agent import UserAgent
from test_workshop import assert_exactly_one_won, client_credentials, race_a_code, race_a_refresh, register
from workshop import ClassServer, Learner, fresh_database


def database(backend: str, tmp_path: Path, request) -> str:
    if backend == "sqlite":
        return str(tmp_path / "class.sqlite3")
    return fresh_database(request.getfixturevalue("postgres"))


def load(world: Learner, stop: threading.Event, answered: list) -> None:
    """Tokens and apps, as fast as one client goes, until stopped or the server dies: what the
    server answered goes into `answered`."""
    while not stop.is_set():
        try:
            got = client_credentials(world)
            if got.status_code == 200:
                answered.append(("token", world, got.json()["access_token"]))
            app = requests.post(f"{world.url}/register", json={
                "client_name": "Load", "redirect_uris": [APP_CALLBACK], "grant_types": ["client_credentials"],
                "scope": "customers:ro"})
            if app.status_code == 201:
                answered.append(("app", world, (app.json()["client_id"], app.json()["client_secret"])))
        except requests.ConnectionError:
            return


def intact(backend: str, db: str) -> None:
    """No half-written rows: SQLite's own check of every file, and every stored JSON parses."""
    if backend == "sqlite":
        for path in [Path(db), *Path(db + ".tenants").glob("*.sqlite3")]:
            with sqlite3.connect(path) as connection:
                assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",), path


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkill_mid_load_loses_nothing_answered_and_learners_go_on(backend, tmp_path, request):
    db = database(backend, tmp_path, request)
    server = ClassServer(db, 2)
    learners = [server.join(f"Learner {i}") for i in range(2)]
    before = [(world, register(world), code_tokens(world, scope="customers:ro")) for world in learners]
    stop, answered = threading.Event(), []
    threads = [threading.Thread(target=load, args=(world, stop, answered)) for world in learners]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(answered) < 40 and time.monotonic() < deadline:  # a count, not a time: CI is loaded
        time.sleep(0.05)
    server.kill()  # mid-load: requests in flight die with it
    stop.set()
    for thread in threads:
        thread.join(10)
    assert len(answered) >= 40
    intact(backend, db)

    again = ClassServer(db, 2, server.port)
    try:
        for world, app, tokens in before:
            assert client_credentials(world, (app["client_id"], app["client_secret"])).status_code == 200
            assert call_api(world, "list_customers", tokens["access_token"]).status_code == 200
            refreshed = token(world, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
            assert refreshed.status_code == 200, refreshed.text
            assert code_tokens(world, scope="customers:ro")["access_token"]  # a whole new flow
        for kind, world, value in answered[-30:] + answered[:10]:
            if kind == "token":
                assert call_api(world, "list_customers", value).status_code == 200
            else:
                assert client_credentials(world, value).status_code == 200
        for world in learners:  # the transcripts were kept too, and still parse
            messages = requests.get(f"{world.url}/_mock/transcript", headers=world.admin).json()["messages"]
            assert messages and all(json.dumps(m) for m in messages)
    finally:
        again.stop()


@pytest.fixture(scope="module")
def two_processes(postgres):
    """Two class server processes on one PostgreSQL database, as behind a load balancer: both
    announce the first one's URL."""
    db = fresh_database(postgres)
    first = ClassServer(db, 1)
    second = ClassServer(db, 1, None, "--public-url", first.url)
    yield first, second
    first.stop()
    second.stop()


def through(world: Learner, server: ClassServer, first: ClassServer) -> Learner:
    """The same learner's world, reached through `server`."""
    return Learner(world.url.replace(first.url, server.url), world.key, world.tenant)


def test_two_processes_on_postgresql_serve_the_same_worlds(two_processes):
    first, second = two_processes
    world = second.join("Ada")  # joined through the second process
    at_first, at_second = through(world, first, first), through(world, second, first)
    app = register(at_first)
    assert client_credentials(at_second, (app["client_id"], app["client_secret"])).status_code == 200
    browser = UserAgent()
    code = query_of(browser.authorize(authorization_url(at_first, scope="customers:ro")))["code"]
    tokens = token(at_second, {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_CALLBACK})
    assert tokens.status_code == 200
    # The browser session, signed in through the first, holds at the second (consent, no login).
    assert "Allow" in browser.consent_page(authorization_url(at_second, scope="customers:ro"),
                                           at_second.url).text
    requests.post(f"{at_second.url}/_mock/clock", json={"advance": 7200}, headers=world.admin)
    assert call_api(at_first, "list_customers", tokens.json()["access_token"]).status_code == 401
    assert requests.get(f"{at_first.url}/_mock/clock", headers=world.admin).json()["now"] > time.time() + 7000


def test_two_processes_on_postgresql_let_exactly_one_racer_win(two_processes):
    first, second = two_processes
    world = first.join("Ada")
    urls = (world.url, through(world, second, first).url)
    for _ in range(3):
        assert_exactly_one_won(world, race_a_code(world, urls))
        winner = assert_exactly_one_won(world, race_a_refresh(world, urls))
        assert call_api(world, "list_customers", winner["access_token"]).status_code == 401


def test_two_learners_on_postgresql_share_nothing(two_processes):
    first, second = two_processes
    ada, bob = first.join("Ada"), second.join("Bob")
    ada_token = client_credentials(ada).json()["access_token"]
    assert call_api(ada, "list_customers", ada_token).status_code == 200
    assert call_api(through(bob, first, first), "list_customers", ada_token).status_code == 401
    assert requests.post(f"{bob.url}/introspect", data={"token": ada_token},
                         auth=RESOURCE_SERVER).json() == {"active": False}
    app = register(ada)
    assert client_credentials(bob, (app["client_id"], app["client_secret"])).status_code == 401
    assert requests.get(f"{ada.url}/_mock/transcript", headers=bob.admin).status_code == 401
    assert client_credentials(bob).status_code == 200  # its own demo app, with the public secret


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_world_made_by_an_earlier_version_gains_the_new_columns_and_longer_client_ids(backend, tmp_path, request):
    """A world's tables made before resource indicators and metadata-document clients: its first
    use adds the `resource` columns and lengthens the client ids to a URL's 255 characters
    (PostgreSQL enforces a VARCHAR's length; SQLite none) — in the world's own schema."""
    from sqlalchemy import inspect, text

    from mock_server.storage import Storage

    db, schema = database(backend, tmp_path, request), "tenant_old" if backend == "postgresql" else None
    Storage(db, schema=schema).close()  # this version's tables, then made old by hand
    storage = Storage(db, schema=schema, prepare=False)
    with storage.base_engine.begin() as connection:
        for table in ("tokens", "authorization_codes"):
            name = f'"{schema}".{table}' if schema else table
            connection.execute(text(f"ALTER TABLE {name} DROP COLUMN resource"))
            if backend == "postgresql":
                connection.execute(text(f"ALTER TABLE {name} ALTER COLUMN client_id TYPE VARCHAR(64)"))
    storage.close()

    upgraded = Storage(db, schema=schema)
    columns = {c["name"]: c["type"] for c in inspect(upgraded.base_engine).get_columns("tokens", schema=schema)}
    assert "resource" in columns
    if backend == "postgresql":
        assert columns["client_id"].length == 255
    long_id = "https://app.example/" + "c" * 200 + "/client.json"
    with upgraded.base_engine.begin() as connection:
        name = f'"{schema}".authorization_codes' if schema else "authorization_codes"
        connection.execute(text(f"INSERT INTO {name} (code, client_id, user_id, auth_time, issued_at, expires_at, "
                                "resource) VALUES ('c', :client, 'jane', 0, 0, 1, '/v3.5/agent')"),
                           {"client": long_id})
    upgraded.close()


def test_the_class_databases_log_is_checkpointed_beside_the_requests(tmp_path, monkeypatch):
    """No request's commit has to copy the write-ahead log into the database (and fsync it): a
    thread does it every CHECKPOINT_EVERY seconds, so the log is reused instead of growing."""
    from mock_server.workshop import classroom

    monkeypatch.setattr(classroom, "CHECKPOINT_EVERY", 0.05)
    db = tmp_path / "class.sqlite3"
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # as if every commit left it to someone else
    writer.execute("CREATE TABLE messages (body TEXT)")
    classroom.checkpoint_in_the_background(str(db))
    sizes = []
    for _ in range(6):  # six rounds of 1 MB each, as a class's transcripts arrive
        for _ in range(100):
            writer.execute("INSERT INTO messages VALUES (?)", ("x" * 10_000,))
        time.sleep(0.3)
        sizes.append(Path(f"{db}-wal").stat().st_size)
    assert sizes[-1] < 3 * 2**20, sizes  # without the thread: 6 MB and growing
    writer.close()
