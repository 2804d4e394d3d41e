"""Transport: the address the browser used, and whether it is secure enough for OAuth.

OAuth 2.0 requires TLS at the authorization and token endpoints (RFC 6749 §3.1, §3.2); Authlib checks
the URL of every request it handles: https, or plain http to this machine (loopback, where no
network carries the request).

Behind a proxy the server does not see the URL the browser used. On a hub, jupyter-server-proxy
forwards ``https://hub.example/user/jane/oauth/authorize`` to us as ``http://127.0.0.1:5001/authorize``
with the hub's name in ``Host``: seen as plain http to a remote host, it was refused. A request whose
``Host`` is our public URL's is addressed to that URL, so ``PublicAddress`` gives it the public
scheme and path prefix: Authlib, cookies and every URL built from the request see what the browser
used. It trusts no ``X-Forwarded-*`` header (anyone can send one): the public URL is configured, or
learned once from the learner's own browser (``admin.py``).

Plain http to another machine is refused with the RFC error (never a 500) unless the server runs
with ``allow_plain_http`` — a lab on a network its users trust, such as a hub or a class without
TLS: off by default, and shown in the banner and the metadata when on.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from authlib.common.security import is_secure_transport
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from flask import current_app, has_app_context, request

from .errors import error_page, is_browser_page, json_error, rfc_text
from .state import current

ALLOW = "--allow-plain-http"


class PublicAddress:
    """WSGI: a request addressed to the public URL's host is given that URL's scheme and path."""

    def __init__(self, wsgi_app, state):
        self.wsgi_app, self.state = wsgi_app, state

    def __call__(self, environ, start_response):
        public = self.state.settings.public_url  # read per request: it may be learned meanwhile
        if public:
            parts = urlsplit(public)
            if environ.get("HTTP_HOST", "").lower() == parts.netloc.lower():
                environ["wsgi.url_scheme"] = parts.scheme
                environ["SCRIPT_NAME"] = parts.path.rstrip("/") + environ.get("SCRIPT_NAME", "")
        return self.wsgi_app(environ, start_response)


def secure_enough(uri: str) -> bool:
    """Authlib's check (https, or http to loopback), or plain http where this server allows it."""
    if is_secure_transport(uri):
        return True
    serving = has_app_context() and "mock_server" in current_app.extensions
    return serving and current().settings.allow_plain_http and uri.startswith("http://")


def route_authlib_transport_check() -> None:
    """Authlib's only switch is the AUTHLIB_INSECURE_TRANSPORT environment variable, which would
    turn the check off for every server in the process (a notebook runs several): its check reads
    the policy of the server handling the request instead."""
    from authlib.oauth2.rfc6749 import errors

    errors.is_secure_transport = secure_enough


def off_loopback_plain_http(url: str) -> bool:
    return url.startswith("http://") and not is_secure_transport(url)


def explanation() -> str:
    host = urlsplit(request.url).netloc
    return rfc_text(
        f"This request came over plain http to {host}, which is not this machine: OAuth 2.0 "
        "requires TLS here (RFC 6749 sections 3.1 and 3.2). Reach the server over https (a TLS "
        f"proxy in front of it), or, for a lab on a network you trust, start it with {ALLOW}.")


def refused(_error: InsecureTransportError):
    """The answer to a request Authlib refused for its transport: the RFC shape, never a 500."""
    if is_browser_page(request.path):
        return error_page(400, "Plain http is not enough here", explanation())
    return json_error(400, "invalid_request", explanation())


def banner_lines(settings, urls) -> list[str]:
    """What the banner says about plain http: that it is allowed (and insecure), or that browsers
    on other machines will be refused at these `urls`."""
    plain = [url for url in urls if off_loopback_plain_http(url)]
    if settings.allow_plain_http:
        return [f"INSECURE: plain http accepted from other machines ({ALLOW}): for a lab on a "
                "network you trust, never for real users."]
    if plain:
        return [f"WARNING: {plain[0]} is plain http to other machines: OAuth requests there are "
                "refused (RFC 6749 §3.1). Put TLS in front (--public-url https://… --trust-proxy), "
                f"or add {ALLOW} for a lab on a network you trust."]
    return []
