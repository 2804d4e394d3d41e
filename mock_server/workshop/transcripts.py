"""A learner's transcript in the class database: every worker appends to it, any worker reads it,
and the instructor's dashboard reads everyone's.

The same interface as the single-learner transcript (``mock_server.transcript.Transcript``), so
``flow()`` and the admin routes work unchanged. A message's number is its row id: increasing
within each learner's transcript, not consecutive. Each learner keeps their last ``WINDOW``
messages, none older than ``MAX_AGE``.
"""
from __future__ import annotations

import json
import time

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from ..transcript import WINDOW, Message, Transcript
from .models import Milestone, TranscriptEntry
from .progress import error_of, milestone_of

MAX_AGE = 24 * 3600  # seconds of real time
INSERT_ENTRY = insert(TranscriptEntry.__table__)
TRIM_EVERY = 200  # appends (per learner and process) between two trims


class DatabaseTranscript(Transcript):
    def __init__(self, classroom, tenant_id: str, window: int | None = None):
        self._classroom, self._tenant, self._window = classroom, tenant_id, window or WINDOW
        self._appended = 0
        self._reached: set[str] = set()  # milestones this process knows are recorded

    @property
    def _db(self):
        return self._classroom.session

    def append(self, **fields) -> Message:
        recorded_at = time.time()
        inserted = self._db.connection().execute(INSERT_ENTRY, dict(
            tenant=self._tenant, recorded_at=recorded_at, time=fields["time"],
            channel=fields["channel"], method=fields["method"], path=fields["path"],
            request_headers=json.dumps(fields["request_headers"]), request_body=fields["request_body"],
            status=fields["status"], response_headers=json.dumps(fields["response_headers"]),
            response_body=fields["response_body"], keys=_delimited(fields["keys"]),
            error=error_of(**fields)))
        if (milestone := milestone_of(**fields)) and milestone not in self._reached:
            self._db.execute(_insert_ignoring_duplicates(self._db).values(
                tenant=self._tenant, phase=milestone, reached_at=recorded_at))
            self._reached.add(milestone)
        self._db.commit()
        self._appended += 1
        if self._appended % TRIM_EVERY == 0:
            self._trim()
        return Message(seq=inserted.inserted_primary_key[0], **fields)

    def messages(self, since: int = 0, key: str | None = None) -> list[Message]:
        query = select(TranscriptEntry).where(TranscriptEntry.tenant == self._tenant,
                                              TranscriptEntry.id > since)
        if key is not None:
            query = query.where(TranscriptEntry.keys.contains(f" {key} ", autoescape=True))
        return [_message(row) for row in self._db.scalars(query.order_by(TranscriptEntry.id))]

    def last_seq(self) -> int:
        return self._db.scalar(select(func.max(TranscriptEntry.id))
                               .where(TranscriptEntry.tenant == self._tenant)) or 0

    def clear(self) -> None:
        self._db.execute(delete(TranscriptEntry).where(TranscriptEntry.tenant == self._tenant))
        self._db.commit()

    def _trim(self) -> None:
        """Drop what is past the window or older than MAX_AGE."""
        oldest_kept = self._db.scalar(
            select(TranscriptEntry.id).where(TranscriptEntry.tenant == self._tenant)
            .order_by(TranscriptEntry.id.desc()).offset(self._window - 1).limit(1))
        expired = TranscriptEntry.recorded_at < time.time() - MAX_AGE
        self._db.execute(delete(TranscriptEntry).where(
            TranscriptEntry.tenant == self._tenant,
            or_(expired, TranscriptEntry.id < oldest_kept) if oldest_kept else expired))
        self._db.commit()


def _delimited(keys: list[str]) -> str:
    return f" {' '.join(keys)} "


def _insert_ignoring_duplicates(db):
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(Milestone).on_conflict_do_nothing()


def _message(row: TranscriptEntry) -> Message:
    return Message(seq=row.id, time=row.time, channel=row.channel, method=row.method,
                   path=row.path, request_headers=json.loads(row.request_headers),
                   request_body=row.request_body, status=row.status,
                   response_headers=json.loads(row.response_headers),
                   response_body=row.response_body, keys=row.keys.split())
