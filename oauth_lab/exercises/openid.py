"""11 · OpenID Connect: who is the user?"""
from __future__ import annotations

import secrets

import requests

from ..checks import Exercise
from ..flows import authorization_code_flow
from ..jwt_access_tokens import server_signing_key, signed_like, unverified_parts, with_claims
from ..lab import current_lab
from .support import refuses


def _login(lab, client_id: str, nonce: str, secret: str | None = None) -> dict:
    """An OpenID Connect login of Jane's at `client_id` with this nonce: the token response."""
    return authorization_code_flow(lab, client_id, ["openid", "profile"], client_secret=secret,
                                   nonce=nonce).token


def _validates_id_token(answer):
    if not callable(answer):
        return "expected a function validate_id_token(id_token, nonce) that returns the claims or raises"
    lab = current_lab()
    nonce = secrets.token_urlsafe(16)  # the check's own: real logins draw a fresh one every time
    reports = _login(lab, "fernhollow-reports", nonce, "reports-secret")
    genuine = reports["id_token"]
    try:
        claims = answer(genuine, nonce)
    except Exception as error:  # noqa: BLE001
        return f"your function refused a genuine ID token ({type(error).__name__}: {error})"
    userinfo = requests.get(lab.endpoint("userinfo"), timeout=5,
                            headers={"Authorization": f"Bearer {reports['access_token']}"}).json()
    if not isinstance(claims, dict) or claims.get("sub") != userinfo["sub"]:
        return "for a genuine ID token, return its claims (a dict with sub, aud, nonce, …)"
    if not refuses(lambda token: answer(token, nonce), with_claims(genuine, sub="ada")):
        return ("your function accepted an ID token whose claims were edited after signing: verify "
                "the signature before reading them")
    if not refuses(lambda token: answer(token, secrets.token_urlsafe(16)), genuine):
        return ("your function accepted an ID token from another login (its nonce is not the one "
                "this login sent): a replayed ID token passes")
    other_nonce = secrets.token_urlsafe(16)
    widget = _login(lab, "fernhollow-widget", other_nonce)["id_token"]
    if not refuses(lambda token: answer(token, other_nonce), widget):
        return "your function accepted an ID token issued to another app (aud fernhollow-widget): check aud"
    if (key := server_signing_key(lab)) is not None:  # a class server's key is not on this machine
        elsewhere = signed_like(genuine, key, iss="https://accounts.elsewhere.example")
        if not refuses(lambda token: answer(token, nonce), elsewhere):
            return ("your function accepted an ID token whose iss is another server's (the server's own key "
                    "signed it, so only the iss check refuses it): compare iss with lab.issuer")
    lab.clock.advance(unverified_parts(genuine)[1]["exp"] - lab.clock.now() + 1)
    if not refuses(lambda token: answer(token, nonce), genuine):
        return "your function accepted an expired ID token: compare exp with the server's clock"
    return None


validates_id_token = Exercise(
    "11 · validate an ID token", _validates_id_token,
    hint="token = jwt.decode(id_token, keys, algorithms=['RS256']); then jwt.JWTClaimsRegistry(now="
         "lab.clock.now(), iss={'essential': True, 'value': lab.issuer}, aud={'essential': True, "
         "'value': client_id}, exp={'essential': True}, nonce={'essential': True, 'value': nonce})"
         ".validate(token.claims); return token.claims.",
    solution="solutions/11_validate_id_token.py",
    success="your app accepts its own ID token and refuses an edited one, a replayed one (another "
            "nonce), one for another app, one naming another issuer (when the server's key is on this "
            "machine) and an expired one (the check moved the clock).")
