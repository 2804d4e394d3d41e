"""Storage: apps, users, codes, tokens, device codes, signing keys and browser sessions in SQLite.

In memory by default (a fresh world every start); with ``--db PATH`` the same tables live in a
file and survive a restart. One storage layer serves both, as SQLAlchemy's ``sqlite://`` vs
``sqlite:///path``. Requests are served one at a time around the database (``lock``): a teaching
server values "never half-written" over throughput.
"""
from __future__ import annotations

import threading

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker
from sqlalchemy.pool import StaticPool


class Base(DeclarativeBase):
    pass


class Storage:
    def __init__(self, path: str | None = None):
        if path:
            engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
        else:
            # One shared connection, or every thread would see its own empty in-memory database.
            engine = create_engine(
                "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
        event.listen(engine, "connect", _sqlite_pragmas)
        self.engine = engine
        self.session = scoped_session(sessionmaker(bind=engine, expire_on_commit=False))
        self.lock = threading.RLock()
        from . import models  # noqa: F401  (registers the tables on Base)

        Base.metadata.create_all(engine)
        _add_new_columns(engine)

    def close(self) -> None:
        self.session.remove()
        self.engine.dispose()


def _add_new_columns(engine) -> None:
    """A --db file written by an earlier version lacks the (nullable) columns added since; add them,
    so the file keeps working. New tables are made by create_all."""
    inspector = inspect(engine)
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            present = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present:
                    kind = column.type.compile(engine.dialect)
                    connection.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers don't block the writer across restarts
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
