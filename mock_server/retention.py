"""Retention: what the server keeps, and for how long, so its size stays flat under any load.

Expired rows are purged (at most once a minute per world, after a request) once they have been
expired for ``GRACE`` on the virtual clock, so a learner who fast-forwards still reads "expired at
…" rather than "not one this server issued": codes and device codes — a code only once the tokens
it bought can no longer live, so its reuse still revokes them (RFC 6749 §4.1.2) — tokens whose
access and refresh tokens have both expired (a rotated refresh token is kept until then: its reuse
must still be recognised), pushed authorization requests (RFC 9126), and login failures older
than the rate-limit window. DPoP proofs seen and nonces handed out (RFC 9449) go as soon as no
proof could use them any more: they say nothing a learner reads. The transcript
keeps its last messages only (``transcript.WINDOW``). Deterministic mode purges nothing: a
notebook's outputs must not depend on when a purge happened to run.
"""
from __future__ import annotations

import threading
import time

from sqlalchemy import delete, or_

from .dpop import NONCE_LIFETIME
from .models import AuthorizationCode, DeviceCredential, DPoPNonce, DPoPProof, LoginFailure, PushedRequest, Token
from .users import LOGIN_WINDOW

PURGE_EVERY = 60.0  # seconds of real time between two purges of one world
GRACE = 7 * 24 * 3600  # seconds of virtual time a row stays past its expiry


class Purger:
    def __init__(self, every: float = PURGE_EVERY):
        self._every = every
        self._next = time.monotonic() + every
        self._lock = threading.Lock()

    def maybe_purge(self, state) -> None:
        """Purge `state`'s world if it is time; one thread at a time, the others go on."""
        if state.settings.seed is not None or time.monotonic() < self._next:
            return
        if not self._lock.acquire(blocking=False):
            return
        try:
            self._next = time.monotonic() + self._every
            purge(state)
        finally:
            self._lock.release()


def purge(state) -> None:
    db, clock = state.storage.session, state.clock.timestamp()
    now = clock - GRACE
    refresh_life = state.settings.lifetimes.refresh_token
    db.execute(delete(AuthorizationCode).where(AuthorizationCode.expires_at + refresh_life < now))
    db.execute(delete(DeviceCredential).where(DeviceCredential.expires_at < now))
    db.execute(delete(PushedRequest).where(PushedRequest.expires_at < now))
    db.execute(delete(DPoPProof).where(DPoPProof.expires_at < clock))
    db.execute(delete(DPoPNonce).where(DPoPNonce.issued_at < clock - NONCE_LIFETIME))
    db.execute(delete(Token).where(
        Token.issued_at + Token.expires_in < now,
        or_(Token.refresh_expires_at.is_(None), Token.refresh_expires_at < now)))
    db.execute(delete(LoginFailure).where(LoginFailure.at < int(time.time()) - LOGIN_WINDOW))
    db.commit()
    db.close()
