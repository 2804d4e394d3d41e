"""02 · Register your app."""
from __future__ import annotations

import requests

from ..checks import Exercise
from ..lab import current_lab

SCOPE_ADVICE = {
    "chats--all:ro": "chats--all:ro reads every chat of the organisation; the dashboard needs only "
                     "the chats of the groups the agent works in",
    "chats--my:ro": "chats--my:ro shows only the chats she takes part in, not her groups' chats",
    "chats--access:rw": "the dashboard only shows chats: read-only (:ro) is enough",
}


def _least_privilege(answer):
    if not isinstance(answer, dict) or "client_id" not in answer:
        return "expected the registration response: a dict with a 'client_id'"
    if answer.get("client_secret") or answer.get("token_endpoint_auth_method") != "none":
        return ("code running in a browser cannot keep a secret: register a public client "
                "(token_endpoint_auth_method 'none', the console's 'browser' type)")
    lab = current_lab()
    if answer.get("redirect_uris") != [lab.redirect_uri]:
        return f"redirect_uris is {answer.get('redirect_uris')!r}; the app's page is {lab.redirect_uri}"
    scopes = answer.get("scope", "").split()
    for scope in scopes:
        if scope in SCOPE_ADVICE:
            return SCOPE_ADVICE[scope]
    if scopes != ["chats--access:ro"]:
        return f"scope is {answer.get('scope')!r}: register only what the job needs"
    page = requests.get(lab.endpoint("authorization"), timeout=5, params={
        "response_type": "code", "client_id": answer["client_id"], "redirect_uri": lab.redirect_uri,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"})
    if page.status_code != 200:
        return f"the server does not accept an authorization request from it (HTTP {page.status_code})"
    return None


least_privilege = Exercise(
    "02 · a dashboard with least privilege", _least_privilege,
    hint="can code running in a browser keep a secret? Which chats scope covers 'the groups she "
         "works in'? The registration form above describes each scope (so do the Developer Console "
         "and GET /scopes).",
    solution="solutions/02_least_privilege.py",
    success="a public client asking for no more than the job needs, and the server accepts it.")
