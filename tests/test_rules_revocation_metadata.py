"""RULES.md, "Revocation and introspection", "Metadata and keys" and "Hardening": what a client,
a resource server and a curious learner observe.
"""
from __future__ import annotations

import json
import logging

import pytest
import requests
from authlib.oidc.core.util import create_half_hash
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from flows import (APP_CALLBACK, ADMIN_TOOLS, REPORTS, RESOURCE_SERVER, WIDGET, authorization_url, call_api,
                   code_tokens, jwt_header, token)
from test_rules_authorize import assert_error_page, signed_in_consent_page
from test_rules_token import assert_token_error, refresh

DISCOVERY = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")


def client_token(server, scope="customers:ro", auth=REPORTS) -> str:
    return token(server, {"grant_type": "client_credentials", "scope": scope}, auth=auth).json()["access_token"]


def revoke(server, token_string, auth=REPORTS, **extra) -> requests.Response:
    return requests.post(f"{server.url}/revoke", data={"token": token_string, **extra}, auth=auth)


def introspect(server, token_string, auth=RESOURCE_SERVER) -> requests.Response:
    return requests.post(f"{server.url}/introspect", data={"token": token_string}, auth=auth)


def assert_inactive(server, token_string, auth=RESOURCE_SERVER):
    answer = introspect(server, token_string, auth)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"active": False}
    assert answer.text.replace(" ", "").strip() == '{"active":false}'


def metadata(server, path=DISCOVERY[0]) -> dict:
    answer = requests.get(server.url + path, allow_redirects=False)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    return answer.json()


def decode(server, token_string):
    keys = KeySet.import_key_set(requests.get(f"{server.url}/.well-known/jwks.json").json())
    return jwt.decode(token_string, keys, algorithms=["RS256"])


# --- revocation (RFC 7009) -----------------------------------------------------------------------

@pytest.mark.parametrize("hint", [{}, {"token_type_hint": "refresh_token"}, {"token_type_hint": "access_token"},
                                  {"token_type_hint": "bogus_hint"}])
def test_revoke_unknown_token_answers_200(server, hint):
    answer = revoke(server, "no-such-token", **hint)
    assert answer.status_code == 200, answer.text  # exactly 200, not 204 (client-interop point 11)


def test_revoke_already_revoked_token_answers_200(server):
    access_token = client_token(server)
    assert revoke(server, access_token).status_code == 200
    assert revoke(server, access_token).status_code == 200


def test_revoke_without_token_parameter_400_invalid_request(server):
    answer = requests.post(f"{server.url}/revoke", data={}, auth=REPORTS)
    assert_token_error(answer, 400, "invalid_request")


def test_revoke_without_client_auth_401_invalid_client(server):
    answer = requests.post(f"{server.url}/revoke", data={"token": "x", "client_id": REPORTS[0]})
    assert_token_error(answer, 401, "invalid_client", basic_challenge=None)


def test_revoke_wrong_secret_basic_401_invalid_client_with_basic_challenge(server):
    assert_token_error(revoke(server, "x", auth=(REPORTS[0], "wrong")), 401, "invalid_client",
                       basic_challenge=True)


def test_revoke_access_token_stops_it(server):
    access_token = client_token(server)
    revoke(server, access_token)
    assert call_api(server, "list_customers", access_token).status_code == 401


def test_revoke_refresh_token_also_revokes_its_access_tokens(server):
    tokens = code_tokens(server)
    assert revoke(server, tokens["refresh_token"], token_type_hint="refresh_token").status_code == 200
    assert call_api(server, "list_customers", tokens["access_token"]).status_code == 401
    assert_token_error(refresh(server, tokens["refresh_token"]), 400, "invalid_grant")
    assert_inactive(server, tokens["access_token"])


def test_revoke_by_another_client_does_not_revoke(server):
    tokens = code_tokens(server)
    # RFC 7009 §2.1: the token was not issued to this client, so the request is refused.
    assert_token_error(revoke(server, tokens["access_token"], auth=ADMIN_TOOLS), 400, "invalid_grant")
    assert call_api(server, "list_customers", tokens["access_token"]).status_code == 200
    assert refresh(server, tokens["refresh_token"]).status_code == 200


def test_revoke_tells_another_apps_token_from_an_unknown_string(server):
    """What RFC 7009 §2.1's refusal tells a caller: even a public app's id alone (no secret) learns
    that a string it holds is a token this server issued to another app; an unknown string is
    "revoked" (200). Nothing is revoked either way, and the token keeps working."""
    tokens = code_tokens(server)
    for presented in (tokens["access_token"], tokens["refresh_token"]):
        answer = requests.post(f"{server.url}/revoke", data={"token": presented, "client_id": WIDGET})
        assert_token_error(answer, 400, "invalid_grant")
    unknown = requests.post(f"{server.url}/revoke", data={"token": "no-such-token", "client_id": WIDGET})
    assert unknown.status_code == 200
    assert call_api(server, "list_customers", tokens["access_token"]).status_code == 200


def test_revoke_by_public_client_with_client_id_only(server):
    tokens = code_tokens(server, WIDGET, scope="customers:ro")
    answer = requests.post(f"{server.url}/revoke", data={"token": tokens["access_token"], "client_id": WIDGET})
    assert answer.status_code == 200
    assert call_api(server, "list_customers", tokens["access_token"]).status_code == 401


# --- introspection (RFC 7662) --------------------------------------------------------------------

def test_introspect_without_client_auth_401_invalid_client(server):
    answer = requests.post(f"{server.url}/introspect", data={"token": client_token(server)})
    assert_token_error(answer, 401, "invalid_client", basic_challenge=None)


def test_introspect_wrong_secret_401_invalid_client_with_basic_challenge(server):
    answer = introspect(server, client_token(server), auth=(RESOURCE_SERVER[0], "wrong"))
    assert_token_error(answer, 401, "invalid_client", basic_challenge=True)


def test_introspect_with_a_public_client_id_alone_401_invalid_client(server):
    """RFC 7662 §2.1: a client id anyone can send is no authorization — else a token scanner."""
    tokens = code_tokens(server, WIDGET, scope="customers:ro")
    answer = requests.post(f"{server.url}/introspect", data={"token": tokens["access_token"], "client_id": WIDGET})
    assert_token_error(answer, 401, "invalid_client", basic_challenge=None)
    assert "none" not in metadata(server)["introspection_endpoint_auth_methods_supported"]


def test_introspect_unknown_token_exactly_active_false(server):
    assert_inactive(server, "no-such-token")


def test_introspect_revoked_token_exactly_active_false(server):
    access_token = client_token(server)
    revoke(server, access_token)
    assert_inactive(server, access_token)


def test_introspect_expired_token_exactly_active_false(server):
    access_token = client_token(server)
    server.clock.advance(3601)
    assert_inactive(server, access_token)


def test_introspect_rotated_refresh_token_exactly_active_false(server):
    tokens = code_tokens(server)
    assert introspect(server, tokens["refresh_token"], auth=REPORTS).json()["active"] is True
    assert refresh(server, tokens["refresh_token"]).status_code == 200
    assert_inactive(server, tokens["refresh_token"], auth=REPORTS)  # asked by the app that held it


def test_introspect_refresh_token_answers_only_the_app_that_holds_it(server):
    """RFC 7662 §2.2: an API never receives a refresh token (RFC 6749 §1.5), so it "is not allowed
    to introspect this particular token"; the app that holds it may."""
    tokens = code_tokens(server)
    own = introspect(server, tokens["refresh_token"], auth=REPORTS).json()
    assert own["active"] is True and own["token_type"] == "refresh_token" and own["client_id"] == REPORTS[0]
    assert own["sub"] == "jane" and "aud" not in own  # no API is its audience
    assert "jti" not in own  # the row's jti is the access token's (the JWT's), not this token's
    assert_inactive(server, tokens["refresh_token"], auth=RESOURCE_SERVER)
    assert_inactive(server, tokens["refresh_token"], auth=ADMIN_TOOLS)
    # The same response's access token is the API's to ask about, with the API as its audience.
    access = introspect(server, tokens["access_token"], auth=RESOURCE_SERVER).json()
    assert access["active"] is True and access["token_type"] == "Bearer"
    assert access["aud"] == f"{server.issuer}/v3.5/agent"
    # A hint changes nothing: the API still hears nothing about the refresh token.
    answer = requests.post(f"{server.url}/introspect", auth=RESOURCE_SERVER,
                           data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"})
    assert answer.json() == {"active": False}


def test_introspect_other_clients_token_reveals_nothing(server):
    # RFC 7662 §2.2: not allowed to introspect this token -> exactly {"active": false}.
    assert_inactive(server, client_token(server), auth=ADMIN_TOOLS)


def test_introspect_active_token(server):
    body = introspect(server, client_token(server)).json()
    assert body["active"] is True  # a JSON boolean (client-interop point 11)
    assert body["client_id"] == REPORTS[0] and body["scope"] == "customers:ro"
    assert body["iss"] == server.issuer and isinstance(body["exp"], int)


# --- metadata (RFC 8414, OIDC Discovery) ---------------------------------------------------------

def test_metadata_documents_identical_and_issuer_exact(server):
    first, second = (metadata(server, path) for path in DISCOVERY)
    assert first == second
    assert first["issuer"] == server.issuer == server.url  # http://127.0.0.1:PORT, no trailing slash
    assert not first["issuer"].endswith("/")


def test_metadata_describes_secure_defaults(server):
    meta = metadata(server)
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "implicit" not in meta["grant_types_supported"] and "password" not in meta["grant_types_supported"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post",
                                                                  "none"}
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "mock_server_teaching_switches" not in meta


def test_metadata_lists_every_demo_scope(server):
    demo = ("chats--all:ro chats--access:ro chats--my:rw customers:ro agents--all:ro agents--all:rw "
            "webhooks.configuration:rw")
    assert set(demo.split()) <= set(metadata(server)["scopes_supported"])


def metadata_without_issuer(server) -> dict:
    """The metadata with the server's own URL made a placeholder, so two servers compare."""
    return json.loads(json.dumps(metadata(server)).replace(server.issuer, "ISSUER"))


@pytest.mark.parametrize("switch, changed", [
    ({"allow_implicit": True}, {"response_types_supported": ["code", "token"],
                                "response_modes_supported": ["query", "fragment"],
                                "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials",
                                                          "urn:ietf:params:oauth:grant-type:device_code", "implicit"]}),
    ({"require_pkce": False}, {"code_challenge_methods_supported": ["S256", "plain"]}),
    ({"refresh_rotation": False}, {}),  # RFC 8414 has no field for these three: only the switch list shows them
    ({"allow_token_in_query": True}, {}),
    ({"redirect_matching": "prefix"}, {}),
    ({"allow_framing": True}, {}),
], ids=["allow_implicit", "require_pkce", "refresh_rotation", "allow_token_in_query", "redirect_matching",
        "allow_framing"])
def test_metadata_shows_teaching_switch_when_on(server, start_server, switch, changed):
    secure, switched = metadata_without_issuer(server), metadata_without_issuer(start_server(seed=7, **switch))
    differences = {name: value for name, value in switched.items() if secure.get(name) != value}
    assert differences == {**changed, "mock_server_teaching_switches": switch}


def test_metadata_endpoints_answer_without_redirects(server):
    meta = metadata(server)
    for name in ("token_endpoint", "revocation_endpoint", "introspection_endpoint", "registration_endpoint",
                 "device_authorization_endpoint"):
        assert meta[name].startswith(server.issuer + "/")
        assert not requests.post(meta[name], data={}, allow_redirects=False).is_redirect, name
    for name in ("jwks_uri", "userinfo_endpoint"):
        assert not requests.get(meta[name], allow_redirects=False).is_redirect, name


@pytest.mark.parametrize("method, path, status", [("GET", p + "/", 404) for p in DISCOVERY] + [
    ("GET", "/.well-known/jwks.json/", 404), ("POST", "/token/", 400)])
def test_back_channel_trailing_slash_never_redirects(server, method, path, status):
    answer = requests.request(method, server.url + path, allow_redirects=False)
    assert answer.status_code == status and answer.headers["Content-Type"].startswith("application/json")


# --- keys (RFC 7517) and token formats (RFC 9068, OIDC Core) -------------------------------------

def test_jwks_publishes_public_rsa_keys_only(server):
    keys = requests.get(f"{server.url}/.well-known/jwks.json").json()["keys"]
    assert keys and all(k["kty"] == "RSA" and "d" not in k and k.get("use", "sig") == "sig" for k in keys)
    assert len({k["kid"] for k in keys}) == len(keys)


def test_key_rotation_keeps_old_key_published_and_old_tokens_valid(server):
    old = client_token(server)
    server.keys.rotate()
    new = client_token(server)
    kids = [k["kid"] for k in requests.get(f"{server.url}/.well-known/jwks.json").json()["keys"]]
    assert jwt_header(old)["kid"] in kids and jwt_header(new)["kid"] in kids
    assert jwt_header(old)["kid"] != jwt_header(new)["kid"]
    assert call_api(server, "list_customers", old).status_code == 200


def test_jwt_access_token_follows_rfc9068(server):
    access_token = client_token(server)
    assert jwt_header(access_token)["typ"].lower() == "at+jwt"
    claims = decode(server, access_token).claims
    assert {"iss", "sub", "aud", "client_id", "scope", "jti", "iat", "exp"} <= set(claims)
    assert claims["iss"] == server.issuer and claims["client_id"] == REPORTS[0]


def test_id_token_follows_oidc_core(server):
    tokens = code_tokens(server, scope="openid profile", nonce="n-é 42")
    claims = decode(server, tokens["id_token"]).claims
    assert claims["nonce"] == "n-é 42" and claims["aud"] == REPORTS[0] and claims["iss"] == server.issuer
    # OIDC Core §3.1.3.6: the left half of the SHA-256 of the access token, base64url.
    assert claims["at_hash"] == create_half_hash(tokens["access_token"], "RS256").decode()


def test_id_token_without_nonce_has_no_nonce(server):
    claims = decode(server, code_tokens(server, scope="openid")["id_token"]).claims
    assert "nonce" not in claims


# --- registration (RFC 7591, client-interop point 4) ---------------------------------------------

def test_registration_answers_201_with_string_id_and_numeric_secret_expiry(server):
    answer = requests.post(f"{server.url}/register", json={"redirect_uris": [APP_CALLBACK]})
    body = answer.json()
    assert answer.status_code == 201 and isinstance(body["client_id"], str)
    assert body["client_secret_expires_at"] == 0 and body["token_endpoint_auth_method"] == "client_secret_basic"


@pytest.mark.parametrize("body, error", [
    ({}, "invalid_client_metadata"),
    ({"redirect_uris": "not-a-list"}, "invalid_redirect_uri"),
    ({"redirect_uris": ["not a uri"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["http://127.0.0.1/cb"], "scope": "nonsense:rw"}, "invalid_client_metadata")])
def test_registration_bad_metadata_400(server, body, error):
    answer = requests.post(f"{server.url}/register", json=body)
    assert_token_error(answer, 400, error)


def public_jwks() -> dict:
    return KeySet([RSAKey.generate_key(2048)]).as_dict(private=False)


# Every RFC 7591 §2 field, with values of the wrong JSON type or shape.
WRONGLY_TYPED = {
    "redirect_uris": ["http://127.0.0.1:8765/callback", 1e308, [5], [None], {"uri": "x"}],
    "token_endpoint_auth_method": [5, ["none"], None],
    "grant_types": ["authorization_code", [5], {"a": 1}],
    "response_types": ["code", [["code"]]],
    "client_name": [5, ["Reports"], {"en": "Reports"}, "\ud800"],
    "client_uri": [5, ["https://x.example"]],
    "logo_uri": [True], "tos_uri": [5.5], "policy_uri": [[]],
    "scope": [5, ["customers:ro"], None],
    "contacts": ["ops@x.example", [5]],
    "jwks_uri": [{"keys": []}],
    "jwks": ["<a string>", 5, "x", {"keys": 5}, [], {}, {"keys": [5]}, {"keys": [{"kty": ["RSA"]}]},
             {"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}]}],
    "software_id": [5], "software_version": [1.0], "software_statement": [{"alg": "none"}],
    "id_token_signed_response_alg": [256],
}


@pytest.mark.parametrize("name, value", [(name, value) for name, values in WRONGLY_TYPED.items()
                                         for value in values])
def test_registration_field_of_wrong_type_400_rfc7591_error(server, name, value):
    answer = requests.post(f"{server.url}/register", json={"redirect_uris": [APP_CALLBACK], name: value})
    # RFC 7591 §3.2.2: invalid_redirect_uri for redirect_uris, invalid_client_metadata otherwise.
    assert_token_error(answer, 400, "invalid_redirect_uri" if name == "redirect_uris"
                       else "invalid_client_metadata")


def test_registration_with_a_jwks_of_public_keys_is_accepted(server):
    answer = requests.post(f"{server.url}/register", json={"redirect_uris": [APP_CALLBACK],
                                                            "jwks": public_jwks()})
    assert answer.status_code == 201, answer.text
    assert answer.json()["jwks"]["keys"][0]["kty"] == "RSA"


# --- hardening -----------------------------------------------------------------------------------

def test_binds_loopback_by_default(server):
    assert server.settings.host == "127.0.0.1" and server.url.startswith("http://127.0.0.1:")


# Each odd input, and the one answer it gets: the RFC error (JSON) or the HTML page (None).
ODD_INPUTS = {
    "token-nul-code": ("POST", "/token", {"data": {"grant_type": "authorization_code", "code": "\x00" * 3}},
                       401, "invalid_client"),  # no client authentication at all
    "token-bad-utf8": ("POST", "/token", {"data": b"grant_type=%ff%fe",
                                          "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
                       400, "unsupported_grant_type"),
    "introspect-long-token": ("POST", "/introspect", {"data": {"token": "é" * 1000}, "auth": RESOURCE_SERVER},
                              200, None),  # {"active": false}
    "revoke-empty-basic": ("POST", "/revoke", {"data": {"token": "x"}, "headers": {"Authorization": "Basic ===="}},
                           401, "invalid_client"),
    "register-deep-json": ("POST", "/register", {"data": "[" * 5000, "headers": {"Content-Type": "application/json"}},
                           400, "invalid_client_metadata"),
    "register-not-json": ("POST", "/register", {"data": "not json", "headers": {"Content-Type": "application/json"}},
                          400, "invalid_client_metadata"),
    "authorize-surrogate": ("GET", "/authorize", {"params": {"client_id": "\ud800".encode("utf-8", "surrogatepass")}},
                            400, None),
    "authorize-non-ascii-type": ("GET", "/authorize", {"params": {"client_id": REPORTS[0], "response_type": "cödé"}},
                                 400, None),
    "userinfo-huge-token": ("GET", "/userinfo", {"headers": {"Authorization": "Bearer " + "a." * 3000}},
                            401, "invalid_token"),
    "api-broken-json": ("POST", "/v3.5/agent/action/list_chats", {"data": "{",
                                                                  "headers": {"Content-Type": "application/json"}},
                        401, None),  # no token: the bare challenge comes first
    "device-nul-code": ("GET", "/device", {"params": {"user_code": "\x00"}}, 200, None),  # the login page
}


@pytest.mark.parametrize("method, path, kwargs, status, error", ODD_INPUTS.values(), ids=ODD_INPUTS.keys())
def test_odd_input_gets_its_rfc_answer(server, method, path, kwargs, status, error):
    answer = requests.request(method, server.url + path, allow_redirects=False, **kwargs)
    assert answer.status_code == status, answer.text
    assert "Traceback" not in answer.text
    if error:
        assert answer.json()["error"] == error


def nested(depth: int) -> str:
    """A registration body whose `software_id` holds arrays nested so the document is `depth` deep."""
    return '{"redirect_uris": ["%s"], "software_id": %s1%s}' % (APP_CALLBACK, "[" * (depth - 1), "]" * (depth - 1))


@pytest.mark.parametrize("depth", [33, 100, 100_000])
def test_json_nested_deeper_than_32_400_too_deep(server, depth):
    answer = requests.post(f"{server.url}/register", data=nested(depth),
                           headers={"Content-Type": "application/json"})
    assert_token_error(answer, 400, "invalid_client_metadata")
    assert "nested more than 32 deep" in answer.json()["error_description"]


def test_json_nested_32_deep_reaches_the_validation(server):
    answer = requests.post(f"{server.url}/register", data=nested(32),
                           headers={"Content-Type": "application/json"})
    assert_token_error(answer, 400, "invalid_client_metadata")
    assert answer.json()["error_description"] == "'software_id' must be a string."


def test_brackets_inside_json_strings_are_text_not_nesting(server):
    name = "[[[[" * 50 + "{{" * 50
    answer = requests.post(f"{server.url}/register", json={"redirect_uris": [APP_CALLBACK], "client_name": name})
    assert answer.status_code == 201, answer.text
    assert answer.json()["client_name"] == name


@pytest.mark.parametrize("path, status, error", [
    ("/token", 405, "method_not_allowed"), ("/revoke", 405, "method_not_allowed"),
    ("/introspect", 405, "method_not_allowed"), ("/no-such-endpoint", 404, "not_found")])
def test_back_channel_errors_are_json(server, path, status, error):
    answer = requests.get(server.url + path)
    assert answer.status_code == status and answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"] == error


def test_browser_error_is_html_page(server):
    assert_error_page(requests.get(authorization_url(server, "no-such-app")))


def frame_protected(response) -> bool:
    csp = response.headers.get("Content-Security-Policy", "")
    return response.headers.get("X-Frame-Options", "").upper() == "DENY" or "frame-ancestors 'none'" in csp


def test_login_page_refuses_framing(server):
    assert frame_protected(requests.get(authorization_url(server)))


def test_consent_page_refuses_framing(server):
    _, page = signed_in_consent_page(server)
    assert frame_protected(page)
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_allow_framing_switch_lets_any_site_frame_login_and_consent(start_server):
    server = start_server(seed=7, allow_framing=True)
    _, consent = signed_in_consent_page(server)
    for page in (requests.get(authorization_url(server)), consent):
        assert page.status_code == 200 and not frame_protected(page)
        assert "X-Frame-Options" not in page.headers and "Content-Security-Policy" not in page.headers
        assert page.headers["Cache-Control"] == "no-store"  # the switch weakens framing only


def test_no_secrets_in_logs(server, caplog):
    caplog.set_level(logging.INFO)
    tokens = code_tokens(server)
    token(server, {"grant_type": "client_credentials"}, auth=(REPORTS[0], "wrong-secret"))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (REPORTS[1], "jane-password", tokens["access_token"], tokens["refresh_token"]):
        assert secret not in logged
