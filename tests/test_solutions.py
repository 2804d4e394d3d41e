"""Every exercise's solution passes its own check, against a real server — and a wrong answer fails.

A solution file is the code a learner would ``%load`` into the exercise cell: it may use ``lab``
(and ``lc``, the livechat-profile server of notebook 13; ``metadata``, the document notebook 00
reads) and must leave the answer in ``my_answer``.
"""
from __future__ import annotations

import ast
import runpy
from pathlib import Path

import pytest
import requests
from joserfc import jwt
from oauthlib.oauth2 import DeviceClient
from requests_oauthlib import OAuth2Session

import mock_server
from oauth_lab.exercises import ALL
from oauth_lab.flows import authorization_code_flow
from oauth_lab.jwt_access_tokens import published_keys, unverified_parts
from oauth_lab.lab import setup

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture(scope="module")
def lab():
    port = mock_server.free_port()
    lab = setup(seed=None, port=port)
    yield lab
    lab.handle.stop()


@pytest.fixture(scope="module")
def lc(lab):
    lc = setup(seed=None, port=mock_server.free_port(), make_current=False, profile="livechat")
    yield lc
    lc.handle.stop()


def test_every_exercise_has_a_solution_file():
    assert len(ALL) >= 7
    for name, exercise in ALL.items():
        assert (NOTEBOOKS / exercise.solution).is_file(), name


def the_tv(lab) -> dict:
    """Notebook 09's TV, registered in the notebook before its exercise."""
    client_id = requests.post(lab.endpoint("registration"), timeout=5, json={
        "client_name": "Fernhollow Shop TV", "token_endpoint_auth_method": "none",
        "grant_types": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
        "scope": "chats--access:ro customers:ro"}).json()["client_id"]
    return {"tv_client_id": client_id, "tv": OAuth2Session(client=DeviceClient(client_id))}


# What a notebook's earlier cells left for its exercise cell (beside `lab`, `lc`, `metadata`).
NOTEBOOK_STATE = {
    "device.polling": the_tv,
    "openid.validates_id_token": lambda lab: {"keys": published_keys(lab)},
}


def run_solution(exercise, namespace: dict):
    """Run a solution file as `%load` puts it in the exercise cell. A file that ends with the
    exercise's own check gives that check's verdict; one that leaves `my_answer` (and the
    exercise's context) gets checked here."""
    path = NOTEBOOKS / exercise.solution
    *body, last = ast.parse(path.read_text(), str(path)).body
    call = last.value if isinstance(last, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "check"):
        namespace = runpy.run_path(str(path), init_globals=namespace)
        return exercise.check(namespace["my_answer"], *(namespace[v] for v in exercise.context))
    exec(compile(ast.Module(body, type_ignores=[]), str(path), "exec"), namespace)  # noqa: S102
    assert eval(compile(ast.Expression(call.func.value), str(path), "eval"), namespace) is exercise, \
        f"{exercise.solution} ends with another exercise's check"
    return eval(compile(ast.Expression(call), str(path), "eval"), namespace)


@pytest.mark.parametrize("name", sorted(ALL))
def test_solution_passes(lab, lc, name):
    exercise = ALL[name]
    metadata = requests.get(f"{lab.url}/.well-known/oauth-authorization-server", timeout=5).json()
    state = NOTEBOOK_STATE.get(name, lambda lab: {})(lab)
    verdict = run_solution(exercise, {"lab": lab, "lc": lc, "metadata": metadata, **state})
    assert verdict.passed, verdict.text()
    assert verdict.text().startswith("✓")


@pytest.mark.parametrize("name", sorted(ALL))
def test_no_answer_fails_with_a_hint(lab, name):
    exercise = ALL[name]
    verdict = exercise.check(None, *([None] * len(exercise.context)))
    assert not verdict.passed
    assert "Hint:" in verdict.text() and exercise.solution in verdict.text()


def signature_only(lab):
    """An 'API' that verifies the signature and nothing else."""
    keys = published_keys(lab)
    return lambda token: jwt.decode(token, keys, algorithms=["RS256"]).claims


def signature_and_typ(lab):
    """... and the token type, but never the expiry."""
    def validate(token):
        if unverified_parts(token)[0]["typ"] != "at+jwt":
            raise ValueError("not an access token")
        return signature_only(lab)(token)
    return validate


def public_app(lab, scope: str) -> dict:
    """What the registration endpoint answers for a public client with this scope."""
    return {"client_id": "x", "token_endpoint_auth_method": "none", "scope": scope,
            "redirect_uris": [lab.redirect_uri]}


@pytest.mark.parametrize("name, wrong, why", [
    ("start_here.token_endpoint", lambda lab: "http://127.0.0.1/token", "is not the token endpoint"),
    ("start_here.token_endpoint", lambda lab: f"{lab.url}/token", "typed (or rebuilt), not read from `metadata`"),
    ("password.customers_only", lambda lab: {"access_token": "forged"}, "issued to None"),
    ("password.customers_only", lambda lab: authorization_code_flow(
        lab, "fernhollow-widget", ["customers:ro", "chats--access:ro"]).token, "can read chats too"),
    ("password.customers_only", lambda lab: authorization_code_flow(
        lab, "fernhollow-reports", ["customers:ro"], client_secret="reports-secret").token, "not to the browser app"),
    ("register.least_privilege", lambda lab: {"client_id": "x", "client_secret": "s",
                                              "token_endpoint_auth_method": "client_secret_basic"},
     "cannot keep a secret"),
    ("register.least_privilege", lambda lab: public_app(lab, "chats--all:ro"), "reads every chat"),
    ("register.least_privilege", lambda lab: public_app(lab, "chats--my:ro"), "only the chats she takes part in"),
    ("register.least_privilege", lambda lab: dict(public_app(lab, "chats--access:ro"),
                                                  redirect_uris=["http://127.0.0.1:9/cb"]), "the app's page is"),
    ("authorization.customers_request", lambda lab: f"{lab.redirect_uri}?error=access_denied", "no code"),
    ("authorization.invalid_scope", lambda lab: f"{lab.redirect_uri}?code=abc&state=s", "not invalid_scope"),
    ("exchange.by_hand", lambda lab: {"access_token": "forged"}, "not active"),
    ("exchange.api_validates", lambda lab: lambda token: unverified_parts(token)[1], "edited after signing"),
    ("exchange.api_validates", lambda lab: lambda token: None, "return its claims"),
    ("exchange.api_validates", lambda lab: signature_only(lab), "accepted an ID token"),
    ("exchange.api_validates", lambda lab: signature_and_typ(lab), "accepted an expired token"),
    ("api.can_call", lambda lab: lambda token, action: True, "should be False"),
    ("api.needed_scope", lambda lab: "agents--all:ro", "is not what the API asked for"),
])
def test_a_wrong_answer_fails_with_a_reason(lab, name, wrong, why):
    verdict = ALL[name].check(wrong(lab))
    assert not verdict.passed and why in verdict.message, verdict.text()
