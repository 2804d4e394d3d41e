"""Fernhollow Shop, the careless app of notebook 12 (the security lab): a browser app whose site has
pages RFC 9700 warns against, all under its callback path. It runs on its own origin, beside your
app (whose redirect URI stays careful), and is the victim of the lab's redirect attacks.

    shop = CarelessApp(lab.app.port + 6, banner=site.page("banner.gif"))
    shop.redirect_uri            # http://127.0.0.1:8771/callback, to register for it
    shop.page("relay", url)      # its relay to `url`

Its pages: ``/callback``, its redirect URI; ``/callback/welcome``, the callback page again with a
partner's banner image on it, and the referrer policy that used to be browsers' default, which
sends the partner the page's whole URL (RFC 9700 §4.2.1); ``/callback/relay/<URL>``, which forwards
the browser *and the response's parameters* to any URL (built so that one registered redirect URI
could serve a staging copy too); ``/callback/continue/<URL>``, which sends the browser to any URL
(an open redirector, RFC 9700 §4.11.1). Every request under the callback path is kept
(``received``).
"""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

from .redirection_endpoint import CALLBACK, CallbackHandler, RedirectionEndpoint, callback_page

WELCOME, RELAY, CONTINUE = f"{CALLBACK}/welcome", f"{CALLBACK}/relay/", f"{CALLBACK}/continue/"


class _Handler(CallbackHandler):
    app_name = "Fernhollow Shop"

    def page(self, path: str) -> None:
        if not path.startswith(CALLBACK + "/"):
            super().page(path)
            return
        self.server.received.append(self.path)
        query = urlsplit(self.path).query
        if path == WELCOME:
            page = callback_page(self.path, self.app_name, self.server.config["banner"])
            self.answer(200, "text/html; charset=utf-8", page, {"Referrer-Policy": "no-referrer-when-downgrade"})
        elif path.startswith(RELAY):
            self.redirect(unquote(path[len(RELAY):]) + (f"?{query}" if query else ""))
        elif path.startswith(CONTINUE):
            self.redirect(unquote(path[len(CONTINUE):]))  # a Location without the query, or a fragment
        else:
            self.answer(404, "text/plain; charset=utf-8", "Not a page of this app.")


class CarelessApp(RedirectionEndpoint):
    """Fernhollow Shop's site. `banner`: the partner's image its welcome page shows (the attacker's,
    in the lab). A kernel that finds the shop already running uses it as it is."""

    handler = _Handler

    def __init__(self, port: int, banner: str):
        super().__init__(port)
        if self.started_here:
            self.configure(banner=banner)

    def page(self, name: str, target: str | None = None) -> str:
        """One of the shop's pages: ``page("welcome")``, ``page("relay", url)``, ``page("continue", url)``."""
        return f"{self.redirect_uri}/{name}" + (f"/{target}" if target else "")

    def __repr__(self):
        return f"<Fernhollow Shop, a careless app, at {self.url}>"
