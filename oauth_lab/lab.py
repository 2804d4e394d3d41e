"""The one setup call at the top of every notebook: find or start the server, deterministic mode.

    from oauth_lab import setup
    lab = setup()

``lab`` knows the server's URLs (from its metadata, as a real client would), its virtual clock and
its transcript — over HTTP, so it works the same whether this kernel started the server or found
one already running (``make server``, Binder's background server, another notebook).
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass

import requests

from .server_link import RemoteClock, RemoteTranscript

DEFAULT_PORT = 5001  # binder/start and the proxy entry read MOCK_SERVER_PORT with the same default
_current: "Lab | None" = None


@dataclass
class Lab:
    url: str  # back channel: what this kernel's HTTP calls use
    metadata: dict
    clock: RemoteClock
    transcript: RemoteTranscript
    handle: object = None  # the in-process server, when this kernel started it

    @property
    def issuer(self) -> str:
        return self.metadata["issuer"]

    def endpoint(self, name: str) -> str:
        """A back-channel URL for a metadata endpoint, e.g. ``lab.endpoint("token")``."""
        return self.metadata[f"{name}_endpoint"].replace(self.issuer, self.url, 1)

    @property
    def callback(self) -> str:
        """The redirect URI registered for the demo apps (a page on the server that shows what
        the app received)."""
        return f"{self.issuer}/callback"

    def api(self, action: str) -> str:
        return f"{self.url}/v3.5/agent/action/{action}"

    def __repr__(self):
        mode = "started here" if self.handle else "found running"
        return f"Lab(server {self.issuer}, {mode}, virtual time {self.clock.isoformat()})"


def setup(seed: int | None = 1, port: int | None = None, **switches) -> Lab:
    """Find the server on `port`, or start one in this kernel (deterministic with `seed`)."""
    port = port or int(os.environ.get("MOCK_SERVER_PORT", DEFAULT_PORT))
    # requests-oauthlib refuses plain http unless told: fine on loopback, never anywhere else.
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    if seed is not None:
        seed_client_randomness(seed)
    url = f"http://127.0.0.1:{port}"
    handle = None
    if not _answers(url):
        import mock_server

        handle = mock_server.start(port=port, seed=seed, **switches)
    metadata = requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=5).json()
    global _current
    _current = Lab(url, metadata, RemoteClock(url), RemoteTranscript(url), handle)
    return _current


def current_lab() -> Lab:
    """The lab of this kernel's last ``setup()`` (exercise checks talk to the same server)."""
    if _current is None:
        raise RuntimeError("Run the setup cell first: lab = setup()")
    return _current


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=2).ok
    except requests.ConnectionError:
        return False


def seed_client_randomness(seed: int) -> None:
    """Make the client library's random values (`state`, PKCE `code_verifier`) reproducible.

    oauthlib draws them from ``SystemRandom``, as it must. For notebook outputs that are identical
    on every run, deterministic mode swaps in a seeded generator — a teaching trick: never do this
    in an application.
    """
    import oauthlib.common

    seeded = random.Random(seed)
    oauthlib.common.SystemRandom = lambda: seeded
