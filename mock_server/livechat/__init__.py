"""The ``livechat`` profile: Fernhollow Accounts as LiveChat's public docs describe LiveChat's
accounts server, departures from the standards included. Off by default; on with
``python -m mock_server --profile livechat`` or ``mock_server.start(profile="livechat")``.

A layer on the same app factory (mock_server/app.py builds the profile's authorization server and
calls ``install``); with the profile off, nothing here runs. What it changes, each rule with its
test in mock_server/RULES.md ("The livechat profile"):

- paths: authorization at ``/`` (``redirect_uri`` required), tokens at ``POST /v2/token`` (a form
  or JSON), revocation ``DELETE /v2/token`` (``Authorization: Bearer`` or ``?code=``), token info
  ``GET /v2/info``, errors on the ``/ooops`` page; the standard's other endpoints (``/authorize``,
  ``/token``, ``/par``, ``/revoke``, ``/introspect``, registration, device, userinfo) are absent;
- codes and access tokens carry the region ``dal:``, scopes travel comma-separated, token
  responses name the account and organization, errors use LiveChat's words (dialect.py);
- redirect URIs match by LiveChat's prefix rule, plain ``http`` allowed anywhere;
- the implicit grant (``response_type=token``) besides the code grant; PKCE ``plain`` accepted, and
  assumed when no method is named; refresh tokens rotate for browser apps only; no client
  credentials; 25 tokens and 3 redirects per 30 s per app and user (limits.py).
"""
from __future__ import annotations

from flask import abort, request

from . import authorize, tokens
from .authorize import start_over
from .grants import authorization_server

__all__ = ["authorization_server", "install", "start_over"]

# The standard server's paths that LiveChat's accounts server does not have.
STANDARD_ONLY = ("/authorize", "/token", "/par", "/revoke", "/introspect", "/register", "/device_authorization",
                 "/device", "/userinfo", "/.well-known/openid-configuration", "/.well-known/jwks.json",
                 "/v3.5/agent")  # the agent API's own URL: a resource identifier (RFC 9728)
# ... and every path under these: protected resource metadata (RFC 9728) and the second API, an
# audience of its own (RFC 8707), which LiveChat's docs describe nowhere.
STANDARD_ONLY_UNDER = ("/.well-known/oauth-protected-resource", "/v3.5/configuration")


def install(app, home) -> None:
    authorize.install(app, home)
    app.register_blueprint(tokens.blueprint)
    app.before_request(hide_standard_endpoints)
    app.context_processor(lambda: {"profile": "livechat"})  # pages say which server this is


def hide_standard_endpoints():
    path = request.path.rstrip("/")
    if path in STANDARD_ONLY or any(path == p or path.startswith(p + "/") for p in STANDARD_ONLY_UNDER):
        abort(404, description=f"LiveChat's accounts server has no {request.path}: its authorization "
                               "endpoint is /, its token endpoint /v2/token (see the metadata).")
