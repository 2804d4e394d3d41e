"""Every exercise's solution passes its own check, against a real server — and a wrong answer fails.

A solution file is what a learner's ``%load solutions/…`` puts in place of the exercise cell. It may
use ``lab`` (and ``lc``, the livechat-profile server of notebook 13; ``metadata``, the document
notebook 00 reads), and it ends with the cell's own check call — the very line it replaces — so a
loaded solution still shows its verdict.
"""
from __future__ import annotations

import ast
import dataclasses
import json
import re
from pathlib import Path

import pytest
import requests
from joserfc import jwt
from requests_oauthlib import OAuth2Session
from oauthlib.oauth2 import DeviceClient

import mock_server
from oauth_lab.exercises import ALL
from oauth_lab.flows import authorization_code_flow
from oauth_lab.jwt_access_tokens import published_keys, server_signing_key, unverified_parts
from oauth_lab import lab as lab_module
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


def statements(path: Path) -> list[ast.stmt]:
    return ast.parse(path.read_text(), str(path)).body


def check_call(statement: ast.stmt | None, name: str) -> str | None:
    """The statement as text if it is the exercise's check call, `<name>.check(...)`."""
    if (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
            and ast.unparse(statement.value.func) == f"{name}.check"):
        return ast.unparse(statement)
    return None


def exercise_cell_check(name: str) -> str:
    """The check call that ends the exercise's cell in its notebook."""
    notebook = next(NOTEBOOKS.glob(f"{Path(ALL[name].solution).name[:2]}-*.ipynb"))
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "code" and (body := ast.parse("".join(cell["source"])).body):
            if call := check_call(body[-1], name):
                return call
    raise AssertionError(f"no cell of {notebook.name} ends with {name}.check(...)")


def test_every_exercise_has_a_solution_file():
    assert len(ALL) >= 7
    for name, exercise in ALL.items():
        assert (NOTEBOOKS / exercise.solution).is_file(), name


@pytest.mark.parametrize("name", sorted(ALL))
def test_a_loaded_solution_ends_with_the_check_of_the_cell_it_replaces(name):
    last = check_call(statements(NOTEBOOKS / ALL[name].solution)[-1], name)
    assert last == exercise_cell_check(name), f"{ALL[name].solution} must end with the cell's check call"


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


def run_solution(lab, lc, name: str):
    """Run the solution as the loaded cell would, and return the verdict its last line shows."""
    path = NOTEBOOKS / ALL[name].solution
    metadata = requests.get(f"{lab.url}/.well-known/oauth-authorization-server", timeout=5).json()
    given = {"lab": lab, "lc": lc, "metadata": metadata,  # what the notebook's cells made before
             **NOTEBOOK_STATE.get(name, lambda lab: {})(lab)}
    *body, last = statements(path)
    namespace = {**given, "__name__": "__main__"}
    exec(compile(ast.Module(body, type_ignores=[]), str(path), "exec"), namespace)  # noqa: S102
    return eval(compile(ast.Expression(last.value), str(path), "eval"), namespace)  # noqa: S307


@pytest.mark.parametrize("name", sorted(ALL))
def test_solution_passes(lab, lc, name):
    verdict = run_solution(lab, lc, name)
    assert verdict.passed, verdict.text()
    assert verdict.text().startswith("✓")


@pytest.mark.parametrize("name", sorted(ALL))
def test_no_hint_points_ahead_to_a_later_notebook(name):
    own = int(Path(ALL[name].solution).name[:2])
    later = [int(n) for n in re.findall(r"notebooks? (\d+)", ALL[name].hint) if int(n) > own]
    assert later == [], f"the hint of {name} sends the learner ahead to notebook {later}"


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


def all_checks_but(lab, skipped: str):
    """An 'API' that makes every RFC 9068 §4 check as the hint shows it, except one: typ, iss, aud
    or exp."""
    keys = published_keys(lab)
    options = {"iss": {"essential": True, "value": lab.issuer},
               "aud": {"essential": True, "value": lab.api_audience}, "exp": {"essential": True}}

    def validate(token):
        decoded = jwt.decode(token, keys, algorithms=["RS256"])
        if skipped != "typ" and decoded.header.get("typ") != "at+jwt":
            raise ValueError("not an access token")
        jwt.JWTClaimsRegistry(now=lab.clock.now(), **{k: v for k, v in options.items() if k != skipped}).validate(
            {k: v for k, v in decoded.claims.items() if k != skipped})
        return decoded.claims
    return validate


def the_hint_as_written(lab):
    """The validator the 04 hint spells out, its claims check pasted from the hint itself."""
    hint = ALL["exchange.api_validates"].hint
    claims_check = hint[hint.index("jwt.JWTClaimsRegistry("):hint.index(".validate(token.claims)")]
    keys = published_keys(lab)

    def validate(access_token):
        token = jwt.decode(access_token, keys, algorithms=["RS256"])
        if token.header["typ"] != "at+jwt":
            raise ValueError("not an access token")
        eval(claims_check, {"jwt": jwt, "lab": lab}).validate(token.claims)  # noqa: S307
        return token.claims
    return validate


def test_the_validator_the_hint_spells_out_passes(lab):
    verdict = ALL["exchange.api_validates"].check(the_hint_as_written(lab))
    assert verdict.passed, verdict.text()


def elsewhere(lab):
    """The same server as a kernel that did not start it sees it (no handle): the check signs with
    the server's key only if that is the course's demo key, which a deterministic server uses."""
    return dataclasses.replace(lab, handle=None)


def test_a_deterministic_servers_key_is_the_demo_key_the_check_can_sign_with(monkeypatch):
    deterministic = setup(seed=1, port=mock_server.free_port(), make_current=False)
    try:
        assert server_signing_key(elsewhere(deterministic)) is not None
        monkeypatch.setattr(lab_module, "_current", elsewhere(deterministic))
        verdict = ALL["exchange.api_validates"].check(all_checks_but(deterministic, "aud"))
        assert not verdict.passed and "meant for another API" in verdict.message, verdict.text()
    finally:
        deterministic.handle.stop()


def test_without_the_servers_key_the_check_still_refuses_an_id_token(lab, monkeypatch):
    assert server_signing_key(lab) is not None and server_signing_key(elsewhere(lab)) is None
    monkeypatch.setattr(lab_module, "_current", elsewhere(lab))
    verdict = ALL["exchange.api_validates"].check(signature_only(lab))
    assert not verdict.passed and "accepted an ID token" in verdict.message, verdict.text()


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
    ("exchange.api_validates", lambda lab: signature_only(lab), "typ is 'JWT'"),
    ("exchange.api_validates", lambda lab: all_checks_but(lab, "typ"), "typ is 'JWT'"),
    ("exchange.api_validates", lambda lab: all_checks_but(lab, "iss"), "iss is another server's"),
    ("exchange.api_validates", lambda lab: all_checks_but(lab, "aud"), "meant for another API"),
    ("exchange.api_validates", lambda lab: all_checks_but(lab, "exp"), "accepted an expired token"),
    ("api.can_call", lambda lab: lambda token, action: True, "should be False"),
    ("api.needed_scope", lambda lab: "agents--all:rw", "expected a function"),
    ("api.needed_scope", lambda lab: lambda answer: "agents--all:rw", "for the 403 of list_agents"),  # copied
    ("api.needed_scope", lambda lab: lambda answer: answer.headers.get("WWW-Authenticate"), "for the 403 of update_agent"),
    ("api.needed_scope", lambda lab: lambda answer: (re.findall(r'scope="([^"]*)"', answer.headers.get(
        "WWW-Authenticate", "")) or [""])[0], "for a 200 answer, which names no scope"),
    ("where_to_sign_in.may_go_on", lambda lab: lambda api, resource, server: True, "describes another API"),
    ("where_to_sign_in.may_go_on", lambda lab: lambda api, resource, server: resource["resource"] == api,
     "server the API does not name"),
    ("where_to_sign_in.may_go_on", lambda lab: lambda api, resource, server: resource["resource"].rstrip("/") == api
     and server["issuer"] in resource["authorization_servers"] and "S256" in server["code_challenge_methods_supported"],
     "with a slash added"),
    ("where_to_sign_in.may_go_on", lambda lab: lambda api, resource, server: resource["resource"] == api
     and server["issuer"] in resource["authorization_servers"], "says nothing of PKCE"),
    ("where_to_sign_in.may_go_on", lambda lab: lambda api, resource, server: resource["resource"] == api
     and server["issuer"] in resource["authorization_servers"]
     and bool(server.get("code_challenge_methods_supported")), "only with plain"),
    ("where_to_sign_in.may_go_on", lambda lab: lambda api, resource, server: False, "refused"),
])
def test_a_wrong_answer_fails_with_a_reason(lab, name, wrong, why):
    verdict = ALL[name].check(wrong(lab))
    assert not verdict.passed and why in verdict.message, verdict.text()
