"""The exercises at the end of each notebook, checked against the real server.

Each check asks the server, not a string comparison: a token passes if the API accepts it for
what the exercise asked and refuses the rest. Solutions live in ``notebooks/solutions/``; the
tests run every one of them, and feed every check wrong answers too.
"""
from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import requests

from .checks import Exercise
from .flows import authorization_code_flow
from .jwt_access_tokens import with_claims
from .lab import current_lab

RESOURCE_SERVER = ("agent-api", "agent-api-secret")  # the demo API, which may introspect any token


def _status(action: str, access_token: str) -> int:
    return requests.post(current_lab().api(action), json={},
                         headers={"Authorization": f"Bearer {access_token}"}, timeout=5).status_code


def _access_token(answer) -> str:
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
        raise ValueError("expected the token response: a dict with an 'access_token'")
    return answer["access_token"]


def _introspect(token: str) -> dict:
    """Ask the server about a token, as the resource server would (RFC 7662)."""
    return requests.post(current_lab().endpoint("introspection"), data={"token": token},
                         auth=RESOURCE_SERVER, timeout=5).json()


def _query(url) -> dict:
    return dict(parse_qsl(urlsplit(url).query)) if isinstance(url, str) else {}


# --- 00 ---------------------------------------------------------------------------------------

def _token_endpoint(answer):
    if answer != current_lab().metadata["token_endpoint"]:
        return f"{answer!r} is not the token endpoint the metadata announces"
    return None


# --- 01 ---------------------------------------------------------------------------------------

def _customers_only(answer):
    access_token = _access_token(answer)
    facts = _introspect(access_token)
    if facts.get("client_id") != "fernhollow-widget":
        return f"this token was issued to {facts.get('client_id')!r}, not to the browser app fernhollow-widget"
    if _status("list_customers", access_token) != 200:
        return "the API refuses this token for list_customers"
    if _status("list_chats", access_token) != 403:
        return "this token can read chats too: ask for customers:ro only"
    return None


# --- 02 ---------------------------------------------------------------------------------------

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


# --- 03 ---------------------------------------------------------------------------------------

def _customers_request(answer):
    received = _query(answer)
    if "code" not in received:
        return f"no code in that URL (error={received.get('error')!r})" if received else "not a redirect URL"
    lab = current_lab()
    if received.get("iss") != lab.issuer:
        return "iss is not this server's issuer"
    requests_sent = [m for m in lab.transcript.flow(state=received.get("state", ""))
                     if m["path"].startswith("/authorize") and m["method"] == "GET"]
    if not requests_sent:
        return "the server never saw an authorization request with that state"
    asked = _query(requests_sent[0]["path"])
    if asked.get("client_id") != "fernhollow-reports" or asked.get("scope") != "customers:ro":
        return f"your request asked {asked.get('client_id')} for scope {asked.get('scope')!r}"
    return None


def _invalid_scope_redirect(answer):
    received = _query(answer)
    if received.get("error") != "invalid_scope":
        return f"the app received error={received.get('error')!r}, not invalid_scope"
    if received.get("iss") != current_lab().issuer or not received.get("state"):
        return "an error redirect still carries the app's state and the server's iss"
    return None


# --- 04 ---------------------------------------------------------------------------------------

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


def _refuses(validate, token: str) -> bool:
    try:
        validate(token)
    except Exception:  # noqa: BLE001 — any exception is the API saying no
        return True
    return False


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
    facts = _introspect(genuine)
    if not isinstance(claims, dict) or any(claims.get(k) != facts.get(k) for k in ("sub", "client_id", "jti")):
        return "for a genuine token, return its claims (a dict with sub, client_id, jti, …)"
    if not _refuses(answer, with_claims(genuine, scope="customers:ro agents--all:rw")):
        return ("your function accepted a token whose claims were edited after signing: it reads "
                "the claims without verifying the signature")
    if not _refuses(answer, app.token["id_token"]):
        return "your function accepted an ID token as an access token: check typ (and aud)"
    lab.clock.advance(app.token["expires_in"] + 1)
    if not _refuses(answer, genuine):
        return "your function accepted an expired token: compare exp with the server's clock"
    return None


# --- 05 ---------------------------------------------------------------------------------------

def _can_call(answer):
    if not callable(answer):
        return "expected a function can_call(token, action)"
    lab = current_lab()
    reports = authorization_code_flow(lab, "fernhollow-reports", ["chats--all:ro", "agents--all:ro"],
                                      client_secret="reports-secret").token["access_token"]
    cases = [(reports, "list_chats", True), (reports, "list_agents", True),
             (reports, "update_agent", False), ("not-a-token", "list_chats", False)]
    for token, action, expected in cases:
        if answer(token, action) is not expected:
            who = "a made-up token" if token == "not-a-token" else "a token with chats--all:ro and agents--all:ro"
            return f"can_call({who}, {action!r}) should be {expected}"
    return None


def _needed_scope(answer):
    needed = {a["action"]: a["scope"] for a in requests.get(
        f"{current_lab().url}/v3.5/agent/actions", timeout=5).json()["actions"]}["update_agent"]
    return None if answer == needed else f"{answer!r} is not what the API asked for"


# --- 06 ---------------------------------------------------------------------------------------

def _rotated(new, previous):
    access_token = _access_token(new)
    if _status("list_customers", access_token) != 200:
        return "the API refuses the new access token"
    if new.get("refresh_token") in (None, previous):
        return "with rotation, a refresh returns a new refresh token"
    if _introspect(previous).get("active"):
        return "the previous refresh token is still active: did you refresh with it?"
    return None


# One namespace per notebook: `from oauth_lab.exercises import refresh; refresh.rotated.check(...)`.
start_here = SimpleNamespace(token_endpoint=Exercise(
    "00 · token endpoint", _token_endpoint,
    hint="metadata is a dict; the key ends with _endpoint.",
    solution="solutions/00_token_endpoint.py"))

password = SimpleNamespace(customers_only=Exercise(
    "01 · customers only", _customers_only,
    hint="authorization_code_flow(lab, 'fernhollow-widget', ['customers:ro']) — a browser app has "
         "no secret, so pass none; the session's .token is the token response.",
    solution="solutions/01_customers_only.py",
    success="the API lists customers with it and refuses chats (403)."))

register = SimpleNamespace(least_privilege=Exercise(
    "02 · a dashboard with least privilege", _least_privilege,
    hint="which app type can keep a secret in a browser? Which chats scope covers 'the groups she "
         "works in' (look at the scope table in notebook 03, or GET /scopes)?",
    solution="solutions/02_least_privilege.py",
    success="a public client asking for no more than the job needs, and the server accepts it."))

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

exchange = SimpleNamespace(by_hand=Exercise(
    "04 · exchange by hand", _by_hand,
    hint="redirect, verifier = fresh_code(); data={'grant_type': 'authorization_code', 'code': ..., "
         "'redirect_uri': lab.redirect_uri, 'code_verifier': verifier}; read the code with parse_qs.",
    solution="solutions/04_by_hand.py",
    success="the server issued that token to fernhollow-reports for Jane, and it is active."),
    api_validates=Exercise(
    "04 · validate it as the API", _api_validates,
    hint="jwt.decode(token, published_keys(lab), algorithms=['RS256']) checks the signature; then "
         "the header's typ, and JWTClaimsRegistry(now=lab.clock.now(), iss=..., aud=..., exp=...)"
         ".validate(claims).",
    solution="solutions/04_api_validates.py",
    success="your API accepts the genuine token and refuses an edited one, an ID token and an "
            "expired one (the check moved the clock past its expiry)."))

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
    hint="app.refresh_token(lab.endpoint('token'), auth=app_auth)",
    solution="solutions/06_refresh.py", context=("previous_refresh_token",),
    success="the new token works and the old refresh token is spent."))

NOTEBOOK_EXERCISES = {"start_here": start_here, "password": password, "register": register,
                      "authorization": authorization, "exchange": exchange, "api": api, "refresh": refresh}
ALL = {f"{group}.{name}": exercise
       for group, namespace in NOTEBOOK_EXERCISES.items() for name, exercise in vars(namespace).items()}
