"""RFC 9068 §4: how a *resource server* validates a JWT access token.

The app (the client) never does this: to the app an access token is an opaque string it sends to
the API (RFC 9068 §6, RFC 6749 §1.4) — it learns what it needs (lifetime, scope) from the token
response. The API is the token's audience and must check, before trusting a single claim:

1. ``typ`` is ``at+jwt`` — an ID token or another JWT signed by the same key is not an access token;
2. the signature verifies with a key the authorization server publishes (its JWKS), with the one
   algorithm expected (RS256 here; never ``none``);
3. ``iss`` is exactly the authorization server's issuer;
4. ``aud`` names this API;
5. ``exp`` is still in the future (on the server's clock, in this course).

joserfc does the cryptography and the claim checks; this module only lists them in that order so
each one can be shown passing or failing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import requests
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from joserfc.util import json_b64encode

from mock_server.keys import DEMO_KEY

ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")  # RFC 9068 §4: either spelling
ALGORITHMS = ["RS256"]  # what this server signs with (metadata: id_token_signing_alg_values...)


class InvalidAccessToken(Exception):
    """The API must refuse the token: 401 ``invalid_token`` (RFC 6750 §3.1)."""

    def __init__(self, check: str, why: str):
        super().__init__(f"{check}: {why}")
        self.check, self.why = check, why


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def unverified_parts(token: str) -> tuple[dict, dict]:
    """Header and claims as anyone can read them (base64url, no key needed) — not yet trusted."""
    compact = jws.extract_compact(token.encode())
    claims = json.loads(compact.payload)
    if not isinstance(claims, dict):
        raise ValueError("the claims are not a JSON object")
    return dict(compact.protected), claims


def checks(token: str, keys: KeySet, issuer: str, audience: str, now: int,
           types: tuple[str, ...] | None = ACCESS_TOKEN_TYPES) -> list[Check]:
    """Each RFC 9068 §4 check in order; the list stops at the first one that fails.
    (``types=None`` skips the ``typ`` rule: an ID token's audience checks the rest the same way.)"""
    done: list[Check] = []

    def record(name: str, passed: bool, detail: str) -> bool:
        done.append(Check(name, passed, detail))
        return passed

    try:
        header, _ = unverified_parts(token)
    except (JoseError, ValueError):
        record("is a JWT", False, "not three base64url parts with JSON header and claims")
        return done
    typ = header.get("typ")
    if types is not None and not record("typ", typ in types, f"typ = {typ!r}"):
        return done
    try:
        claims = jwt.decode(token, keys, algorithms=ALGORITHMS).claims
    except JoseError as error:
        record("signature", False, _signature_problem(error, header))
        return done
    record("signature", True, f"{header.get('alg')} with the server's key {header.get('kid', '(no kid)')}")
    for name, option, shown in (("iss", {"essential": True, "value": issuer}, claims.get("iss")),
                                ("aud", {"essential": True, "value": audience}, claims.get("aud")),
                                ("exp", {"essential": True}, claims.get("exp"))):
        only = {name: claims[name]} if name in claims else {}  # one claim at a time, to name it
        try:
            jwt.JWTClaimsRegistry(now=now, **{name: option}).validate(only)
        except JoseError as error:
            record(name, False, f"{name} = {shown!r}: {error.description or error.error}")
            return done
        record(name, True, f"{name} = {shown!r}")
    return done


def _signature_problem(error: JoseError, header: dict) -> str:
    if error.error == "unsupported_algorithm":
        return f"alg {header.get('alg')!r} refused: only {', '.join(ALGORITHMS)} is accepted"
    if error.error == "bad_signature":
        return "bad signature: the header or claims changed after signing, or another key signed it"
    return f"cannot be verified ({error.error}: {error.description or 'no matching key'})"


def validate(token: str, keys: KeySet, issuer: str, audience: str, now: int) -> dict:
    """The claims, once every check passed; else ``InvalidAccessToken`` naming the check."""
    found = checks(token, keys, issuer, audience, now)
    if not found[-1].passed:  # checks() stops at the first failure
        raise InvalidAccessToken(found[-1].name, found[-1].detail)
    return unverified_parts(token)[1]


def published_keys(lab) -> KeySet:
    """The authorization server's public keys, from the `jwks_uri` its metadata announces."""
    return KeySet.import_key_set(requests.get(lab.back_channel(lab.metadata["jwks_uri"]), timeout=5).json())


def with_claims(token: str, **changes) -> str:
    """What anyone can do to a JWT without the key: edit its claims and keep the old signature.

    The result still *reads* fine — which is exactly why an API must verify the signature before
    it believes a single claim."""
    signed = jws.extract_compact(token.encode())
    payload = json_b64encode({**json.loads(signed.payload), **changes})
    return b".".join((signed.segments["header"], payload, signed.segments["signature"])).decode()


def server_signing_key(lab) -> KeySet | None:
    """The private key the lab's server signs with, when this machine has it: the server runs in
    this kernel, or it is deterministic and signs with the course's public demo key (mock_server
    .keys). None for another server (a class server's world, one started without a seed)."""
    if lab.handle is not None:
        return lab.handle.keys.signing_key()
    demo = RSAKey.import_key(DEMO_KEY.read_bytes())
    demo.ensure_kid()  # the kid the server gives it: its thumbprint (RFC 7638)
    published = {key.kid for key in published_keys(lab).keys}
    return KeySet([demo]) if demo.kid in published else None


def signed_like(token: str, key: KeySet, typ: str | None = None, **changes) -> str:
    """The token with its `typ` or claims changed and signed again with the server's own key: a
    genuine signature over one wrong value, to show that a check on that value cannot be skipped."""
    header, claims = unverified_parts(token)
    header = {"alg": header["alg"], "typ": typ or header["typ"]}
    return jwt.encode(header, {**claims, **changes}, key)
