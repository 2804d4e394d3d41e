"""A standards-true, LiveChat-shaped OAuth 2.0 authorization and resource server for learning.

    import mock_server
    server = mock_server.start(seed=1)      # background thread; a handle with url, clock, transcript
    server.clock.advance(3600)              # fast-forward the virtual clock
    server.transcript.flow(state="xyz")     # every message of one flow
"""
from .app import create_app
from .runner import ServerHandle, free_port, start
from .settings import Lifetimes, Settings, Switches

__all__ = ["create_app", "start", "free_port", "ServerHandle", "Settings", "Switches", "Lifetimes"]
