"""Starting the server: in-process on a background thread (notebooks, tests), or in the foreground.

``start()`` returns a handle (URL, transcript, clock, stop; a context manager). Calling it again
from a re-run notebook cell gives back the running server instead of failing on a busy port — and
if the settings changed, it restarts with the new ones.
"""
from __future__ import annotations

import atexit
import random
import socket
import threading

from werkzeug.serving import LISTEN_QUEUE, WSGIRequestHandler, make_server, select_address_family

from . import owner
from .app import create_app
from .settings import APP_REDIRECT_URI, Lifetimes, Settings, Switches

POLL_INTERVAL = 0.05  # seconds
# The Server header (RFC 9110 §10.2.4: a product token and a comment), the same from the in-process
# server and from `python -m mock_server`.
SERVER_SOFTWARE = "Fernhollow-Accounts (mock OAuth 2.0 server)"
_running: dict[tuple[str, int], "ServerHandle"] = {}
_lock = threading.Lock()


@atexit.register
def _remove_cards() -> None:
    """A kernel that exits (Restart, shutdown) takes its servers with it: their cards go too."""
    for handle in list(_running.values()):
        owner.remove_card(handle.url, handle.owner_key)


class _QuietHandler(WSGIRequestHandler):
    """No access log lines: in a notebook they would land in cell outputs (the transcript has it
    all). Names this server, not Werkzeug and the Python version, in the Server header."""

    def log_request(self, *args, **kwargs):
        pass

    def version_string(self) -> str:
        return SERVER_SOFTWARE


class PortTaken(RuntimeError):
    def __init__(self, port: int):
        super().__init__(f"Port {port} is taken by another program (another notebook's server?). "
                         f"Stop it, or start with port=<another number>.")


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound and listening. Werkzeug's own bind ends the process (sys.exit)
    when the port is taken — by a program that took it after start() found it free, say."""
    try:
        return socket.create_server((host, port), family=select_address_family(host, port), backlog=LISTEN_QUEUE)
    except OSError as error:
        raise PortTaken(port) from error


class ServerHandle:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.app = create_app(settings)
        with listening_socket(settings.host, settings.port) as listening:  # werkzeug serves a copy
            self._server = make_server(settings.host, settings.port, self.app, threaded=True,
                                       request_handler=_QuietHandler, fd=listening.fileno())
        # serve_forever checks for shutdown once per poll; its default 0.5 s made every stop()
        # wait up to half a second. 50 ms keeps stop() immediate for a few idle wake-ups a second.
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": POLL_INTERVAL}, daemon=True,
                                        name=f"mock-server-{settings.port}")
        self._thread.start()
        owner.write_card(self.url, self.owner_key, self._state.started_by)

    @property
    def _state(self):
        return self.app.extensions["mock_server"]

    @property
    def url(self) -> str:
        """The back-channel URL (what the kernel's HTTP calls use)."""
        return self.settings.base_url

    @property
    def issuer(self) -> str:
        """The server's current issuer: a hub's public URL, once learned, replaces the loopback one."""
        return self._state.settings.issuer

    @property
    def transcript(self):
        return self._state.transcript

    @property
    def clock(self):
        return self._state.clock

    @property
    def keys(self):
        return self._state.keys

    @property
    def owner_key(self) -> str:
        """What the admin routes ask for (owner.py); also on this user's card for the server."""
        return self._state.owner_key

    @property
    def admin_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.owner_key}"}

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._state.storage.close()
        owner.remove_card(self.url, self.owner_key)
        with _lock:
            if _running.get((self.settings.host, self.settings.port)) is self:
                del _running[(self.settings.host, self.settings.port)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self):
        return f"<mock_server at {self.url}{' (deterministic)' if self.settings.seed is not None else ''}>"


def settings_from(host="127.0.0.1", port=5001, seed=None, db=None, public_url=None,
                  access_token_format="jwt", registration_token=None, lifetimes: dict | None = None,
                  app_redirect_uris=(APP_REDIRECT_URI,), profile=None, allow_plain_http=False,
                  jupyter_prefix=None, require_pushed_authorization_requests=False,
                  require_dpop_nonce=False, **switches) -> Settings:
    """Keyword arguments (as a notebook writes them) to a ``Settings``."""
    return Settings(host=host, port=port, seed=seed, db=db, public_url=public_url,
                    access_token_format=access_token_format, registration_token=registration_token,
                    app_redirect_uris=tuple(app_redirect_uris), profile=profile,
                    allow_plain_http=allow_plain_http, jupyter_prefix=jupyter_prefix,
                    require_pushed_authorization_requests=require_pushed_authorization_requests,
                    require_dpop_nonce=require_dpop_nonce,
                    lifetimes=Lifetimes(**(lifetimes or {})), switches=Switches(**switches))


def start(**options) -> ServerHandle:
    """Start a server on a background thread (or reuse the one already on that port)."""
    settings = settings_from(**options)
    key = (settings.host, settings.port)
    with _lock:
        existing = _running.get(key)
    if existing is not None and existing.running:
        if existing.settings == settings:
            return existing
        existing.stop()
    if port_in_use(settings.host, settings.port):
        raise PortTaken(settings.port)
    handle = ServerHandle(settings)
    with _lock:
        _running[key] = handle
    return handle


def running_here(host: str, port: int) -> ServerHandle | None:
    """The server this process runs on host:port (a notebook's, from an earlier Run All), if any."""
    with _lock:
        handle = _running.get((host, port))
    return handle if handle is not None and handle.running else None


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        return probe.connect_ex((host if host != "0.0.0.0" else "127.0.0.1", port)) == 0


# Below Linux's ephemeral range (32768–60999): a port the kernel hands out for bind(0) is also one
# it hands to outgoing connections, so between "free" and the server's own bind any client on the
# machine (a test's requests, Chromium) could take it as its source port.
# From the OS's randomness, not the random module's: a seeded run must not give two processes the
# same sequence of ports.
_FREE_PORTS, _pick = range(20000, 32768), random.SystemRandom()


def free_port() -> int:
    """A port nothing listens on now, for a server about to start (tests, a notebook's second server)."""
    for port in _pick.sample(_FREE_PORTS, 50):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32767 on 127.0.0.1")
