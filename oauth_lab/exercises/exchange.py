"""04 · The token exchange."""
from __future__ import annotations

from ..checks import Exercise
from ..flows import authorization_code_flow
from ..jwt_access_tokens import server_signing_key, signed_like, with_claims
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
    if problem := _one_value_wrong(answer, lab, genuine):
        return problem
    if not refuses(answer, app.token["id_token"]):
        return "your function accepted an ID token as an access token: check typ (and aud)"
    lab.clock.advance(app.token["expires_in"] + 1)
    if not refuses(answer, genuine):
        return "your function accepted an expired token: compare exp with the server's clock"
    return None


def _one_value_wrong(answer, lab, genuine: str) -> str | None:
    """Tokens signed with the server's own key, each with one RFC 9068 §4 value wrong: only a
    validator that makes that very check refuses it. (Skipped when the server's key is not on this
    machine: a class server's world.)"""
    key = server_signing_key(lab)
    if key is None:
        return None
    wrong = [
        (dict(typ="JWT"), "a JWT whose typ is 'JWT' (an ID token's type), not 'at+jwt': check the "
                          "header's typ"),
        (dict(iss="https://accounts.elsewhere.example"), "a token whose iss is another server's: "
                                                         "compare iss with lab.issuer"),
        (dict(aud="https://api.elsewhere.example"), "a token meant for another API (its aud): compare "
                                                    "aud with lab.api_audience"),
    ]
    for changes, what in wrong:
        if not refuses(answer, signed_like(genuine, key, **changes)):
            return f"your function accepted {what} (the server's own key signed it)"
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
    hint="token = jwt.decode(access_token, keys, algorithms=['RS256']) checks the signature; then "
         "token.header['typ'] must be 'at+jwt'; then jwt.JWTClaimsRegistry(now=lab.clock.now(), "
         "iss={'essential': True, 'value': lab.issuer}, aud={'essential': True, 'value': lab.api_audience}, "
         "exp={'essential': True}).validate(token.claims) checks iss, aud and exp, and raises if one fails.",
    solution="solutions/04_api_validates.py",
    success="your API accepts the genuine token and refuses an edited one, one of another type, "
            "issuer or audience signed with the server's own key (when its key is on this machine), "
            "an ID token and an expired one (the check moved the clock past its expiry).")
