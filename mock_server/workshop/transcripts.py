"""A learner's transcript in the class database: every worker appends to it, any worker reads it,
and the instructor's dashboard reads everyone's.

The same interface as the single-learner transcript (``mock_server.transcript.Transcript``), so
``flow()`` and the admin routes work unchanged. A message's number is its row id: increasing
within each learner's transcript, not consecutive. Each learner keeps their last ``WINDOW``
messages, none older than ``MAX_AGE``, and no more than their disk budget (``--disk-per-learner``:
the newest messages that fit, with at most a quarter of it more between two trims): whatever a
learner sends, their share of the class database stays bounded, and so does the work of any one
request that reads their transcript.

Appending is one INSERT, committed as it runs, on the worker thread's own connection to the class
database (``Classroom.run``), before the response leaves. Trimming is bookkeeping: every
``BOOKKEEPING`` seconds for a learner this worker serves (or after a quarter of the budget, or
``TRIM_EVERY`` messages), it also notes when the learner was last seen and how much their
transcript keeps, for the dashboard.
"""
from __future__ import annotations

import json
import time

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..transcript import WINDOW, Message, Transcript
from .models import Milestone, Tenant, TranscriptEntry
from .progress import error_of, milestone_of

MAX_AGE = 24 * 3600  # seconds of real time
BOOKKEEPING = 30  # seconds
TRIM_EVERY = 200  # appends (per learner and process) between two trims at the most
_entry = TranscriptEntry.__table__.c
ENTRY_FIELDS = ("tenant", "recorded_at", "time", "channel", "method", "path", "request_headers",
                "request_body", "status", "response_headers", "response_body", "keys", "error", "size")
INSERT_ENTRY = insert(TranscriptEntry).values({name: bindparam(name) for name in ENTRY_FIELDS})
REACHED = {dialect: dialect.insert(Milestone).values(tenant=bindparam("tenant"), phase=bindparam("phase"),
                                                    reached_at=bindparam("reached_at")).on_conflict_do_nothing()
           for dialect in (postgresql, sqlite)}
MESSAGE_COLUMNS = (_entry.id, _entry.time, _entry.channel, _entry.method, _entry.path, _entry.request_headers,
                   _entry.request_body, _entry.status, _entry.response_headers, _entry.response_body, _entry["keys"])


class DatabaseTranscript(Transcript):
    def __init__(self, classroom, tenant_id: str, window: int | None = None, joined: bool = False):
        """`joined`: the learner has just joined, and the join noted them as seen
        (Classroom.create_tenant): the first bookkeeping can wait."""
        self._classroom, self._tenant = classroom, tenant_id
        self._window, self._budget = window or WINDOW, classroom.config.disk_per_learner
        self._appended = self._appended_size = 0  # since this process last trimmed
        self._next_bookkeeping = time.time() + BOOKKEEPING if joined else 0.0
        self._reached: set[str] = set()  # milestones this process knows are recorded

    def append(self, **fields) -> Message:
        message = Message(seq=0, **fields)
        recorded_at, room = time.time(), self._classroom
        message.seq = room.insert(INSERT_ENTRY, dict(
            tenant=self._tenant, recorded_at=recorded_at, time=message.time, channel=message.channel,
            method=message.method, path=message.path, request_headers=json.dumps(message.request_headers),
            request_body=message.request_body, status=message.status,
            response_headers=json.dumps(message.response_headers), response_body=message.response_body,
            keys=_delimited(message.keys), error=error_of(**fields), size=message.size))
        if (milestone := milestone_of(**fields)) and milestone not in self._reached:
            room.run(REACHED[postgresql if room.engine.dialect.name == "postgresql" else sqlite],
                     dict(tenant=self._tenant, phase=milestone, reached_at=recorded_at))
            self._reached.add(milestone)
        self._appended += 1
        self._appended_size += message.size
        if (recorded_at >= self._next_bookkeeping or self._appended >= TRIM_EVERY
                or self._appended_size >= self._budget // 4):
            self._keep_books(recorded_at)
        return message

    def messages(self, since: int = 0, key: str | None = None) -> list[Message]:
        query = select(*MESSAGE_COLUMNS).where(_entry.tenant == self._tenant, _entry.id > since)
        if key is not None:
            query = query.where(_entry["keys"].contains(f" {key} ", autoescape=True))
        return [_message(row) for row in self._classroom.session.execute(query.order_by(_entry.id))]

    def last_seq(self) -> int:
        return self._classroom.session.scalar(
            select(func.max(_entry.id)).where(_entry.tenant == self._tenant)) or 0

    def clear(self) -> None:
        db = self._classroom.session
        db.execute(delete(TranscriptEntry).where(_entry.tenant == self._tenant))
        db.commit()

    def _keep_books(self, now: float) -> None:
        """Note what the learner's transcript keeps and when they were last seen. Past the window or
        the budget, drop the oldest messages down to three quarters of either (the newest message
        always stays), so that a learner at their budget is trimmed once per quarter of it, not
        at every message; past MAX_AGE, drop those too. Sizes are read from the index alone."""
        db, mine = self._classroom.session, _entry.tenant == self._tenant
        kept, count = db.execute(select(func.coalesce(func.sum(_entry.size), 0), func.count()).where(mine)).one()
        dropped = None
        if kept > self._budget or count > self._window:
            newest, count = 0, 0
            for message_id, size in db.execute(select(_entry.id, _entry.size).where(mine).order_by(_entry.id.desc())):
                newest, count = newest + (size or 0), count + 1
                if count > 1 and (4 * newest > 3 * self._budget or 4 * count > 3 * self._window):
                    dropped = _entry.id <= message_id
                    break
        oldest = db.scalar(select(_entry.recorded_at).where(mine).order_by(_entry.id).limit(1))
        if oldest is not None and oldest < now - MAX_AGE:
            expired = _entry.recorded_at < now - MAX_AGE
            dropped = expired if dropped is None else or_(dropped, expired)
        if dropped is not None:
            db.execute(delete(TranscriptEntry).where(mine, dropped))
            kept = db.scalar(select(func.coalesce(func.sum(_entry.size), 0)).where(mine))
        db.execute(update(Tenant).where(Tenant.id == self._tenant).values(last_seen=now, transcript_bytes=kept))
        db.commit()
        self._appended = self._appended_size = 0
        self._next_bookkeeping = now + BOOKKEEPING


def _delimited(keys: list[str]) -> str:
    return f" {' '.join(keys)} "


def _message(row) -> Message:
    return Message(seq=row.id, time=row.time, channel=row.channel, method=row.method,
                   path=row.path, request_headers=json.loads(row.request_headers),
                   request_body=row.request_body, status=row.status,
                   response_headers=json.loads(row.response_headers),
                   response_body=row.response_body, keys=row.keys.split())
