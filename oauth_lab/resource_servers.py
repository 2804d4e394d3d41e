"""Two resource servers of our own, side by side: two ways an API can check an access token.

Both stand for the agent API — they accept the tokens whose ``aud`` is ``lab.api_audience`` —
built two ways, each a small HTTP server in this kernel on its own origin (the app's port + 2 and
+ 3), so they are APIs of their own, not pages of the authorization server:

- ``LocalCheck`` verifies a JWT access token itself (RFC 9068 §4, ``jwt_access_tokens``) with the
  keys the authorization server publishes, fetched once: no call to the authorization server per
  request — and no way to learn of a revocation before the token's ``exp``.
- ``IntrospectionCheck`` asks the authorization server about every token (RFC 7662),
  authenticating as the demo resource server ``agent-api``: it sees a revocation at once, for one
  call per request — or, with ``cache_seconds``, one per token and period, accepting a revoked
  token until its cache entry ends.

Each answers ``GET /protected``: 200 with what it learnt about the token, or 401 with the RFC 6750
challenge. Both measure time on the course's virtual clock — a stand-in for their own clock, so a
fast-forward reaches them too; reading it is not an OAuth call.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from joserfc.errors import JoseError
from werkzeug.datastructures import Authorization

from . import jwt_access_tokens

RESOURCE_SERVER = ("agent-api", "agent-api-secret")  # the demo API: it may introspect any access token
REALM = "agent-api"
PATH = "/protected"
OFFSETS = {"local": 2, "introspection": 3}  # from the app's port: each API its own origin
_running: dict[int, "ResourceServer"] = {}


class Refused(Exception):
    """The API must refuse the token: 401 ``invalid_token`` saying why (RFC 6750 §3.1)."""


class ResourceServer:
    name = ""  # how the widgets and the notebook call it
    how = ""  # one line: how it decides

    def __init__(self, lab, port: int):
        self.lab, self.port = lab, port
        self.url = f"http://127.0.0.1:{port}{PATH}"
        self.calls_to_authorization_server = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self._server.api = self
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True, name=f"resource-server-{port}").start()

    def check(self, token: str) -> dict:
        """What the API learns from a token it accepts; raises ``Refused`` otherwise."""
        raise NotImplementedError

    def call(self, token: str | None) -> requests.Response:
        """What the app does: ``GET /protected`` with the token as a bearer credential."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.url, headers=headers, timeout=10)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        _running.pop(self.port, None)

    def __repr__(self):
        return f"<{self.name} at {self.url}: {self.how}>"


class LocalCheck(ResourceServer):
    name = "local JWT check"
    how = "verifies the JWT itself with the published keys"

    def __init__(self, lab, port: int):
        super().__init__(lab, port)
        self.keys = self._fetch_keys()

    def _fetch_keys(self):
        self.calls_to_authorization_server += 1
        return jwt_access_tokens.published_keys(self.lab)

    def check(self, token: str) -> dict:
        try:
            header, _ = jwt_access_tokens.unverified_parts(token)
        except (JoseError, ValueError):
            raise Refused("not a JWT") from None
        if header.get("kid") not in {key.kid for key in self.keys}:
            self.keys = self._fetch_keys()  # a new key (rotation): fetch the set again, once
        try:
            return jwt_access_tokens.validate(token, self.keys, self.lab.issuer, self.lab.api_audience,
                                              self.lab.clock.now())
        except jwt_access_tokens.InvalidAccessToken as refusal:
            raise Refused(f"the {refusal.check} check failed") from None  # as in notebook 04


class IntrospectionCheck(ResourceServer):
    name = "introspection"
    how = "asks the authorization server about each token"

    def __init__(self, lab, port: int, cache_seconds: int = 0):
        super().__init__(lab, port)
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[dict, int]] = {}  # token → (answer, valid until)

    def check(self, token: str) -> dict:
        answer = self._introspect(token)
        if answer.get("active") is not True:
            raise Refused("the authorization server says it is not active")
        if answer.get("aud") != self.lab.api_audience:
            raise Refused("not an access token for this API")  # audience restriction (RFC 9700 §2.3)
        return answer

    def _introspect(self, token: str) -> dict:
        now = self.lab.clock.now()
        cached, until = self._cache.get(token, (None, 0))
        if cached is not None and now < until:
            return cached
        self.calls_to_authorization_server += 1
        answer = requests.post(self.lab.endpoint("introspection"), data={"token": token},
                               auth=RESOURCE_SERVER, timeout=10).json()
        if self.cache_seconds and answer.get("active") is True:
            # RFC 7662 §4: a cached answer is a window in which a revocation goes unseen; never
            # keep it past the token's own expiry.
            self._cache[token] = (answer, min(now + self.cache_seconds, answer.get("exp", now)))
        return answer


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path.split("?")[0] != PATH:
            return self._answer(404, {"error": "not_found"})
        credentials = Authorization.from_header(self.headers.get("Authorization"))
        if credentials is None or credentials.type != "bearer" or not credentials.token:
            # No bearer credentials at all: a bare challenge, no error code (RFC 6750 §3.1).
            return self._answer(401, {"error_description": "send Authorization: Bearer <token>"},
                                f'Bearer realm="{REALM}"')
        try:
            facts = self.server.api.check(credentials.token)
        except Refused as refusal:
            challenge = f'Bearer realm="{REALM}", error="invalid_token", error_description="{refusal}"'
            return self._answer(401, {"error": "invalid_token", "error_description": str(refusal)},
                                challenge)
        self._answer(200, {name: facts.get(name) for name in ("sub", "client_id", "scope")})

    def _answer(self, status: int, body: dict, challenge: str | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if challenge:
            self.send_header("WWW-Authenticate", challenge)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # no access log in notebook outputs
        pass


def start(lab) -> tuple[LocalCheck, IntrospectionCheck]:
    """This notebook's two APIs, started once per kernel (running the cell again reuses them)."""
    found = []
    for kind, api_class in (("local", LocalCheck), ("introspection", IntrospectionCheck)):
        port = lab.app.port + OFFSETS[kind]
        api = _running.get(port)
        if api is None:
            try:
                api = _running[port] = api_class(lab, port)
            except OSError as error:
                raise RuntimeError(
                    f"Port {port} is taken, so the {api_class.name} API cannot start: another "
                    f"notebook's kernel may be running it. Shut that kernel down and run this cell "
                    f"again.") from error
        api.lab = lab
        found.append(api)
    return found[0], found[1]
