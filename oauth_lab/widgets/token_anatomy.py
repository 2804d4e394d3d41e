"""Token anatomy: what a token says, and whether the server stands behind it.

A JWT (RFC 9068 access token, OIDC ID token) is readable by anyone: its header and claims are only
base64url, the signature is what makes them trustworthy, so we check it against the server's
published keys (JWKS) exactly as a resource server would. An opaque token has nothing to read:
only the authorization server knows what it means, so we ask it (introspection, RFC 7662) with the
demo resource server's credentials.
"""
from __future__ import annotations

import base64
import json

import ipywidgets as widgets
import requests
import traitlets
from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError, UnsupportedAlgorithmError
from joserfc.jwk import KeySet

from ..server_link import RemoteClock
from .base import LabWidget, escape, mask
from .clock import expiry, relative

RESOURCE_SERVER = ("agent-api", "agent-api-secret")  # the demo API may introspect any token
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


def part(segment: str) -> dict:
    """Decode one base64url JSON segment of a compact JWT (padding is stripped in JWTs)."""
    value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def verify(token: str, header: dict, jwks: dict) -> tuple[str | None, str | None]:
    """(kid of the key that verified the signature, None) or (None, why it failed)."""
    keys = KeySet.import_key_set(jwks).keys
    # RFC 9068 tokens from this server carry no kid: then every published key may be the signer.
    candidates = [key for key in keys if key.kid == header["kid"]] if "kid" in header else keys
    if not candidates:
        return None, f"no key with kid {header['kid']} in the server's JWKS"
    problem = None
    for key in candidates:
        try:
            jwt.decode(token, key, algorithms=["RS256"])
            return key.kid, None
        except BadSignatureError:
            problem = "bad signature: the header or claims changed after signing, or another key signed it"
        except UnsupportedAlgorithmError:
            return None, f"alg {header.get('alg')!r} refused: only RS256 is accepted"
        except (JoseError, ValueError) as error:
            problem = f"the token is malformed ({type(error).__name__})"
    return None, problem


def describe(name: str, value, now: int) -> str:
    """A claim's value, with timestamps also as UTC dates relative to the server's clock."""
    if name in TIMESTAMPS and isinstance(value, int):
        when = expiry(value, now) if name == "exp" else relative(value, now)
        return f"{value} = {RemoteClock.format(value)} ({when})"
    return value if isinstance(value, str) else json.dumps(value)


class TokenAnatomy(LabWidget):
    value = traitlets.Unicode(help="the token; setting it re-reads and re-checks")

    def __init__(self, token: str, lab, kind: str = "access token"):
        super().__init__()
        self.lab, self.kind = lab, kind
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh",
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

    def evaluate(self) -> None:
        self.now = self.lab.clock.now()
        self.header, self.claims, self.kid = {}, {}, None
        if self.is_jwt:
            self._check_jwt()
        else:
            self._introspect()
        self.verified = self.problem is None
        self.view.value = self._html()

    def _check_jwt(self) -> None:
        try:
            self.header, self.claims = (part(segment) for segment in self.value.split(".")[:2])
        except ValueError:  # bad base64, bad UTF-8 or bad JSON: all ValueErrors
            self.problem = "the header or claims are not base64url-encoded JSON objects"
            return
        jwks_url = self.lab.metadata["jwks_uri"].replace(self.lab.issuer, self.lab.url, 1)
        jwks = requests.get(jwks_url, timeout=5).json()  # fetched each time: keys may rotate
        self.kid, self.problem = verify(self.value, self.header, jwks)

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
        return f"signature ✓ (kid {mask(self.kid)})" if self.verified else "signature ✗"

    def text(self) -> str:
        kind = f"JWT {self.kind}" if self.is_jwt else f"opaque {self.kind}"
        facts = [f"{name}={self.claims[name]}" for name in ("sub", "scope") if name in self.claims]
        exp = self.claims.get("exp")
        if isinstance(exp, int):
            verb = "expires" if exp > self.now else "expired"
            facts.append(f"{verb} {RemoteClock.format(exp)} ({relative(exp, self.now)})")
        return " · ".join([kind, self._verdict(), *facts])

    def _html(self) -> str:
        colour = "#1a7f37" if self.verified else "#b00020"
        title = "Claims" if self.is_jwt else "Introspection answer"
        return (f"<div>{self._pieces()}<p style='color:{colour}'><b>{self._detail()}</b></p>"
                f"{self._table('Header', self.header)}{self._table(title, self.claims)}</div>")

    def _detail(self) -> str:
        if not self.verified:
            return f"✗ {escape(self.problem)}"
        if not self.is_jwt:
            return "✓ the server vouches for it (introspection)"
        return f"✓ signature verified with key {escape(self.kid)}{self._kid_note()}"

    def _kid_note(self) -> str:
        if "kid" in self.header:
            return ""
        return " (the header names no kid, so each key the server publishes was tried)"

    def _pieces(self) -> str:
        if not self.is_jwt:
            return (f"<p>Opaque {escape(self.kind)} <code>{escape(mask(self.value))}</code>: a random "
                    "string with no readable parts; only the server knows what it means, so we asked it "
                    "(RFC 7662 introspection).</p>")
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
