"""RULES.md, "DPoP (RFC 9449)": proofs at the token endpoint, bound tokens, and the APIs that take
them — each rule with what a client sees, the refusals as many as the successes."""
from __future__ import annotations

import base64
import http.client
import json

import pytest
import requests
from joserfc import jws, jwt
from joserfc.jwk import OctKey, RSAKey

from flows import (APP_CALLBACK, REPORTS, RESOURCE_SERVER, WIDGET, assert_oauth_error, authorize, call_api,
                   call_api_dpop, dpop_key, dpop_proof, dpop_token, pkce_pair, thumbprint, token)
from mock_server.dpop import ALGORITHMS, CLOCK_SKEW, PROOF_LIFETIME


def claims_of(access_token: str) -> dict:
    return json.loads(jws.extract_compact(access_token.encode()).payload)


def bound_token(server, key, client=REPORTS) -> str:
    response = dpop_token(server, key, client)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def widget_tokens(server, key, scope="chats--access:ro customers:ro", **params) -> requests.Response:
    """The public app's code flow, its token request carrying a proof by `key`."""
    verifier, challenge = pkce_pair()
    got = authorize(server, WIDGET, scope=scope, code_challenge=challenge, code_challenge_method="S256", **params)
    data = {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": APP_CALLBACK,
            "code_verifier": verifier, "client_id": WIDGET}
    return token(server, data, auth=None, headers={"DPoP": dpop_proof(server, key, "POST", "/token")})


def challenges(response) -> str:
    return response.headers.get("WWW-Authenticate", "")


# --- the token endpoint ------------------------------------------------------------------------


def test_a_token_request_with_a_proof_gets_a_token_bound_to_its_key(server):
    key = dpop_key()
    response = dpop_token(server, key)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "DPoP"
    assert claims_of(response.json()["access_token"])["cnf"] == {"jkt": thumbprint(key)}


def test_a_token_request_without_a_proof_gets_a_bearer_token_as_before(server):
    response = token(server, {"grant_type": "client_credentials", "scope": "customers:ro"})
    assert response.json()["token_type"] == "Bearer"
    assert "cnf" not in claims_of(response.json()["access_token"])


@pytest.mark.parametrize("kind", ["EC", "OKP", "RSA"])
def test_every_advertised_kind_of_key_binds_a_token(server, kind):
    key = dpop_key(kind)
    assert bound_token(server, key)
    for alg in {"EC": ["ES256"], "OKP": ["Ed25519", "EdDSA"], "RSA": ["RS256", "PS256"]}[kind]:
        assert dpop_token(server, key, proof=dpop_proof(server, key, "POST", "/token", alg=alg)).status_code == 200


@pytest.mark.parametrize("typ", ["dpop+jwt", "DPoP+JWT", "application/dpop+jwt"])
def test_typ_is_compared_as_a_media_type(server, typ):
    key = dpop_key()
    proof = dpop_proof(server, key, "POST", "/token", header={"typ": typ})
    assert dpop_token(server, key, proof=proof).status_code == 200


@pytest.mark.parametrize("typ", ["jwt", "at+jwt", "dpop", "application/jwt", "dpop+jwt;x=1", None])
def test_a_proof_typed_otherwise_400_invalid_dpop_proof(server, typ):
    key = dpop_key()
    proof = dpop_proof(server, key, "POST", "/token", header={"typ": typ})
    assert_oauth_error(dpop_token(server, key, proof=proof), 400, "invalid_dpop_proof")


def test_a_proof_for_another_url_400_invalid_dpop_proof(server):
    key = dpop_key()
    for url in ("/revoke", "/par", "http://127.0.0.2:1/token", "https://evil.example/token"):
        proof = dpop_proof(server, key, "POST", url)
        assert_oauth_error(dpop_token(server, key, proof=proof), 400, "invalid_dpop_proof")


def test_htu_is_compared_after_normalization_and_without_query(server):
    key = dpop_key()
    host, port = server.url.removeprefix("http://").split(":")
    for url in (f"HTTP://{host}:{port}/token", f"http://{host}:{port}/token?x=1#f"):
        assert dpop_token(server, key, proof=dpop_proof(server, key, "POST", url)).status_code == 200


def test_a_proof_for_another_method_400_invalid_dpop_proof(server):
    key = dpop_key()
    for method in ("GET", "post", "PUT"):
        proof = dpop_proof(server, key, method, "/token")
        assert_oauth_error(dpop_token(server, key, proof=proof), 400, "invalid_dpop_proof")


def test_a_proof_used_twice_is_refused_the_second_time(server):
    key = dpop_key()
    proof = dpop_proof(server, key, "POST", "/token")
    assert dpop_token(server, key, proof=proof).status_code == 200
    assert_oauth_error(dpop_token(server, key, proof=proof), 400, "invalid_dpop_proof")
    assert "used before" in dpop_token(server, key, proof=proof).json()["error_description"]


def test_a_proof_made_too_long_ago_or_too_far_ahead_400_invalid_dpop_proof(server):
    key, now = dpop_key(), server.clock.timestamp()
    for iat in (now - PROOF_LIFETIME - 1, now + CLOCK_SKEW + 1, 0, -5):
        proof = dpop_proof(server, key, "POST", "/token", iat=iat)
        assert_oauth_error(dpop_token(server, key, proof=proof), 400, "invalid_dpop_proof")


def test_a_proof_within_the_window_is_accepted(server):
    key, now = dpop_key(), server.clock.timestamp()
    for iat in (now - PROOF_LIFETIME, now + CLOCK_SKEW):
        assert dpop_token(server, key, proof=dpop_proof(server, key, "POST", "/token", iat=iat)).status_code == 200


def test_a_proof_without_each_required_claim_400_invalid_dpop_proof(server):
    key = dpop_key()
    for name in ("jti", "htm", "htu", "iat"):
        proof = dpop_proof(server, key, "POST", "/token", claims={name: None})
        assert_oauth_error(dpop_token(server, key, proof=proof), 400, "invalid_dpop_proof")
    for name, value in (("iat", "1767603600"), ("iat", True), ("jti", 5), ("jti", "x" * 300), ("htu", ["/token"])):
        proof = dpop_proof(server, key, "POST", "/token", claims={name: value})
        assert_oauth_error(dpop_token(server, key, proof=proof), 400, "invalid_dpop_proof")


def test_a_private_or_secret_key_in_jwk_400_invalid_dpop_proof(server):
    key = dpop_key()
    proof = dpop_proof(server, key, "POST", "/token", header={"jwk": key.as_dict(private=True)})
    assert_oauth_error(dpop_token(server, key, proof=proof), 400, "invalid_dpop_proof")
    assert "private" in dpop_token(server, key, proof=proof).json()["error_description"]
    secret = OctKey.generate_key(256)
    proof = jwt.encode({"typ": "dpop+jwt", "alg": "HS256", "jwk": secret.as_dict(private=True)},
                       {"jti": "j", "htm": "POST", "htu": f"{server.url}/token", "iat": server.clock.timestamp()},
                       secret, algorithms=["HS256"])
    assert_oauth_error(dpop_token(server, key, proof=proof), 400, "invalid_dpop_proof")


@pytest.mark.parametrize("alg", ["none", "HS256", "ES256K", "RS1", ""])
def test_a_proof_with_an_algorithm_not_accepted_400_invalid_dpop_proof(server, alg):
    key = dpop_key()
    header = base64.urlsafe_b64encode(json.dumps(
        {"typ": "dpop+jwt", "alg": alg, "jwk": key.as_dict(private=False)}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(
        {"jti": "j1", "htm": "POST", "htu": f"{server.url}/token", "iat": server.clock.timestamp()}).encode())
    proof = f"{header}.{body.rstrip(b'=').decode()}.c2ln"  # `alg: none` with any signature at all
    assert_oauth_error(dpop_token(server, key, proof=proof), 400, "invalid_dpop_proof")


def test_a_proof_signed_by_another_key_than_its_jwk_400_invalid_dpop_proof(server):
    key, other = dpop_key(), dpop_key()
    proof = dpop_proof(server, other, "POST", "/token", header={"jwk": key.as_dict(private=False)})
    assert_oauth_error(dpop_token(server, key, proof=proof), 400, "invalid_dpop_proof")


def test_two_proofs_or_a_malformed_one_400_invalid_dpop_proof(server):
    key = dpop_key()
    one, two = (dpop_proof(server, key, "POST", "/token") for _ in range(2))
    for proof in (f"{one}, {two}", "not-a-jwt", "a.b.c", one + ".", "", one.replace(".", "..", 1)):
        assert_oauth_error(dpop_token(server, key, proof=proof), 400, "invalid_dpop_proof")
    # Two DPoP header lines (§4.3 step 1), as a raw HTTP client can send them.
    connection = http.client.HTTPConnection(server.url.removeprefix("http://"))
    connection.putrequest("POST", "/token")
    for name, value in (("DPoP", one), ("DPoP", two), ("Content-Type", "application/x-www-form-urlencoded"),
                        ("Authorization", "Basic " + base64.b64encode(":".join(REPORTS).encode()).decode()),
                        ("Content-Length", "29")):
        connection.putheader(name, value)
    connection.endheaders(b"grant_type=client_credentials")
    answer = connection.getresponse()
    assert (answer.status, json.loads(answer.read())["error"]) == (400, "invalid_dpop_proof")


def test_a_huge_or_deeply_nested_proof_400_invalid_dpop_proof(server):
    key = dpop_key()
    huge = dpop_proof(server, key, "POST", "/token", claims={"pad": "x" * 20_000})
    protected = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    nested = jws.serialize_compact(protected, b'{"x":' + b"[" * 3000 + b"]" * 3000 + b"}", key)
    deeper = (base64.urlsafe_b64encode(b'{"a":' * 1000 + b"1" + b"}" * 1000).rstrip(b"=").decode()
              + ".e30.c2ln")
    for proof in (huge, nested, deeper):
        assert_oauth_error(dpop_token(server, key, proof=proof), 400, "invalid_dpop_proof")


def public_rsa_jwk(bits: int) -> dict:
    """An RSA public key of `bits` bits, no private half needed (a proof need not verify to be
    refused for its key)."""
    n = (1 << (bits - 1)) | 1
    return {"kty": "RSA", "e": "AQAB",
            "n": base64.urlsafe_b64encode(n.to_bytes((bits + 7) // 8, "big")).rstrip(b"=").decode()}


def test_an_rsa_key_outside_2048_to_4096_bits_400_invalid_dpop_proof(server):
    signer = RSAKey.generate_key(2048)
    for bits in (1024, 4100, 6000, 10_000):
        proof = dpop_proof(server, signer, "POST", "/token", header={"jwk": public_rsa_jwk(bits)})
        response = dpop_token(server, signer, proof=proof)
        assert_oauth_error(response, 400, "invalid_dpop_proof")
        description = response.json()["error_description"]
        assert ("2048 to 4096 bits" if bits < 10_000 else "larger than this server accepts") in description


def test_a_client_registered_with_dpop_bound_access_tokens_must_send_a_proof(server):
    app = requests.post(f"{server.url}/register", json={
        "client_name": "Always DPoP", "grant_types": ["client_credentials"], "scope": "customers:ro",
        "dpop_bound_access_tokens": True}).json()
    assert app["dpop_bound_access_tokens"] is True
    credentials = (app["client_id"], app["client_secret"])
    refused = token(server, {"grant_type": "client_credentials"}, auth=credentials)
    assert_oauth_error(refused, 400, "invalid_request")
    assert "dpop_bound_access_tokens" in refused.json()["error_description"]
    assert dpop_token(server, dpop_key(), credentials).json()["token_type"] == "DPoP"


def test_dpop_bound_access_tokens_must_be_a_boolean(server):
    for value in ("true", 1, None, []):
        response = requests.post(f"{server.url}/register", json={
            "client_name": "x", "grant_types": ["client_credentials"], "dpop_bound_access_tokens": value})
        assert_oauth_error(response, 400, "invalid_client_metadata")


# --- refresh tokens ---------------------------------------------------------------------------


def test_a_public_clients_refresh_token_is_bound_and_refreshes_only_with_its_key(server):
    key = dpop_key()
    tokens = widget_tokens(server, key).json()
    data = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": WIDGET}
    assert_oauth_error(token(server, data, auth=None), 400, "invalid_grant")
    other = {"DPoP": dpop_proof(server, dpop_key(), "POST", "/token")}
    assert_oauth_error(token(server, data, auth=None, headers=other), 400, "invalid_grant")
    own = token(server, data, auth=None, headers={"DPoP": dpop_proof(server, key, "POST", "/token")})
    assert own.status_code == 200, own.text
    assert own.json()["token_type"] == "DPoP"
    assert claims_of(own.json()["access_token"])["cnf"]["jkt"] == thumbprint(key)


def test_a_confidential_clients_refresh_token_is_not_bound(server):
    verifier, challenge = pkce_pair()
    got = authorize(server, scope="customers:ro", code_challenge=challenge, code_challenge_method="S256")
    data = {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": APP_CALLBACK,
            "code_verifier": verifier}
    tokens = dpop_token(server, dpop_key(), data=data).json()
    assert tokens["token_type"] == "DPoP"
    refreshed = token(server, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["token_type"] == "Bearer"  # no proof this time: an unbound token


# --- the code bound with dpop_jkt (RFC 9449 §10) -------------------------------------------------


def test_a_code_bound_with_dpop_jkt_is_redeemed_only_with_that_key(server):
    key = dpop_key()
    assert widget_tokens(server, key, dpop_jkt=thumbprint(key)).status_code == 200
    for proof_key in (dpop_key(), None):
        verifier, challenge = pkce_pair()
        got = authorize(server, WIDGET, scope="customers:ro", code_challenge=challenge,
                        code_challenge_method="S256", dpop_jkt=thumbprint(key))
        data = {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": APP_CALLBACK,
                "code_verifier": verifier, "client_id": WIDGET}
        headers = {"DPoP": dpop_proof(server, proof_key, "POST", "/token")} if proof_key else {}
        refused = token(server, data, auth=None, headers=headers)
        assert_oauth_error(refused, 400, "invalid_grant")
        assert "dpop_jkt" in refused.json()["error_description"]


# --- the resource servers (RFC 9449 §7) ----------------------------------------------------------


def test_a_bound_token_with_a_proof_opens_the_api_and_userinfo(server):
    key = dpop_key()
    access = widget_tokens(server, key, scope="openid chats--access:ro customers:ro").json()["access_token"]
    assert call_api_dpop(server, key, access).status_code == 200
    url = f"{server.url}/userinfo"
    info = requests.get(url, headers={"Authorization": f"DPoP {access}",
                                      "DPoP": dpop_proof(server, key, "GET", url, access_token=access)})
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == "jane"


def test_the_dpop_scheme_name_is_case_insensitive(server):
    key = dpop_key()
    access = bound_token(server, key)
    assert call_api_dpop(server, key, access, scheme="dpop").status_code == 200


def test_a_bound_token_sent_as_a_bearer_token_401_with_both_challenges(server):
    key = dpop_key()
    access = bound_token(server, key)
    for response in (call_api(server, "list_customers", access),
                     requests.get(f"{server.url}/userinfo", headers={"Authorization": f"Bearer {access}"})):
        assert response.status_code == 401
        challenge = challenges(response)
        assert challenge.startswith('Bearer realm="') and 'error="invalid_token"' in challenge
        assert f'DPoP realm="' in challenge and f'algs="{" ".join(ALGORITHMS)}"' in challenge
        assert response.json()["error"] == "invalid_token"


def test_a_stolen_bound_token_with_a_proof_by_another_key_401_invalid_token(server):
    key, thief = dpop_key(), dpop_key()
    access = bound_token(server, key)
    response = call_api_dpop(server, thief, access)
    assert response.status_code == 401
    assert challenges(response).startswith('DPoP realm="agent-api", error="invalid_token"')
    assert "Bearer realm=" in challenges(response)


def test_a_proof_with_a_wrong_or_missing_ath_401_invalid_dpop_proof(server):
    key = dpop_key()
    access, other = bound_token(server, key), bound_token(server, key)
    url = f"{server.url}/v3.5/agent/action/list_customers"
    for proof in (dpop_proof(server, key, "POST", url, access_token=other), dpop_proof(server, key, "POST", url)):
        response = call_api_dpop(server, key, access, proof=proof)
        assert response.status_code == 401
        assert 'DPoP realm="agent-api", error="invalid_dpop_proof"' in challenges(response)
        assert response.json()["error"] == "invalid_dpop_proof"


def test_a_proof_for_another_call_or_method_401_invalid_dpop_proof(server):
    key = dpop_key()
    access = bound_token(server, key)
    for method, action in (("POST", "list_chats"), ("GET", "list_customers")):
        proof = dpop_proof(server, key, method, f"{server.url}/v3.5/agent/action/{action}", access_token=access)
        response = call_api_dpop(server, key, access, proof=proof)
        assert response.status_code == 401 and response.json()["error"] == "invalid_dpop_proof"


def test_a_replayed_proof_at_the_api_401_invalid_dpop_proof(server):
    key = dpop_key()
    access = bound_token(server, key)
    proof = dpop_proof(server, key, "POST", f"{server.url}/v3.5/agent/action/list_customers", access_token=access)
    assert call_api_dpop(server, key, access, proof=proof).status_code == 200
    replayed = call_api_dpop(server, key, access, proof=proof)
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_dpop_proof"


def test_the_dpop_scheme_without_a_proof_or_with_an_unbound_token_401(server):
    key = dpop_key()
    access = bound_token(server, key)
    url = f"{server.url}/v3.5/agent/action/list_customers"
    no_proof = requests.post(url, json={}, headers={"Authorization": f"DPoP {access}"})
    assert no_proof.status_code == 401 and no_proof.json()["error"] == "invalid_dpop_proof"
    bearer = token(server, {"grant_type": "client_credentials", "scope": "customers:ro"}).json()["access_token"]
    unbound = call_api_dpop(server, key, bearer)
    assert unbound.status_code == 401 and unbound.json()["error"] == "invalid_token"


def test_a_bound_token_lacking_the_scope_403_with_the_dpop_challenge(server):
    key = dpop_key()
    access = bound_token(server, key)
    response = call_api_dpop(server, key, access, action="list_chats")
    assert response.status_code == 403
    assert challenges(response).startswith('DPoP realm="agent-api", error="insufficient_scope"')
    assert 'scope="chats--access:ro"' in challenges(response)


def test_no_credentials_offers_both_schemes_without_an_error(server):
    response = call_api(server, "list_customers", None)
    assert response.status_code == 401
    metadata = f"{server.url}/.well-known/oauth-protected-resource/v3.5/agent"  # RFC 9728 §5.1
    assert challenges(response) == (f'Bearer realm="agent-api", resource_metadata="{metadata}", '
                                    f'DPoP realm="agent-api", algs="{" ".join(ALGORITHMS)}"')


def test_a_revoked_or_expired_bound_token_401_invalid_token_in_the_dpop_challenge(server):
    key = dpop_key()
    revoked = bound_token(server, key)
    requests.post(f"{server.url}/revoke", data={"token": revoked}, auth=REPORTS)
    response = call_api_dpop(server, key, revoked)
    assert response.status_code == 401 and "was revoked" in response.json()["error_description"]
    assert challenges(response).startswith('DPoP realm="agent-api", error="invalid_token"')
    expired = bound_token(server, key)
    server.clock.advance(3601)
    response = call_api_dpop(server, key, expired)
    assert response.status_code == 401 and "expired" in response.json()["error_description"]


# --- introspection (RFC 9449 §6.2) and metadata (§5.1) ------------------------------------------


def test_introspection_names_the_key_of_a_bound_token(server):
    key = dpop_key()
    answer = requests.post(f"{server.url}/introspect", data={"token": bound_token(server, key)},
                           auth=RESOURCE_SERVER).json()
    assert answer["active"] is True
    assert answer["token_type"] == "DPoP" and answer["cnf"] == {"jkt": thumbprint(key)}


def test_introspection_of_a_bearer_token_names_no_key(server):
    bearer = token(server, {"grant_type": "client_credentials", "scope": "customers:ro"}).json()["access_token"]
    answer = requests.post(f"{server.url}/introspect", data={"token": bearer}, auth=RESOURCE_SERVER).json()
    assert answer["token_type"] == "Bearer" and "cnf" not in answer


def test_the_metadata_advertises_the_dpop_algorithms(server):
    metadata = requests.get(f"{server.url}/.well-known/oauth-authorization-server").json()
    assert metadata["dpop_signing_alg_values_supported"] == list(ALGORITHMS)
    assert not {"none", "HS256", "HS384", "HS512"} & set(metadata["dpop_signing_alg_values_supported"])
    assert "mock_server_requires_dpop_nonce" not in metadata


# --- server nonces (RFC 9449 §8, §9) -----------------------------------------------------------


@pytest.fixture
def nonce_server(start_server):
    return start_server(seed=7, require_dpop_nonce=True)


def test_a_server_requiring_nonces_answers_400_use_dpop_nonce_then_accepts_it(nonce_server):
    server, key = nonce_server, dpop_key()
    first = dpop_token(server, key)
    assert_oauth_error(first, 400, "use_dpop_nonce")
    nonce = first.headers["DPoP-Nonce"]
    again = dpop_token(server, key, proof=dpop_proof(server, key, "POST", "/token", nonce=nonce))
    assert again.status_code == 200 and again.json()["token_type"] == "DPoP"
    metadata = requests.get(f"{server.url}/.well-known/oauth-authorization-server").json()
    assert metadata["mock_server_requires_dpop_nonce"] is True


def test_a_nonce_the_server_did_not_give_or_that_expired_is_refused_with_a_new_one(nonce_server):
    server, key = nonce_server, dpop_key()
    forged = dpop_token(server, key, proof=dpop_proof(server, key, "POST", "/token", nonce="made-up"))
    assert_oauth_error(forged, 400, "use_dpop_nonce")
    nonce = forged.headers["DPoP-Nonce"]
    server.clock.advance(301)
    stale = dpop_token(server, key, proof=dpop_proof(server, key, "POST", "/token", nonce=nonce))
    assert_oauth_error(stale, 400, "use_dpop_nonce")
    assert stale.headers["DPoP-Nonce"] != nonce


def test_the_api_asks_for_a_nonce_with_401_and_a_dpop_challenge(nonce_server):
    server, key = nonce_server, dpop_key()
    nonce = dpop_token(server, key).headers["DPoP-Nonce"]
    access = dpop_token(server, key, proof=dpop_proof(server, key, "POST", "/token", nonce=nonce)).json()["access_token"]
    url = f"{server.url}/v3.5/agent/action/list_customers"
    refused = call_api_dpop(server, key, access, proof=dpop_proof(server, key, "POST", url, access_token=access))
    assert refused.status_code == 401
    assert challenges(refused).startswith('DPoP realm="agent-api", error="use_dpop_nonce"')
    served = call_api_dpop(server, key, access, proof=dpop_proof(
        server, key, "POST", url, access_token=access, nonce=refused.headers["DPoP-Nonce"]))
    assert served.status_code == 200, served.text


def test_a_server_without_nonces_ignores_one(server):
    key = dpop_key()
    proof = dpop_proof(server, key, "POST", "/token", nonce="anything")
    assert dpop_token(server, key, proof=proof).status_code == 200


def test_behind_a_hub_htu_is_the_advertised_url_or_the_one_the_request_was_addressed_to(start_server):
    """On a hub the metadata names https://hub/…/oauth, the kernel sends to loopback: a proof for
    either URL of this endpoint is good, any other refused (RULES.md, "DPoP `htu`")."""
    public = "https://hub.test/user/jane/oauth"
    server = start_server(seed=7, public_url=public)
    metadata = requests.get(f"{server.url}/.well-known/oauth-authorization-server").json()
    assert metadata["token_endpoint"] == f"{public}/token"
    key = dpop_key()
    for htu in (metadata["token_endpoint"], f"{server.url}/token"):
        assert dpop_token(server, key, proof=dpop_proof(server, key, "POST", htu)).status_code == 200
    for htu in (f"{public}/par", "https://hub.test/user/bob/oauth/token", "http://hub.test/user/jane/oauth/token"):
        assert_oauth_error(dpop_token(server, key, proof=dpop_proof(server, key, "POST", htu)),
                           400, "invalid_dpop_proof")
    # Through the hub's proxy the request is addressed to the public URL: loopback is not its URL.
    through_proxy = {"Host": "hub.test"}
    proof = dpop_proof(server, key, "POST", f"{server.url}/token")
    refused = token(server, {"grant_type": "client_credentials"}, headers={**through_proxy, "DPoP": proof})
    assert_oauth_error(refused, 400, "invalid_dpop_proof")
    proof = dpop_proof(server, key, "POST", f"{public}/token")
    served = token(server, {"grant_type": "client_credentials"}, headers={**through_proxy, "DPoP": proof})
    assert served.status_code == 200, served.text
