"""Before each of a learner's requests a worker brings their clock (and, after a reset, its copies
of their apps) up to date from the class database — on SQLite only when the learner's change mark
says another request moved them. Two Classrooms on one class database stand for two worker
processes; the statements each runs on it are counted."""
from __future__ import annotations

import gc

import pytest

from mock_server import Settings, create_app
from mock_server.workshop import worlds
from mock_server.workshop.classroom import Classroom, WorkshopConfig
from workshop import fresh_database


@pytest.fixture
def processes():
    """processes(db): two Classrooms on the class database `db`. Afterwards their pools are closed
    and what is left collected, here: left to a later garbage collection, PostgreSQL connections
    were finalized inside Python 3.11's AST constructor (pytest rewriting a module imported at the
    end of the session), which then failed with "AST constructor recursion depth mismatch"."""
    made = []

    def make(db: str) -> list[Classroom]:
        config = WorkshopConfig(host="127.0.0.1", port=5001, db=db, class_code="c", instructor_secret="s")
        for _ in range(2):
            app = create_app(Settings(host=config.host, port=config.port, public_url=config.base_url, db=db))
            made.append(Classroom(config, app.extensions["mock_server"]))
        return made[-2:]
    yield make
    for room in made:
        room.session.remove()
        room.engine.dispose()
    made.clear()
    gc.collect()


def counted(room: Classroom) -> list:
    """The statements `room` runs on its own connection from now on."""
    ran, run = [], room.run
    room.run = lambda statement, values: ran.append(statement) or run(statement, values)
    return ran


def joined(first: Classroom, second: Classroom):
    tenant, _ = first.create_tenant("Ada", (), "127.0.0.1")
    return tenant, second.world(tenant)


def test_a_clock_is_read_again_only_after_it_moved_in_another_process(processes, tmp_path):
    first, second = processes(str(tmp_path / "class.sqlite3"))
    tenant, world = joined(first, second)
    ran = counted(second)
    second.sync(tenant, world)
    second.sync(tenant, world)
    assert len(ran) == 1  # the first request reads it; nothing moved since
    before = world.clock.now()
    first.advance_clock(tenant, 3600)
    second.sync(tenant, world)
    assert len(ran) == 2 and world.clock.now() >= before + 3600
    second.sync(tenant, world)
    assert len(ran) == 2


def test_a_reset_in_another_process_drops_this_ones_copies_of_the_apps(processes, tmp_path):
    first, second = processes(str(tmp_path / "class.sqlite3"))
    tenant, world = joined(first, second)
    second.sync(tenant, world)
    world.clients.documents["https://app.example/client.json"] = (None, 0)  # a copy this process holds
    first.advance_clock(tenant, 600)
    first.reset(tenant)
    second.sync(tenant, world)
    assert world.clients.documents == {}
    assert abs(world.clock.now() - first.world(tenant).clock.now()) < 5  # back to real time


def test_a_full_change_mark_starts_again_and_every_change_is_still_seen(processes, tmp_path, monkeypatch):
    monkeypatch.setattr(worlds, "LONGEST_MARK", 2)
    first, second = processes(str(tmp_path / "class.sqlite3"))
    tenant, world = joined(first, second)
    second.sync(tenant, world)
    for step in range(1, 6):
        before = world.clock.now()
        first.advance_clock(tenant, 60)
        second.sync(tenant, world)
        assert world.clock.now() >= before + 60, f"change {step} was not seen"
    assert (tmp_path / "class.sqlite3.tenants" / f"{tenant}.changed").stat().st_size <= 2


def test_on_postgresql_every_request_reads_the_clock(processes, postgres):
    """Its processes may be on other machines, where no file shows a change."""
    first, second = processes(fresh_database(postgres))
    tenant, world = joined(first, second)
    ran = counted(second)
    for _ in range(3):
        second.sync(tenant, world)
    assert len(ran) == 3
    first.advance_clock(tenant, 3600)
    second.sync(tenant, world)
    assert world.clock.now() >= first.world(tenant).clock.now() - 5
