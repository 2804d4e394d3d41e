"""An impostor API for notebook 16: a site of its own (the app's port + 5) whose every answer is a
401 challenge pointing at *another* API's metadata — the agent API's. A client that believed it
would ask Fernhollow Accounts for a token for the agent API, then send that token here (RFC 9728
§7.3, §7.4). The check of RFC 9728 §3.3 stops it: the metadata describes another resource than
the URL the client called.
"""
from __future__ import annotations

import json

from .loopback_site import Site, SiteHandler

OFFSET = 5  # from the app's port: an origin of its own (the other lab sites take +2, +3, +4, +6)


class ImpostorHandler(SiteHandler):
    def page(self, path: str) -> None:
        challenge = f'Bearer resource_metadata="{self.server.config["points_at"]}"'
        self.answer(401, "application/json", json.dumps({"error": "invalid_token"}),
                    {"WWW-Authenticate": challenge})


class ImpostorAPI(Site):
    """``api``: the impostor's "API"; its challenge names `points_at`, another API's metadata."""

    handler = ImpostorHandler

    def __init__(self, lab, points_at: str):
        super().__init__(lab.app.port + OFFSET)
        self.configure(points_at=points_at)
        self.api = f"{self.url}/v3.5/agent"

    def __repr__(self):
        return f"<an impostor API at {self.api}, pointing at {self.configuration()['points_at']}>"
