"""Real clients work unchanged through discovery.

Two independent client libraries configure themselves only from the discovery document and run
the flows a learner runs: Authlib's requests client (Python) and panva's certified `openid-client`
(Node, tests/interop/rp.mjs). Both are strict — each point of client-interop.md makes one of them
throw — so a failure here means the *server* deviated from a spec: fix the server, not the client.

These tests use a server started without a seed: its clock runs in real time, as a real client's
does (a frozen deterministic clock would hand out ID tokens a real client finds already expired,
and device polling intervals would never pass).
"""
from __future__ import annotations

import json
import queue
import secrets
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jws, jwt
from joserfc.jwk import KeySet, RSAKey

from flows import APP_CALLBACK, REPORTS, query_of
from node_packages import npm_installed
from oauth_lab.user_agent import UserAgent

INTEROP = Path(__file__).parent / "interop"


def discover(server) -> dict:
    """What a client knows about the server: the discovery document, fetched without redirects."""
    response = requests.get(f"{server.url}/.well-known/openid-configuration", allow_redirects=False)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    metadata = response.json()
    assert metadata["issuer"] == server.issuer  # point 1: byte for byte
    return metadata


def no_challenge(response: requests.Response) -> None:
    """Point 10: a challenge only on 401/403 (some clients throw on any WWW-Authenticate)."""
    assert "WWW-Authenticate" not in response.headers, response.headers


def assert_token_response(token: dict) -> None:
    """Point 7: the token response shape strict clients check."""
    assert isinstance(token["access_token"], str) and token["access_token"]
    assert token["token_type"] == "Bearer"
    assert isinstance(token["scope"], str)
    assert isinstance(token["expires_in"], int) and not isinstance(token["expires_in"], bool)


# --- Authlib's client --------------------------------------------------------------------------


def test_authlib_client_code_flow_pkce_nonce_refresh_revoke(start_server):
    server = start_server()  # no seed: a real running clock, as Authlib's ID-token checks use
    metadata = discover(server)
    client_id, client_secret = REPORTS
    session = OAuth2Session(
        client_id, client_secret,
        scope="openid profile email customers:ro",
        redirect_uri=APP_CALLBACK,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    session.hooks["response"].append(lambda response, **_: no_challenge(response)
                                     if response.status_code < 400 else None)

    # Front channel: the user signs in and clicks Allow.
    verifier, nonce = generate_token(48), secrets.token_urlsafe(16)
    url, state = session.create_authorization_url(metadata["authorization_endpoint"],
                                                  code_verifier=verifier, nonce=nonce)
    location = UserAgent().authorize(url)
    assert location.startswith(f"{APP_CALLBACK}?")
    callback = query_of(location)
    assert callback["state"] == state
    assert callback["iss"] == metadata["issuer"]  # point 2: RFC 9207

    # Back channel: client_secret_basic, the verifier, and the redirect URI.
    token = session.fetch_token(metadata["token_endpoint"], authorization_response=location,
                                state=state, code_verifier=verifier)
    assert_token_response(token)
    assert set(token["scope"].split()) == {"openid", "profile", "email", "customers:ro"}
    assert token["refresh_token"] and token["id_token"]

    # The ID token, checked against the keys at jwks_uri (point 9).
    jwks = requests.get(metadata["jwks_uri"], allow_redirects=False)
    assert jwks.status_code == 200
    keys = KeySet.import_key_set(jwks.json())
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256"
    matching = [k for k in jwks.json()["keys"] if k.get("kid") == decoded.header["kid"]]
    assert len(matching) == 1 and matching[0].get("use", "sig") == "sig"
    assert matching[0]["kty"] == "RSA"
    assert RSAKey.import_key(matching[0]).raw_value.key_size >= 2048
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": metadata["issuer"]},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(decoded.claims)
    # ...and by Authlib's own OpenID Connect rules (auth_time, azp, at_hash against the token).
    id_token = CodeIDToken(decoded.claims, decoded.header,
                           {"iss": {"value": metadata["issuer"]}, "aud": {"value": client_id}},
                           {"nonce": nonce, "client_id": client_id,
                            "access_token": token["access_token"]})
    id_token.validate()
    assert isinstance(id_token["sub"], str)

    # Userinfo with the access token: the same subject, and no challenge on the 200.
    userinfo = session.get(metadata["userinfo_endpoint"], allow_redirects=False)
    assert userinfo.status_code == 200, userinfo.text
    no_challenge(userinfo)
    assert userinfo.json()["sub"] == id_token["sub"] == "jane"
    assert userinfo.json()["email"] == "jane@fernhollow.example"

    # Refresh (rotation on): a new access token and a new refresh token.
    refreshed = session.refresh_token(metadata["token_endpoint"])
    assert_token_response(refreshed)
    assert refreshed["access_token"] != token["access_token"]
    assert refreshed["refresh_token"] != token["refresh_token"]

    introspection = session.introspect_token(metadata["introspection_endpoint"],
                                             token=refreshed["access_token"])
    assert introspection.status_code == 200
    assert introspection.json()["active"] is True  # point 11: a JSON boolean

    # RFC 7009 revocation of the refresh token: exactly 200, and the whole grant is gone.
    revoked = session.revoke_token(metadata["revocation_endpoint"], token=refreshed["refresh_token"],
                                   token_type_hint="refresh_token")
    assert revoked.status_code == 200, revoked.text
    for value in (refreshed["access_token"], refreshed["refresh_token"]):
        answer = session.introspect_token(metadata["introspection_endpoint"], token=value)
        assert answer.status_code == 200 and answer.json() == {"active": False}
    gone = session.get(metadata["userinfo_endpoint"], allow_redirects=False)
    assert gone.status_code == 401


def test_authlib_client_after_dynamic_registration(start_server):
    server = start_server()
    metadata = discover(server)

    # RFC 7591 by hand, as a learner's script would: 201, a string id, a numeric expiry.
    response = requests.post(metadata["registration_endpoint"], allow_redirects=False, json={
        "client_name": "Authlib interop",
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_post",
        "scope": "customers:ro",
    })
    assert response.status_code == 201, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    registered = response.json()
    assert isinstance(registered["client_id"], str) and registered["client_id"]
    assert isinstance(registered["client_secret"], str) and registered["client_secret"]
    assert isinstance(registered["client_secret_expires_at"], int)
    assert registered["client_secret_expires_at"] == 0
    assert registered["token_endpoint_auth_method"] == "client_secret_post"
    assert registered["id_token_signed_response_alg"] == "RS256"

    # The new client adopts what the server returned, and asks for a token with it.
    sent = []
    session = OAuth2Session(registered["client_id"], registered["client_secret"],
                            token_endpoint_auth_method=registered["token_endpoint_auth_method"],
                            scope=registered["scope"])
    session.hooks["response"].append(lambda response, **_: sent.append(response.request))
    token = session.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    assert_token_response(token)
    assert token["scope"] == "customers:ro"
    assert "refresh_token" not in token
    assert "Authorization" not in sent[-1].headers  # really client_secret_post
    assert "client_secret=" in sent[-1].body


# --- openid-client (Node) ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def openid_client():
    """`node` on the PATH and openid-client installed from the committed lock file."""
    return npm_installed(INTEROP, "openid-client", "the openid-client interop test")


class NodeRelyingParty:
    """rp.mjs as a subprocess: JSON lines out, one line in whenever it waits for the user."""

    def __init__(self, node: str, *args: str, timeout: float = 45, env: dict | None = None,
                 script: str = "rp.mjs"):
        self.process = subprocess.Popen([node, str(INTEROP / script), *args], cwd=INTEROP,
                                        env={**os.environ, "APP_CALLBACK": APP_CALLBACK, **(env or {})},
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        self.deadline = time.monotonic() + timeout
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self) -> dict | None:
        try:
            line = self.lines.get(timeout=max(0.1, self.deadline - time.monotonic()))
        except queue.Empty:
            self.stop()
            pytest.fail(f"rp.mjs timed out; so far: {self.seen}\nstderr: {self.process.stderr.read()}")
        if line is None:
            return None
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"rp.mjs printed a line that is not JSON: {line!r}")
        self.seen.append(message)
        return message

    def answer(self, text: str) -> None:
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)


def run_relying_party(node: str, server, **env) -> tuple[dict, list]:
    """rp.mjs against `server`, the user played by the scripted browser: its steps, by name, and
    the callback URLs the app received."""
    callbacks = []
    rp = NodeRelyingParty(node, server.issuer, *REPORTS, env=env)
    try:
        steps = {}
        while (message := rp.next()) is not None:
            step = message["step"]
            if step == "authorize":  # the user signs in and clicks Allow
                callbacks.append(UserAgent().authorize(message["url"]))
                rp.answer(callbacks[-1])
            elif step == "authorize_deny":  # ... and, the second time, Deny
                callbacks.append(UserAgent().authorize(message["url"], "Deny"))
                rp.answer(callbacks[-1])
            elif step == "device":  # the user types the code on another device and allows
                UserAgent().approve_device(message["verification_uri"], message["user_code"])
                rp.answer("approved")
            else:
                steps[step] = message
        rp.process.wait(timeout=10)
        stderr = rp.process.stderr.read()
    finally:
        rp.stop()

    assert rp.process.returncode == 0, f"rp.mjs crashed:\n{stderr}\nsteps: {rp.seen}"
    assert "done" in steps, f"rp.mjs stopped early:\n{stderr}\nsteps: {rp.seen}"
    return steps, callbacks


def assert_every_step_passed(steps: dict, expected: list[str]) -> None:
    thrown = {name: steps[name].get("error") for name in expected
              if name in steps and not steps[name]["ok"]}
    missing = [name for name in expected if name not in steps]
    assert not thrown and not missing, (
        "openid-client rejected the server (see client-interop.md):\n"
        + "\n".join(f"  {name}: {json.dumps(error)}" for name, error in thrown.items())
        + (f"\n  never reached: {missing}" if missing else ""))
    assert steps["done"]["failures"] == 0


PAR_AND_DPOP = ["discovery_public", "par_dpop", "dpop_authorization_code", "dpop_api", "dpop_userinfo",
                "dpop_as_bearer_refused", "dpop_refresh"]


def assert_par_and_dpop(steps: dict, issuer: str) -> None:
    """RFC 9126 and RFC 9449 as openid-client checks them."""
    public = steps["discovery_public"]
    assert public["pushed_authorization_request_endpoint"] == f"{issuer}/par"
    assert "ES256" in public["dpop_signing_alg_values_supported"]
    assert sorted(steps["par_dpop"]["query"]) == ["client_id", "request_uri"]  # all the browser carries now
    code = steps["dpop_authorization_code"]
    assert code["token_type"].lower() == "dpop" and code["has_refresh_token"]
    assert steps["dpop_api"]["status"] == 200 and steps["dpop_api"]["customers"] > 0
    assert steps["dpop_userinfo"]["sub"] == "jane"
    refused = steps["dpop_as_bearer_refused"]
    assert refused["status"] == 401
    assert [(c["scheme"], c["error"]) for c in refused["challenges"]] == [("bearer", "invalid_token"), ("dpop", None)]
    assert refused["challenges"][1]["algs"].split()[0] == "ES256"
    assert steps["dpop_refresh"]["token_type"].lower() == "dpop" and steps["dpop_refresh"]["rotated"]


def test_openid_client_certified_rp_through_discovery(start_server, openid_client):
    server = start_server()  # real clock: openid-client checks exp/iat against its own clock
    steps, callbacks = run_relying_party(openid_client, server)
    expected = ["discovery", "discovery_basic", "authorization_code", "userinfo", "refresh",
                "introspect_active", "revoke", "introspect_revoked", "access_denied",
                "device_authorization", "device_pending", "device_token",
                "client_credentials_post", "client_credentials_basic",
                "registration", "registered_client_credentials",
                *PAR_AND_DPOP, "par_confidential", "par_authorization_code"]
    assert_every_step_passed(steps, expected)
    assert_par_and_dpop(steps, server.issuer)
    assert sorted(steps["par_confidential"]["query"]) == ["client_id", "request_uri"]
    assert steps["par_authorization_code"]["token_type"].lower() == "bearer"

    issuer = server.issuer
    assert steps["discovery"]["issuer"] == steps["discovery_basic"]["issuer"] == issuer
    for callback in callbacks:  # RFC 9207 on the success and on the error redirect
        assert f"iss={requests.utils.quote(issuer, safe='')}" in callback, callback

    code = steps["authorization_code"]
    assert code["token_type"].lower() == "bearer"  # oauth4webapi lowercases it
    assert set(code["scope"].split()) == {"openid", "profile", "email", "customers:ro"}
    assert code["has_refresh_token"]
    claims = code["claims"]
    assert claims["iss"] == issuer and claims["aud"] == REPORTS[0] and claims["sub"] == "jane"
    assert steps["userinfo"]["userinfo"]["sub"] == claims["sub"]

    assert steps["refresh"]["rotated"] is True
    assert steps["introspect_active"]["active"] is True
    assert steps["introspect_active"]["client_id"] == REPORTS[0]
    assert steps["introspect_revoked"]["active"] is False
    assert steps["access_denied"]["error"] == "access_denied"

    device = steps["device_authorization"]
    assert device["verification_uri"] == f"{issuer}/device"
    assert device["verification_uri_complete"].startswith(f"{issuer}/device?")
    assert device["interval"] > 0 and device["expires_in"] > 0
    pending = steps["device_pending"]
    assert (pending["error"], pending["status"], pending["www_authenticate"]) == \
        ("authorization_pending", 400, None)
    assert steps["device_token"]["token_type"].lower() == "bearer"
    assert set(steps["device_token"]["scope"].split()) == {"customers:ro", "openid"}

    for name in ("client_credentials_post", "client_credentials_basic"):
        assert steps[name]["token_type"].lower() == "bearer"
        assert steps[name]["scope"] == "customers:ro"

    registration = steps["registration"]
    assert registration["has_secret"] and registration["client_secret_expires_at"] == 0
    assert registration["token_endpoint_auth_method"] == "client_secret_basic"  # RFC 7591 default
    assert steps["registered_client_credentials"]["scope"] == "customers:ro"


def test_openid_client_runs_par_and_dpop_against_a_server_requiring_nonces(start_server, openid_client):
    """RFC 9449 §8, §9: the token endpoint asks for a nonce with 400 use_dpop_nonce, the API with
    401 and a DPoP challenge; openid-client retries each once with the DPoP-Nonce it was given."""
    server = start_server(require_dpop_nonce=True)
    steps, _ = run_relying_party(openid_client, server, RP_STEPS="dpop")
    assert_every_step_passed(steps, PAR_AND_DPOP)
    assert_par_and_dpop(steps, server.issuer)


def test_openid_client_finds_where_to_sign_in_and_gets_a_token_only_that_api_takes(start_server, openid_client):
    """RFC 9728 and RFC 8707 through oauth4webapi and openid-client (tests/interop/resource.mjs):
    the challenge's resource_metadata, the metadata checked as §3.3 says (and found again at the
    well-known URL the library builds), a token for one API that the other refuses; then a client
    known by its metadata document."""
    from documents import DocumentSite

    server = start_server()
    site = DocumentSite()
    api, other = f"{server.url}/v3.5/agent", f"{server.url}/v3.5/configuration"
    rp = NodeRelyingParty(openid_client, api, other, *REPORTS, site.publish(), script="resource.mjs")
    try:
        steps = {}
        while (message := rp.next()) is not None:
            if message["step"] == "authorize":
                rp.answer(UserAgent().authorize(message["url"]))
            else:
                steps[message["step"]] = message
        rp.process.wait(timeout=10)
        stderr = rp.process.stderr.read()
    finally:
        rp.stop()
        site.stop()

    assert steps.get("done", {}).get("failures") == 0, f"{stderr}\nsteps: {rp.seen}"
    challenge = steps["challenge"]
    assert (challenge["status"], challenge["scheme"], challenge["error"]) == (401, "bearer", "invalid_token")
    assert challenge["resource_metadata"] == f"{server.url}/.well-known/oauth-protected-resource/v3.5/agent"
    assert steps["resource_metadata"]["resource"] == api and steps["resource_metadata"]["same_at_well_known"]
    assert steps["resource_metadata"]["authorization_servers"] == [server.issuer]
    assert steps["discovery"]["issuer"] == server.issuer
    assert steps["discovery"]["code_challenge_methods_supported"] == ["S256"]
    access = steps["authorization_code"]["access_token"]
    assert json.loads(jws.extract_compact(access.encode()).payload)["aud"] == api
    assert steps["call"]["status"] == 200
    other_api = steps["other_api"]
    assert (other_api["status"], other_api["error"]) == (401, "invalid_token")
    assert other_api["resource_metadata"] == f"{server.url}/.well-known/oauth-protected-resource/v3.5/configuration"
    assert steps["client_credentials"]["status"] == 200
    assert (steps["unknown_resource"]["error"], steps["unknown_resource"]["status"]) == ("invalid_target", 400)
    assert steps["document_discovery"]["supported"] is True
    document_token = steps["document_authorization_code"]["access_token"]
    assert json.loads(jws.extract_compact(document_token.encode()).payload)["client_id"] == site.url()
