"""Token anatomy: a token as its *audience* sees it, and every check the audience makes.

An access token's audience is the API (the resource server), never the app: the app treats the
token as an opaque string (RFC 9068 §6) and reads `expires_in` and `scope` from the token response.
So this widget puts on the API's hat. A JWT access token (RFC 9068) is readable by anyone — its
header and claims are only base64url — and trustworthy only after the checks of RFC 9068 §4
(``oauth_lab.jwt_access_tokens``), shown one by one. An opaque token has nothing to read: only the
authorization server knows what it means, so the API asks it (introspection, RFC 7662) with the
demo resource server's credentials.

``kind="ID token"`` shows an OpenID Connect ID token as its audience, the app, checks it (OIDC
Core §3.1.3.7, ``oauth_lab.id_tokens``): the same signature, ``iss`` and ``exp`` checks, ``aud`` =
the app's client id, no ``typ`` rule — and, given the login's ``nonce`` and the access token that
came with it, ``nonce`` and ``at_hash``.
"""
from __future__ import annotations

import json

import ipywidgets as widgets
import requests
import traitlets
from joserfc.errors import JoseError

from .. import id_tokens, jwt_access_tokens
from ..resource_servers import RESOURCE_SERVER
from ..server_link import RemoteClock
from .base import LabWidget, escape
from .clock import expiry, relative

TIMESTAMPS = ("exp", "iat", "nbf", "auth_time")
COLOURS = ("#d63aff", "#6f42c1", "#00a0d6")  # jwt.io's header / claims / signature colours

MEANINGS = {
    "alg": "signing algorithm; the verifier allows only what it expects (here RS256)",
    "typ": "kind of token: at+jwt is an RFC 9068 access token, JWT an ID token",
    "kid": "which of the server's published keys signed it",
    "iss": "issuer: the authorization server that made the token",
    "sub": "subject: the user (or client) the token is about",
    "aud": "audience: who must accept it (the API for an access token, the app for an ID token)",
    "exp": "expiry: refuse the token from this second on",
    "iat": "issued at",
    "nbf": "not before: refuse the token until this moment",
    "jti": "unique token id, lets the server revoke or spot a replayed token",
    "client_id": "the app the token was issued to",
    "scope": "what the token allows, space-separated",
    "auth_time": "when the user last logged in",
    "nonce": "the app's random value echoed back, proving this ID token answers its own request",
    "at_hash": "half a SHA-256 of the access token: ties this ID token to that access token",
    "name": "the user's full name",
    "preferred_username": "the user's login name",
    "email": "the user's email address",
    "email_verified": "whether the provider checked that address",
    "active": "introspection: is the token usable right now?",
    "token_type": "introspection: how the token is presented (Bearer) or refresh_token",
    "username": "introspection: the user's login name",
}


def describe(name: str, value, now: int) -> str:
    """A claim's value, with timestamps also as UTC dates relative to the server's clock."""
    if name in TIMESTAMPS and isinstance(value, int):
        when = expiry(value, now) if name == "exp" else relative(value, now)
        return f"{value} = {RemoteClock.format(value)} ({when})"
    return value if isinstance(value, str) else json.dumps(value)


class TokenAnatomy(LabWidget):
    value = traitlets.Unicode(help="the token; setting it re-reads and re-checks")

    def __init__(self, token: str, lab, kind: str = "access token", client_id: str | None = None,
                 nonce: str | None = None, access_token: str | None = None):
        super().__init__()
        self.lab, self.kind, self.client_id = lab, kind, client_id
        self.nonce, self.access_token = nonce, access_token  # what an ID token must match
        self.refresh_button = widgets.Button(description="Check again", icon="refresh",
                                             tooltip="Check again, against the server's current time")
        self.refresh_button.on_click(lambda _: self.evaluate())
        self.view = widgets.HTML()
        self.children = [self.refresh_button, self.view]
        self.value = token.strip()
        self.observe(lambda _: self.evaluate(), "value")
        self.evaluate()

    @property
    def is_jwt(self) -> bool:
        return self.value.count(".") == 2

    @property
    def audience(self) -> str:
        """Who reads this kind of token: the API for access tokens, the app for ID tokens."""
        return self.lab.api_audience if self.kind == "access token" else self.client_id or ""

    def evaluate(self) -> None:
        self.now = self.lab.clock.now()
        self.header, self.claims, self.checks = {}, {}, []
        if self.is_jwt:
            self._check_jwt()
        else:
            self._introspect()
        self.verified = self.problem is None
        self.view.value = self._html()

    def _check_jwt(self) -> None:
        try:
            self.header, self.claims = jwt_access_tokens.unverified_parts(self.value)
        except (JoseError, ValueError):  # bad base64, bad UTF-8 or bad JSON
            self.problem = "the header or claims are not base64url-encoded JSON objects"
            return
        keys = jwt_access_tokens.published_keys(self.lab)  # fetched each time: keys may rotate
        if self.kind == "access token":
            self.checks = jwt_access_tokens.checks(self.value, keys, self.lab.issuer, self.audience, self.now)
        else:
            self.checks = id_tokens.checks(self.value, keys, self.lab.issuer, self.audience, self.now,
                                           self.nonce, self.access_token)
        failed = [check for check in self.checks if not check.passed]
        self.problem = f"{failed[0].name}: {failed[0].detail}" if failed else None

    def _introspect(self) -> None:
        answer = requests.post(self.lab.endpoint("introspection"), data={"token": self.value},
                               auth=RESOURCE_SERVER, timeout=5)
        self.claims = answer.json() if answer.ok else {}
        if not answer.ok:
            self.problem = f"introspection failed: HTTP {answer.status_code} {answer.text[:200]}"
        elif not self.claims.get("active"):
            # RFC 7662 §2.2: an inactive token gets no other detail, by design.
            self.problem = "the server says the token is not active (unknown, expired or revoked)"
        else:
            self.problem = None

    def _verdict(self) -> str:
        if not self.is_jwt:
            return "introspection ✓ active" if self.verified else "introspection ✗"
        if not self.checks:
            return "not a readable JWT ✗"
        return " ".join(f"{check.name} {'✓' if check.passed else '✗'}" for check in self.checks)

    def text(self) -> str:
        who = "the API" if self.kind == "access token" else "the app"
        kind = f"JWT {self.kind}" if self.is_jwt else f"opaque {self.kind}"
        facts = [f"{name}={self.claims[name]}" for name in ("sub", "scope") if name in self.claims]
        exp = self.claims.get("exp")
        if isinstance(exp, int):
            verb = "expires" if exp > self.now else "expired"
            facts.append(f"{verb} {RemoteClock.format(exp)} ({relative(exp, self.now)})")
        return " · ".join([f"{kind}, as {who} checks it: {self._verdict()}", *facts])

    def _html(self) -> str:
        colour = "#1a7f37" if self.verified else "#b00020"
        title = "Claims" if self.is_jwt else "Introspection answer"
        return (f"<div>{self._pieces()}<p style='color:{colour}'><b>{escape(self._detail())}</b></p>"
                f"{self._checks_table()}{self._table('Header', self.header)}"
                f"{self._table(title, self.claims)}</div>")

    def _detail(self) -> str:
        if not self.verified:
            return f"✗ refuse it — {self.problem}"
        if not self.is_jwt:
            return "✓ the server vouches for it (introspection)"
        return "✓ every check passed: the claims can be trusted"

    def _checks_table(self) -> str:
        rows = "".join(f"<tr><td>{'✓' if c.passed else '✗'}</td><td>{escape(c.name)}</td>"
                       f"<td>{escape(c.detail)}</td></tr>" for c in self.checks)
        rules = "RFC 9068 §4" if self.kind == "access token" else "OIDC Core §3.1.3.7"
        return f"<h4>Checks ({rules})</h4><table>{rows}</table>" if rows else ""

    def _pieces(self) -> str:
        if not self.is_jwt:
            return (f"<p>Opaque {escape(self.kind)}: a random string with no readable parts; only the "
                    "server knows what it means, so the API asked it (RFC 7662 introspection).</p>")
        coloured = ".".join(f"<span style='color:{colour}'>{escape(piece)}</span>"
                            for colour, piece in zip(COLOURS, self.value.split(".")))
        legend = " · ".join(f"<span style='color:{colour}'>{name}</span>"
                            for colour, name in zip(COLOURS, ("header", "claims", "signature")))
        return (f"<p>{legend}</p><div style='font-family:monospace;word-break:break-all'>{coloured}</div>")

    def _table(self, title: str, fields: dict) -> str:
        if not fields:
            return ""
        rows = "".join(
            f"<tr><td><code>{escape(name)}</code></td><td>{escape(describe(name, value, self.now))}</td>"
            f"<td>{escape(MEANINGS.get(name, 'not a registered claim'))}</td></tr>"
            for name, value in fields.items())
        return f"<h4>{title}</h4><table><tr><th>field</th><th>value</th><th>meaning</th></tr>{rows}</table>"
