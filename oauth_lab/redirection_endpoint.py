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
from urllib.parse import parse_qsl, urlsplit

from mock_server.settings import APP_CALLBACK as CALLBACK  # the path the server registers
from mock_server.settings import APP_PORT  # MOCK_APP_PORT, or 8765

from .loopback_site import Site, SiteHandler


CLIENT_METADATA = "/client-metadata.json"  # where the app publishes who it is (notebook 16)


class CallbackHandler(SiteHandler):
    """An app's pages: its callback page, which keeps what the browser brought (``received``),
    and its client metadata document, once the app publishes one."""

    app_name = "your app"

    def page(self, path: str) -> None:
        if path == CLIENT_METADATA and "client_metadata" in self.server.config:
            self.server.config.setdefault("metadata_fetches", []).append(self.headers.get("User-Agent", ""))
            document, cache = self.server.config["client_metadata"]
            self.answer(200, "application/json", json.dumps(document, indent=1), {"Cache-Control": cache})
            return
        if path != CALLBACK:
            self.answer(404, "text/plain; charset=utf-8", "Not a page of this app.")
            return
        self.server.received.append(self.path)
        # The page carries no scripts or images: nothing it links to can read the code through
        # Referer (RFC 9700 §4.2.4); say so to the browser as well.
        self.answer(200, "text/html; charset=utf-8", callback_page(self.path, self.app_name),
                    {"Referrer-Policy": "no-referrer"})


# The app's own look: plain and readable like the server's pages, in another colour, so that the
# learner sees at a glance that this page is another site's. Inline, since the page loads nothing.
APP_STYLE = ("body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;"
             "color:#1d2433}header{border-bottom:2px solid #2b8a3e;margin-bottom:1.5rem}"
             "header p{color:#5b6478;margin-top:0}table{border-collapse:collapse}"
             "th,td{border:1px solid #d3e5d7;padding:.3rem .6rem;text-align:left;vertical-align:top}"
             "th{background:#ebfbee}code{word-break:break-all}")


def callback_page(path: str, app_name: str, banner: str | None = None) -> str:
    """The page an app shows at its redirect URI: the parameters it received (and, on a careless
    app's page, a partner's `banner` image)."""
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(v)}</code></td></tr>"
                   for k, v in parse_qsl(urlsplit(path).query, keep_blank_values=True))
    partner = (f"<p><img src='{html.escape(banner)}' alt='Our partner: Fernhollow Socks' width='200' "
               "height='40'></p>" if banner else "")
    title = html.escape(app_name[:1].upper() + app_name[1:])
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{title} received the authorization response</title><style>{APP_STYLE}</style>"
            f"</head><body><header><h1>{title}'s redirect URI</h1><p>A page of the app, not of "
            "Fernhollow Accounts.</p></header><p>This page is "
            f"served by <b>{html.escape(app_name)}</b> (the notebook's kernel), not by the "
            "authorization server. The browser brought these parameters; the notebook can read them "
            "now, and the app trades the code for tokens on the back channel.</p>"
            f"<table aria-label='Received parameters'>{rows or '<tr><td>none</td></tr>'}</table>"
            f"{partner}</body></html>")


class RedirectionEndpoint(Site):
    """The app's callback: ``redirect_uri`` to register, ``received()`` to read what came back.

    ``public_url`` is the app's origin as the *browser* reaches it (Binder: through the proxy);
    this kernel itself always talks to it on loopback."""

    handler = CallbackHandler

    def __init__(self, port: int = APP_PORT, public_url: str | None = None):
        super().__init__(port)
        self.public_url = (public_url or self.url).rstrip("/")

    @property
    def redirect_uri(self) -> str:
        return self.public_url + CALLBACK

    @property
    def client_id(self) -> str:
        """The URL of the app's client metadata document, which is its client_id (Client ID
        Metadata Documents). The server fetches it, so it is the address the *server* reaches:
        loopback, on a laptop and on Binder alike (server, kernel and app share the machine);
        the browser never goes there."""
        return self.url + CLIENT_METADATA

    def publish_client_metadata(self, document: dict, max_age: int = 0) -> None:
        """Serve `document` at ``client_id``, cacheable for `max_age` seconds (0: not at all)."""
        self.configure(client_metadata=(document, f"max-age={max_age}" if max_age else "no-store"),
                       metadata_fetches=[])

    def metadata_fetches(self) -> int:
        """How often the authorization server fetched the document since it was published (this
        kernel's app counts them; a GET of anyone else's is not counted)."""
        from mock_server.client_id_metadata import USER_AGENT

        return self.configuration().get("metadata_fetches", []).count(USER_AGENT)

    def received(self) -> list[str]:
        """Every authorization response the app received, oldest first, as the browser sent it."""
        return [self.public_url + path for path in self.log()]

    def answers(self, state: str) -> list[str]:
        """Every response carrying this `state`, oldest first (a request sent again gets another)."""
        return [url for url in self.received() if dict(parse_qsl(urlsplit(url).query)).get("state") == state]

    def find(self, state: str) -> str | None:
        """The latest response carrying this `state`, if the browser brought one."""
        matching = self.answers(state)
        return matching[-1] if matching else None

    def __repr__(self):
        where = "served by this kernel" if self.serving_here else "served by another kernel"
        return f"<your app's redirect URI {self.redirect_uri} ({where})>"
