"""The class: its database, shared by every worker process (and every machine, on PostgreSQL),
and this process's cache of the learners' worlds.

A learner's world is a complete server state (``mock_server.state.ServerState``) of its own: its
own tables (a SQLite file beside the class's, or a PostgreSQL schema), demo users and apps,
signing key, ids, transcript and virtual clock. What two workers must agree on lives in the
database: the tenants, each learner's clock offset, transcript and milestones, and everything in
the world's own tables (sessions, codes, tokens, device codes, login failures).
"""
from __future__ import annotations

import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from flask import request
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import scoped_session, sessionmaker

from ..app import populate
from ..clients import ClientCache, demo_apps, ensure_demo_apps
from ..clock import Clock
from ..errors import json_error
from ..ids import Ids
from ..keys import SigningKeys
from ..retention import Purger
from ..state import ServerState, serving
from ..models import (AuthorizationCode, BrowserSession, Client, DeviceCredential, LoginFailure,
                      Token)
from ..storage import Storage, credential_hash
from .agent_data import StoredWorld
from .models import ClassBase, Tenant
from .transcripts import DatabaseTranscript

_tenants = Tenant.__table__
TENANT_STATE = select(_tenants.c.clock_offset, _tenants.c.generation).where(_tenants.c.id == bindparam("tenant"))
TENANT_ID = re.compile(r"[0-9a-f]{12}")  # secrets.token_hex(6): no path or SQL can hide in it


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

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


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
        ClassBase.metadata.create_all(self.engine)
        self.session = scoped_session(sessionmaker(bind=self.engine, expire_on_commit=False))
        self._worlds: dict[str, ServerState] = {}
        self._generations: dict[str, int] = {}  # the reset generation each world's caches are of
        self._lock = threading.Lock()

    # --- tenants ---------------------------------------------------------------------------------

    def create_tenant(self, name: str, app_redirect_uris: tuple[str, ...]) -> tuple[str, str]:
        """A new learner's world, complete before anyone can see it; returns (id, learner key)."""
        tenant_id, learner_key = secrets.token_hex(6), secrets.token_urlsafe(32)
        row = Tenant(id=tenant_id, name=name, learner_key_hash=credential_hash(learner_key),
                     app_redirect_uris=json.dumps(list(app_redirect_uris)), clock_offset=0.0,
                     generation=0, created_at=time.time())
        world = self._build(row, new=True)
        self.session.add(row)
        self.session.commit()
        with self._lock:
            self._worlds[tenant_id] = world
        return tenant_id, learner_key

    def world(self, tenant_id: str) -> ServerState | None:
        """The learner's world in this process (built on first use), or None for no such tenant."""
        if not TENANT_ID.fullmatch(tenant_id):
            return None
        if (world := self._worlds.get(tenant_id)) is not None:
            return world
        with self._lock:
            if tenant_id not in self._worlds:
                row = self.session.get(Tenant, tenant_id)
                if row is None:
                    return None
                self._worlds[tenant_id] = self._build(row, new=False)
            return self._worlds[tenant_id]

    def tenants(self) -> list[Tenant]:
        return self.session.scalars(select(Tenant).order_by(Tenant.created_at)).all()

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
        return True

    def _build(self, row: Tenant, new: bool) -> ServerState:
        template = self.template
        settings = template.settings.replace(
            public_url=self.issuer_of(row.id), open_registration=True,
            app_redirect_uris=tuple(json.loads(row.app_redirect_uris)))
        clock = TenantClock(self, row.id, row.clock_offset)
        world = ServerState(
            settings=settings, clock=clock, ids=Ids(None), storage=self._storage(row.id),
            keys=None, transcript=DatabaseTranscript(self, row.id), world=StoredWorld(self, row.id),
            authorization_server=template.authorization_server, registration=template.registration,
            resource_protector=template.resource_protector,
            admin_access=learner_key_check(row.learner_key_hash), purger=Purger(),
            clients=ClientCache())
        with serving(world):
            if new:
                populate(world)
                world.world.start_over()
            else:  # complete already: only load its keys
                world.keys = SigningKeys(world.storage, clock, deterministic=False)
        return world

    def _storage(self, tenant_id: str) -> Storage:
        if self.engine.dialect.name == "postgresql":
            return Storage(engine=self.engine, schema=f"tenant_{tenant_id}")
        folder = Path(make_url(str(self.engine.url)).database + ".tenants")
        folder.mkdir(exist_ok=True)
        return Storage(str(folder / f"{tenant_id}.sqlite3"))

    # --- clocks ------------------------------------------------------------------------------------

    def sync(self, tenant_id: str, world: ServerState) -> None:
        """Before each of the learner's requests: their clock, and — after a reset in any process
        — this process's copies of their apps dropped. One prepared query."""
        offset, generation = self.session.connection().execute(TENANT_STATE, {"tenant": tenant_id}).one()
        world.clock.follow(offset)
        if self._generations.setdefault(tenant_id, generation) != generation:
            self._generations[tenant_id] = generation
            world.clients.clear()

    def clock_offset(self, tenant_id: str) -> float:
        return self.session.connection().execute(TENANT_STATE, {"tenant": tenant_id}).one()[0]

    def advance_clock(self, tenant_id: str, seconds: float) -> float:
        """One UPDATE, so two workers advancing at once add up; returns the new offset."""
        self.session.execute(update(Tenant).where(Tenant.id == tenant_id)
                             .values(clock_offset=Tenant.clock_offset + seconds))
        self.session.commit()
        return self.clock_offset(tenant_id)


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
