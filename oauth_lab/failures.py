"""Provoked failures, shown the way a learner wants to read them.

    with expect_failure(lab) as failure:
        oauth.fetch_token(...)          # raises: the code was already used
    failure                             # the library's exception + the server's answer + the RFC

No traceback: the exception your app would see, and what the server actually said. An OAuth error
nobody provoked (Jane clicked Deny in your browser, and the next cell exchanges the "code") shows
the same way: ``setup()`` has IPython show oauthlib's errors as a Failure (``show_oauth_errors``).
"""
from __future__ import annotations

import json
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import requests
from joserfc.errors import JoseError
from oauthlib.oauth2 import OAuth2Error

from .discovery import Refused
from .widgets.base import html_table

RFC = {
    "invalid_request": "RFC 6749 §4.1.2.1 / §5.2 — a parameter is missing, repeated or malformed",
    "invalid_client": "RFC 6749 §5.2 — the app could not prove who it is",
    "invalid_grant": "RFC 6749 §5.2 — the code or refresh token is invalid, expired, used or not yours",
    "unauthorized_client": "RFC 6749 §5.2 — this app may not use this grant type",
    "unsupported_grant_type": "RFC 6749 §5.2 — the server does not support this grant type",
    "invalid_scope": "RFC 6749 §4.1.2.1 / §5.2 — a scope is unknown, not registered or not grantable",
    "access_denied": "RFC 6749 §4.1.2.1 — the user (or the server) said no",
    "unsupported_response_type": "RFC 6749 §4.1.2.1 — this response_type is not offered",
    "invalid_token": "RFC 6750 §3.1 — the access token is expired, revoked or not genuine",
    "insufficient_scope": "RFC 6750 §3.1 — the token is fine but lacks the scope this call needs",
    "invalid_target": "RFC 8707 §2 — the resource is unknown, malformed, not the grant's, or not one this scope "
                      "means something at",
    "authorization_pending": "RFC 8628 §3.5 — the user has not decided yet: poll again after interval seconds",
    "slow_down": "RFC 8628 §3.5 — polling too fast: add 5 s to the interval from now on",
    "expired_token": "RFC 8628 §3.5 — the device code expired: stop polling; start again when the user asks",
    "invalid_dpop_proof": "RFC 9449 §5 / §7.1 — the DPoP proof failed a check of §4.3 (typ, alg, jwk, "
                          "signature, htm, htu, iat, a jti used before, ath)",
    "use_dpop_nonce": "RFC 9449 §8 / §9 — the server wants its nonce in the proof: make a new proof "
                      "with the DPoP-Nonce it sent",
    "invalid_request_uri": "OpenID Connect Core §3.1.2.6 — the request_uri is unknown, another app's, "
                           "expired or used",
    "mismatching_state": "RFC 6749 §10.12 — the answer does not belong to a request this app made "
                         "(CSRF): throw it away",
}
# The same code means something else at the token endpoint (this server's /token): a device polling;
# a scope that also "exceeds the scope granted by the resource owner" (§5.2; §4.1.2.1 has no such clause).
AT_TOKEN_ENDPOINT = {
    "access_denied": "RFC 8628 §3.5 — the user denied the device's request: stop polling",
    "invalid_scope": "RFC 6749 §5.2 — the requested scope is invalid, unknown, malformed, or exceeds the "
                     "scope granted by the resource owner",
}

# joserfc's own error codes, for a token the app (or an API) refused by itself — no server
# answered. They are not RFC error codes: joserfc's "expired_token" is not RFC 8628's.
JOSE = {
    "bad_signature": "RFC 7515 §5.2 — the signature does not verify with the issuer's published key: "
                     "refuse the token",
    "expired_token": "RFC 7519 §4.1.4 — the token's exp has passed: it must not be accepted",
    "invalid_claim": "RFC 7519 §4.1 / OIDC Core §3.1.3.7 — a claim the reader checks (iss, aud, nonce…) "
                     "does not hold the value it expects: refuse the token",
    "missing_claim": "RFC 7519 §4.1 / OIDC Core §3.1.3.7 — a claim the reader requires is missing",
}


# Where oauthlib turns an `error` the server sent into an exception (RFC 6749 §4.1.2.1 in a
# redirect, §5.2 in a token response), and where requests-oauthlib hands it the redirect's URL.
SERVER_SENT, IN_THE_REDIRECT = "raise_from_error", "parse_request_uri_response"


def raised_in(error: BaseException) -> set[str]:
    """The functions the exception passed through, from where it was raised up to here."""
    return {frame.f_code.co_name for frame, _ in traceback.walk_tb(error.__traceback__)}


@dataclass
class Failure:
    exception: BaseException | None = None
    answer: dict | None = None  # the server's last response in this step, from the transcript
    messages: list = field(default_factory=list)

    @property
    def error(self) -> str | None:
        body = self._body()
        return body.get("error") or getattr(self.exception, "error", None)

    def _body(self) -> dict:
        if not self.answer:
            return {}
        try:
            body = json.loads(self.answer["response_body"])
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def lines(self) -> list[tuple[str, str]]:
        if self.exception is None:
            return [("Result", "no error — the call succeeded, which this cell did not expect")]
        rows = [("Your app sees", f"{type(self.exception).__module__.split('.')[0]}: "
                                  f"{type(self.exception).__name__}")]
        if not self.answer and SERVER_SENT in raised_in(self.exception):
            way = ("in the redirect to your app (the front channel)" if IN_THE_REDIRECT in raised_in(self.exception)
                   else "in its answer to the app's request")
            rows.append(("Server answered", f"with an error, {way}"))
            rows.append(("error", self.exception.error))
            if self.exception.description:
                rows.append(("error_description", self.exception.description))
        elif not self.answer:
            rows.append(("Server answered", "nothing: no request reached it"))
            rows.append(("It says", str(getattr(self.exception, "description", "") or self.exception)))
        else:
            rows.append(("Server answered", f"HTTP {self.answer['status']} from "
                                            f"{self.answer['method']} {self.answer['path'].split('?')[0]}"))
            body = self._body()
            for key in ("error", "error_description"):
                if key in body:
                    rows.append((key, str(body[key])))
            if challenge := self.answer["response_headers"].get("WWW-Authenticate"):
                rows.append(("WWW-Authenticate", challenge))
            if isinstance(self.exception, Refused):  # the server was content: the app's own check said no
                rows.append(("Your app's check", str(self.exception)))
        if standard := self.standard():
            rows.append(("Standard", standard))
        return rows

    def standard(self) -> str | None:
        """Where the standard defines this answer's error code (a JOSE library's own errors, raised
        in the app, have their own table: joserfc's expired_token is not RFC 8628's)."""
        if isinstance(self.exception, JoseError):
            return JOSE.get(self.error)
        at_token_endpoint = bool(self.answer) and self.answer["path"].split("?")[0] == "/token"
        return (at_token_endpoint and AT_TOKEN_ENDPOINT.get(self.error)) or RFC.get(self.error)

    def text(self) -> str:
        return "\n".join(f"{k}: {v}" for k, v in self.lines())

    def __repr__(self):
        return self.text()

    def _repr_html_(self):
        return html_table(self.lines(), headings=0)


@contextmanager
def expect_failure(lab):
    """Run a step that should fail; catch what the library raises and find the server's answer."""
    step = lab.transcript.mark()
    failure = Failure()
    try:
        yield failure
    except Exception as error:  # noqa: BLE001 — any failure is what this cell came to show
        failure.exception = error
    failure.messages = step.messages()
    errors = [m for m in failure.messages if m["status"] >= 400]
    failure.answer = errors[-1] if errors else (failure.messages[-1] if failure.messages else None)


@dataclass
class RedirectReading:
    """The parameters on a redirect back to the app, each explained."""

    url: str

    def params(self) -> dict:
        return dict(parse_qsl(urlsplit(self.url).query))

    def explained(self) -> list[tuple[str, str, str]]:
        """(parameter, value, what it means) for each parameter of the redirect."""
        meaning = {"code": "the authorization code: single use, short-lived",
                   "state": "your own value, back unchanged: compare it with what you sent",
                   "iss": "who answered (RFC 9207): check it is the server you asked",
                   "error_description": "a human-readable reason"}
        return [(key, value, RFC.get(value, meaning.get(key, "")) if key == "error" else meaning.get(key, ""))
                for key, value in self.params().items()]

    def text(self) -> str:
        return "\n".join(f"{k} = {v}  — {m}" if m else f"{k} = {v}" for k, v, m in self.explained())

    def __repr__(self):
        return self.text()

    def _repr_html_(self):
        return html_table(self.explained(), header=("parameter", "value", "what it means"), code=(0, 1))


def read_redirect(url: str) -> RedirectReading:
    return RedirectReading(url)


# --- uncaught: an OAuth error in a cell that did not expect one ---------------------------------

def show_oauth_errors() -> None:
    """In a notebook, an oauthlib error that no cell caught shows as a Failure, not as a 40-line
    traceback: the cell still stops there (Run All too), with one line saying so; ``%tb`` shows
    the traceback. Outside IPython, nothing changes. ``setup()`` calls this."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((OAuth2Error,), _show_uncaught)


def _show_uncaught(shell, kind, error, tb, tb_offset=None) -> list[str]:
    from IPython.display import display

    display(uncaught(error))
    # Then what IPython does with any error, one line standing for the traceback: keep the error
    # for %tb, and show the line (a kernel sends it as the cell's error output, which stops Run All).
    sys.last_type, sys.last_value, sys.last_traceback = kind, error, tb
    line = [f"{kind.__name__}: the cell stopped here (the failure above; %tb shows the traceback)"]
    shell._showtraceback(kind, error, line)
    return line


def uncaught(error: OAuth2Error) -> Failure:
    """The Failure for an OAuth error no cell expected; the server's answer, if the error is its
    latest one (the transcript of this notebook's server: a request to another server has none)."""
    failure = Failure(error)
    if SERVER_SENT in raised_in(error) and IN_THE_REDIRECT not in raised_in(error):
        failure.answer = _latest_answer_with(error.error)
    return failure


def _latest_answer_with(code: str) -> dict | None:
    from .lab import current_lab  # here: lab imports this module (setup() calls show_oauth_errors)

    try:
        transcript = current_lab().transcript
        latest = transcript.messages(since=max(transcript.last_seq() - 1, 0))
    except (RuntimeError, requests.RequestException, ValueError):  # no lab, or its server is gone
        return None
    if latest and latest[-1]["status"] >= 400 and Failure(answer=latest[-1]).error == code:
        return latest[-1]
    return None
