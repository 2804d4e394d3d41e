"""The per-server state every module reads: one object per app, so two servers can run side by side.

A workshop serves many learners from one app: its tenant layer hands each request the learner's
own state in the WSGI environ (``STATE_KEY``), chosen once, before Flask sees the request; every
module reads whichever state the request was handed through ``current()``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app, has_request_context, request

if TYPE_CHECKING:
    from .agent_api import World
    from .clock import Clock
    from .ids import Ids
    from .keys import SigningKeys
    from .settings import Settings
    from .storage import Storage
    from .transcript import Transcript

STATE_KEY = "mock_server.state"  # the environ key a tenant layer puts a request's state under


@dataclass
class ServerState:
    settings: "Settings"
    clock: "Clock"
    ids: "Ids"
    storage: "Storage"
    keys: "SigningKeys"
    transcript: "Transcript"
    world: "World"
    authorization_server: Any = None  # Authlib's AuthorizationServer, set up by the app factory
    registration: Any = None  # the RFC 7591 endpoint
    resource_protector: Any = None  # RFC 6750 bearer-token checks
    learning_token: str | None = None  # one-time token for learning the public URL (admin.py)
    # Who may use the admin routes: a function of the request that answers a refusal (a response)
    # or None. Default: callers on this machine (admin.py); a workshop: the learner's key.
    admin_access: Any = None
    purger: Any = None  # retention.Purger: expired rows go, at most once a minute

    @property
    def db(self):
        """The request's database session."""
        return self.storage.session


def current() -> ServerState:
    if has_request_context() and STATE_KEY in request.environ:
        return request.environ[STATE_KEY]
    return current_app.extensions["mock_server"]
