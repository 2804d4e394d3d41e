"""12 · Security lab: one short exercise per attack (or pair of attacks), each checked by running
the attack, or asking what a browser or the server does.

The checks that need a server start one of their own on a free port and stop it afterwards: the
notebook's servers keep their worlds, and the check's outcome does not depend on what the notebook
did to them.
"""
from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.structures import CaseInsensitiveDict
from requests_oauthlib import OAuth2Session

import mock_server

from ..attacker import AttackerAuthorizationServer, refusing_headers
from ..checks import Exercise
from ..flows import authorization_code_flow
from ..lab import current_lab, setup
from ..user_agent import REFERRER_POLICIES, UserAgent, referrer
from .support import access_token_of, introspect

APP = "fernhollow-widget"
SCOPE = ["chats--access:ro"]
PARTNER_ID = "widget-at-partner"  # the widget's client_id at the attacker's authorization server
JANE, ADA = ("jane", "jane-password"), ("ada", "ada-password")


@contextmanager
def server_of_its_own(**switches):
    """A mock server for one check (`switches`: its teaching switches), stopped afterwards."""
    server = setup(seed=None, port=mock_server.free_port(), make_current=False, **switches)
    try:
        yield server
    finally:
        server.handle.stop()


def waiting_app(server, pkce: str | None = None) -> tuple[OAuth2Session, str]:
    """Jane's app, having sent an authorization request to `server`; and the URL of it."""
    app = OAuth2Session(APP, redirect_uri=current_lab().redirect_uri, scope=SCOPE, pkce=pkce)
    url, _ = app.authorization_url(server.metadata["authorization_endpoint"])
    return app, url


def token_requests(server, since: int) -> int:
    """How many requests reached `server`'s token endpoint since `since` (a transcript mark)."""
    return sum(m["path"].split("?")[0] == "/token" for m in server.transcript.messages(since))


def _call(callback, *arguments):
    """The learner's callback: its token response, or None when it refused (raised)."""
    try:
        return callback(*arguments)
    except Exception:  # noqa: BLE001 — refusing, however it is done, is the right answer here
        return None


def _janes_own_answer(callback, server, last_argument) -> str | None:
    """What is wrong when the callback does not connect Jane's account for her own answer."""
    app, url = waiting_app(server)
    janes = UserAgent(*JANE, server.reach()).authorize(url)
    token = _call(callback, app, janes, last_argument)
    if token is None or introspect(access_token_of(token), server).get("sub") != "jane":
        return "your callback did not return Jane's token for the answer to her own request"
    return None


def _planted_code(callback, server, last_argument) -> str | None:
    """CSRF: Ada's code, for her own account, arrives at Jane's app (on a server without PKCE)."""
    app, _ = waiting_app(server)
    _, adas_url = waiting_app(server)
    planted = UserAgent(*ADA, server.reach()).authorize(adas_url)
    seq = server.transcript.last_seq()
    token = _call(callback, app, planted, last_argument)
    if token is not None:
        who = introspect(access_token_of(token), server).get("sub")
        return (f"your callback accepted an answer to a request the app never made: Jane's app is now "
                f"connected to {who}'s account: compare the answer's state with the request's")
    if token_requests(server, seq):
        return ("your callback refused Ada's planted code only after sending it to the token endpoint: "
                "compare state before any token request")
    return None


# --- 1 · CSRF ------------------------------------------------------------------------------------

def _checks_state(answer):
    if not callable(answer):
        return "expected a function callback(app, redirect, token_endpoint)"
    with server_of_its_own(require_pkce=False) as server:  # state is the only defence there
        token_endpoint = server.endpoint("token")
        return _janes_own_answer(answer, server, token_endpoint) or _planted_code(answer, server, token_endpoint)


checks_state = Exercise(
    "12 · a callback that checks state", _checks_state,
    hint="hand requests-oauthlib the whole redirect: app.fetch_token(token_endpoint, "
         "authorization_response=redirect, include_client_id=True) compares the redirect's state "
         "with the request's and raises before sending any token request.",
    solution="solutions/12_checks_state.py",
    success="Jane's own answer connects her account; Ada's planted code is refused before any token request.")


# --- 2–3 · redirect URI manipulation, an open redirect ------------------------------------------

def _no_open_redirect(answer):
    if not callable(answer):
        return "expected a function may_forward(page, target)"
    lab = current_lab()
    shop, attacker = f"http://127.0.0.1:{lab.app.port + 6}", f"http://127.0.0.1:{lab.app.port + 4}"
    relay, onward = f"{shop}/callback/relay/", f"{shop}/callback/continue/"
    attackers_host = urlsplit(attacker).netloc
    cases = [  # (the forwarding page, the target, allowed?, what goes wrong otherwise)
        (onward, f"{shop}/", True, "refused the shop's own home page: its own pages must stay reachable"),
        (relay, f"{shop}/callback/welcome", True, "refused a page of the shop's own"),
        (relay, f"{attacker}/catch", False, f"let the relay send Jane's code to the attacker's page on "
                                            f"{attackers_host}: 127.0.0.1 with another port is another origin "
                                            "(the port is part of it)"),
        (onward, f"{attacker}/steal", False, "let continue send Jane's token to the attacker's page"),
        (onward, f"http://{urlsplit(shop).netloc}@{attackers_host}/steal", False,
         f"was fooled by a user name: in http://{urlsplit(shop).netloc}@{attackers_host}/steal, what precedes "
         f"@ is a user name, and the browser goes to {attackers_host}: compare the whole origin"),
        (onward, f"//{attackers_host}/steal", False,
         f"forwarded to //{attackers_host}/steal: a URL that starts with // names another host (the "
         "page's scheme is kept)"),
        (onward, f"http://127.0.0.1.attacker.example:{lab.app.port + 6}/steal", False,
         "forwarded to 127.0.0.1.attacker.example: another host, whose name only starts like the shop's"),
    ]
    for page, target, allowed, wrong in cases:
        if bool(answer(page + target, target)) is not allowed:
            return f"your may_forward {wrong}"
    return None


no_open_redirect = Exercise(
    "12 · no open redirector", _no_open_redirect,
    hint="forward only to the page's own origin: compare urlsplit(target)'s scheme and netloc with "
         "urlsplit(page)'s (RFC 9700 §4.11.1: clients MUST NOT expose open redirectors).",
    solution="solutions/12_no_open_redirect.py",
    success="the shop's pages forward only to the shop: the attacker's pages, however disguised, are refused.")


# --- 4 · leaks through Referer -------------------------------------------------------------------

def _referrer_policy(answer):
    if not isinstance(answer, str):
        return "expected the value of the Referrer-Policy header, a string such as 'unsafe-url'"
    if not any(token.strip().lower() in REFERRER_POLICIES for token in answer.split(",")):
        return (f"browsers ignore a policy they do not know, {answer!r}, and use their default: "
                f"name one of {', '.join(REFERRER_POLICIES)}")
    lab = current_lab()
    welcome = f"http://127.0.0.1:{lab.app.port + 6}/callback/welcome?code=ac_example&state=st_example"
    banner = f"http://127.0.0.1:{lab.app.port + 4}/banner.gif"  # the partner's: another origin
    sent = referrer(welcome, answer, banner)
    if sent and urlsplit(sent).query:
        return (f"with Referrer-Policy: {answer}, the banner's request tells the partner Referer: {sent}, "
                "the code and state included")
    return None


referrer_policy = Exercise(
    "12 · a referrer policy for the welcome page", _referrer_policy,
    hint="the page's URL carries the code and state; a policy that sends another site the whole URL "
         "leaks them. RFC 9700 §4.2.4 gives the example Referrer-Policy: no-referrer.",
    solution="solutions/12_referrer_policy.py",
    success="the banner's request no longer carries the code or the state.")


# --- 5–6 · refresh-token replay, scope escalation ------------------------------------------------

STEPS = ("the thief refreshes first", "then the app refreshes", "then the thief calls the API",
         "the app refreshes asking for customers:ro only")
WHY = {
    STEPS[0]: "nothing had been used twice yet, so the server saw an ordinary refresh and rotated the token "
              "for the thief: rotation notices a theft only once both parties have used the token "
              "(RFC 9700 §4.14.2)",
    STEPS[1]: "the app presented the refresh token the thief's refresh had already used: a reuse, so the "
              "server refused it and revoked the whole family (RFC 9700 §4.14.2)",
    STEPS[2]: "the server cannot tell which party is the thief, so it revoked the whole family, the thief's "
              "new access token included",
    STEPS[3]: "a refresh may ask for less than was granted, never more (RFC 6749 §6)",
}


def refresh_request(server, refresh_token: str, **more) -> requests.Response:
    """A refresh as a public client sends it: the refresh token and the public client_id."""
    return requests.post(server.endpoint("token"), timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": APP, **more})


def server_answers() -> dict[str, int]:
    """Each step of the exercise, run against a default server of its own: the HTTP status."""
    with server_of_its_own() as server:
        stolen = authorization_code_flow(server, APP, ["chats--access:ro", "customers:ro"]).token["refresh_token"]
        thiefs = refresh_request(server, stolen)
        apps = refresh_request(server, stolen)  # the app still holds the token the thief has used
        api = requests.post(server.api("list_chats"), json={}, timeout=5,
                            headers={"Authorization": f"Bearer {thiefs.json().get('access_token')}"})
        other = authorization_code_flow(server, APP, ["chats--access:ro", "customers:ro"])
        narrower = refresh_request(server, other.token["refresh_token"], scope="customers:ro")
        return dict(zip(STEPS, (thiefs.status_code, apps.status_code, api.status_code, narrower.status_code)))


def _refresh_answers(answer):
    if not isinstance(answer, dict) or set(answer) != set(STEPS):
        return f"expected a dict with these keys: {', '.join(STEPS)}"
    missing = [step for step in STEPS if answer[step] is None]
    if missing:
        return f"no prediction yet for: {', '.join(missing)}"
    actual = server_answers()
    for step in STEPS:
        if answer[step] != actual[step]:
            return f"{step}: you said {answer[step]}, the server answered {actual[step]}: {WHY[step]}"
    return None


refresh_answers = Exercise(
    "12 · what the server answers", _refresh_answers,
    hint="with rotation, each refresh spends the refresh token it presents; the server notices a theft "
         "when a spent one comes back, and then revokes the whole family. A refresh may narrow the "
         "scope (RFC 6749 §6). Answer with HTTP statuses: 200, 400 or 401.",
    solution="solutions/12_refresh_answers.py",
    success="the thief's first refresh goes unnoticed until the app refreshes; then the whole family "
            "is revoked. A refresh may narrow the scope, never widen it.")


# --- 7 · mix-up ----------------------------------------------------------------------------------

def without_iss(redirect: str) -> str:
    """The same redirect with its iss parameter taken out."""
    parts = urlsplit(redirect)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "iss"])
    return urlunsplit(parts._replace(query=query))


def _missing_iss(callback, server) -> str | None:
    """Jane's own answer, state and code intact, but no iss: from a server that always sends it."""
    app, url = waiting_app(server)
    redirect = without_iss(UserAgent(*JANE, server.reach()).authorize(url))
    seq = server.transcript.last_seq()
    _call(callback, app, redirect, server.metadata)
    if token_requests(server, seq):
        return ("your callback accepted an answer without iss from a server whose metadata says "
                "authorization_response_iss_parameter_supported: true; that server names itself in every "
                "answer, so RFC 9207 §2.4 says to reject it")
    return None


def _mix_up(callback, honest) -> str | None:
    """The app asked Partner Accounts (the attacker's), and the honest server answered."""
    partner = AttackerAuthorizationServer(mock_server.free_port(), honest, {PARTNER_ID: APP})
    try:
        app = OAuth2Session(PARTNER_ID, redirect_uri=current_lab().redirect_uri, scope=SCOPE, pkce="S256")
        url, _ = app.authorization_url(partner.metadata()["authorization_endpoint"])
        redirect = UserAgent(*JANE, honest.reach()).authorize(url, server=honest.issuer)
        _call(callback, app, redirect, partner.metadata())
        if partner.token_requests():
            return ("your callback sent Jane's code and verifier to the attacker's token endpoint: the "
                    "answer's iss names another server than the one the app asked")
        return None
    finally:
        partner.stop()


def _careful_callback(answer):
    if not callable(answer):
        return "expected a function careful_callback(app, redirect, metadata)"
    with server_of_its_own(require_pkce=False) as server:
        return (_janes_own_answer(answer, server, server.metadata)
                or _planted_code(answer, server, server.metadata)
                or _missing_iss(answer, server)
                or _mix_up(answer, server))


careful_callback = Exercise(
    "12 · a careful callback", _careful_callback,
    hint="read iss from the redirect's query. Raise if it differs from metadata['issuer'], or if it is "
         "missing while metadata.get('authorization_response_iss_parameter_supported') is true (RFC 9207 "
         "§2.4). Then, as in section 1: app.fetch_token(metadata['token_endpoint'], "
         "authorization_response=redirect, include_client_id=True).",
    solution="solutions/12_careful_callback.py",
    success="Jane's own answer connects her account; Ada's planted code, an answer without iss and the "
            "answer from another server than the one asked are refused before any token request.")


# --- 8 · clickjacking ----------------------------------------------------------------------------

def _frame_headers(answer):
    if not isinstance(answer, dict):
        return "expected the response headers, a dict such as {'X-Frame-Options': '...'}"
    headers = CaseInsensitiveDict(answer)
    refusing = " ".join(refusing_headers(headers))
    if "X-Frame-Options" not in refusing:
        if "ALLOW-FROM" in headers.get("X-Frame-Options", "").upper():
            return "X-Frame-Options: ALLOW-FROM is obsolete: browsers ignore it and frame the page"
        return ("no X-Frame-Options that refuses frames (DENY or SAMEORIGIN): a browser without CSP Level 2 "
                "would show the page in the attacker's frame (RFC 9700 §4.16 names X-Frame-Options)")
    if "Content-Security-Policy" not in refusing:
        policy = headers.get("Content-Security-Policy", "")
        if policy and "frame-ancestors" not in policy:
            return (f"Content-Security-Policy: {policy} says nothing about frames: frame-ancestors does not "
                    "fall back to default-src")
        return ("no Content-Security-Policy whose frame-ancestors is 'none' or 'self': RFC 9700 §4.16 asks "
                "for CSP Level 2 as well")
    return None


frame_headers = Exercise(
    "12 · headers that keep the consent page out of frames", _frame_headers,
    hint="one header for older browsers (X-Frame-Options, RFC 7034), one for newer ones (a "
         "Content-Security-Policy with frame-ancestors, CSP Level 2); each must refuse every other "
         "site (RFC 9700 §4.16).",
    solution="solutions/12_frame_headers.py",
    success="no browser, old or new, shows the consent page in another site's frame.")
