"""The small HTTP sites the course runs beside the mock server, each on its own loopback origin:
your app's redirect URI (``redirection_endpoint``) and, in the security lab, the attacker's
website and authorization server (``attacker``).

A site is found or started: the first kernel that asks for a port serves it (on a background
thread), and every other kernel reads what it received over HTTP (``GET /received``, not part of
any protocol). Configuring a site — the pages it serves — is for its user's kernels only: the
serving kernel writes a key on a card only its user can read (``mock_server.owner``, as a server
does), and another kernel of that user sends its changes with it (``/configuration``). A web page
or another user on the machine has no card: it can read what a site received, never change what
it serves.
"""
from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import requests

from mock_server.owner import new_key, read_card, remove_card, write_card

RECEIVED = "/received"
CONFIGURATION = "/configuration"  # the site's settings, for its user's kernels (the key on the card)
_SERVED: dict[int, ThreadingHTTPServer] = {}  # the sites this process serves, by port


class SiteHandler(BaseHTTPRequestHandler):
    """One request to a site: ``GET /received`` answers the log; anything else is the site's."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path
        if path == RECEIVED:
            self.answer(200, "application/json", json.dumps(self.server.received))
        elif path == CONFIGURATION:
            if self.from_owner():
                self.answer(200, "application/json", json.dumps(self.server.config))
        else:
            self.page(path)

    def do_POST(self):  # noqa: N802
        path = urlsplit(self.path).path
        if path == CONFIGURATION:
            if self.from_owner():
                self.take_settings()
        else:
            self.post(path)

    def post(self, path: str) -> None:
        """A form the site takes (none, unless a site says otherwise)."""
        self.answer(404, "text/plain; charset=utf-8", "Not a page of this site.")

    def take_settings(self) -> None:
        """Another kernel of the site's user changes what it serves (JSON: the settings to update)."""
        try:
            config = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        except ValueError:
            config = None
        if not isinstance(config, dict):
            self.answer(400, "text/plain; charset=utf-8", "A JSON object of settings, please.")
            return
        self.server.config.update(config)
        self.answer(204, "text/plain", "")

    def from_owner(self) -> bool:
        """Whether the request carries the site's key; if not, it is answered 404 here (never the
        site's own page or form: an attacker's server would keep it as a token request)."""
        if secrets.compare_digest(self.headers.get("Authorization", ""), f"Bearer {self.server.key}"):
            return True
        self.answer(404, "text/plain; charset=utf-8", "Not a page of this site.")
        return False

    def page(self, path: str) -> None:
        raise NotImplementedError

    def answer(self, status: int, content_type: str, body: str | bytes, headers: dict | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        # URLs here carry codes and tokens: nothing is stored, unless a page says otherwise.
        for name, value in {"Cache-Control": "no-store", **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, location: str) -> None:
        self.answer(303, "text/plain; charset=utf-8", "", {"Location": location})

    def log_message(self, *args):  # no access log in notebook outputs
        pass


class Site:
    """A site on ``http://127.0.0.1:<port>``, served by this kernel or found running."""

    handler: type[SiteHandler] = SiteHandler

    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.started_here = port not in _SERVED and not self._answers()
        if self.started_here:
            server = ThreadingHTTPServer(("127.0.0.1", port), self.handler)
            server.daemon_threads = True
            server.received = []
            server.config = {}
            server.key = new_key()
            write_card(self.url, server.key, started_by=type(self).__name__)
            # A short poll: stop() returns at once instead of after serve_forever's default 0.5 s.
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                             name=f"{type(self).__name__}-{port}").start()
            _SERVED[port] = server

    @property
    def serving_here(self) -> bool:
        """Whether this instance serves the site (others, in this kernel or not, found it)."""
        return self.started_here and self.port in _SERVED

    def _answers(self) -> bool:
        try:
            return requests.get(self.url + RECEIVED, timeout=2).ok
        except requests.ConnectionError:
            return False

    def log(self) -> list:
        """What the site received, oldest first (its own record of each request)."""
        return requests.get(self.url + RECEIVED, timeout=5).json()

    def configure(self, **config) -> None:
        """Set what the site serves: here, or in the kernel of this user's that serves it."""
        if self.port in _SERVED:
            _SERVED[self.port].config.update(config)
        else:
            self._from_serving_kernel("POST", json=config)

    def configuration(self) -> dict:
        """What the site serves, as ``configure`` set it."""
        if self.port in _SERVED:
            return _SERVED[self.port].config
        return self._from_serving_kernel("GET").json()

    def _from_serving_kernel(self, method: str, **kwargs) -> requests.Response:
        """The site's settings, asked of the kernel serving it with this user's key (its card)."""
        card = read_card(self.url)
        try:
            if card is not None:
                answer = requests.request(method, self.url + CONFIGURATION, timeout=5,
                                          headers={"Authorization": f"Bearer {card['key']}"}, **kwargs)
                if answer.status_code != 404:  # 404: the key is not the site's (a stale card)
                    answer.raise_for_status()
                    return answer
        except requests.ConnectionError:
            pass  # the card outlived its kernel
        raise RuntimeError(f"{self.url} is not served by a kernel of yours: no notebook of this user "
                           "serves it (another user's, or stopped). Run setup() again.")

    def stop(self) -> None:
        """Stop the site, if this instance started it (another may still be using it otherwise)."""
        if self.serving_here:
            server = _SERVED.pop(self.port)
            server.shutdown()
            server.server_close()
            remove_card(self.url, server.key)
