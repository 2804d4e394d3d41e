"""The app's redirection endpoint (RFC 6749 §3.1.2): where the user's browser brings the answer.

It belongs to the *client*, not to the authorization server. After Allow or Deny the server sends
the browser to the app's registered redirect URI; the browser requests that page from the app, and
the app reads ``code``, ``state`` and ``iss`` (or ``error``) off the request. Here the app is the
code in your notebook, so this kernel serves the page: a small HTTP server on its own origin,
``http://127.0.0.1:8765`` — not the authorization server's ``:5001``.

Like the mock server, it is found or started: the first notebook kernel serves it, the others
read what it received over HTTP (``GET /received``), so a redirect your real browser delivers is
seen by whichever notebook is waiting for it.
"""
from __future__ import annotations

import html
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import requests

APP_PORT = 8765  # mock_server.settings.APP_REDIRECT_URI names the same address
CALLBACK = "/callback"  # mock_server.settings.APP_CALLBACK: the path the server registers behind a hub
RECEIVED = "/received"  # not OAuth: how other kernels (and the course's widgets) read the log


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path
        if path == CALLBACK:
            self.server.received.append(self.path)
            self._answer(200, "text/html; charset=utf-8", _page(self.path))
        elif path == RECEIVED:
            self._answer(200, "application/json", json.dumps(self.server.received))
        else:
            self._answer(404, "text/plain; charset=utf-8", "Not a page of this app.")

    def _answer(self, status: int, content_type: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")  # the URL carries a code
        # The page carries no scripts or images: nothing it links to can read the code through
        # Referer (RFC 9700 §4.2.4); say so to the browser as well.
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # no access log in notebook outputs
        pass


def _page(path: str) -> str:
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>"
                   for k, v in parse_qsl(urlsplit(path).query, keep_blank_values=True))
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<title>Your app received the authorization response</title></head><body>"
            "<h1>Your app's redirect URI</h1><p>This page is served by <b>your app</b> (the notebook's "
            "kernel), not by the authorization server. The browser brought these parameters; the "
            "notebook can read them now, and the app trades the code for tokens on the back "
            f"channel.</p><table aria-label='Received parameters'>{rows or '<tr><td>none</td></tr>'}"
            "</table></body></html>")


class RedirectionEndpoint:
    """The app's callback: ``redirect_uri`` to register, ``received()`` to read what came back.

    ``public_url`` is the app's origin as the *browser* reaches it (Binder: through the proxy);
    this kernel itself always talks to it on loopback."""

    def __init__(self, port: int = APP_PORT, public_url: str | None = None):
        self.url = f"http://127.0.0.1:{port}"
        self.public_url = (public_url or self.url).rstrip("/")
        self._server: ThreadingHTTPServer | None = None
        if not self._answers():
            self._serve(port)

    @property
    def redirect_uri(self) -> str:
        return self.public_url + CALLBACK

    @property
    def port(self) -> int:
        """The app's loopback port; a notebook's own servers (its APIs) take fixed offsets from it."""
        return int(self.url.rsplit(":", 1)[1])

    @property
    def serving_here(self) -> bool:
        return self._server is not None

    def _answers(self) -> bool:
        try:
            return requests.get(self.url + RECEIVED, timeout=2).ok
        except requests.ConnectionError:
            return False

    def _serve(self, port: int) -> None:
        server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        server.daemon_threads = True
        server.received = []
        # A short poll: stop() returns at once instead of after serve_forever's default 0.5 s.
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                         name=f"app-redirect-uri-{port}").start()
        self._server = server

    def received(self) -> list[str]:
        """Every authorization response the app received, oldest first, as the browser sent it."""
        paths = requests.get(self.url + RECEIVED, timeout=5).json()
        return [self.public_url + path for path in paths]

    def find(self, state: str) -> str | None:
        """The latest response carrying this `state`, if the browser brought one."""
        matching = [url for url in self.received() if dict(parse_qsl(urlsplit(url).query)).get("state") == state]
        return matching[-1] if matching else None

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __repr__(self):
        where = "served by this kernel" if self.serving_here else "served by another kernel"
        return f"<your app's redirect URI {self.redirect_uri} ({where})>"
