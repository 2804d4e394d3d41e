"""The per-server state every module reads: one object per app, so two servers can run side by side."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:
    from .agent_api import World
    from .clock import Clock
    from .ids import Ids
    from .keys import SigningKeys
    from .settings import Settings
    from .storage import Storage
    from .transcript import Transcript


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

    @property
    def db(self):
        """The request's database session."""
        return self.storage.session


def current() -> ServerState:
    return current_app.extensions["mock_server"]
