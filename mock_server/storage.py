"""Storage: apps, users, codes, tokens, device codes, signing keys and browser sessions in a database.

Without ``--db`` a private SQLite file in a temporary folder (a fresh world every start, deleted at
stop); with ``--db PATH`` a SQLite file that survives a restart; with ``--db postgresql://…``
PostgreSQL (psycopg 3), which several server processes, on one machine or several, can share.
SQLAlchemy makes the three one storage layer.

Requests run in parallel, each with its own connection (SQLite in WAL mode: readers never wait,
one writer at a time). Every write transaction begins with its write: pysqlite opens a transaction
only at the first INSERT/UPDATE/DELETE, so a request's reads hold no snapshot, and a writer that
must wait for another process is retried by SQLite's busy handler instead of failing. Writes that
must not race (a code redeemed, a refresh token rotated) are conditional UPDATEs (grants.py).
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 5000


class Base(DeclarativeBase):
    pass


def database_url(db: str | None) -> str:
    """`--db` as SQLAlchemy's URL: a path is a SQLite file, postgresql:// uses psycopg 3."""
    if db and db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    return db if db and "://" in db else f"sqlite:///{db}"


def make_engine(db: str):
    url = database_url(db)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False,
                                                  "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", sqlite_pragmas)
        return engine
    # Several threads per process, several processes: a few connections each.
    return create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)


class Storage:
    """One world's tables: in its own SQLite file, or in its own PostgreSQL schema of a shared
    engine (``schema``: a workshop's tenants)."""

    def __init__(self, db: str | None = None, *, engine=None, schema: str | None = None,
                 prepare: bool = True):
        """`prepare`: create (or bring up to date) the tables; False for a workshop world known to
        have them (its tables were made by this version), which then opens without a query."""
        self._tempdir = None
        self.owns_engine = engine is None
        if engine is None:
            if db is None:
                self._tempdir = tempfile.mkdtemp(prefix="mock-server-")
                db = str(Path(self._tempdir) / "oauth.sqlite3")
            engine = make_engine(db)
        self.base_engine = engine
        self.schema = schema
        if schema and prepare:
            with engine.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        if schema:
            engine = engine.execution_options(schema_translate_map={None: schema})
        self.engine = engine
        self.session = scoped_session(sessionmaker(bind=engine, expire_on_commit=False))
        self._prepared: dict = {}
        if prepare:
            prepare_tables(engine, Base.metadata, schema)

    def insert(self, statement, values: dict) -> None:
        """One row, in a transaction of its own, committed: the statement compiled once for this
        database (its schema too) and run on a pooled DBAPI connection, without a session's
        bookkeeping or SQLAlchemy's work per statement — for a request whose only write it is."""
        prepared = self._prepared.get(statement)
        if prepared is None:
            prepared = self._prepared[statement] = Prepared(
                statement, self.engine.dialect, {None: self.schema} if self.schema else None)
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(prepared.sql, prepared.parameters(values))
            cursor.close()
            connection.commit()
        finally:
            connection.close()  # back to the pool

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def close(self) -> None:
        self.session.remove()
        if self.owns_engine:
            self.base_engine.dispose()
        if self._tempdir:
            shutil.rmtree(self._tempdir, ignore_errors=True)


class Prepared:
    """A statement compiled once for a database (dialect, and schema), as its DBAPI driver takes
    it: for the few statements every request runs, where SQLAlchemy's share of the work was more
    than the database's own."""

    def __init__(self, statement, dialect, schemas: dict | None = None):
        compiled = statement.compile(dialect=dialect, schema_translate_map=schemas,
                                     render_schema_translate=bool(schemas))
        self.sql = compiled.string
        self._order = compiled.positiontup if compiled.positional else None

    def parameters(self, values: dict):
        return [values[name] for name in self._order] if self._order is not None else values


def prepare_tables(engine, metadata, schema: str | None = None) -> None:
    """Create the missing tables, and bring those of a database written by an earlier version up
    to date: add the (nullable) columns and the indexes added since, and replace stored token
    strings by their hashes."""
    from . import models  # noqa: F401  (registers the tables on Base)

    inspector = inspect(engine)
    existing = set(inspector.get_table_names(schema=schema))
    metadata.create_all(engine, tables=[t for t in metadata.sorted_tables if t.name not in existing],
                        checkfirst=False)
    with engine.begin() as connection:
        for table in metadata.sorted_tables:
            if table.name not in existing:  # just made, as this version makes it
                continue
            present = {column["name"]: column["type"]
                       for column in inspector.get_columns(table.name, schema=schema)}
            if table.name == "tokens" and "access_token" in present:
                _hash_stored_tokens(connection, table)
                continue
            # Raw SQL is not schema-translated: name a workshop world's schema itself.
            name = f'"{schema}".{table.name}' if schema else table.name
            for column in table.columns:
                kind = column.type.compile(engine.dialect)
                if column.name not in present:
                    connection.execute(text(f"ALTER TABLE {name} ADD COLUMN {column.name} {kind}"))
                elif _widened(present[column.name], column.type) and engine.dialect.name == "postgresql":
                    # A longer string than before (SQLite enforces no length).
                    connection.execute(text(f"ALTER TABLE {name} ALTER COLUMN {column.name} TYPE {kind}"))
            for index in table.indexes:
                index.create(connection, checkfirst=True)


def _widened(stored, wanted) -> bool:
    """Whether a string column is now longer than the database's."""
    old, new = getattr(stored, "length", None), getattr(wanted, "length", None)
    return old is not None and new is not None and new > old


def _hash_stored_tokens(connection, table) -> None:
    """Files from before tokens were stored as hashes kept every token string: rebuild the table
    with the hashes, so those tokens keep working and the strings are gone."""
    old = connection.execute(text("SELECT * FROM tokens")).mappings().all()
    connection.execute(text("DROP TABLE tokens"))
    table.create(connection)
    wanted = {column.name for column in table.columns}
    for row in old:
        values = {k: v for k, v in row.items() if k in wanted}
        values["access_token_hash"] = credential_hash(row["access_token"])
        values["refresh_token_hash"] = credential_hash(row["refresh_token"]) if row["refresh_token"] else None
        connection.execute(table.insert().values(**values))


def credential_hash(value: str) -> str:
    """What the database keeps of a token: its SHA-256 (RFC 6819 §5.1.4.1.3: store hashes of
    credentials, not the credentials). Tokens are random and long, so no salt is needed."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def sqlite_pragmas(dbapi_connection, _record=None, cache_kib: int = 2000):
    """Every SQLite connection's settings (an engine's connect event, and each class world's)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers don't block the writer, across processes
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash of the process loses nothing
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA cache_size=-{cache_kib}")  # at most so many KiB of pages per connection
    cursor.close()
