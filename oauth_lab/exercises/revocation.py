"""10 · Ending access: revocation and introspection."""
from __future__ import annotations

from urllib.parse import parse_qsl

import requests

from mock_server.tokens import token_id_of

from ..checks import Exercise
from ..flows import authorization_code_flow
from ..lab import current_lab
from .support import access_token_of, status, still_works

REPORTS = ("fernhollow-reports", "reports-secret")


def _revoked_tokens(lab, access_token: str) -> set[str]:
    """Every token of this grant that a revocation request accepted by the server carried (its
    transcript: the request bodies are recorded in full)."""
    return {dict(parse_qsl(m["request_body"])).get("token")
            for m in lab.transcript.messages(key=f"token:{token_id_of(access_token)}")
            if m["path"] == "/revoke" and m["status"] == 200}


def _disconnected(answer):
    access_token = access_token_of(answer)
    refresh_token = answer.get("refresh_token")
    if not isinstance(refresh_token, str):
        return "expected the app's whole token response: it carries a refresh_token too"
    if still_works(refresh_token):
        return ("the refresh token still works, so the app can get new access tokens: revoke the "
                "refresh token (its access tokens go with it)")
    if status("list_customers", access_token) == 200:
        return "the access token still works at the API"
    if refresh_token not in _revoked_tokens(current_lab(), access_token):
        return ("the server received no revocation of this refresh token: revoke "
                "app.token['refresh_token'] and put app.token in my_answer")
    return None


def _verdict(accepts, token: str):
    """What the learner's API says: True, False, or the exception it raised."""
    try:
        return accepts(token)
    except Exception as error:  # noqa: BLE001 — reported to the learner, not raised
        return error


def _introspecting_api(answer):
    if not callable(answer):
        return "expected a function accepts(access_token) that returns True or False"
    lab = current_lab()
    app = authorization_code_flow(lab, "fernhollow-reports", ["customers:ro"], client_secret=REPORTS[1])
    genuine = app.token["access_token"]
    verdict = _verdict(answer, genuine)
    if isinstance(verdict, Exception):
        return f"your function raised for a genuine, active token ({type(verdict).__name__}: {verdict})"
    if verdict is None:
        return "your function returned None: return True or False"
    if verdict is not True:
        return ("your function refused a genuine, active access token: does it authenticate as the "
                "resource server (agent-api)?")
    cases = [("not-a-token-this-server-issued", "a made-up token"),
             (app.token["refresh_token"], "a refresh token: the app that holds it may introspect it, "
                                          "an API hears {\"active\": false} — does your function ask as "
                                          "the resource server (agent-api)?")]
    for token, what in cases:
        verdict = _verdict(answer, token)
        if isinstance(verdict, Exception):
            return f"your function raised for {what} ({type(verdict).__name__}): return False"
        if verdict is not False:
            return f"your function did not return False for {what}"
    requests.post(lab.endpoint("revocation"), data={"token": genuine}, auth=REPORTS, timeout=5)
    if _verdict(answer, genuine) is not False:
        return "your function still accepts the token after the app revoked it: ask the server each time"
    return None


disconnect = Exercise(
    "10 · disconnect the app", _disconnected,
    hint="AuthlibSession('fernhollow-reports', 'reports-secret').revoke_token(lab.endpoint('revocation'), "
         "token=app.token['refresh_token'], token_type_hint='refresh_token'); then my_answer = app.token.",
    solution="solutions/10_disconnect.py",
    success="the refresh token is revoked and its access token died with it: the app has no access left.")

introspecting_api = Exercise(
    "10 · an API that introspects", _introspecting_api,
    hint="requests.post(lab.endpoint('introspection'), data={'token': access_token}, auth=('agent-api', "
         "'agent-api-secret')).json(); accept only when its active is True.",
    solution="solutions/10_introspecting_api.py",
    success="your API accepts a live access token and refuses a made-up one, a refresh token and a "
            "revoked one (the check revoked it).")
