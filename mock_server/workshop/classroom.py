"""The class: its database, shared by every worker process (and every machine, on PostgreSQL),
and this process's cache of the learners' worlds.

A learner's world is a complete server state (``mock_server.state.ServerState``) of its own: its
own tables (``worlds``: a SQLite file beside the class's, or a PostgreSQL schema), demo users and
apps, signing key, ids, transcript and virtual clock. What two workers must agree on lives in the
database: the tenants, each learner's clock offset, transcript and milestones, and everything in
the world's own tables (sessions, codes, tokens, device codes, login failures).

The statements every request of a learner runs on the class database — their transcript, and
their clock when it may have moved (on SQLite a file per learner says so: ``worlds.py``) — are
compiled once and run on a DBAPI connection each worker thread holds (``Classroom.run``): no pool
checkout, no session, no compile-cache lookup and no result objects for the one to three
statements of every request, where SQLAlchemy's share was more than the database's own.
"""
from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field

from flask import request
from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import scoped_session, sessionmaker

from ..app import populate
from ..clients import ClientCache, demo_apps, ensure_demo_apps
from ..clock import MOST_AHEAD, Clock, check_ahead
from ..errors import json_error
from ..ids import Ids
from ..keys import SigningKeys
from ..models import (AuthorizationCode, BrowserSession, Client, DeviceCredential, LoginFailure,
                      Token)
from ..retention import Purger
from ..state import ServerState, serving
from ..storage import SQLITE_BUSY_TIMEOUT_MS, Base, Prepared, credential_hash, database_url, prepare_tables
from . import spare_keys
from .agent_data import StoredWorld
from .models import ClassBase, Tenant
from .transcripts import DatabaseTranscript
from .worlds import places_for, tables_version

_tenants = Tenant.__table__
TENANT_STATE = select(_tenants.c.clock_offset, _tenants.c.generation).where(_tenants.c.id == bindparam("tenant"))
RETIRED_INDEXES = ("workshop_transcript_errors", "workshop_transcript_by_tenant")
TENANT_ID = re.compile(r"[0-9a-f]{12}")  # secrets.token_hex(6): no path or SQL can hide in it
JOIN_WINDOW = 600  # seconds: joins per address are counted over the last ten minutes
LEARNERS_PER_CORE = 500  # measured: 1,000 learners on 2 cores, every request answered (benchmarks/README.md)
CHECKPOINT_EVERY = 1.0  # seconds (checkpoint_in_the_background)
DISK_PER_LEARNER = 4 * 2**20  # characters of transcript a learner keeps (a notebook's: well under 1 MB)


def default_max_learners() -> int:
    return LEARNERS_PER_CORE * (os.cpu_count() or 1)


@dataclass(frozen=True)
class WorkshopConfig:
    host: str
    port: int
    db: str  # a SQLite file, or postgresql://…
    class_code: str
    instructor_secret: str
    public_url: str | None = None  # the URL learners use, when it is not http://host:port
    workers: int = 2
    threads: int = 0  # per worker; 0: on the worker's event loop (rsgi.py)
    trust_proxy: bool = False  # X-Forwarded-For/-Proto/-Host come from our own proxy
    allow_plain_http: bool = False  # a class on a network it trusts, without TLS (transport.py)
    max_learners: int = field(default_factory=lambda: default_max_learners())
    joins_per_address: int = 60  # in JOIN_WINDOW
    disk_per_learner: int = DISK_PER_LEARNER  # the transcript's budget, in characters
    spare_keys: int = 0  # signing keys made ahead, at most (spare_keys.py; the command line: one a seat)

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class JoinRefused(Exception):
    """A join the class cannot take: full (403), or too many from one address (429)."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


class TenantClock(Clock):
    """A learner's virtual clock. Its offset is a row of the class database: read once per request
    (``Classroom.sync``), moved by one UPDATE, so every worker sees the learner's fast-forward —
    and no other learner's clock moves."""

    def __init__(self, classroom: "Classroom", tenant_id: str, offset: float):
        super().__init__()
        self._classroom, self._tenant = classroom, tenant_id
        self._offset = offset

    def follow(self, offset: float) -> None:
        """The offset as the class database has it."""
        self._offset = offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset = self._classroom.advance_clock(self._tenant, seconds)
        return self.now()


class Classroom:
    def __init__(self, config: WorkshopConfig, template: ServerState):
        """`template`: the app's own state, whose authorization server, registration endpoint and
        resource protector every world shares (they read the world's state per request)."""
        self.config, self.template = config, template
        self.engine = template.storage.base_engine  # the class database is the --db one
        prepare_tables(self.engine, ClassBase.metadata)
        with self.engine.begin() as connection:  # earlier versions' indexes, written for nothing
            for index in RETIRED_INDEXES:
                connection.execute(text(f"DROP INDEX IF EXISTS {index}"))
        self.session = scoped_session(sessionmaker(bind=self.engine, expire_on_commit=False))
        self.places = places_for(self.engine)
        self._tables = tables_version(Base.metadata)
        self._worlds: dict[str, ServerState] = {}
        self._generations: dict[str, int] = {}  # the reset generation each world's caches are of
        self._synced: dict[str, tuple] = {}  # the change mark each world's clock was last read at
        self._lock = threading.Lock()
        self._held = threading.local()
        self._prepared: dict = {}
        self._returning: dict = {}
        self._ids = Ids(None)  # the operating system's randomness: one source serves every world

    # --- the class database ------------------------------------------------------------------------

    def run(self, statement, values: dict) -> tuple | None:
        """Run a statement of every request on this thread's own connection, in autocommit mode:
        each statement its own transaction, committed before it returns (none is left open from
        one request to the next); its first row, if any. A connection that broke (the database
        restarted) is dropped, and the next statement connects again."""
        return self._on_own_connection(statement, values,
                                       lambda cursor: cursor.fetchone() if cursor.description else None)

    def insert(self, statement, values: dict) -> int:
        """`run` for an INSERT of one row into a table with an integer key: the row's key. SQLite
        tells it without RETURNING (a RETURNING row is a second step of the statement, a tenth of
        a transcript message's cost there); PostgreSQL with it."""
        if self.engine.dialect.name == "sqlite":
            return self._on_own_connection(statement, values, lambda cursor: cursor.lastrowid)
        returning = self._returning.get(statement)
        if returning is None:  # made once: a statement is prepared once per object
            key = statement.table.primary_key.columns.values()[0]
            returning = self._returning[statement] = statement.returning(key)
        return self._on_own_connection(returning, values, lambda cursor: cursor.fetchone()[0])

    def _on_own_connection(self, statement, values: dict, answer):
        prepared = self._prepared.get(statement)
        if prepared is None:
            prepared = self._prepared[statement] = Prepared(statement, self.engine.dialect)
        held = self._held.__dict__
        if held.get("connection") is None:
            connection = self.engine.raw_connection()  # never returned to the pool: this thread's
            self.engine.dialect.set_isolation_level(connection.dbapi_connection, "AUTOCOMMIT")
            held["connection"] = connection
        cursor = held["connection"].cursor()
        try:
            cursor.execute(prepared.sql, prepared.parameters(values))
            return answer(cursor)
        except self.engine.dialect.loaded_dbapi.OperationalError:
            held.pop("connection").invalidate()
            raise
        finally:
            cursor.close()  # an open SQLite cursor would hold a snapshot

    def release(self) -> None:
        """After each request: no session left open on the class database."""
        self.session.remove()

    # --- tenants ---------------------------------------------------------------------------------

    def create_tenant(self, name: str, app_redirect_uris: tuple[str, ...], address: str) -> tuple[str, str]:
        """A new learner's world, complete before anyone can see it; returns (id, learner key).
        Raises JoinRefused when the class is full or `address` joined too often."""
        self._check_room(address)
        tenant_id, learner_key = secrets.token_hex(6), secrets.token_urlsafe(32)
        now = time.time()
        row = Tenant(id=tenant_id, name=name, learner_key_hash=credential_hash(learner_key),
                     app_redirect_uris=json.dumps(list(app_redirect_uris)), clock_offset=0.0,
                     generation=0, created_at=now, joined_from=address, tables=self._tables,
                     last_seen=now, transcript_bytes=0)
        with self.engine.begin() as connection:
            key = spare_keys.take(connection)
        world = self._build(row, new=True, first_key=key)
        if not self._add_if_room(row):
            self.places.remove(tenant_id, world.storage)
            raise JoinRefused(403, self._full())
        with self._lock:
            self._worlds[tenant_id] = world
        self.places.touch(tenant_id, world.storage)
        return tenant_id, learner_key

    def _check_room(self, address: str) -> None:
        db, config = self.session, self.config
        if db.scalar(select(func.count()).select_from(Tenant)) >= config.max_learners:
            raise JoinRefused(403, self._full())
        recent = db.scalar(select(func.count()).select_from(Tenant).where(
            Tenant.joined_from == address, Tenant.created_at > time.time() - JOIN_WINDOW))
        if recent >= config.joins_per_address:
            raise JoinRefused(429, f"{config.joins_per_address} learners joined from this address in the "
                              f"last {JOIN_WINDOW // 60} minutes: wait a few minutes, or ask your instructor.")

    def _add_if_room(self, row: Tenant) -> bool:
        """Insert the tenant, then count, under the table's write lock: of two joins for the last
        seat, in one process or two, one gets it."""
        with self.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"LOCK TABLE {Tenant.__tablename__} IN SHARE ROW EXCLUSIVE MODE"))
            connection.execute(insert(Tenant).values(
                {column.key: getattr(row, column.key) for column in _tenants.columns}))
            if connection.scalar(select(func.count()).select_from(Tenant)) <= self.config.max_learners:
                connection.commit()
                return True
            connection.rollback()
        return False

    def _full(self) -> str:
        return f"This class is full ({self.config.max_learners} learners): ask your instructor."

    def world(self, tenant_id: str) -> ServerState | None:
        """The learner's world in this process (built on first use), or None for no such tenant."""
        if not TENANT_ID.fullmatch(tenant_id):
            return None
        world = self._worlds.get(tenant_id)
        if world is None:
            with self._lock:
                if tenant_id not in self._worlds:
                    row = self.session.get(Tenant, tenant_id)
                    if row is None:
                        return None
                    self._worlds[tenant_id] = self._build(row, new=False)
                world = self._worlds[tenant_id]
        self.places.touch(tenant_id, world.storage)
        return world

    def tenants(self) -> list:
        """Every learner, as the dashboard shows them (rows, not objects: a class has a thousand)."""
        return self.session.execute(select(Tenant.id, Tenant.name, Tenant.last_seen, Tenant.transcript_bytes)
                                    .order_by(Tenant.created_at)).all()

    def issuer_of(self, tenant_id: str) -> str:
        return f"{self.config.base_url}/t/{tenant_id}"

    def reset(self, tenant_id: str) -> bool:
        """A stuck learner's fresh start: no codes, tokens, sessions or apps but the demo ones (one
        transaction), the demo agent API data, the clock back to real time. The transcript stays:
        it shows what happened."""
        world = self.world(tenant_id)
        if world is None:
            return False
        with serving(world):
            db = world.storage.session
            for model in (AuthorizationCode, Token, DeviceCredential, BrowserSession, LoginFailure):
                db.execute(delete(model))
            demo_ids = [app["client_id"] for app in demo_apps(world.settings)]
            db.execute(delete(Client).where(Client.client_id.not_in(demo_ids)))
            ensure_demo_apps(db, world.settings)  # commits it all
        world.world.start_over()
        self.session.execute(update(Tenant).where(Tenant.id == tenant_id).values(
            clock_offset=0.0, generation=Tenant.generation + 1))
        self.session.commit()
        self.places.note_change(tenant_id)
        return True

    def _build(self, row: Tenant, new: bool, first_key=None) -> ServerState:
        template = self.template
        uris = tuple(json.loads(row.app_redirect_uris))
        settings = template.settings.replace(public_url=self.issuer_of(row.id), open_registration=True,
                                             app_redirect_uris=uris)
        clock = TenantClock(self, row.id, row.clock_offset)
        # Tables made by another version of this server are brought up to date first.
        prepare = new or row.tables != self._tables
        world = ServerState(
            settings=settings, clock=clock, ids=self._ids, storage=self.places.storage(row.id, prepare, new),
            keys=None, transcript=DatabaseTranscript(self, row.id, joined=new), world=StoredWorld(self, row.id),
            authorization_server=template.authorization_server, registration=template.registration,
            resource_protector=template.resource_protector,
            admin_access=learner_key_check(row.learner_key_hash), purger=Purger(),
            clients=ClientCache(),
            # The learner named these when joining: registered for the demo apps, never trusted.
            untrusted_redirect_uris=tuple(uri for uri in uris if uri not in template.settings.app_redirect_uris))
        with serving(world):
            if new:
                populate(world, first_key)
                world.world.start_over()
            else:  # complete already: only load its keys
                world.keys = SigningKeys(world.storage, clock, deterministic=False)
        if prepare and not new:
            self.session.execute(update(Tenant).where(Tenant.id == row.id).values(tables=self._tables))
            self.session.commit()
        return world

    # --- clocks ------------------------------------------------------------------------------------

    def sync(self, tenant_id: str, world: ServerState) -> None:
        """Before each of the learner's requests: their clock, and — after a reset in any process
        — this process's copies of their apps dropped. One prepared query, unless the learner's
        change mark (worlds.py) is the one this process last read them at."""
        mark = self.places.mark(tenant_id)  # before the query: a change after it moves the mark
        if mark is not None and self._synced.get(tenant_id) == mark:
            return
        offset, generation = self.run(TENANT_STATE, {"tenant": tenant_id})
        world.clock.follow(offset)
        if self._generations.setdefault(tenant_id, generation) != generation:
            self._generations[tenant_id] = generation
            world.clients.clear()
        if mark is not None:
            self._synced[tenant_id] = mark

    def advance_clock(self, tenant_id: str, seconds: float) -> float:
        """One conditional UPDATE, so two workers advancing at once add up, and together never
        take the clock past clock.MOST_AHEAD; returns the new offset."""
        db = self.session
        moved = db.execute(update(Tenant).where(Tenant.id == tenant_id, Tenant.clock_offset + seconds <= MOST_AHEAD)
                           .values(clock_offset=Tenant.clock_offset + seconds)).rowcount
        db.commit()
        if moved:
            self.places.note_change(tenant_id)
        offset = db.scalar(select(Tenant.clock_offset).where(Tenant.id == tenant_id))
        if not moved:
            check_ahead(offset + seconds)  # raises: it would be too far
        return offset


def checkpoint_in_the_background(db: str) -> None:
    """A SQLite class database: a thread of each worker copies the write-ahead log into the
    database file every CHECKPOINT_EVERY seconds. Left to SQLite, the commit that fills the log
    (1,000 pages: a few seconds of a busy class's transcripts) does it, fsync included, on the
    worker's event loop, and every request queued on that worker waits behind it (30–55 ms for
    a full log on this machine's idle disk; more under a class's writes). Here the copy runs
    beside the requests, the GIL released, and the log stays too short for a commit to fill it."""
    url = make_url(database_url(db))
    if url.get_backend_name() != "sqlite":  # PostgreSQL: its own background writer does this
        return

    def checkpoint():
        connection = sqlite3.connect(url.database, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        while True:
            time.sleep(CHECKPOINT_EVERY)
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.OperationalError:  # busy, or the disk full: the next one tries again
                continue

    threading.Thread(target=checkpoint, name="checkpoint", daemon=True).start()


def learner_key_check(key_hash: str):
    """A world's admin routes (clock, transcript) answer only its learner, by key: the class
    server is not on the learner's machine, so loopback says nothing."""
    def check():
        sent = request.authorization
        if sent and sent.type == "bearer" and sent.token and hmac.compare_digest(
                credential_hash(sent.token), key_hash):
            return None
        return json_error(401, "invalid_token", "The admin routes of a class server need your "
                          "learner key: Authorization: Bearer <learner_key>.",
                          {"WWW-Authenticate": 'Bearer realm="learner"'})
    return check
