"""The capstone's grader: it reads the server's record of your app and grades each phase.

    from oauth_lab import capstone
    capstone.grade(lab, client_id, callback)               # that app
    capstone.grade(lab, lab.transcript.mark(), callback)   # the app registered last after the mark

The server's transcript (``lab.transcript``) holds every request your app sent and every answer
it got, tagged with the app's ``client_id`` or the ids of its tokens: the grader collects those
messages, and each phase below reads its own — registration, authorization request, token
exchange, API call, refresh, revocation. A last check asks the server, as its owner
(``lab.introspect_as_owner``: an API may not introspect a refresh token, and a public app cannot),
whether any of the app's tokens still works.

Your code hands it one thing: its ``callback``, the function that takes what arrives at the app's
redirect URI and trades the code. The grader plays notebook 12's CSRF attacker with it (``plant``):
an answer to a request the app never made must be refused before any token request.

Every phase grades the app's *last attempt* at its step, so a mistake fixed by a later attempt
passes, and a mistake made after a success fails. What is not an attempt: a call or a refresh the
server refused because the token it carried had expired or the app itself had revoked it (the app
checking its own disconnect), and revoking a token the app had already revoked. One exception:
a token sent where it does not belong (in a URL, a refresh token to the API) fails phase 4
whenever it happened — a later call does not take a disclosure back.

The app it expects is the one notebook 14 asks for: a browser app (a public client) that lists
the customers (``list_customers``, scope ``customers:ro``).
"""
from __future__ import annotations

import json
import math
import secrets
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import parse_qs, parse_qsl, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from requests_oauthlib import OAuth2Session
from werkzeug.datastructures import Authorization

from mock_server.clients import app_metadata

from .checks import Verdict
from .lab import Lab
from .server_link import Step
from .user_agent import UserAgent, UserAgentError
from .widgets.base import escape
from .widgets.diagram import API_PATHS, SequenceDiagram

SCOPE, ACTION = "customers:ro", "list_customers"  # the app's one job: the customer list
REGISTRATION = ("/register", "/console")  # RFC 7591, and the Developer Console's form
NOT_THE_APP = ("/introspect",)  # the API's question, never the app's
PLANTED = "planted-by-the-grader-"  # how the state of the grader's own planted requests begins


# --- reading one message ------------------------------------------------------------------------

def path(message: dict) -> str:
    return urlsplit(message["path"]).path


def query(message: dict) -> dict:
    return dict(parse_qsl(urlsplit(message["path"]).query))


def form(message: dict) -> dict:
    if "form-urlencoded" not in message["request_headers"].get("Content-Type", ""):
        return {}
    return dict(parse_qsl(message["request_body"]))


def answer(message: dict) -> dict:
    """The response's JSON object, or {} (a page, an empty body)."""
    try:
        body = json.loads(message["response_body"])
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def bearer(message: dict) -> str | None:
    """The token of an ``Authorization: Bearer`` header, parsed as Werkzeug parses it."""
    credentials = Authorization.from_header(message["request_headers"].get("Authorization"))
    return credentials.token if credentials and credentials.type == "bearer" else None


def quoted(scopes: list[str]) -> str:
    return repr(" ".join(scopes)) if scopes else "no scope"


def refusal(message: dict) -> str:
    """What the server said when it refused: the OAuth error, else the status and the page."""
    body = answer(message)
    if isinstance(body.get("error"), str):
        return f"{message['status']} {body['error']}: {body.get('error_description', '')}".rstrip(": ")
    challenge = message["response_headers"].get("WWW-Authenticate", "")
    return f"{message['status']} {challenge or message['response_body']}".strip()


# --- the app's record -----------------------------------------------------------------------------

@dataclass
class AuthorizationRequest:
    """One authorization request and what the browser did with it (sign-in, consent)."""

    messages: list[dict]

    @property
    def params(self) -> dict:
        return query(self.messages[0])

    @property
    def code(self) -> str | None:
        """The code the server sent back to the app, if it did."""
        for message in self.messages:
            location = message["response_headers"].get("Location", "")
            if code := dict(parse_qsl(urlsplit(location).query)).get("code"):
                return code
        return None

    @property
    def decision(self) -> str | None:
        """Allow or Deny, as Jane's browser posted it (None: nobody decided)."""
        posted = [form(m).get("decision") for m in self.messages if m["method"] == "POST"]
        return next((d for d in reversed(posted) if d), None)


class Tokens:
    """Every token the server gave the app, followed in the order the messages happened — through
    rotation, expiry and the app's own revocations: what each token the app sent *was* then."""

    def __init__(self, messages: list[dict]):
        self.issued: list[tuple[str, str]] = []  # (token, "the access token of refresh 1")
        self.current: set[str] = set()  # refresh tokens the app should use next
        self.spent: set[str] = set()  # refresh tokens a refresh replaced (rotation)
        self.refreshed: set[str] = set()  # access tokens a refresh returned
        self.expiry: dict[str, int] = {}  # every access token issued → the virtual time it expires
        self.grant: dict[str, int] = {}  # token → its grant: one token exchange and its refreshes
        self.revoked: set[str] = set()  # tokens the app's own revocations ended
        self.sent: dict[int, str] = {}  # message seq → what the token it carried was then
        self.revoked_then: set[int] = set()  # seqs of messages carrying a token the app had revoked
        self.expired_then: set[int] = set()  # seqs of API calls carrying an expired access token
        refreshes = 0
        for message in messages:
            token = self._carried(message)
            if token:
                self._note(message, token)
            if path(message) == "/token" and message["status"] == 200:
                grant = form(message).get("grant_type")
                refreshes += grant == "refresh_token"
                self._issue(answer(message), token, message["time"], "the token exchange"
                            if grant == "authorization_code" else f"refresh {refreshes}")
            elif path(message) == "/revoke" and message["status"] == 200 and token:
                self._revoke(token)

    def _note(self, message: dict, token: str) -> None:
        """What the token was when this message carried it."""
        seq = message["seq"]
        self.sent[seq] = self.kind(token)
        if token in self.revoked:
            self.revoked_then.add(seq)
        if path(message).startswith(API_PATHS) and message["time"] >= self.expiry.get(token, math.inf):
            self.expired_then.add(seq)

    @staticmethod
    def _carried(message: dict) -> str | None:
        if path(message) in ("/token", "/revoke"):
            fields = form(message)
            return fields.get("refresh_token") or fields.get("token")
        return bearer(message) or query(message).get("access_token")

    def _issue(self, tokens: dict, spent: str | None, time: int, origin: str) -> None:
        refresh, new_grant = origin.startswith("refresh"), len(set(self.grant.values()))
        grant = self.grant.get(spent, new_grant) if refresh else new_grant
        if tokens.get("refresh_token") and spent in self.current:  # rotation: the old one is spent
            self.current.discard(spent)
            self.spent.add(spent)
        for kind in ("access_token", "refresh_token"):
            if value := tokens.get(kind):
                self.issued.append((value, f"the {kind.replace('_', ' ')} of {origin}"))
                self.grant[value] = grant
        if access := tokens.get("access_token"):
            self.expiry[access] = time + int(tokens.get("expires_in", 0) or 0)
            if refresh:
                self.refreshed.add(access)
        if tokens.get("refresh_token"):
            self.current.add(tokens["refresh_token"])

    def _revoke(self, token: str) -> None:
        """This server ends a whole grant when one of its refresh tokens is revoked, current or
        spent (RFC 7009 §2.1 says a server SHOULD revoke the access tokens too); an access token
        revoked ends that token only."""
        if token in self.expiry or token not in self.grant:
            self.revoked.add(token)
            return
        ended = {value for value, grant in self.grant.items() if grant == self.grant[token]}
        self.revoked |= ended
        self.current -= ended

    def kind(self, token: str) -> str:
        if token in self.current:
            return "current refresh token"
        if token in self.spent:
            return "spent refresh token"
        if token in self.expiry:
            return "access token"
        if token in self.grant:
            return "revoked refresh token"
        return "unknown"


def planted(message: dict) -> bool:
    """A message of the grader's own planted authorization request (``plant``), not the app's: the
    request, Ada's sign-in and her consent carry its state."""
    return any(key.startswith(f"state:{PLANTED}") for key in message["keys"])


@dataclass
class Record:
    """The server's record of one app: every message tagged with its client_id or its tokens,
    and apart from them, the authorization requests the grader planted for it."""

    lab: Lab
    client_id: str
    messages: list[dict] = field(default_factory=list)
    planted: list[dict] = field(default_factory=list)

    @classmethod
    def read(cls, lab: Lab, client_id: str) -> "Record":
        transcript = lab.transcript
        found = {m["seq"]: m for m in transcript.messages(key=f"client_id:{client_id}")}
        issued = {key for m in found.values() if path(m) == "/token" for key in m["keys"]
                  if key.startswith("token:")}
        for key in issued:  # API calls and revocations carry the tokens, not always the client_id
            found.update((m["seq"], m) for m in transcript.messages(key=key))
        mine = [found[seq] for seq in sorted(found) if path(found[seq]) not in NOT_THE_APP]
        return cls(lab, client_id, [m for m in mine if not planted(m)], [m for m in mine if planted(m)])

    def __post_init__(self):
        self.tokens = Tokens(self.messages)

    @property
    def registration(self) -> dict | None:
        return next((m for m in self.messages if m["method"] == "POST" and path(m) in REGISTRATION), None)

    @property
    def metadata(self) -> dict:
        """What the server registered: /register answers it (RFC 7591 §3.2.1); the console's
        form becomes metadata as the console makes it."""
        message = self.registration
        if message is None:
            return {}
        return answer(message) if path(message) == "/register" else _console_metadata(message)

    @property
    def asked(self) -> dict:
        """The metadata the app sent (RFC 7591 §2: what it left out gets the defaults)."""
        message = self.registration
        if message is None or path(message) != "/register":
            return self.metadata
        try:
            return json.loads(message["request_body"])
        except ValueError:
            return {}

    @property
    def name(self) -> str:
        return self.metadata.get("client_name") or "an app"

    def authorization_requests(self, messages: list[dict] | None = None) -> list[AuthorizationRequest]:
        """The browser asks for the same URL before and after signing in, then posts the decision
        to it: one request per URL."""
        by_url: dict[str, list[dict]] = {}
        for message in self.messages if messages is None else messages:
            if path(message) == "/authorize":
                by_url.setdefault(message["path"], []).append(message)
        return [AuthorizationRequest(messages) for messages in by_url.values()]

    @property
    def authorization(self) -> AuthorizationRequest | None:
        """The app's last authorization request."""
        return (self.authorization_requests() or [None])[-1]

    @property
    def plants(self) -> list[AuthorizationRequest]:
        """The answers the grader planted for the app, oldest first."""
        return self.authorization_requests(self.planted)

    def attempts(self, messages: list[dict]) -> list[dict]:
        """Leave out what the server refused because the token had expired or the app had revoked
        it: the app checking its own disconnect, or the cue for a refresh — not an attempt."""
        provoked = self.tokens.revoked_then | self.tokens.expired_then
        return [m for m in messages if m["status"] == 200 or m["seq"] not in provoked]

    def token_requests(self, grant_type: str) -> list[dict]:
        return [m for m in self.messages if path(m) == "/token" and form(m).get("grant_type") == grant_type]

    @property
    def api_calls(self) -> list[dict]:
        return [m for m in self.messages if path(m).startswith(API_PATHS)]

    @property
    def revocations(self) -> list[dict]:
        return [m for m in self.messages if path(m) == "/revoke"]


def registered_client_id(message: dict) -> str | None:
    """The id a registration got from the server (one the request itself named is not it)."""
    if path(message) == "/register":
        return answer(message).get("client_id") if message["status"] == 201 else None
    named = {f"client_id:{form(message).get('client_id')}"}
    return next((key.split(":", 1)[1] for key in message["keys"]
                 if key.startswith("client_id:") and key not in named), None)


def _console_metadata(message: dict) -> dict:
    fields = parse_qs(message["request_body"])
    first = {name: values[0] for name, values in fields.items()}
    return app_metadata(first.get("client_name", ""), first.get("app_type", "server-side"),
                        first.get("redirect_uris", ""), fields.get("scope", []))


# --- the phases -----------------------------------------------------------------------------------

def registration(record: Record) -> Verdict:
    title = "1 · registration"
    message = record.registration
    if message is None:
        return Verdict(title, False, "the server has no registration of this app",
                       "register it: POST its metadata to lab.endpoint('registration') (RFC 7591), "
                       "or use the Developer Console")
    if message["status"] != 201:
        return Verdict(title, False, f"the server refused it: {refusal(message)}",
                       "read the error_description: it says which value the server refused (RFC 7591 "
                       "§3.2.2)")
    metadata, lab = record.metadata, record.lab
    method = metadata.get("token_endpoint_auth_method")
    if method != "none":
        why = (method if "token_endpoint_auth_method" in record.asked else "you named no "
               "token_endpoint_auth_method, and RFC 7591 §2's default is client_secret_basic")
        return Verdict(title, False, f"your app has a secret ({why}) but is meant to run in a browser, "
                                     "where anyone can read it",
                       "a browser app is a public client (RFC 6749 §2.1): register "
                       "token_endpoint_auth_method 'none' (the console's 'browser' app type); PKCE "
                       "protects its codes instead of a secret")
    uris = metadata.get("redirect_uris", [])
    if lab.redirect_uri not in uris:
        return Verdict(title, False, f"its redirect URIs are {uris}: your app's page, {lab.redirect_uri}, "
                                     "is not one of them",
                       "register redirect_uris [lab.redirect_uri]: the server sends codes only to a "
                       "registered URI, compared character by character (RFC 9700 §2.1)")
    if "refresh_token" not in metadata.get("grant_types", []):
        return Verdict(title, False, "its grant_types have no refresh_token: the server will give it no "
                                     "refresh token",
                       "RFC 7591 §2: grant_types defaults to authorization_code alone; register "
                       "['authorization_code', 'refresh_token']")
    scopes = metadata.get("scope", "").split()
    if scopes != [SCOPE]:
        return Verdict(title, False, f"its scope is {quoted(scopes)}; the customer list needs {SCOPE} "
                                     "and nothing more",
                       f"register scope '{SCOPE}': the registered scopes are the most an app may ever "
                       "ask for, so register only what the job needs")
    return Verdict(title, True, f"a public client (no secret), redirect URI {lab.redirect_uri}, "
                                f"grant types authorization_code and refresh_token, scope {SCOPE}.")


def authorization_request(record: Record) -> Verdict:
    title = "2 · authorization request"
    request = record.authorization
    if request is None:
        return Verdict(title, False, "your app sent no authorization request (GET /authorize with its "
                                     "client_id)",
                       "OAuth2Session(client_id, redirect_uri=lab.redirect_uri, scope=[...], "
                       "pkce='S256').authorization_url(lab.metadata['authorization_endpoint']), then "
                       "Jane decides: ConsentPanel(lab, url).decide('Allow')")
    params, registered = request.params, record.metadata.get("redirect_uris", [])
    if params.get("response_type") != "code":
        return Verdict(title, False, f"response_type is {params.get('response_type')!r}",
                       "the authorization code flow asks response_type=code (RFC 6749 §4.1.1)")
    if not params.get("code_challenge"):
        return Verdict(title, False, "your authorization request had no code_challenge",
                       "a public client must use PKCE (RFC 9700 §2.1.1): OAuth2Session(..., "
                       "pkce='S256') makes a code_verifier and sends its S256 code_challenge")
    if params.get("code_challenge_method") != "S256":
        method = params.get("code_challenge_method")
        said = repr(method) if method else "missing, which means plain (RFC 7636 §4.3)"
        return Verdict(title, False, f"code_challenge_method is {said}",
                       "send S256: with plain the challenge is the verifier itself, readable by anyone "
                       "who sees the request (RFC 7636 §4.2, §7.2)")
    if not params.get("state"):
        return Verdict(title, False, "your authorization request had no state",
                       "send a fresh random state and compare it when the answer comes back: it ties "
                       "the answer to your request (RFC 6749 §10.12). PKCE guards against CSRF here "
                       "too (RFC 9700 §2.1), but the task asks for both; OAuth2Session makes the state, "
                       "and compares it in fetch_token(..., authorization_response=redirect)")
    if params.get("redirect_uri") and params["redirect_uri"] not in registered:
        return Verdict(title, False, f"the redirect URI you sent ({params['redirect_uri']}) is not the one "
                                     f"you registered ({', '.join(registered)})",
                       "the server compares them character by character (RFC 9700 §2.1) and shows an "
                       "error page instead of redirecting (RFC 6749 §4.1.2.1): send lab.redirect_uri")
    asked = params.get("scope", "").split()
    if asked != [SCOPE]:
        return Verdict(title, False, f"you asked for {quoted(asked)}; the customer list needs {SCOPE}",
                       f"ask for exactly what the job needs: scope=['{SCOPE}']")
    if request.code:
        return planted_answer_refused(record, title)
    if request.decision == "deny":
        return Verdict(title, False, "Jane clicked Deny: the app got error=access_denied and no code",
                       "let Jane allow it: ConsentPanel(lab, url).decide('Allow')")
    last = request.messages[-1]
    if last["status"] == 200 and request.decision is None:
        return Verdict(title, False, f"no code came back: the server's last answer was a page, "
                                     f"{last['response_body']}, and no Allow or Deny followed",
                       "Jane decides in her browser: ConsentPanel(lab, url).decide('Allow'), or click "
                       "Allow in the panel; if the page was an error, it says why")
    return Verdict(title, False, f"the server sent no code back: {refusal(last)}",
                   "read the server's answer: it says what it refused")


def planted_answer_refused(record: Record, title: str) -> Verdict:
    """The end of phase 2: the grader's latest planted answer (``plant``) got no token request."""
    if not record.plants:
        return Verdict(title, False, "the grader has not tried your callback: it was given none",
                       "hand the check your app's callback, capstone.app.check(attempt, callback): the "
                       "grader brings it an answer to a request your app never made, to be refused")
    plant = record.plants[-1]
    if plant.code is None:
        return Verdict(title, False, f"the grader could not plant an answer: the server refused its "
                                     f"request for your app, {refusal(plant.messages[-1])}",
                       f"the grader asks for your app's registered scope at the redirect URI of your "
                       f"request: register lab.redirect_uri and {SCOPE} (phase 1)")
    traded = [m for m in record.token_requests("authorization_code") if form(m).get("code") == plant.code]
    if traded:
        said = refusal(traded[-1])
        pkce = any(word in said for word in ("challenge", "verifier"))  # the server's PKCE refusal
        because = ", because PKCE binds that code to Ada's code_challenge" if pkce else ""
        return Verdict(title, False, "your callback sent a token request for an answer your app never asked "
                                     "for — the grader's plant: Ada's code, for her own account, with a state "
                                     f"your app never sent (CSRF). The server refused it{because}: {said}",
                       "compare the answer's state with the one your request sent, before any token request "
                       "(RFC 6749 §10.12): the session that made the request does it in fetch_token(..., "
                       "authorization_response=redirect), if it made the state itself or was given it as "
                       "OAuth2Session(..., state=...) — a state passed to authorization_url it sends but never "
                       "compares. An app may rely on PKCE alone only once it has made sure the server "
                       "supports PKCE (RFC 9700 §4.7.1); the task asks for both")
    return Verdict(title, True, f"an S256 code_challenge, a state and scope {SCOPE}; Jane allowed, and the code "
                                "came back to your redirect URI. Your callback refused the grader's planted "
                                "answer (a state your app never sent) before any token request.")


def token_exchange(record: Record) -> Verdict:
    title = "3 · token exchange"
    request = record.authorization
    code = request.code if request else None
    if code is None:
        return Verdict(title, False, "no code to trade: the authorization request brought none back",
                       "the exchange needs the code of an allowed authorization request (phase 2)")
    attempts = [m for m in record.token_requests("authorization_code") if form(m).get("code") == code]
    if not attempts:
        return Verdict(title, False, "your app never traded its code for tokens",
                       "callback(redirect): app.fetch_token(lab.endpoint('token'), authorization_response="
                       "redirect, include_client_id=True) sends POST /token with grant_type="
                       "authorization_code (RFC 6749 §4.1.3)")
    graded = attempts[-1]
    if graded["status"] != 200 and any(m["status"] == 200 for m in attempts):
        return Verdict(title, False, "you redeemed the same code twice: the server refused the second "
                                     "request and revoked the tokens the first one got (RFC 6749 §4.1.2)",
                       "a code is single use: exchange it once, and start a new authorization request "
                       "to try again")
    sent, params = form(graded), request.params
    if "code_verifier" not in sent:
        return Verdict(title, False, "your token request had no code_verifier",
                       "send the verifier whose S256 hash was the code_challenge (RFC 7636 §4.5). "
                       "OAuth2Session keeps it: exchange with the session that made the authorization "
                       "URL (a web app keeps it in the user's session until the answer comes back)")
    if create_s256_code_challenge(sent["code_verifier"]) != params["code_challenge"]:
        return Verdict(title, False, "your code_verifier is not the one your code_challenge was made from",
                       "each authorization request has its own verifier: send the one of this request "
                       "(RFC 7636 §4.6)")
    if params.get("redirect_uri") and sent.get("redirect_uri") != params["redirect_uri"]:
        what = f"redirect_uri {sent['redirect_uri']}" if "redirect_uri" in sent else "no redirect_uri"
        return Verdict(title, False, f"your token request sent {what}, but your authorization request "
                                     f"sent {params['redirect_uri']}",
                       "RFC 6749 §4.1.3: when the authorization request had a redirect_uri, the token "
                       "request sends the identical value")
    if graded["status"] != 200:
        if answer(graded).get("error") == "invalid_client":
            return Verdict(title, False, f"the server could not tell which app was asking: {refusal(graded)}",
                           "a public client has no secret: it sends its client_id in the form (RFC 6749 "
                           "§4.1.3) — fetch_token(..., include_client_id=True)")
        return Verdict(title, False, f"the server refused it: {refusal(graded)}",
                       "read the error_description: it says which rule the request broke")
    if "refresh_token" not in answer(graded):
        return Verdict(title, False, "the server answered with no refresh token",
                       "register grant_types ['authorization_code', 'refresh_token'] (phase 1)")
    return Verdict(title, True, "the code with its code_verifier (its S256 hash is the challenge) and the "
                                "same redirect_uri; the server answered with an access token and a "
                                "refresh token.")


def action(message: dict) -> str:
    return path(message).rsplit("/", 1)[-1]


def api_call(record: Record) -> Verdict:
    title = "4 · API call"
    calls, sent = record.api_calls, record.tokens.sent
    if any("access_token" in query(m) for m in calls):  # a disclosure: no later call takes it back
        return Verdict(title, False, "you sent the token in the URL (?access_token=…)",
                       "URLs end up in logs, browser history and Referer headers: clients MUST NOT "
                       "pass access tokens in the query (RFC 9700 §4.3.2); send Authorization: Bearer "
                       "<access token> (RFC 6750 §2.1)")
    if any(sent.get(m["seq"], "").endswith("refresh token") for m in calls):
        return Verdict(title, False, "you called the API with the refresh token",
                       "a refresh token is for the token endpoint only and is never sent to a resource "
                       "server (RFC 6749 §1.5): send the access token")
    tried = record.attempts(calls)
    listed = [m for m in tried if action(m) == ACTION]
    if not listed:
        if calls and not tried:
            return Verdict(title, False, "the API refused every call your app made: the access token had "
                                         "expired, or your app had revoked it",
                           f"call lab.api('{ACTION}') right after the token exchange, while the access "
                           "token is live; refresh it once it has expired (phase 5)")
        if not tried:
            return Verdict(title, False, "your app never called the API with one of its tokens",
                           f"app.post(lab.api('{ACTION}'), json={{}}): OAuth2Session sends "
                           "Authorization: Bearer <access token> (RFC 6750 §2.1)")
        other = tried[-1]
        outcome = "it answered 200" if other["status"] == 200 else f"the API refused the call: {refusal(other)}"
        return Verdict(title, False, f"your app never called {ACTION}; it called {action(other)}, and {outcome}",
                       f"the customer list is lab.api('{ACTION}'), which scope {SCOPE} opens")
    last = listed[-1]
    if last["status"] == 200:
        return Verdict(title, True, f"{ACTION} answered 200 to Authorization: Bearer <access token>.")
    return Verdict(title, False, f"the API refused the call: {refusal(last)}",
                   "401 invalid_token: the token expired or was revoked, get a new one; 403 "
                   "insufficient_scope: the token lacks the scope the challenge names")


def refresh(record: Record) -> Verdict:
    title = "5 · refresh"
    refreshes, sent = record.attempts(record.token_requests("refresh_token")), record.tokens.sent
    if not refreshes:
        return Verdict(title, False, "your app never refreshed its access token",
                       "after lab.clock.advance(3600) the access token has expired: "
                       "app.refresh_token(lab.endpoint('token'), client_id=client_id) sends "
                       "grant_type=refresh_token with the refresh token (RFC 6749 §6)")
    last = refreshes[-1]
    if last["status"] != 200:
        worked = [i for i, m in enumerate(refreshes) if m["status"] == 200]
        since = refreshes[worked[-1] + 1 if worked else 0:]
        if any(sent.get(m["seq"]) == "spent refresh token" for m in since):
            return Verdict(title, False, "you refreshed with a refresh token an earlier refresh had replaced: "
                                         "the server took it for a stolen copy and revoked every token of "
                                         "the grant (RFC 9700 §4.14.2)",
                           "each refresh returns a new refresh token: use that one next time and discard "
                           "the old one (RFC 6749 §6); OAuth2Session keeps the newest in app.token")
        if sent.get(last["seq"]) == "access token":
            return Verdict(title, False, "you sent the access token as the refresh_token",
                           "send the refresh_token of the token response")
        return Verdict(title, False, f"the server refused the refresh: {refusal(last)}",
                       "read the error_description: it says which rule the request broke")
    fresh = record.tokens.refreshed
    calls = [m for m in record.api_calls if action(m) == ACTION]
    if not any(bearer(m) in fresh and m["status"] == 200 for m in calls):
        called = " (it called with an older one)" if any(m["seq"] > refreshes[0]["seq"] for m in calls) else ""
        return Verdict(title, False, f"after the refresh your app did not call the API with the new access "
                                     f"token{called}",
                       "the refresh answer's access_token replaces the old one: call the API again "
                       "after refreshing (OAuth2Session sends the new one)")
    count = f"{len(fresh)} refresh{'es' if len(fresh) > 1 else ''}"
    return Verdict(title, True, f"grant_type=refresh_token with the current refresh token ({count}); the new "
                                f"access token opened {ACTION} again.")


def revocation(record: Record) -> Verdict:
    title = "6 · revocation"
    if not record.revocations:
        return Verdict(title, False, "your app never revoked its tokens: Jane cannot disconnect it",
                       "POST lab.endpoint('revocation') with token=<the refresh token>, "
                       "token_type_hint=refresh_token and client_id (RFC 7009 §2.1)")
    revoked_then, sent = record.tokens.revoked_then, record.tokens.sent
    last = [m for m in record.revocations if m["seq"] not in revoked_then][-1]  # not: the same again
    kind = sent.get(last["seq"])
    if last["status"] != 200:
        return Verdict(title, False, f"the server refused the revocation: {refusal(last)}",
                       "the server checks that the token was issued to the app asking (RFC 7009 §2.1): "
                       "a public client sends its client_id with the token")
    if kind == "current refresh token":
        return Verdict(title, True, "you revoked the current refresh token: the grant ends, and this server "
                                    "revokes its access tokens too (RFC 7009 §2.1 says it SHOULD).")
    if kind == "access token":
        return Verdict(title, False, "you revoked the access token, not the refresh token: the app stays "
                                     "connected",
                       "revoking an access token ends that token only; RFC 7009 §2.1 lets a server "
                       "revoke the refresh token too but does not require it, and this one keeps it, so "
                       "the app gets new access tokens. Revoke the refresh token: that ends the grant")
    if kind == "spent refresh token":
        return Verdict(title, False, "you revoked a refresh token that a refresh had already replaced",
                       "this server ended the whole grant anyway, but RFC 7009 does not ask that of a "
                       "server: revoke the refresh token your app holds, app.token['refresh_token'] (in "
                       "a new flow: this grant has ended)")
    return Verdict(title, False, "you revoked a value that is no current token of your app, and the server "
                                 "answered 200 all the same: it does so for an invalid token too (RFC 7009 "
                                 "§2.2), so the 200 proves nothing",
                   "send the refresh token of your latest token response")


def tokens_ended(record: Record) -> Verdict:
    title = "7 · the tokens no longer work"
    issued = record.tokens.issued
    if not issued:
        return Verdict(title, False, "no tokens to check: the app never got any",
                       "this check asks the server about every token the app received (phase 3 first)")
    alive = [label for token, label in issued if record.lab.introspect_as_owner(token).get("active")]
    if alive:
        return Verdict(title, False, f"the server says these still work: {', '.join(alive)}",
                       "revoke the current refresh token of each grant the app holds: the server then "
                       "ends its access tokens too")
    return Verdict(title, True, f"asked about each (introspection, RFC 7662), the server says none of "
                                f"the app's {len(issued)} tokens is active.")


PHASES = (registration, authorization_request, token_exchange, api_call, refresh, revocation,
          tokens_ended)


# --- the report -----------------------------------------------------------------------------------

@dataclass
class Report:
    """Each phase's verdict, and the app's messages they were read from."""

    app: str  # "Customer Lookup (client_id …)", or what there was instead
    verdicts: list[Verdict]
    messages: list[dict] = field(default_factory=list)
    solution: str = ""  # shown when a phase fails: where the worked solution is

    @property
    def passed(self) -> bool:
        return bool(self.verdicts) and all(self.verdicts)

    def __bool__(self):
        return self.passed

    def summary(self) -> str:
        if len(self.verdicts) < len(PHASES):  # nothing registered to grade further
            return f"✗ Capstone — {self.app}"
        passing = sum(map(bool, self.verdicts))
        return f"{'✓' if self.passed else '✗'} Capstone — {self.app}: {passing} of {len(PHASES)} phases pass"

    def text(self) -> str:
        lines = [self.summary()]
        lines += ["  " + v.text().replace("\n", "\n    ") for v in self.verdicts]
        if self.solution and not self.passed:
            lines.append(f"Stuck? %load {self.solution}")
        return "\n".join(lines)

    def __repr__(self):
        return self.text()

    def html(self) -> str:
        rows = "".join(v._repr_html_() for v in self.verdicts)
        stuck = (f"<p>Stuck? <code>%load {escape(self.solution)}</code></p>"
                 if self.solution and not self.passed else "")
        return f"<b>{escape(self.summary())}</b>{rows}{stuck}"

    def _repr_html_(self):
        return self.html()

    def diagram(self) -> SequenceDiagram:
        return SequenceDiagram(self.messages, title=f"The server's record of {self.app}")


def plant(lab: Lab, record: Record, callback: Callable[[str], object]) -> None:
    """Notebook 12's CSRF, played on the app: Ada allows it for her own account, keeps the answer
    (a real code, with a state the app never sent) and it arrives at the app's callback. A callback
    that compares state refuses it before any token request; phase 2 reads whether one was sent."""
    asked = record.authorization.params.get("redirect_uri") if record.authorization else None
    scope = record.metadata.get("scope", SCOPE).split()
    ada = OAuth2Session(record.client_id, redirect_uri=asked or lab.redirect_uri, scope=scope, pkce="S256")
    url, _ = ada.authorization_url(lab.metadata["authorization_endpoint"],
                                   state=PLANTED + secrets.token_urlsafe(16))
    try:
        planted_answer = UserAgent("ada", "ada-password", lab.reach()).authorize(url)
    except UserAgentError:
        return  # the server refused the request: the transcript says why, and phase 2 reads it
    try:
        callback(planted_answer)
    except Exception:  # noqa: BLE001 — refusing, however it is done, is the right answer here
        pass


def grade(lab: Lab, app: str | Step, callback: Callable[[str], object] | None = None) -> Report:
    """Grade one app: its ``client_id``, or a transcript mark (the app registered last after it).
    Given the app's ``callback``, the grader first plants an answer on it (``plant``)."""
    if isinstance(app, Step):
        attempts = [m for m in lab.transcript.messages(app.since)
                    if m["method"] == "POST" and path(m) in REGISTRATION]
        if not attempts:
            return Report("no app yet", [Verdict(
                "1 · registration", False, "no app was registered after the mark",
                "write your app in this cell and run it: the grader grades the app it registers")])
        app = registered_client_id(attempts[-1])
        if app is None:  # refused: nothing else happened to grade
            return Report("a refused registration", [registration(Record(lab, "", [attempts[-1]]))])
    record = Record.read(lab, app)
    if callback is not None and record.registration and record.registration["status"] == 201:
        plant(lab, record, callback)
        record = Record.read(lab, app)
    return Report(f"{record.name} (client_id {app})", [phase(record) for phase in PHASES], record.messages)
