"""The per-server state every module reads: one object per app, so two servers can run side by side.

A workshop serves many learners from one app: its tenant layer hands each request the learner's
own state (``serving(state)``), chosen once, before Flask sees the request; every module reads
whichever state the request was handed through ``current()``.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:
    from .clock import Clock
    from .ids import Ids
    from .keys import SigningKeys
    from .settings import Settings
    from .storage import Storage
    from .transcript import Transcript

_serving: ContextVar["ServerState | None"] = ContextVar("mock_server_state", default=None)


@dataclass
class ServerState:
    settings: "Settings"
    clock: "Clock"
    ids: "Ids"
    storage: "Storage"
    keys: "SigningKeys"
    transcript: "Transcript"
    world: Any  # the agent API's data: ``state.world.perform(action)`` runs action(agent_api.World)
    authorization_server: Any = None  # Authlib's AuthorizationServer, set up by the app factory
    registration: Any = None  # the RFC 7591 endpoint
    resource_protector: Any = None  # RFC 6750 bearer-token checks
    learning_token: str | None = None  # one-time token for learning the public URL (public_url.py)
    # Who may use the admin routes: a function of the request that answers a refusal (a response)
    # or None. Default: the owner, on this machine (admin.py); a workshop: the learner's key.
    admin_access: Any = None
    owner_key: str = ""  # what the owner's processes send to the admin routes (owner.py)
    run: str = ""  # this start of the world; a new one each time it starts over (admin.py)
    started_by: str = "a notebook kernel"  # said to a notebook that joins the server later
    purger: Any = None  # retention.Purger: expired rows go, at most once a minute
    clients: Any = None  # clients.ClientCache: the apps, by client_id, for a few seconds
    # Redirect URIs registered for the demo apps that the server did not choose (a workshop
    # learner named them when joining): never trusted with an error response (clients.is_trusted).
    untrusted_redirect_uris: tuple = ()

    @property
    def db(self):
        """The request's database session."""
        return self.storage.session


def current() -> ServerState:
    """The state of the world this request (or this block of ``serving``) works in: a tenant's,
    or the app's own."""
    return _serving.get() or current_app.extensions["mock_server"]


@contextmanager
def serving(state: ServerState):
    """Work in `state`'s world for the duration of the block (a workshop's request, or setting
    up a new tenant)."""
    token = _serving.set(state)
    try:
        yield state
    finally:
        _serving.reset(token)
