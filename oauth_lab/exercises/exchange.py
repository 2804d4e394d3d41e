"""04 · The token exchange."""
from __future__ import annotations

from ..checks import Exercise
from ..flows import authorization_code_flow
from ..jwt_access_tokens import with_claims
from ..lab import current_lab
from .support import access_token_of, introspect, refuses


def _by_hand(answer):
    access_token = access_token_of(answer)
    facts = introspect(access_token)
    if not facts.get("active"):
        return "the server says this access token is not active"
    if facts.get("client_id") != "fernhollow-reports" or facts.get("sub") != "jane":
        return f"this token belongs to {facts.get('client_id')} for {facts.get('sub')}"
    if "refresh_token" not in answer:
        return "a token response from the code exchange also carries a refresh_token"
    return None


def _api_validates(answer):
    if not callable(answer):
        return "expected a function validate(access_token) that returns the claims or raises"
    lab = current_lab()
    app = authorization_code_flow(lab, "fernhollow-reports", ["customers:ro", "openid"],
                                  client_secret="reports-secret")
    genuine = app.token["access_token"]
    try:
        claims = answer(genuine)
    except Exception as error:  # noqa: BLE001
        return f"your function refused a genuine access token ({type(error).__name__}: {error})"
    facts = introspect(genuine)
    if not isinstance(claims, dict) or any(claims.get(k) != facts.get(k) for k in ("sub", "client_id", "jti")):
        return "for a genuine token, return its claims (a dict with sub, client_id, jti, …)"
    if not refuses(answer, with_claims(genuine, scope="customers:ro agents--all:rw")):
        return ("your function accepted a token whose claims were edited after signing: it reads "
                "the claims without verifying the signature")
    if not refuses(answer, app.token["id_token"]):
        return "your function accepted an ID token as an access token: check typ (and aud)"
    lab.clock.advance(app.token["expires_in"] + 1)
    if not refuses(answer, genuine):
        return "your function accepted an expired token: compare exp with the server's clock"
    return None


by_hand = Exercise(
    "04 · exchange by hand", _by_hand,
    hint="session, redirect, verifier = fresh_code(); data={'grant_type': 'authorization_code', "
         "'code': ..., 'redirect_uri': lab.redirect_uri, 'code_verifier': verifier}; read the code "
         "with parse_qs.",
    solution="solutions/04_by_hand.py",
    success="the server issued that token to fernhollow-reports for Jane, and it is active.")

api_validates = Exercise(
    "04 · validate it as the API", _api_validates,
    hint="jwt.decode(token, published_keys(lab), algorithms=['RS256']) checks the signature; then "
         "the header's typ, and JWTClaimsRegistry(now=lab.clock.now(), iss=..., aud=..., exp=...)"
         ".validate(claims).",
    solution="solutions/04_api_validates.py",
    success="your API accepts the genuine token and refuses an edited one, an ID token and an "
            "expired one (the check moved the clock past its expiry).")
