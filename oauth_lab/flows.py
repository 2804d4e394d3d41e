"""Whole flows in one call, for the notebooks where the flow is not the lesson.

Notebooks 03 and 04 take the authorization code flow apart step by step; later notebooks (and 01,
which only needs the contrast with a shared password) just need its result:

    app = authorization_code_flow(lab, "fernhollow-reports", ["customers:ro"], client_secret="...")
    app.token["scope"]              # what Jane allowed
    app.post(lab.api("list_customers"), json={})

Inside: the same requests-oauthlib calls 03–04 teach (PKCE S256, state), with Jane's browser
played by the scripted user agent, which also delivers the redirect to your app.
"""
from __future__ import annotations

from requests_oauthlib import OAuth2Session

from .user_agent import UserAgent


def authorization_code_flow(lab, client_id: str, scope: list[str], user: str = "jane",
                            client_secret: str | None = None, decision: str = "Allow",
                            browser: UserAgent | None = None, **request_params) -> OAuth2Session:
    """Send `user` through sign-in and consent for `scope`, then trade the code for tokens.

    Returns the app's ``OAuth2Session`` holding the token (``.token``). A public client (no
    secret) sends only its ``client_id``, as RFC 6749 §3.2.1 asks of clients that cannot
    authenticate. ``browser``: whoever signs in and decides (by default, the user's own browser).
    ``request_params``: more parameters of the authorization request, e.g. an OpenID Connect
    ``nonce="..."``."""
    app = OAuth2Session(client_id, redirect_uri=lab.redirect_uri, scope=scope, pkce="S256")
    url, _state = app.authorization_url(lab.metadata["authorization_endpoint"], **request_params)
    browser = browser or UserAgent(user, f"{user}-password", lab.reach())
    redirect = browser.authorize(url, decision, lab.issuer)
    browser.deliver(redirect)
    app.fetch_token(lab.endpoint("token"), authorization_response=redirect,
                    client_secret=client_secret, include_client_id=client_secret is None)
    return app
