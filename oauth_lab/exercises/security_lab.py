"""12 · Security lab: the check attacks the learner's redirect handler for real."""
from __future__ import annotations

from requests_oauthlib import OAuth2Session

from ..attacker import AttackerAuthorizationServer
from ..checks import Exercise
from ..lab import current_lab
from ..user_agent import UserAgent
from .support import access_token_of, introspect

APP = "fernhollow-widget"
SCOPE = ["chats--access:ro"]
PARTNER_ID = "widget-at-partner"  # the widget's client_id at the attacker's authorization server


def waiting_app(server, pkce: str | None = None) -> tuple[OAuth2Session, str]:
    """Jane's app, having sent an authorization request to `server`; and the URL of it."""
    app = OAuth2Session(APP, redirect_uri=current_lab().redirect_uri, scope=SCOPE, pkce=pkce)
    url, _ = app.authorization_url(server.metadata["authorization_endpoint"])
    return app, url


def _call(callback, app, redirect, issuer, token_endpoint):
    """The learner's callback: its token response, or None when it refused (raised)."""
    try:
        return callback(app, redirect, issuer, token_endpoint)
    except Exception:  # noqa: BLE001 — refusing, however it is done, is the right answer here
        return None


def _careful_callback(answer, no_pkce):
    if not callable(answer):
        return "expected a function careful_callback(app, redirect, issuer, token_endpoint)"
    lab = current_lab()
    token_endpoint = no_pkce.endpoint("token")

    # Jane's own answer: the one response a careful callback accepts.
    app, url = waiting_app(no_pkce)
    janes = UserAgent("jane", "jane-password", no_pkce.reach()).authorize(url)
    token = _call(answer, app, janes, no_pkce.issuer, token_endpoint)
    if token is None or introspect(access_token_of(token), no_pkce).get("sub") != "jane":
        return "your callback did not return Jane's token for the answer to her own request"

    # CSRF: Ada's code, for her own account, arrives at Jane's app (PKCE is off on this server).
    app, _ = waiting_app(no_pkce)
    _, adas_url = waiting_app(no_pkce)
    planted = UserAgent("ada", "ada-password", no_pkce.reach()).authorize(adas_url)
    token = _call(answer, app, planted, no_pkce.issuer, token_endpoint)
    if token is not None:
        who = introspect(access_token_of(token), no_pkce).get("sub")
        return (f"your callback accepted an answer to a request the app never made: Jane's app is now "
                f"connected to {who}'s account: compare the answer's state with the request's")

    # Mix-up: the app asked Partner Accounts (the attacker's), and Fernhollow Accounts answered.
    partner = AttackerAuthorizationServer(lab.port + 8, lab, {PARTNER_ID: APP})
    app = OAuth2Session(PARTNER_ID, redirect_uri=lab.redirect_uri, scope=SCOPE, pkce="S256")
    url, _ = app.authorization_url(partner.metadata()["authorization_endpoint"])
    redirect = UserAgent("jane", "jane-password", lab.reach()).authorize(url, server=lab.issuer)
    sent = len(partner.token_requests())
    _call(answer, app, redirect, partner.url, f"{partner.url}/token")
    if len(partner.token_requests()) > sent:
        return ("your callback sent Jane's code and verifier to the attacker's token endpoint: the "
                "answer's iss names another server than the one the app asked")
    return None


careful_callback = Exercise(
    "12 · a careful callback", _careful_callback,
    hint="hand requests-oauthlib the whole redirect (authorization_response=redirect): it compares "
         "state. Before that, compare the redirect's iss with `issuer`, and raise if they differ.",
    solution="solutions/12_careful_callback.py", context=("no_pkce",),
    success="Jane's own answer connects her account; Ada's planted code and the answer from "
            "another server than the one asked are refused before any token request.")
