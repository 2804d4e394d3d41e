"""Robustness: random methods, bodies, headers and JSON against every endpoint of a real server.

The properties (one definition, used by `pytest` and by ``scripts/fuzz_server.py``):

* nothing answers 5xx, and no body ever carries a Python ``Traceback``;
* back-channel errors are JSON with a string ``error`` (RFC 6749 §5.2; RFC 7591 §3.2.2 for
  ``/register``), drawn from the registered error codes;
* the resource server (``/userinfo``, the agent API) refuses a token with 401/403 and a
  ``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3); its other errors are JSON, either the
  OAuth shape or LiveChat's ``{"error": {"type", "message"}}``;
* pages a browser sees answer errors as an HTML page.

Bounded for CI (``FUZZ_EXAMPLES``, 150 per test by default, derandomized). The fuzz script runs
the same tests with many more examples and a random seed.
"""
from __future__ import annotations

import base64
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

import mock_server
from documents import DocumentSite
from flows import (APP_CALLBACK, ADMIN_TOOLS, DEVICE_CODE, REPORTS, RESOURCE_SERVER, WIDGET, code_tokens,
                   dpop_key, dpop_proof, dpop_token, push, pkce_pair)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
DERANDOMIZE = os.environ.get("FUZZ_RANDOM", "0") != "1"

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    database=None,
    print_blob=not DERANDOMIZE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much, HealthCheck.large_base_example],
)

# --------------------------------------------------------------------------------------------
# What the server may answer
# --------------------------------------------------------------------------------------------

OAUTH_ERRORS = {
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
    "unsupported_grant_type", "invalid_scope", "unsupported_token_type", "invalid_client_metadata",
    "invalid_redirect_uri", "authorization_pending", "slow_down", "access_denied", "expired_token",
    "not_found", "method_not_allowed", "invalid_token", "invalid_dpop_proof", "use_dpop_nonce",
    "unsupported_response_type", "invalid_target",
}
FORM_ENDPOINTS = ("/token", "/par", "/revoke", "/introspect", "/device_authorization")
BROWSER_PAGES = ("/authorize", "/login", "/logout", "/device", "/console")
AGENT_ACTIONS = ("list_chats", "get_chat", "list_customers", "list_agents", "update_agent",
                 "register_webhook")
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")


# --------------------------------------------------------------------------------------------
# The server and the live values an example may refer to
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Live:
    """A value known only once the server runs (a real token, this session's CSRF token...)."""
    name: str


class Fuzzed:
    """The running server, an HTTP session, and the live values examples refer to."""

    def __init__(self, server, http: requests.Session, browser_cookies: dict, csrf: str,
                 values: dict):
        self.server, self.http, self.browser_cookies = server, http, browser_cookies
        self.csrf, self.values, self.minted_at = csrf, values, None

    def __repr__(self):
        return f"<fuzzed {self.server!r}>"

    @property
    def url(self):
        return self.server.url

    def resolve(self, value):
        if isinstance(value, Live):
            if value.name in ("jane_access", "ada_access", "configuration_access"):
                self._fresh_user_tokens()
            if value.name == "csrf":
                return self.csrf
            if value.name == "callback":
                return APP_CALLBACK
            if value.name == "owner":  # the admin routes' key (mock_server/owner.py)
                return self.server.owner_key
            return self.values[value.name]
        return value

    def _fresh_user_tokens(self):
        """Re-mint the user tokens if a fuzzed ``POST /_mock/clock`` moved time past them."""
        now = self.http.get(f"{self.url}/_mock/clock", headers=self.server.admin_headers).json()["now"]
        if now != self.minted_at:
            mint_user_tokens(self)
            self.minted_at = now


def mint_user_tokens(ctx: Fuzzed):
    jane = code_tokens(ctx.server, REPORTS,
                       scope="chats--access:ro customers:ro agents--all:ro openid profile email")
    ada = code_tokens(ctx.server, ADMIN_TOOLS, scope="chats--all:ro agents--all:rw webhooks.configuration:rw",
                      user=("ada", "ada-password"))
    # A token for the second API (RFC 8707): the agent API must refuse it, the configuration API not.
    configuration = code_tokens(ctx.server, ADMIN_TOOLS, scope="agents--all:rw webhooks.configuration:rw",
                                user=("ada", "ada-password"), resource=ctx.url + "/v3.5/configuration")
    ctx.values.update(jane_access=jane["access_token"], ada_access=ada["access_token"],
                      configuration_access=configuration["access_token"])


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@contextmanager
def fuzzed_server():
    """One deterministic server for many examples, with live tokens and a signed-in browser."""
    server = mock_server.start(port=PORT, seed=7)
    site = DocumentSite()  # a client's metadata document (client_id_metadata.py), valid
    try:
        http = requests.Session()
        # Throwaway tokens and codes for the form endpoints (revoking them is fine).
        sacrificial = code_tokens(server, REPORTS, scope="chats--access:ro openid")
        device = http.post(f"{server.url}/device_authorization",
                           data={"client_id": WIDGET, "scope": "chats--access:ro"}).json()
        # A signed-in browser session (jane) and its CSRF token.
        browser = requests.Session()
        login = browser.get(f"{server.url}/login", params={"next": "/console"})
        browser.post(f"{server.url}/login", data={"username": "jane", "password": "jane-password",
                                                  "csrf_token": csrf_of(login.text),
                                                  "next": "/console"}, allow_redirects=False)
        csrf = csrf_of(browser.get(f"{server.url}/console").text)
        # DPoP (RFC 9449): a bound token, and proofs good and bad; a pushed request (RFC 9126).
        key = dpop_key()
        bound = dpop_token(server, key).json()["access_token"]
        api = f"{server.url}/v3.5/agent/action/list_customers"
        proofs = {
            "proof_token": dpop_proof(server, key, "POST", "/token"),
            "proof_par": dpop_proof(server, key, "POST", "/par"),
            "proof_api": dpop_proof(server, key, "POST", api, access_token=bound),
            "proof_userinfo": dpop_proof(server, key, "GET", "/userinfo", access_token=bound),
            "proof_private": dpop_proof(server, key, "POST", "/token", header={"jwk": key.as_dict(private=True)}),
            "proof_untyped": dpop_proof(server, key, "POST", "/token", header={"typ": None}),
            "proof_stale": dpop_proof(server, key, "POST", "/token", iat=0),
        }
        request_uri = push(server, WIDGET, scope="customers:ro", code_challenge=pkce_pair()[1],
                           code_challenge_method="S256").json()["request_uri"]
        ctx = Fuzzed(server, http, dict(browser.cookies), csrf, values={
            "access": sacrificial["access_token"],
            "refresh": sacrificial["refresh_token"],
            "id_token": sacrificial.get("id_token", "x.y.z"),
            "user_code": device["user_code"],
            "device_code": device["device_code"],
            "dpop_access": bound,
            "request_uri": request_uri,
            **proofs,
            "agent_resource": server.url + "/v3.5/agent",
            "configuration_resource": server.url + "/v3.5/configuration",
            "document": site.publish(grant_types=["authorization_code", "refresh_token"], cache="max-age=60"),
        })
        yield ctx
    finally:
        site.stop()
        server.stop()


@pytest.fixture(scope="module")
def fuzzed():
    with fuzzed_server() as ctx:
        yield ctx


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

PARAM_NAMES = ("grant_type", "code", "client_id", "client_secret", "redirect_uri", "code_verifier",
               "refresh_token", "scope", "token", "token_type_hint", "device_code", "response_type",
               "state", "code_challenge", "code_challenge_method", "nonce", "username", "password",
               "csrf_token", "decision", "user_code", "next", "prompt", "max_age", "access_token",
               "client_name", "redirect_uris", "app_type", "response_mode", "request", "since", "key",
               "request_uri", "dpop_jkt", "resource", "resource")
PLAUSIBLE = (
    "fernhollow-reports", "reports-secret", "fernhollow-widget", "fernhollow-admin-tools",
    "admin-tools-secret", "agent-api", "agent-api-secret", "authorization_code", "refresh_token",
    "client_credentials", "password", "implicit", DEVICE_CODE, "code", "token", "id_token",
    "code id_token", "none", "S256", "plain", "http://127.0.0.1:8765/callback",
    "http://127.0.0.1:8765/callback?x=1", "https://evil.example/callback", "javascript:alert(1)",
    "openid", "openid profile email", "chats--access:ro customers:ro", "chats--all:ro", "agents--all:rw",
    "chats--all:rw",
    "access_token", "allow", "deny", "Allow", "jane", "jane-password", "ada", "ada-password",
    "login", "consent", "0", "-1", "99999999999999999999", "/console", "//evil.example", "",
    " ", "%", "%00", "\x00", "ABCD-EFGH", "a" * 300, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "/\r\nX", "/\\evil.example", "²", "٣", "1e3",  # a CR/LF for a Location header; digits int() refuses
    "urn:ietf:params:oauth:request_uri:", "urn:ietf:params:oauth:request_uri:x",
    # Resource indicators (RFC 8707) and client ids that are URLs (Client ID Metadata Documents):
    # special-use and loopback addresses only, which are refused before or at once on connecting.
    "https://evil.example/api", "urn:fernhollow:api", "#frag", "http://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/client.json", "https://[::1]/c.json", "http://2130706433/x", "https://user@127.0.0.1/x",
    "https://127.0.0.1/a/../b", "http://127.0.0.1:1/client.json", "https://[fe80::1%25eth0]/c",
)
CLIENT_IDS = (REPORTS[0], WIDGET, ADMIN_TOOLS[0], RESOURCE_SERVER[0], "https://10.0.0.1/client.json")
LIVE_FORM = tuple(Live(name) for name in ("csrf", "callback", "access", "refresh", "id_token",
                                          "user_code", "device_code", "request_uri", "agent_resource",
                                          "configuration_resource", "document"))
PROOFS = tuple(Live(name) for name in ("proof_token", "proof_par", "proof_api", "proof_userinfo",
                                       "proof_private", "proof_untyped", "proof_stale"))

names = st.one_of(st.sampled_from(PARAM_NAMES), st.sampled_from(PARAM_NAMES),
                  st.text(max_size=12))
values = st.one_of(st.sampled_from(PLAUSIBLE), st.sampled_from(LIVE_FORM), st.text(max_size=40),
                   st.text(st.characters(max_codepoint=0x1f), max_size=5))
pairs = st.lists(st.tuples(names, values), max_size=8)
# Repeated parameters: some lists repeat their first pair.
param_lists = st.one_of(pairs, pairs.filter(bool).map(lambda p: p + p[:1]))

percent_garbage = st.sampled_from((b"%", b"%zz", b"code=%ff%fe", b"a=%E0%80", b"=&=&&",
                                   b"grant_type=authorization_code&grant_type=refresh_token",
                                   b"\xff\xfe=\x00", b"a" * 5000))
raw_bodies = st.one_of(st.binary(max_size=200), percent_garbage)

FORM_TYPE = "application/x-www-form-urlencoded"
CONTENT_TYPES = st.one_of(
    st.just(FORM_TYPE), st.just(FORM_TYPE),
    st.sampled_from((f"{FORM_TYPE};charset=UTF-8", f"{FORM_TYPE}; charset=latin-1",
                     "APPLICATION/X-WWW-FORM-URLENCODED", "application/json",
                     "application/json; charset=utf-16", "text/plain", "multipart/form-data",
                     "multipart/form-data; boundary=xyz", "multipart/form-data; boundary=",
                     "application/x-www-form-urlencoded, application/json", ";", "", "*/*")),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0xff), max_size=30),
)


def header_bytes(text: str | bytes) -> bytes:
    """Anything, made sendable: no CR/LF, no leading whitespace (requests refuses those)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return raw.replace(b"\r", b"").replace(b"\n", b"").lstrip(b" \t\x0b\x0c")


def basic(client_id: str, secret: str, encode: bool) -> bytes:
    if encode:
        client_id, secret = quote(client_id, safe=""), quote(secret, safe="")
    return b"Basic " + base64.b64encode(f"{client_id}:{secret}".encode())


authorizations = st.one_of(
    st.none(),
    st.builds(basic, st.sampled_from(PLAUSIBLE) | st.text(max_size=10),
              st.sampled_from(PLAUSIBLE) | st.text(max_size=10), st.booleans()),
    st.builds(basic, st.just(REPORTS[0]), st.just(REPORTS[1]), st.booleans()),
    st.builds(basic, st.sampled_from(CLIENT_IDS), st.text(max_size=10), st.booleans()),
    st.binary(max_size=40).map(lambda b: b"Basic " + base64.b64encode(b)),
    st.sampled_from((b"Basic ", b"Basic", b"basic   ", b"Basic ====", b"Basic Og==", b"Basic YTo=",
                     b"Basic Ojo=", b"Bearer ", b"Bearer", b"bearer  x", b"Bearer a b c",
                     b"Bearer \xff\xfe", b"Digest x", b"MAC id=1", b"Negotiate", b"")),
    st.text(max_size=40).map(lambda t: header_bytes("Bearer " + t)),
    st.text(max_size=40).map(header_bytes),
    st.sampled_from((Live("access"), Live("refresh"), Live("id_token"))),
    st.sampled_from((Live("dpop_access"), Live("access"))).map(lambda live: ("DPoP", live)),
)

PORT = mock_server.free_port()  # known here: the session cookie's name carries it
COOKIE = f"mock_oauth_session_{PORT}".encode()
extra_headers = st.dictionaries(
    st.sampled_from(("Accept", "Origin", "Cookie", "X-Forwarded-For", "Accept-Charset",
                     "Content-Encoding", "Transfer-Encoding-X", "X-Whatever")),
    st.one_of(st.text(max_size=30).map(header_bytes),
              st.sampled_from((COOKIE + b"=garbage", COOKIE + b"=",
                               b"application/json", b"text/html", b"gzip", b"null", b"*/*"))),
    max_size=2)
# RFC 9449's DPoP header: real proofs (for this endpoint or another, with a private key, untyped,
# stale), JWT-shaped garbage, huge and deeply nested ones, or anything.
b64 = st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode())
dpop_headers = st.one_of(
    st.none(), st.none(),
    st.sampled_from(PROOFS),
    st.tuples(b64, b64, b64).map(".".join),
    st.sampled_from(("x.y.z", "a..c", "...", "eyJ.eyJ.x", "e30.e30.e30", "e30.e30.", "x" * 9000,
                     base64.urlsafe_b64encode(b'{"a":' * 2000 + b"1" + b"}" * 2000).decode() + ".e30.c2ln")),
    st.text(max_size=60).map(header_bytes),
)

# JSON: random documents, wrongly typed RFC 7591 fields, huge numbers, deep nesting.
json_text = st.one_of(st.text(max_size=30), st.sampled_from(PLAUSIBLE),
                      st.sampled_from(("\ud800", "a\udfffb", "\u0000", "\u202e", "💥")))
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from((1e308, -1e308, 5e-324, 10**400, -(2**63), 2**64)), json_text)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_text, inner, max_size=4),
    max_leaves=15)
# A JWK Set has a shape a validator may assume (an object with a list of key objects).
JWKS_SHAPES = st.sampled_from((5, "x", "<a string>", [], {}, {"keys": 5}, {"keys": "ab"}, {"keys": [5]},
                               {"keys": [{}]}, {"keys": [{"kty": ["RSA"]}]}, {"keys": [{"kty": 5}]},
                               {"keys": [{"kty": "EC", "crv": ["P-256"]}]}))
uri_lists = st.lists(st.sampled_from(("http://127.0.0.1:8765/callback", "https://app.example/cb",
                                      "app.example/cb", "not a uri", "http://[::1", "", "#frag",
                                      "https://a.example/cb#frag", "custom:/cb"))
                     | json_values, max_size=3)
RFC7591_FIELDS = {
    "redirect_uris": uri_lists | json_values,
    "client_name": json_values,
    "token_endpoint_auth_method": st.sampled_from(("none", "client_secret_basic",
                                                   "client_secret_post", "private_key_jwt",
                                                   "tls_client_auth")) | json_values,
    "grant_types": st.lists(st.sampled_from(("authorization_code", "refresh_token", "implicit",
                                             "client_credentials", DEVICE_CODE, "password")),
                            max_size=3) | json_values,
    "response_types": st.lists(st.sampled_from(("code", "token", "id_token", "code id_token")),
                               max_size=2) | json_values,
    "scope": st.sampled_from(("openid", "chats--access:ro customers:ro", "admin", "")) | json_values,
    "jwks": JWKS_SHAPES | json_values, "jwks_uri": json_values, "contacts": json_values, "logo_uri": json_values,
    "client_uri": json_values, "policy_uri": json_values, "tos_uri": json_values,
    "software_id": json_values, "software_statement": json_values,
    "id_token_signed_response_alg": st.sampled_from(("RS256", "none", "HS256")) | json_values,
    "client_id": json_values, "client_secret": json_values,
}
AGENT_FIELDS = {
    "limit": st.sampled_from((0, 1, 100, 101, 1.5, True, "5", 1e308, -1)) | json_values,
    "chat_id": st.sampled_from(("chat-1001", "chat-1002", "chat-9999", "", None)) | json_values,
    "id": st.sampled_from(("jane", "ada", "jane@fernhollow.example", "nobody")) | json_values,
    "name": json_values, "job_title": json_values,
    "max_chats_count": st.sampled_from((0, 100, 101, -1, 2**64, 1e308, False)) | json_values,
    "url": st.sampled_from(("https://hooks.example/in", "http://x", "ftp://x", "https://")) | json_values,
    "action": st.sampled_from(("incoming_chat", "thread_tagged", "nope")) | json_values,
    "secret_key": json_values,
}


def deep(depth: int, opener: str) -> str:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return opener * depth + "1" + closer * depth


deep_json = st.builds(deep, st.sampled_from((33, 100, 1000, 100_000)), st.sampled_from(("[", '{"a":')))
json_documents = st.one_of(
    json_values.map(json.dumps),
    st.fixed_dictionaries({}, optional=RFC7591_FIELDS).map(json.dumps),
    st.fixed_dictionaries({}, optional=AGENT_FIELDS).map(json.dumps),
    st.fixed_dictionaries({}, optional={"advance": json_values | st.sampled_from(
        (0, 1, 10**9, 10**9 + 1, -1, 1e308, float("nan"), True))}).map(json.dumps),
    deep_json,
    st.sampled_from(("", "{", "[1,]", '{"a":1,"a":2}', "1e99999", "9" * 5000, "NaN", "null",
                     '"\\ud800"', "\ufeff{}", "{}" * 3)),
)


@dataclass
class Body:
    kind: str  # "none", "form", "raw", "json"
    data: object = None
    content_type: object = None


form_bodies = st.builds(Body, st.just("form"), param_lists, CONTENT_TYPES)
json_bodies = st.builds(Body, st.just("json"), json_documents,
                        st.sampled_from(("application/json", "application/json; charset=utf-8",
                                         "application/merge-patch+json", "text/json"))
                        | CONTENT_TYPES)
raw = st.builds(Body, st.just("raw"), raw_bodies, CONTENT_TYPES)
no_body = st.builds(Body, st.just("none"))
bodies = st.one_of(no_body, form_bodies, form_bodies, json_bodies, raw)
json_first = st.one_of(no_body, json_bodies, json_bodies, json_bodies, form_bodies, raw)
methods = st.one_of(st.just("POST"), st.just("GET"), st.sampled_from(METHODS))


@dataclass
class Call:
    method: str
    path: str
    query: list
    authorization: object
    headers: dict
    body: Body
    signed_in: bool = False
    dpop: object = None  # the DPoP header: a Live proof, or text


def calls(paths, body=bodies, method=methods, signed_in=st.just(False)):
    return st.builds(Call, method, paths, st.one_of(st.just([]), param_lists), authorizations,
                     extra_headers, body, signed_in, dpop_headers)


def send(ctx: Fuzzed, call: Call, session: requests.Session | None = None) -> requests.Response:
    headers = {name: value for name, value in call.headers.items()}
    authorization = ctx.resolve(call.authorization)
    if isinstance(call.authorization, Live):
        authorization = f"Bearer {authorization}"
    if isinstance(call.authorization, tuple):  # (scheme, Live token)
        authorization = f"{call.authorization[0]} {ctx.resolve(call.authorization[1])}"
    if authorization is not None:
        headers["Authorization"] = authorization
    if call.dpop is not None:
        headers["DPoP"] = ctx.resolve(call.dpop)
    body = call.body
    data = None
    if body.kind == "form":
        data = urlencode([(n, ctx.resolve(v)) for n, v in body.data]).encode()
    elif body.kind == "json":
        data = body.data.encode("utf-8", "surrogatepass")
    elif body.kind == "raw":
        data = body.data
    if body.content_type is not None:
        headers["Content-Type"] = header_bytes(body.content_type)
    query = [(n, ctx.resolve(v)) for n, v in call.query]
    session = session or ctx.http
    response = session.request(call.method, ctx.url + call.path, params=query, data=data,
                                headers=headers, allow_redirects=False, timeout=30)
    if currently_in_test_context():  # not for the known inputs, which run outside Hypothesis
        note(f"-> {response.status_code} {dict(response.headers)}\n{response.text[:800]}")
    return response


# --------------------------------------------------------------------------------------------
# The properties
# --------------------------------------------------------------------------------------------

def assert_no_server_error(response):
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    assert b"Traceback" not in response.content, response.text[:2000]


def json_body(response) -> dict:
    assert response.headers.get("Content-Type", "").startswith("application/json"), (
        f"{response.status_code} with Content-Type {response.headers.get('Content-Type')!r}: "
        f"{response.text[:300]}")
    if response.request.method == "HEAD":
        return {}
    body = response.json()
    assert isinstance(body, dict), body
    return body


def assert_oauth_error_shape(response, codes=OAUTH_ERRORS):
    """RFC 6749 §5.2 / RFC 7591 §3.2.2: JSON, a registered string `error`."""
    if not 400 <= response.status_code < 500:
        return
    body = json_body(response)
    if response.request.method == "HEAD":
        return
    assert isinstance(body.get("error"), str), body
    assert body["error"] in codes, body
    assert isinstance(body.get("error_description", ""), str), body


def assert_resource_error_shape(response):
    """RFC 6750 §3 for token refusals; other errors JSON in the OAuth or LiveChat shape."""
    if not 400 <= response.status_code < 500:
        return
    body = json_body(response)
    if response.status_code in (401, 403):
        # RFC 6750 §3 and RFC 9449 §7.1, §7.2: both schemes' challenges, the one the request used
        # first (a DPoP challenge when it carries the error).
        challenge = response.headers.get("WWW-Authenticate", "")
        assert challenge.startswith(("Bearer ", "DPoP ")), (response.status_code, challenge, body)
        assert "Bearer realm=" in challenge and "DPoP realm=" in challenge, (response.status_code, challenge)
    if response.request.method == "HEAD":
        return
    error = body.get("error")
    if response.status_code == 401 and error is None:
        return  # §3.1: no error code when the request carried no token at all
    assert isinstance(error, str) or (isinstance(error, dict) and isinstance(error.get("type"), str)
                                      and isinstance(error.get("message"), str)), body
    if isinstance(error, str):
        assert error in OAUTH_ERRORS | {"insufficient_scope"}, body


def assert_html_error(response):
    if response.status_code >= 400:
        content_type = response.headers.get("Content-Type", "")
        assert content_type.startswith("text/html"), (
            f"{response.status_code} with Content-Type {content_type!r}: {response.text[:300]}")


# --------------------------------------------------------------------------------------------
# One property per kind of endpoint: what is sent, and what must hold of the answer
# --------------------------------------------------------------------------------------------

FORM_CALLS = calls(st.sampled_from(FORM_ENDPOINTS))


def check_oauth_form_endpoint(fuzzed, call):
    response = send(fuzzed, call)
    assert_no_server_error(response)
    assert_oauth_error_shape(response)


REGISTER_CALLS = calls(st.just("/register"), body=json_first)


def check_registration(fuzzed, call):
    response = send(fuzzed, call)
    assert_no_server_error(response)
    assert_oauth_error_shape(response)


# One field of otherwise valid metadata wrongly typed: every earlier check passes, so the value
# reaches the validators (a lone bad `jwks` made Authlib's validator answer 500).
VALID_METADATA = {"client_name": "Fuzzed App", "redirect_uris": [APP_CALLBACK]}
ONE_FIELD = st.sampled_from(sorted(RFC7591_FIELDS)).flatmap(
    lambda name: st.tuples(st.just(name), RFC7591_FIELDS[name]))


def check_registration_field(fuzzed, field):
    name, value = field
    response = fuzzed.http.post(f"{fuzzed.url}/register", data=json.dumps({**VALID_METADATA, name: value}),
                                headers={"Content-Type": "application/json"}, timeout=30)
    if currently_in_test_context():
        note(f"{name}={value!r} -> {response.status_code} {response.text[:300]}")
    assert_no_server_error(response)
    if response.status_code != 201:
        # RFC 7591 §3.2.2: invalid_redirect_uri for redirect_uris, invalid_client_metadata otherwise.
        expected = "invalid_redirect_uri" if name == "redirect_uris" else "invalid_client_metadata"
        assert response.status_code == 400 and json_body(response)["error"] == expected, response.text


RESOURCE_PATHS = st.one_of(
    st.sampled_from(AGENT_ACTIONS).map(lambda name: f"/v3.5/agent/action/{name}"),
    st.sampled_from(AGENT_ACTIONS).map(lambda name: f"/v3.5/configuration/action/{name}"),
    st.sampled_from(("/v3.5/agent", "/v3.5/configuration", "/v3.5/configuration/", "/v3.5/configuration/action/")),
    st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1, max_size=15).map(
        lambda name: "/v3.5/agent/action/" + quote(name, safe="")),
    st.sampled_from(("/v3.5/agent/actions", "/userinfo", "/v3.5/agent/action/",
                     "/v3.5/agent/action/list_chats/")),
)
USER_TOKENS = st.sampled_from((Live("jane_access"), Live("ada_access"), Live("configuration_access")))
RESOURCE_CALLS = st.builds(Call, methods, RESOURCE_PATHS, st.one_of(st.just([]), param_lists),
                           st.one_of(authorizations, USER_TOKENS, USER_TOKENS), extra_headers,
                           json_first, st.just(False), dpop_headers)


def check_resource_server(fuzzed, call):
    response = send(fuzzed, call)
    assert_no_server_error(response)
    assert_resource_error_shape(response)


BROWSER_CALLS = calls(st.sampled_from(BROWSER_PAGES + ("/",)), signed_in=st.booleans())


def check_browser_page(fuzzed, call):
    browser = requests.Session()  # each example starts from a clean (or freshly signed-in) jar
    if call.signed_in:
        browser.cookies.update(fuzzed.browser_cookies)
    response = send(fuzzed, call, browser)
    assert_no_server_error(response)
    assert_html_error(response)


OTHER_PATHS = st.one_of(
    st.sampled_from(("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
                     "/.well-known/jwks.json", "/_mock/clock", "/_mock/transcript", "/_mock/run",
                     "/_mock/public-url", "/_mock/public-url/token",
                     "/.well-known/", "/_mock/", "/static/x", "/favicon.ico", "/token/", "/revoke/x",
                     "/%2e%2e/%2e%2e/etc/passwd", "/.well-known/jwks.json/..",
                     "/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/v3.5/agent",
                     "/.well-known/oauth-protected-resource/v3.5/configuration",
                     "/.well-known/oauth-protected-resource/v3.5/agent/..", "/.well-known/oauth-protected-resource/")),
    st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), max_size=20).map(
        lambda tail: "/.well-known/oauth-protected-resource/" + quote(tail, safe="/")),
    st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), max_size=20).map(
        lambda tail: "/nope/" + quote(tail, safe="/")),
)
# The admin routes answer their owner only: half the calls carry the owner key, so their bodies
# and parameters are fuzzed too, not just the refusal.
OTHER_CALLS = st.builds(Call, methods, OTHER_PATHS, st.one_of(st.just([]), param_lists),
                        st.one_of(authorizations, st.just(Live("owner"))), extra_headers, json_first,
                        st.just(False), dpop_headers)


def check_other_path(fuzzed, call):
    response = send(fuzzed, call)
    assert_no_server_error(response)
    assert_oauth_error_shape(response)


# Client ids that are URLs (Client ID Metadata Documents): shapes and addresses the server must
# refuse — before connecting, or at once — or a valid document it fetches; never a 500, at the
# authorization endpoint (a page) or the token endpoint (JSON).
URL_HOSTS = st.one_of(
    st.sampled_from(("10.0.0.1", "169.254.169.254", "[::1]", "[::ffff:10.0.0.1]", "[64:ff9b::a00:1]", "2130706433",
                     "0x7f.1", "0251.0376.0251.0376", "127.0.0.1:1", "127.0.0.2", "localhost:1",
                     "[fe80::1%25lo]", "nope.invalid", "xn--e1a.invalid", "[::1", "a b", "", "127.0.0.1:99999",
                     "127.0.0.1:0", "user:pw@10.0.0.1", "\u0000", "%31%30.0.0.1")),
    st.text(max_size=15))
URL_PATHS = st.one_of(st.sampled_from(("", "/", "/client.json", "/a/../b", "/%2e%2e/x", "?q=1", "#f",
                                       "/" + "a" * 300)), st.text(max_size=15))
CLIENT_ID_URLS = st.one_of(
    st.builds(lambda scheme, host, path: f"{scheme}://{host}{path}",
              st.sampled_from(("http", "https", "HTTPS", "hTtP")), URL_HOSTS, URL_PATHS),
    st.just(Live("document")))


@dataclass
class ClientIdCall:
    client_id: object
    endpoint: str  # "/authorize" or "/token"
    params: list


CLIENT_ID_CALLS = st.builds(ClientIdCall, CLIENT_ID_URLS, st.sampled_from(("/authorize", "/token")), param_lists)


def check_client_id_url(fuzzed, call):
    client_id = fuzzed.resolve(call.client_id)
    params = [(n, fuzzed.resolve(v)) for n, v in call.params if n != "client_id"] + [("client_id", client_id)]
    if call.endpoint == "/authorize":
        params += [("response_type", "code"), ("redirect_uri", APP_CALLBACK), ("scope", "chats--access:ro")]
        response = fuzzed.http.get(fuzzed.url + "/authorize", params=params, allow_redirects=False, timeout=30)
    else:
        params += [("grant_type", "authorization_code"), ("code", "x")]
        response = fuzzed.http.post(fuzzed.url + "/token", data=params, allow_redirects=False, timeout=30)
    if currently_in_test_context():
        note(f"{call.endpoint} client_id={client_id!r} -> {response.status_code} {response.text[:300]}")
    assert_no_server_error(response)
    if call.endpoint == "/authorize":
        assert_html_error(response)
    else:
        assert_oauth_error_shape(response)


# name -> (what to send, what must hold); scripts/fuzz_server.py reuses these through pytest.
PROPERTIES = {
    "oauth_form": (FORM_CALLS, check_oauth_form_endpoint),
    "register": (REGISTER_CALLS, check_registration),
    "register_field": (ONE_FIELD, check_registration_field),
    "resource": (RESOURCE_CALLS, check_resource_server),
    "browser": (BROWSER_CALLS, check_browser_page),
    "other": (OTHER_CALLS, check_other_path),
    "client_id_url": (CLIENT_ID_CALLS, check_client_id_url),
}


@FUZZ
@given(call=FORM_CALLS)
def test_oauth_form_endpoints_answer_rfc_errors(fuzzed, call):
    check_oauth_form_endpoint(fuzzed, call)


@FUZZ
@given(call=REGISTER_CALLS)
def test_registration_answers_rfc7591_errors(fuzzed, call):
    check_registration(fuzzed, call)


@FUZZ
@given(field=ONE_FIELD)
def test_registration_refuses_each_wrongly_typed_field_with_its_rfc7591_error(fuzzed, field):
    check_registration_field(fuzzed, field)


@FUZZ
@given(call=RESOURCE_CALLS)
def test_resource_server_answers_bearer_challenges(fuzzed, call):
    check_resource_server(fuzzed, call)


@FUZZ
@given(call=BROWSER_CALLS)
def test_browser_pages_answer_html_errors(fuzzed, call):
    check_browser_page(fuzzed, call)


@FUZZ
@given(call=CLIENT_ID_CALLS)
def test_client_ids_that_are_urls_answer_pages_and_rfc_errors(fuzzed, call):
    check_client_id_url(fuzzed, call)


@FUZZ
@given(call=OTHER_CALLS)
def test_metadata_admin_and_unknown_paths_answer_json_errors(fuzzed, call):
    # After the resource test: a fuzzed POST /_mock/clock may move time (tokens get re-minted).
    check_other_path(fuzzed, call)


# --------------------------------------------------------------------------------------------
# Inputs the fuzzer found: always sent, so CI checks them whatever the random draw
# --------------------------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"
DEEP = "[" * 1000 + "1" + "]" * 1000


def _call(method, path, authorization=None, body=Body("none"), query=(), signed_in=False, dpop=None):
    return Call(method, path, list(query), authorization, {}, body, signed_in, dpop)


def _signed_in_form(path, **fields):
    """A form POSTed by the signed-in browser, with its CSRF token."""
    return _call("POST", path, body=Body("form", [("csrf_token", Live("csrf")), *fields.items()], FORM),
                 signed_in=True)


KNOWN_INPUTS = {
    "GET /device_authorization (405 must be JSON)":
        ("oauth_form", _call("GET", "/device_authorization")),
    "POST /revoke with 'Authorization: Bearer '":
        ("oauth_form", _call("POST", "/revoke", b"Bearer ", Body("form", [("token", "x")], FORM))),
    "POST /introspect with 'Authorization: Bearer '":
        ("oauth_form", _call("POST", "/introspect", b"Bearer ", Body("form", [("token", "x")], FORM))),
    "POST /token, Basic with a non-ASCII secret":
        ("oauth_form", _call("POST", "/token", basic(REPORTS[0], "é", False),
                             Body("form", [("grant_type", "client_credentials")], FORM))),
    "POST /token, client_secret_post with a non-ASCII secret":
        ("oauth_form", _call("POST", "/token", None, Body("form", [
            ("grant_type", "client_credentials"), ("client_id", REPORTS[0]),
            ("client_secret", "é")], FORM))),
    "POST /token with JSON nested 1000 deep":
        ("oauth_form", _call("POST", "/token", body=Body("json", DEEP, "application/json"))),
    "POST /register with JSON nested 1000 deep":
        ("register", _call("POST", "/register", body=Body("json", DEEP, "application/json"))),
    "POST /register with redirect_uris 1e308 and scope 5":
        ("register", _call("POST", "/register", body=Body(
            "json", '{"redirect_uris": 1e308, "scope": 5}', "application/json"))),
    "POST /register with jwks 5": ("register_field", ("jwks", 5)),
    "POST /register with jwks 'x'": ("register_field", ("jwks", "x")),
    "POST /register with jwks {'keys': 5}": ("register_field", ("jwks", {"keys": 5})),
    "POST /login with next=/\\r\\nX":
        ("browser", _signed_in_form("/login", username="jane", password="jane-password", next="/\r\nX")),
    "POST /logout with next=/\\r\\nX": ("browser", _signed_in_form("/logout", next="/\r\nX")),
    "GET /_mock/transcript?since=²":
        ("other", _call("GET", "/_mock/transcript", Live("owner"), query=[("since", "²")])),
    "POST /userinfo without a token":
        ("resource", _call("POST", "/userinfo")),
    "POST list_chats, valid token, JSON nested 1000 deep":
        ("resource", _call("POST", "/v3.5/agent/action/list_chats", Live("jane_access"),
                           Body("json", DEEP, "application/json"))),
    "GET / with JSON nested 1000 deep":
        ("browser", _call("GET", "/", body=Body("json", DEEP, "application/json"))),
    "POST /par, a proof with a private key":
        ("oauth_form", _call("POST", "/par", body=Body("form", [("client_id", WIDGET), ("response_type", "code")], FORM),
                             dpop=Live("proof_private"))),
    "POST /token, a proof nested 2000 deep":
        ("oauth_form", _call("POST", "/token", basic(*REPORTS, False),
                             Body("form", [("grant_type", "client_credentials")], FORM),
                             dpop=base64.urlsafe_b64encode(b'{"a":' * 2000 + b"1" + b"}" * 2000).decode() + ".e30.c2ln")),
    "POST list_customers, the bound token with the token endpoint's proof":
        ("resource", _call("POST", "/v3.5/agent/action/list_customers", ("DPoP", Live("dpop_access")),
                           dpop=Live("proof_token"))),
    "POST list_customers, the bound token as a bearer token":
        ("resource", _call("POST", "/v3.5/agent/action/list_customers", Live("dpop_access"))),
    "GET /userinfo, the DPoP scheme without a proof":
        ("resource", _call("GET", "/userinfo", ("DPoP", Live("dpop_access")))),
    "GET /authorize with the pushed request_uri for another client":
        ("browser", _call("GET", "/authorize", query=[("client_id", REPORTS[0]), ("request_uri", Live("request_uri"))])),
    "GET /authorize with the valid document's URL as client_id":
        ("client_id_url", ClientIdCall(Live("document"), "/authorize", [])),
    "POST /token, client_id 169.254.169.254, resource twice":
        ("client_id_url", ClientIdCall("http://169.254.169.254/latest/meta-data/", "/token",
                                       [("resource", Live("agent_resource")), ("resource", "urn:x")])),
    "POST /token, client credentials for the configuration API with a chats scope":
        ("oauth_form", _call("POST", "/token", basic(REPORTS[0], REPORTS[1], False), Body("form", [
            ("grant_type", "client_credentials"), ("scope", "chats--access:ro"),
            ("resource", Live("configuration_resource"))], FORM))),
    "POST list_agents at the agent API with the configuration API's token":
        ("resource", _call("POST", "/v3.5/agent/action/list_agents", Live("configuration_access"))),
    "GET the metadata of a path with a NUL": ("other", _call("GET", "/.well-known/oauth-protected-resource/%00")),
    "POST /_mock/clock with JSON nested 1000 deep":
        ("other", _call("POST", "/_mock/clock", Live("owner"), body=Body("json", DEEP, "application/json"))),
}


@pytest.mark.parametrize("name", KNOWN_INPUTS)
def test_known_inputs(fuzzed, name):
    kind, call = KNOWN_INPUTS[name]
    PROPERTIES[kind][1](fuzzed, call)
