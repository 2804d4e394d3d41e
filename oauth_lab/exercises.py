"""The exercises at the end of each notebook, checked against the real server.

Each check asks the server, not a string comparison: a token passes if the API accepts it for
what the exercise asked and refuses the rest. Solutions live in ``notebooks/solutions/``; the
tests run every one of them.
"""
from __future__ import annotations

import json
from types import SimpleNamespace

import requests

from .checks import Exercise
from .lab import current_lab


def _status(action: str, access_token: str) -> int:
    return requests.post(current_lab().api(action), json={},
                         headers={"Authorization": f"Bearer {access_token}"}, timeout=5).status_code


def _access_token(answer) -> str:
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
        raise ValueError("expected the token response: a dict with an 'access_token'")
    return answer["access_token"]


def _token_endpoint(answer):
    if answer != current_lab().metadata["token_endpoint"]:
        return f"{answer!r} is not the token endpoint the metadata announces"
    return None


def _customers_only(answer):
    access_token = _access_token(answer)
    if _status("list_customers", access_token) != 200:
        return "the API refuses this token for list_customers"
    if _status("list_chats", access_token) != 403:
        return "this token can read chats too: ask for customers:ro only"
    if answer.get("scope") not in (["customers:ro"], "customers:ro"):
        return f"scope is {answer.get('scope')!r}; the exercise wants customers:ro alone"
    return None


def _browser_app(answer):
    if not isinstance(answer, dict) or "client_id" not in answer:
        return "expected the registration response: a dict with a 'client_id'"
    if answer.get("client_secret") or answer.get("token_endpoint_auth_method") != "none":
        return "a browser app gets no secret: token_endpoint_auth_method must be 'none'"
    if answer.get("redirect_uris") != ["http://127.0.0.1:8765/callback"]:
        return f"redirect_uris is {answer.get('redirect_uris')!r}"
    if answer.get("scope") != "chats--access:ro":
        return f"scope is {answer.get('scope')!r}; the exercise wants chats--access:ro only"
    lab = current_lab()
    page = requests.get(lab.metadata["authorization_endpoint"].replace(lab.issuer, lab.url, 1), timeout=5,
                        params={"response_type": "code", "client_id": answer["client_id"],
                                "redirect_uri": "http://127.0.0.1:8765/callback",
                                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                                "code_challenge_method": "S256"})
    if page.status_code != 200:
        return f"the server does not accept an authorization request from it (HTTP {page.status_code})"
    return None


def _customers_request(answer):
    from urllib.parse import parse_qsl, urlsplit

    received = dict(parse_qsl(urlsplit(answer).query))
    if "code" not in received:
        return f"no code in that URL (error={received.get('error')!r})" if received else "not a redirect URL"
    lab = current_lab()
    if received.get("iss") != lab.issuer:
        return "iss is not this server's issuer"
    requests_sent = [m for m in lab.transcript.flow(state=received.get("state", ""))
                     if m["path"].startswith("/authorize") and m["method"] == "GET"]
    if not requests_sent:
        return "the server never saw an authorization request with that state"
    asked = dict(parse_qsl(urlsplit(requests_sent[0]["path"]).query))
    if asked.get("client_id") != "fernhollow-reports" or asked.get("scope") != "customers:ro":
        return f"your request asked {asked.get('client_id')} for scope {asked.get('scope')!r}"
    return None


def _introspect(token: str) -> dict:
    """Ask the server about a token, as the resource server would (RFC 7662)."""
    return requests.post(current_lab().endpoint("introspection"), data={"token": token},
                         auth=("agent-api", "agent-api-secret"), timeout=5).json()


def _by_hand(answer):
    access_token = _access_token(answer)
    facts = _introspect(access_token)
    if not facts.get("active"):
        return "the server says this access token is not active"
    if facts.get("client_id") != "fernhollow-reports" or facts.get("sub") != "jane":
        return f"this token belongs to {facts.get('client_id')} for {facts.get('sub')}"
    if "refresh_token" not in answer:
        return "a token response from the code exchange also carries a refresh_token"
    return None


def _can_call(answer):
    if not callable(answer):
        return "expected a function can_call(token, action)"
    lab = current_lab()
    machine = requests.post(lab.endpoint("token"), data={"grant_type": "client_credentials"},
                            auth=("fernhollow-reports", "reports-secret"), timeout=5).json()["access_token"]
    cases = [(machine, "list_chats", True), (machine, "list_agents", True),
             (machine, "update_agent", False), ("not-a-token", "list_chats", False)]
    for token, action, expected in cases:
        if answer(token, action) is not expected:
            who = "a made-up token" if token == "not-a-token" else "the reports app's token"
            return f"can_call({who}, {action!r}) should be {expected}"
    return None


def _rotated(new, previous):
    access_token = _access_token(new)
    if _status("list_customers", access_token) != 200:
        return "the API refuses the new access token"
    if new.get("refresh_token") in (None, previous):
        return "with rotation, a refresh returns a new refresh token"
    if _introspect(previous).get("active"):
        return "the previous refresh token is still active: did you refresh with it?"
    return None


def _invalid_scope_redirect(answer):
    from urllib.parse import parse_qsl, urlsplit

    received = dict(parse_qsl(urlsplit(answer).query)) if isinstance(answer, str) else {}
    if received.get("error") != "invalid_scope":
        return f"the app received error={received.get('error')!r}, not invalid_scope"
    if received.get("iss") != current_lab().issuer or not received.get("state"):
        return "an error redirect still carries the app's state and the server's iss"
    return None


def _verified_claims(answer):
    if not isinstance(answer, dict) or "jti" not in answer:
        return "expected the verified claims: a dict with a 'jti'"
    facts = _introspect_by_jti(answer["jti"])
    if facts is None:
        return "no active token of this server has that jti"
    for claim in ("sub", "client_id", "scope", "iss", "exp"):
        if answer.get(claim) != facts.get(claim):
            return f"claim {claim!r} is {answer.get(claim)!r}, the server says {facts.get(claim)!r}"
    return None


def _introspect_by_jti(jti):
    """The server's view of the token with this id, found through the transcript."""
    for message in reversed(current_lab().transcript.messages(key=f"token:{jti}")):
        if message["path"] == "/token" and message["status"] == 200:
            token = json.loads(message["response_body"])["access_token"]
            facts = _introspect(token)
            return facts if facts.get("active") else None
    return None


def _needed_scope(answer):
    needed = {a["action"]: a["scope"] for a in requests.get(
        f"{current_lab().url}/v3.5/agent/actions", timeout=5).json()["actions"]}["update_agent"]
    return None if answer == needed else f"{answer!r} is not what the API asked for"


# One namespace per notebook: `from oauth_lab.exercises import refresh; refresh.rotated.check(...)`.
start_here = SimpleNamespace(token_endpoint=Exercise(
    "00 · token endpoint", _token_endpoint,
    hint="metadata is a dict; the key ends with _endpoint.",
    solution="solutions/00_token_endpoint.py"))

password = SimpleNamespace(customers_only=Exercise(
    "01 · customers only", _customers_only,
    hint="fernhollow-widget is public: no client_secret, include_client_id=True, scope=['customers:ro'].",
    solution="solutions/01_customers_only.py",
    success="the API lists customers with it and refuses chats (403)."))

register = SimpleNamespace(browser_app=Exercise(
    "02 · a browser app", _browser_app,
    hint="POST JSON to lab.endpoint('registration') with token_endpoint_auth_method 'none'.",
    solution="solutions/02_browser_app.py",
    success="registered as a public client, and the server accepts authorization requests from it."))

authorization = SimpleNamespace(invalid_scope=Exercise(
    "03 · provoke invalid_scope", _invalid_scope_redirect,
    hint="ask fernhollow-reports for a scope it never registered (e.g. webhooks--all:rw) and read "
         "ConsentPanel(lab, url).value.",
    solution="solutions/03_invalid_scope.py",
    success="the server refused before any code existed, and told the app why."), customers_request=Exercise(
    "03 · ask for customers only", _customers_request,
    hint="OAuth2Session('fernhollow-reports', redirect_uri=lab.redirect_uri, scope=['customers:ro'], "
         "pkce='S256'); authorization_url(..., state='your-own'); then ConsentPanel(...).decide('Allow').",
    solution="solutions/03_customers_request.py",
    success="the server saw your request for customers:ro, and Jane allowed it."))

exchange = SimpleNamespace(verify=Exercise(
    "04 · verify it yourself", _verified_claims,
    hint="KeySet.import_key_set(requests.get(jwks_url).json()); jwt.decode(token, keys, "
         "algorithms=['RS256']).claims — fetch the JWKS through lab.url.",
    solution="solutions/04_verify.py",
    success="your verified claims match what the server knows about that token."), by_hand=Exercise(
    "04 · exchange by hand", _by_hand,
    hint="data={'grant_type': 'authorization_code', 'code': ..., 'redirect_uri': lab.redirect_uri, "
         "'code_verifier': session._client.code_verifier}; read the code with parse_qs.",
    solution="solutions/04_by_hand.py",
    success="the server issued that token to fernhollow-reports for Jane, and it is active."))

api = SimpleNamespace(needed_scope=Exercise(
    "05 · read the challenge", _needed_scope,
    hint="call update_agent with a token that lacks the scope; read the scope=\"...\" part of "
         "WWW-Authenticate.",
    solution="solutions/05_needed_scope.py",
    success="that is the scope the API names in its 403 challenge."), can_call=Exercise(
    "05 · can_call", _can_call,
    hint="call the action with the token and an empty JSON payload; 401 and 403 mean no.",
    solution="solutions/05_can_call.py",
    success="your function agrees with the API for every token tried."))

refresh = SimpleNamespace(rotated=Exercise(
    "06 · refresh", _rotated,
    hint="oauth.refresh_token(lab.endpoint('token'), auth=app_auth)",
    solution="solutions/06_refresh.py", context=("previous_refresh_token",),
    success="the new token works and the old refresh token is spent."))

NOTEBOOK_EXERCISES = {"start_here": start_here, "password": password, "register": register,
                      "authorization": authorization, "exchange": exchange, "api": api, "refresh": refresh}
ALL = {f"{group}.{name}": exercise
       for group, namespace in NOTEBOOK_EXERCISES.items() for name, exercise in vars(namespace).items()}
