"""06 · Expiry and refresh."""
from __future__ import annotations

from ..checks import Exercise
from .support import access_token_of, status, still_works


def _rotated(new, previous):
    access_token = access_token_of(new)
    if status("list_customers", access_token) != 200:
        return "the API refuses the new access token"
    if new.get("refresh_token") in (None, previous):
        return "with rotation, a refresh returns a new refresh token"
    if still_works(previous):
        return "the previous refresh token is still active: did you refresh with it?"
    return None


rotated = Exercise(
    "06 · refresh", _rotated,
    hint="app.refresh_token(lab.endpoint('token'), auth=app_auth)",
    solution="solutions/06_refresh.py", context=("previous_refresh_token",),
    success="the new token works and the old refresh token is spent.")
