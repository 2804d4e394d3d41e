"""Where the learners' worlds keep their tables, and how much of them a worker keeps open.

**SQLite**: a file per learner, in a folder beside the class database. A worker serves every
learner, so it cannot keep every learner's file open: one open connection holds three file handles
(the file, its write-ahead log, its shared-memory index) and a page cache, and a small machine
allows a process 1,024 handles (macOS: 256), its clients' connections included. So a worker keeps
at most ``open_limit`` learners' connections open and closes the least recently used one first;
opening a file again costs a fraction of a millisecond. And every world's engine shares one dialect
(the class engine's) and one statement cache, which are what make an engine large: a world this
process knows costs it about 50 KB (its state, keys and a small engine), not 150 KB more for an
engine of its own.

**PostgreSQL**: a schema per learner, on the class's own engine and its bounded pool: a world
costs no connection of its own, and any number of processes, on any number of machines, share them.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections import OrderedDict
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import QueuePool
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.util import LRUCache

from ..storage import SQLITE_BUSY_TIMEOUT_MS, Base, Storage, sqlite_pragmas

FILES_PER_WORLD = 3  # an open SQLite database in WAL mode: the file, its -wal and its -shm
LONGEST_MARK = 4096  # bytes of a learner's change mark, then it starts again (WorldFiles.note_change)
MOST_OPEN_WORLDS = 64  # beyond this, memory (a page cache each) matters more than reopening
WORLD_CACHE_KIB = 512  # SQLite's page cache per open world: a world's file is a few hundred KB


def open_world_limit() -> int:
    """How many learners' files a worker keeps open: what a quarter of its file handles holds
    (the rest is for its clients' connections and the class database), 4 to MOST_OPEN_WORLDS."""
    import resource  # POSIX: imported here, so that `python -m mock_server` runs on Windows too

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(4, min(MOST_OPEN_WORLDS, soft // 4 // FILES_PER_WORLD))


def tables_version(metadata) -> str:
    """A short digest of the world tables' layout, their DDL as SQLite takes it (columns,
    constraints and indexes): a world whose tables were made with another layout is brought up to
    date on its first use (``Storage(prepare=True)``), and a new world's file is copied from an
    empty one of this layout; any other world opens without a query."""
    dialect = sqlite.dialect()
    ddl = [str(CreateTable(table).compile(dialect=dialect)) for table in metadata.sorted_tables]
    ddl += sorted(str(CreateIndex(index).compile(dialect=dialect))
                  for table in metadata.sorted_tables for index in table.indexes)
    return hashlib.sha256("\n".join(ddl).encode()).hexdigest()[:16]


def schema_of(tenant_id: str) -> str:
    return f"tenant_{tenant_id}"


class WorldFiles:
    """SQLite: one file per learner, at most `open_limit` of them open in this process."""

    def __init__(self, class_engine, open_limit: int):
        self.folder = Path(make_url(str(class_engine.url)).database + ".tenants")
        self.folder.mkdir(exist_ok=True)
        self._marks = str(self.folder)
        self.open_limit = open_limit
        self._empty = self.folder / f".empty-{tables_version(Base.metadata)}.sqlite3"
        self._dialect = class_engine.dialect
        self._statements = LRUCache(500)  # compiled once for every world: the same statements
        self._on_connect = self._dialect.on_connect()
        self._open: OrderedDict[str, QueuePool] = OrderedDict()  # by tenant, most recently used last
        self._lock = threading.Lock()

    def storage(self, tenant_id: str, prepare: bool, new: bool = False) -> Storage:
        """`new`: a world just joined, its file a copy of an empty world's: making its tables
        one by one was a third of a join's work (the DDL, and SQLAlchemy asking what exists)."""
        path = self.folder / f"{tenant_id}.sqlite3"
        if new:
            shutil.copyfile(self._empty_world(), path)
        return Storage(engine=self._engine(path), prepare=prepare and not new)

    def _empty_world(self) -> Path:
        """A file with a world's tables and no rows, made once for each layout of the tables (by
        whichever worker needs it first: each makes its own and renames it into place)."""
        path = self._empty
        if not path.exists():
            scratch = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}")
            try:
                engine = self._engine(scratch)
                Storage(engine=engine, prepare=True)
                engine.dispose()  # the last connection closed: its write-ahead log is in the file
                os.replace(scratch, path)
            finally:
                for leftover in (scratch, *(scratch.with_name(scratch.name + end) for end in ("-wal", "-shm"))):
                    leftover.unlink(missing_ok=True)
        return path

    def _engine(self, path: Path) -> Engine:
        """An engine for one learner's file, sharing the class engine's dialect and statement
        cache (SQLAlchemy's Engine, as create_engine assembles it, without a dialect of its own).
        Its pool keeps one connection: a worker serves one request at a time (or a few threads)."""
        url = make_url(f"sqlite:///{path}")
        args, options = self._dialect.create_connect_args(url)
        options.update(check_same_thread=False, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        pool = QueuePool(lambda: self._connect(args, options), pool_size=1, max_overflow=-1,
                         dialect=self._dialect)
        return Engine(pool, self._dialect, url, query_cache_size=0,
                      execution_options={"compiled_cache": self._statements})

    def _connect(self, args, options):
        """A connection to one learner's file, set up as create_engine's pool events would."""
        connection = self._dialect.connect(*args, **options)
        if self._on_connect:
            self._on_connect(connection)
        sqlite_pragmas(connection, cache_kib=WORLD_CACHE_KIB)
        return connection

    def touch(self, tenant_id: str, storage: Storage) -> None:
        """This world serves a request now: keep it open, and close the idle connections of the
        least recently used worlds beyond the limit. (With several threads, one such world may be
        in use elsewhere: its connection stays open until it is next closed here.)"""
        with self._lock:
            self._open[tenant_id] = storage.engine.pool
            self._open.move_to_end(tenant_id)
            closing = [self._open.popitem(last=False)[1] for _ in range(len(self._open) - self.open_limit)]
        for idle in closing:
            idle.dispose()

    def remove(self, tenant_id: str, storage: Storage) -> None:
        """A world that will not be (a join refused after all): closed, and its file gone."""
        storage.engine.pool.dispose()
        for suffix in ("", "-wal", "-shm"):
            (self.folder / f"{tenant_id}.sqlite3{suffix}").unlink(missing_ok=True)

    # A learner's clock and reset generation live in the class database, and every request must
    # see the latest (any worker may have moved them). Reading them is a query a request would
    # make for nothing almost every time: a tenth of a discovery request's CPU. On one machine, a
    # file per learner tells whether they changed: one byte longer at each change, read with a
    # stat(). (Classroom.sync, advance_clock, reset.)

    def mark(self, tenant_id: str) -> tuple:
        """The learner's change mark: equal to an earlier one only if nothing changed since."""
        try:
            found = os.stat(f"{self._marks}/{tenant_id}.changed")
        except FileNotFoundError:
            return ()
        return found.st_ino, found.st_size, found.st_mtime_ns

    def note_change(self, tenant_id: str) -> None:
        """After the change is committed: the mark moves (a byte appended, atomically, whichever
        process writes). A full mark starts again at one byte: its time then differs from any
        earlier mark of that size, which lies thousands of changes back."""
        descriptor = os.open(f"{self._marks}/{tenant_id}.changed", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if os.fstat(descriptor).st_size >= LONGEST_MARK:
                os.ftruncate(descriptor, 0)
            os.write(descriptor, b".")
        finally:
            os.close(descriptor)

    def describe(self) -> str:
        return f"SQLite: a file per learner in {self.folder}, at most {self.open_limit} open per worker"


class WorldSchemas:
    """PostgreSQL: one schema per learner, on the class's engine."""

    def __init__(self, class_engine):
        self._engine = class_engine

    def storage(self, tenant_id: str, prepare: bool, new: bool = False) -> Storage:
        return Storage(engine=self._engine, schema=schema_of(tenant_id), prepare=prepare or new)

    def touch(self, tenant_id: str, storage: Storage) -> None:
        """Nothing to keep open: the class's pool serves every schema."""

    def remove(self, tenant_id: str, storage: Storage) -> None:
        """A world that will not be (a join refused after all): its schema dropped."""
        with self._engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema_of(tenant_id)}" CASCADE'))

    def mark(self, tenant_id: str) -> None:
        """None: the processes may be on other machines, where no file shows a change; every
        request reads the learner's clock (one query)."""
        return None

    def note_change(self, tenant_id: str) -> None:
        pass

    def describe(self) -> str:
        return "PostgreSQL: a schema per learner"


def places_for(class_engine):
    if class_engine.dialect.name == "postgresql":
        return WorldSchemas(class_engine)
    return WorldFiles(class_engine, open_world_limit())

