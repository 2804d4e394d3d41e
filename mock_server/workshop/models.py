"""The class database's own tables: the tenants, and every learner's transcript and progress.

Separate from a world's tables (``mock_server.models``): a tenant's world lives in its own SQLite
file or PostgreSQL schema; these rows are the class's, read by every worker and the dashboard.
"""
from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase


class ClassBase(DeclarativeBase):
    pass


class Tenant(ClassBase):
    """One learner's world: its id is the path segment of its issuer, ``<base>/t/<id>``."""

    __tablename__ = "workshop_tenants"
    id = Column(String(16), primary_key=True)
    name = Column(Text, nullable=False)
    learner_key_hash = Column(String(64), nullable=False)  # storage.credential_hash of the key
    app_redirect_uris = Column(Text, nullable=False)  # JSON list: the learner's app's callbacks
    clock_offset = Column(Float, nullable=False, default=0.0)  # seconds fast-forwarded
    generation = Column(Integer, nullable=False, default=0)  # +1 at each reset: caches are stale
    created_at = Column(Float, nullable=False)
    joined_from = Column(String(64))  # the client's address: joins are limited per address
    tables = Column(String(16))  # worlds.tables_version() its tables were made at
    # Noted at most every few seconds per worker (transcripts.BOOKKEEPING), for the dashboard:
    last_seen = Column(Float)
    transcript_bytes = Column(Integer)
    __table_args__ = (Index("workshop_tenants_by_address", "joined_from", "created_at"),)


class TranscriptEntry(ClassBase):
    """One message of a learner's transcript (mock_server.transcript.Message, as a row)."""

    __tablename__ = "workshop_transcript"
    id = Column(Integer, primary_key=True)  # the message's seq: increasing within each tenant
    tenant = Column(String(16), nullable=False)
    time = Column(Integer, nullable=False)  # the learner's virtual clock
    recorded_at = Column(Float, nullable=False)  # real time: the dashboard's "right now"
    channel = Column(String(5), nullable=False)
    method = Column(String(10), nullable=False)
    path = Column(Text, nullable=False)
    request_headers = Column(Text, nullable=False)  # JSON
    request_body = Column(Text, nullable=False)
    status = Column(Integer, nullable=False)
    response_headers = Column(Text, nullable=False)  # JSON
    response_body = Column(Text, nullable=False)
    keys = Column(Text, nullable=False)  # " key1 key2 ": space-delimited, for LIKE '% key %'
    error = Column(Text)  # "invalid_grant: This code was already used…" (progress.error_of)
    size = Column(Integer)  # characters kept in the texts: what counts against the disk budget
    # Few indexes: every one is written at every message. A learner's messages, and their sizes
    # (the disk budget's sum reads the index alone).
    __table_args__ = (Index("workshop_transcript_of_tenant", "tenant", "id", "size"),
                      # The dashboard's "errors right now": only the rows that carry one.
                      Index("workshop_transcript_recent_errors", "recorded_at",
                            sqlite_where=text("error IS NOT NULL"),
                            postgresql_where=text("error IS NOT NULL")))


class Milestone(ClassBase):
    """The first time a learner reached a phase of the course (progress.MILESTONES)."""

    __tablename__ = "workshop_milestones"
    id = Column(Integer, primary_key=True)
    tenant = Column(String(16), nullable=False)
    phase = Column(String(40), nullable=False)
    reached_at = Column(Float, nullable=False)
    __table_args__ = (UniqueConstraint("tenant", "phase"),)


class WrongSecret(ClassBase):
    """A wrong class code or instructor secret, kept a while to rate-limit guessing it."""

    __tablename__ = "workshop_wrong_secrets"
    id = Column(Integer, primary_key=True)
    kind = Column(String(20), nullable=False)  # "class code", "instructor secret"
    address = Column(String(64), nullable=False)
    at = Column(Float, nullable=False)
    __table_args__ = (Index("workshop_wrong_secrets_by_address", "kind", "address", "at"),)


class InstructorSession(ClassBase):
    """A signed-in dashboard: its cookie holds a random id, the row its hash, until it expires or
    the instructor signs out."""

    __tablename__ = "workshop_instructor_sessions"
    id_hash = Column(String(64), primary_key=True)  # storage.credential_hash of the cookie's id
    expires_at = Column(Float, nullable=False)


class AgentData(ClassBase):
    """A learner's agent API data (mock_server.agent_api.World) as JSON: agents, chats, webhooks."""

    __tablename__ = "workshop_agent_data"
    tenant = Column(String(16), primary_key=True)
    version = Column(Integer, nullable=False, default=0)  # +1 at every action: the row lock
    data = Column(Text, nullable=False)


class SpareKey(ClassBase):
    """A signing key made before anyone needed it (spare_keys.py); a join takes one, once."""

    __tablename__ = "workshop_spare_keys"
    id = Column(Integer, primary_key=True)
    private_jwk = Column(Text, nullable=False)  # as keys.SigningKeys stores a world's
