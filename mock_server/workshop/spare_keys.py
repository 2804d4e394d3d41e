"""Signing keys made ahead of the class: a join takes one instead of waiting for one.

Every learner's world signs with an RSA key of its own (2048 bits, RS256: what RFC 9068 and OpenID
Connect require every party to support). Making one is a search for two large primes, about 70 ms
of a core that nothing can shorten or seed. A class joins in a burst: thirty learners in the same
second would each wait behind the others' keys (measured: p99 of a join 3.4 s at 32 joins at once).

So the class server makes them before the class arrives: a process of its own, at the lowest CPU
priority (nice 19: beside a busy worker it gets about 1.5 % of the core), keeps a table of spare
keys in the class database topped up to the seats still free (at most ``--spare-keys``). Every
worker, on every machine of a PostgreSQL class, takes from it; a key is deleted as it is taken,
so no two learners ever share one. With none left, a join makes its own key, as it always did:
slower, never refused.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from joserfc.jwk import RSAKey
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import DBAPIError

from ..keys import own_key
from ..storage import make_engine
from .models import SpareKey, Tenant

IDLE = 2.0  # seconds between looks at the table once it is full


def take(connection) -> RSAKey | None:
    """One spare key, removed from the table in the same statement (two workers never get the same
    one: on PostgreSQL the row is locked and skipped by the other), or None when there is none."""
    first = select(SpareKey.id).order_by(SpareKey.id).limit(1).with_for_update(skip_locked=True).scalar_subquery()
    jwk = connection.scalar(delete(SpareKey).where(SpareKey.id == first).returning(SpareKey.private_jwk))
    return own_key(json.loads(jwk)) if jwk else None


def missing(connection, most: int, max_learners: int) -> int:
    """How many more keys the table should hold: one per seat still free, at most `most`."""
    spare = connection.scalar(select(func.count()).select_from(SpareKey))
    free = max_learners - connection.scalar(select(func.count()).select_from(Tenant))
    return min(most, free) - spare


def make(db: str, most: int, max_learners: int, server: int) -> None:
    """The key maker's loop: top the table up, then look again every IDLE seconds; it ends when
    the server that started it (process `server`, its parent) does. A database that fails
    (restarting, or busy past SQLite's timeout) is tried again IDLE seconds later: the maker
    outlives it, as the workers do."""
    engine = make_engine(db)
    while os.getppid() == server:
        try:
            if not make_one(engine, most, max_learners):
                time.sleep(IDLE)
        except DBAPIError as error:
            print(f"spare keys: the database failed ({type(error.orig).__name__}); trying again",
                  file=sys.stderr, flush=True)
            time.sleep(IDLE)


def make_one(engine, most: int, max_learners: int) -> bool:
    """One key more for the table, if it wants one; whether it did."""
    with engine.connect() as connection:
        if missing(connection, most, max_learners) <= 0:
            return False
    key = RSAKey.generate_key(2048, private=True)
    with engine.begin() as connection:
        connection.execute(insert(SpareKey).values(private_jwk=json.dumps(key.as_dict(private=True))))
    return True


def start_maker(config) -> subprocess.Popen | None:
    """The key maker, a process beside the server's workers, in their process group (None when
    the class wants no spare keys). It reads the class's configuration where the workers do (the
    environment: a PostgreSQL password stays out of the process list)."""
    if config.spare_keys <= 0:
        return None
    # The server's pid, as it knows it: a server that died while the maker was starting must
    # not leave it to take its new parent (init) for the server.
    return subprocess.Popen([sys.executable, "-m", __name__, str(os.getpid())], preexec_fn=lambda: os.nice(19))


if __name__ == "__main__":
    from .serve import config_from_environment

    # Ctrl-C in the server's terminal reaches this process too: the server's ending ends it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = config_from_environment()
    make(config.db, config.spare_keys, config.max_learners, server=int(sys.argv[1]))
