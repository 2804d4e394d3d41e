"""What a join costs, and that the shortcuts taken for it share nothing between learners.

Signing keys made ahead (mock_server/workshop/spare_keys.py): a join takes a key the class server
made ahead, never one another learner has, and the maker tops the table up to the seats still
free, at the lowest CPU priority, outlives a failing database and ends with its server. A new
learner's SQLite file is a copy of an empty world's of the same layout (worlds.py): every table,
no row of anyone's."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import pytest
import requests
from joserfc.jwk import RSAKey
from sqlalchemy import Index, MetaData, create_engine, insert, text

from mock_server.storage import Base, make_engine, prepare_tables
from mock_server.workshop import spare_keys
from mock_server.workshop.classroom import WorkshopConfig
from mock_server.workshop.models import ClassBase, SpareKey, Tenant
from mock_server.workshop.serve import ENVIRONMENT
from mock_server.workshop.worlds import tables_version
from test_workshop import INSTRUCTOR, client_credentials, register
from test_workshop_storage import database
from workshop import ClassServer

PATIENCE = 90  # seconds: the maker runs at nice 19, behind every busy test process of the suite


def spare_kids(db: str) -> list[str]:
    """The kids (RFC 7638 thumbprints) of the keys in the class database's spare table."""
    with create_engine(f"sqlite:///{db}").connect() as connection:
        rows = connection.execute(text("SELECT private_jwk FROM workshop_spare_keys")).scalars()
        return [RSAKey.import_key(json.loads(row)).thumbprint() for row in rows]


def wait_for(db: str, count: int) -> list[str]:
    deadline = time.monotonic() + PATIENCE
    while len(kids := spare_kids(db)) != count:
        assert time.monotonic() < deadline, f"{len(kids)} spare keys, never {count}"
        time.sleep(0.2)
    return kids


def published_kid(issuer: str) -> str:
    jwks_uri = requests.get(f"{issuer}/.well-known/openid-configuration").json()["jwks_uri"]
    (key,) = requests.get(jwks_uri).json()["keys"]
    return key["kid"]


def maker_of(server: ClassServer) -> int:
    """The key maker's process id: the server's child running mock_server.workshop.spare_keys."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    (pid,) = [int(pid) for pid in children
              if b"mock_server.workshop.spare_keys" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    return pid


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_join_takes_a_spare_key_and_the_maker_keeps_one_per_free_seat(tmp_path):
    db = str(tmp_path / "class.sqlite3")
    server = ClassServer(db, 1, None, "--spare-keys", "3", "--max-learners", "4")
    try:
        before = wait_for(db, 3)
        learner = server.join("Ada")
        kid = published_kid(learner.url)
        assert kid in before  # the world signs with a key made ahead
        assert kid not in spare_kids(db)  # and no one else can get it
        feed = requests.get(f"{server.url}/instructor/feed", headers=INSTRUCTOR).json()
        assert feed["limits"]["spare_keys"] in (2, 3)  # the dashboard shows them (topped up or not yet)

        others = [server.join(name) for name in ("Bea", "Cy")]
        wait_for(db, 1)  # one seat left: one key, not three
        time.sleep(2 * spare_keys.IDLE)
        assert len(spare_kids(db)) == 1
        kids = {kid, *(published_kid(other.url) for other in others)}
        assert len(kids) == 3  # three learners, three keys
    finally:
        server.stop()


def test_the_maker_runs_at_the_lowest_priority_and_ends_with_its_server(tmp_path):
    """Killed outright (no signal reaches the rest of its group), the server's main process
    leaves the maker to notice by itself, within a look at the table and one key."""
    server = ClassServer(str(tmp_path / "class.sqlite3"), 1, None, "--spare-keys", "1")
    pid = maker_of(server)
    try:
        nice = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])
        assert nice == 19
        os.kill(server.process.pid, signal.SIGKILL)  # at once: the maker may still be starting
        server.process.wait()
        deadline = time.monotonic() + spare_keys.IDLE + PATIENCE
        while alive(pid):
            assert time.monotonic() < deadline, "the key maker outlived its server"
            time.sleep(0.1)
    finally:
        server.stop()
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_the_maker_outlives_a_failing_database_and_ctrl_c(tmp_path):
    """A class database that fails (here: not made yet) is tried again, and the keys come once it
    works; Ctrl-C in the server's terminal (SIGINT to its whole group) leaves the maker to end
    with the server, without a traceback."""
    db = str(tmp_path / "class.sqlite3")
    config = WorkshopConfig(host="127.0.0.1", port=5001, db=db, class_code="c", instructor_secret="s",
                            spare_keys=2, max_learners=2)
    maker = subprocess.Popen([sys.executable, "-m", "mock_server.workshop.spare_keys", str(os.getpid())],
                             stderr=subprocess.PIPE,
                             env={**os.environ, ENVIRONMENT: json.dumps(asdict(config))}, text=True)
    try:
        time.sleep(spare_keys.IDLE + 1)
        assert maker.poll() is None, maker.stderr.read()
        maker.send_signal(signal.SIGINT)
        engine = make_engine(db)
        prepare_tables(engine, ClassBase.metadata)
        engine.dispose()
        wait_for(db, 2)
        assert maker.poll() is None
    finally:
        maker.kill()
    errors = maker.stderr.read()
    assert "the database failed (OperationalError); trying again" in errors
    assert "Traceback" not in errors


def test_without_spare_keys_no_maker_runs_and_a_join_makes_its_own_key(tmp_path):
    db = str(tmp_path / "class.sqlite3")
    server = ClassServer(db, 1, None, "--spare-keys", "0")
    try:
        with pytest.raises(ValueError):
            maker_of(server)
        learner = server.join("Ada")
        assert published_kid(learner.url)
        assert spare_kids(db) == []
    finally:
        server.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_workers_taking_keys_at_once_never_get_the_same_one(backend, tmp_path, request):
    engine = make_engine(database(backend, tmp_path, request))
    prepare_tables(engine, ClassBase.metadata)
    key = RSAKey.generate_key(2048, private=True).as_dict(private=True)
    with engine.begin() as connection:  # twelve keys, told apart by their kid
        connection.execute(insert(SpareKey), [{"private_jwk": json.dumps({**key, "kid": f"k{i}"})}
                                              for i in range(12)])

    def take(_):
        with engine.begin() as connection:
            taken = spare_keys.take(connection)
            return taken and taken.kid

    with ThreadPoolExecutor(8) as pool:
        taken = list(pool.map(take, range(16)))
    got = [kid for kid in taken if kid]
    assert sorted(got) == sorted(f"k{i}" for i in range(12))  # each once, none lost
    assert taken.count(None) == 4  # the rest found the table empty: they make their own
    engine.dispose()


def test_spare_keys_are_not_made_for_a_full_class(tmp_path):
    engine = make_engine(str(tmp_path / "class.sqlite3"))
    prepare_tables(engine, ClassBase.metadata)
    with engine.begin() as connection:
        assert spare_keys.missing(connection, most=5, max_learners=3) == 3
        assert spare_keys.missing(connection, most=2, max_learners=3) == 2
        assert spare_keys.missing(connection, most=0, max_learners=3) == 0
        connection.execute(insert(SpareKey), [{"private_jwk": "{}"}])
        assert spare_keys.missing(connection, most=5, max_learners=3) == 2  # one there already
        connection.execute(insert(Tenant), [dict(id=f"t{i}", name="x", learner_key_hash="h", app_redirect_uris="[]",
                                                 created_at=0.0) for i in range(3)])
        assert spare_keys.missing(connection, most=5, max_learners=3) == -1  # full: none wanted
    engine.dispose()


def test_a_new_index_is_a_new_layout_of_the_tables():
    """New worlds are copies of an empty one of this layout, made once: a layout that differs
    only by an index must not reuse an older copy (the new index would never be made)."""
    metadata = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    before = tables_version(metadata)
    assert tables_version(metadata) == before
    Index("tokens_by_scope", metadata.tables["tokens"].c.scope)
    assert tables_version(metadata) != before


def rows(path: Path, table: str, columns: str = "*") -> list:
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT {columns} FROM {table}").fetchall()


def test_a_new_learners_file_has_every_table_and_none_of_anyone_elses_rows(tmp_path):
    db = tmp_path / "class.sqlite3"
    server = ClassServer(str(db), 1)
    try:
        ada = server.join("Ada")
        ada_app = register(ada)["client_id"]
        bea = server.join("Bea")
        bea_file = db.parent / "class.sqlite3.tenants" / f"{bea.tenant}.sqlite3"
        with sqlite3.connect(bea_file) as connection:
            tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == set(Base.metadata.tables)
        apps = {row[0] for row in rows(bea_file, "clients", "client_id")}
        assert ada_app not in apps and "fernhollow-reports" in apps  # the demo apps, not Ada's
        assert client_credentials(bea).status_code == 200
        (empty,) = (db.parent / "class.sqlite3.tenants").glob(".empty-*.sqlite3")
        assert all(rows(empty, table) == [] for table in Base.metadata.tables)
    finally:
        server.stop()


def test_a_learner_from_before_a_restart_shows_on_the_dashboard_at_once(tmp_path):
    """A join notes its learner as seen, so a new world's first bookkeeping may wait; a world a
    worker opens from before (after a restart, or in another worker) notes it at the first message."""
    db = str(tmp_path / "class.sqlite3")
    first = ClassServer(db, 1)
    ada = first.join("Ada")
    first.stop()
    server = ClassServer(db, 1, first.port)
    try:
        assert client_credentials(ada).status_code == 200
        (learner,) = requests.get(f"{server.url}/instructor/feed", headers=INSTRUCTOR).json()["learners"]
        assert learner["active"] is True and learner["transcript_bytes"] > 0
    finally:
        server.stop()
