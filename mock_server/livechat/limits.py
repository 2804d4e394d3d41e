"""LiveChat's documented limits ("Token limitations"), per app and user account:

- at most 25 access tokens and 25 refresh tokens; past that, the oldest is revoked;
- at most 3 redirects to the authorization server in 30 seconds; past that, its error page says
  ``too_many_redirects``.
"""
from __future__ import annotations

import threading
from collections import defaultdict, deque

from ..models import Token
from ..state import current

MAX_TOKENS = 25
MAX_REDIRECTS, REDIRECT_WINDOW = 3, 30  # seconds, on the virtual clock
MOST_PAIRS = 1024  # (app, user) pairs remembered at once: a class's worth, not a flood's


def keep_newest_tokens(client_id: str, user_id: str | None) -> None:
    """Revoke the oldest live access and refresh tokens beyond the 25 newest of each kind."""
    state = current()
    rows = state.db.query(Token).filter_by(client_id=client_id, user_id=user_id).order_by(Token.id).all()
    now = state.clock.timestamp()
    for token in [t for t in rows if t.is_active()][:-MAX_TOKENS]:
        token.access_revoked_at = now
    for token in [t for t in rows if t.is_refresh_active()][:-MAX_TOKENS]:
        token.refresh_revoked_at = now
    state.db.commit()


class RedirectLimit:
    """Authorization requests seen per (app, user) in the last 30 s. Kept in this process (a
    counter, not a credential): a server restart forgets it, as a short window may. Only what is
    inside the window is kept, and at most MOST_PAIRS pairs (the least recently seen go first):
    any string can come as a client id, and a counter that never forgot one would grow with every
    request a page sends."""

    def __init__(self):
        self._seen: dict[tuple[str, str], deque] = defaultdict(deque)
        self._lock = threading.Lock()
        self._next_sweep = 0

    def allows(self, client_id: str, user_id: str, now: int) -> bool:
        """Count this request; False once more than 3 arrived within the window."""
        with self._lock:
            if now >= self._next_sweep or len(self._seen) >= MOST_PAIRS:
                self._forget(now)
            seen = self._seen[(client_id, user_id)]
            while seen and seen[0] <= now - REDIRECT_WINDOW:
                seen.popleft()
            seen.append(now)
            return len(seen) <= MAX_REDIRECTS

    def _forget(self, now: int) -> None:
        """Forget every pair past the window, and keep at most half of MOST_PAIRS: the most
        recently seen."""
        recent = sorted(((seen[-1], pair) for pair, seen in self._seen.items()
                         if seen[-1] > now - REDIRECT_WINDOW), key=lambda item: item[0])
        self._seen = defaultdict(deque, {pair: self._seen[pair] for _, pair in recent[-MOST_PAIRS // 2:]})
        self._next_sweep = now + REDIRECT_WINDOW

    def __len__(self) -> int:
        """How many (app, user) pairs it remembers."""
        return len(self._seen)
