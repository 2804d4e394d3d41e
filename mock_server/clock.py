"""The virtual clock: every issued timestamp and every expiry check reads it.

A learner fast-forwards it to watch a code, a token or a device code expire; in deterministic mode
it starts frozen at a fixed instant so two runs print the same timestamps.

Authlib reads ``time.time()`` itself in a few places (RFC 9068 access tokens, OIDC ID-token claims,
RFC 7591 ``client_id_issued_at``). ``route_authlib_through_clock`` points those modules' ``time``
at the clock of the server state handling the request, so several servers in one process (and
each learner of a workshop) keep their own time.
"""
from __future__ import annotations

import datetime as dt
import threading
import time

# 2026-01-05 09:00:00 UTC, a Monday morning at Fernhollow Footwear: where deterministic runs start.
DETERMINISTIC_START = 1767603600
# How far ahead of real time the clock may run: every date it gives — an expiry a month later
# included — must stay one that Python and the databases can write (they end with the year 9999).
MOST_AHEAD_YEARS = 1000
MOST_AHEAD = MOST_AHEAD_YEARS * 365 * 24 * 3600


def check_ahead(ahead: float) -> None:
    """Refuse a fast-forward that would take the clock `ahead` seconds past real time, too far."""
    if ahead > MOST_AHEAD:
        raise ValueError(f"The clock runs at most {MOST_AHEAD_YEARS:,} years ahead of real time; this "
                         f"would take it {ahead / (365 * 24 * 3600):,.0f} years ahead.")


class Clock:
    def __init__(self, frozen_at: float | None = None):
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at = frozen_at

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def now(self) -> float:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return time.time() + self._offset

    def timestamp(self) -> int:
        """Whole seconds, as JWT `iat`/`exp` and RFC 7662 use them."""
        return int(self.now())

    def advance(self, seconds: float) -> float:
        """Fast-forward (never backwards: expiry must not be undone), at most MOST_AHEAD."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            now = self._frozen_at if self._frozen_at is not None else time.time() + self._offset
            check_ahead(now + seconds - time.time())
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds
        return self.now()

    def freeze(self, at: float | None = None) -> None:
        now = self.now()
        with self._lock:
            self._frozen_at = now if at is None else at

    def unfreeze(self) -> None:
        """Let time run again from the current virtual instant."""
        now = self.now()
        with self._lock:
            self._frozen_at = None
            self._offset = now - time.time()

    def isoformat(self) -> str:
        return dt.datetime.fromtimestamp(self.timestamp(), dt.timezone.utc).isoformat()

    def state(self) -> dict:
        return {"now": self.timestamp(), "iso": self.isoformat(), "frozen": self.frozen}


class _AppClockTime:
    """A stand-in for the ``time`` module inside Authlib: ``time()`` reads the app's clock."""

    def time(self) -> float:
        from flask import current_app, has_app_context

        from .state import current

        if has_app_context() and "mock_server" in current_app.extensions:
            return current().clock.now()
        return time.time()


def route_authlib_through_clock() -> None:
    from authlib.oauth2.rfc7591 import endpoint as rfc7591_endpoint
    from authlib.oauth2.rfc9068 import token as rfc9068_token
    from authlib.oidc.core.grants import _legacy as oidc_legacy
    from authlib.oidc.core.grants import util as oidc_util

    for module in (rfc9068_token, oidc_util, oidc_legacy, rfc7591_endpoint):
        module.time = _AppClockTime()
