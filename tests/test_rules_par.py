"""RULES.md, "Pushed authorization requests (RFC 9126)": the PAR endpoint, the request_uri the
browser carries, and the authorization endpoint that uses only what was pushed — with DPoP on the
push (RFC 9449 §10.1). The refusals as many as the successes."""
from __future__ import annotations

import requests

from flows import (APP_CALLBACK, REPORTS, WIDGET, assert_oauth_error, dpop_key, dpop_proof, pkce_pair, push,
                   pushed_authorization_url, query_of, thumbprint, token)
from oauth_lab.user_agent import UserAgent, UserAgentError

PREFIX = "urn:ietf:params:oauth:request_uri:"


def pushed(server, client=REPORTS, **params) -> tuple[str, str]:
    """Push a code request with PKCE; returns (request_uri, code_verifier)."""
    verifier, challenge = pkce_pair()
    response = push(server, client, scope="customers:ro", code_challenge=challenge, code_challenge_method="S256",
                    **params)
    assert response.status_code == 201, response.text
    return response.json()["request_uri"], verifier


def through_the_browser(server, request_uri, client_id=REPORTS[0], **extra) -> str:
    """Jane signs in and allows: the URL the app gets back."""
    return UserAgent().authorize(pushed_authorization_url(server, request_uri, client_id, **extra))


def refused_page(server, request_uri, client_id=REPORTS[0], **extra) -> requests.Response:
    try:
        through_the_browser(server, request_uri, client_id, **extra)
    except UserAgentError as error:
        return error.response
    raise AssertionError("the authorization endpoint did not refuse")


def redeem(server, location, verifier, client=REPORTS, headers=None) -> requests.Response:
    data = {"grant_type": "authorization_code", "code": query_of(location)["code"],
            "redirect_uri": APP_CALLBACK, "code_verifier": verifier}
    if isinstance(client, str):
        data["client_id"] = client
    return token(server, data, auth=None if isinstance(client, str) else client, headers=headers or {})


def register(server, **metadata) -> tuple[str, str | None]:
    app = requests.post(f"{server.url}/register", json={
        "client_name": "Pushes", "redirect_uris": [APP_CALLBACK], "scope": "customers:ro", **metadata}).json()
    return app["client_id"], app.get("client_secret")


# --- the PAR endpoint (§2) ------------------------------------------------------------------------


def test_a_push_answers_201_with_a_request_uri_and_its_lifetime(server):
    response = push(server, scope="customers:ro", code_challenge=pkce_pair()[1], code_challenge_method="S256")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["request_uri"].startswith(PREFIX) and len(body["request_uri"]) >= len(PREFIX) + 32
    assert body["expires_in"] == 120
    assert "no-store" in response.headers["Cache-Control"]


def test_a_public_client_pushes_with_its_client_id_alone(server):
    request_uri, verifier = pushed(server, WIDGET)
    location = through_the_browser(server, request_uri, WIDGET)
    assert redeem(server, location, verifier, WIDGET).status_code == 200


def test_the_authorization_endpoint_uses_the_pushed_request(server):
    request_uri, verifier = pushed(server, state="pushed-state")
    location = through_the_browser(server, request_uri)
    assert location.startswith(APP_CALLBACK) and query_of(location)["state"] == "pushed-state"
    tokens = redeem(server, location, verifier)
    assert tokens.status_code == 200 and tokens.json()["scope"] == "customers:ro"


def test_copies_of_the_pushed_parameters_in_the_url_are_accepted(server):
    request_uri, verifier = pushed(server)
    location = through_the_browser(server, request_uri, response_type="code", redirect_uri=APP_CALLBACK,
                                   scope="customers:ro")
    assert redeem(server, location, verifier).status_code == 200


def test_a_push_without_client_authentication_401_invalid_client(server):
    for auth in (None, (REPORTS[0], "wrong-secret")):
        response = requests.post(f"{server.url}/par", auth=auth, data={
            "response_type": "code", "client_id": REPORTS[0], "redirect_uri": APP_CALLBACK})
        assert_oauth_error(response, 401, "invalid_client")


def test_a_push_must_name_its_own_client_and_carry_no_request_uri(server):
    for params in ({"client_id": None}, {"client_id": WIDGET}, {"request_uri": PREFIX + "x"}):
        assert_oauth_error(push(server, **params), 400, "invalid_request")


def test_a_push_is_checked_as_an_authorization_request(server):
    assert_oauth_error(push(server, redirect_uri="https://evil.example/cb"), 400, "invalid_request")
    assert_oauth_error(push(server, scope="no-such-scope"), 400, "invalid_scope")
    assert_oauth_error(push(server, WIDGET, scope="customers:ro"), 400, "invalid_request")  # no PKCE
    response = push(server, response_type="token")
    assert response.status_code == 400 and response.json()["error"] == "unsupported_response_type"
    assert "Location" not in response.headers  # a direct request: never a redirect


def test_the_par_endpoint_takes_only_post_and_a_form(server):
    got = requests.get(f"{server.url}/par", allow_redirects=False)
    assert got.status_code == 405 and got.headers["Content-Type"].startswith("application/json")
    as_json = requests.post(f"{server.url}/par", json={"client_id": WIDGET}, allow_redirects=False)
    assert_oauth_error(as_json, 400, "invalid_request")


def test_an_oversized_push_413(server):
    response = push(server, scope="customers:ro", code_challenge=pkce_pair()[1], code_challenge_method="S256",
                    nonce="n" * 20_000)
    assert response.status_code == 413 and response.json()["error"] == "invalid_request"


# --- the request_uri at the authorization endpoint (§4) -------------------------------------------


def test_a_request_uri_is_used_once(server):
    request_uri, _ = pushed(server)
    through_the_browser(server, request_uri)
    page = refused_page(server, request_uri)
    assert page.status_code == 400 and "invalid_request_uri" in page.text and "used already" in page.text


def test_an_expired_request_uri_is_refused(server):
    request_uri, _ = pushed(server)
    server.clock.advance(120)
    page = refused_page(server, request_uri)
    assert page.status_code == 400 and "expired" in page.text


def test_a_request_uri_works_until_it_expires(server):
    request_uri, verifier = pushed(server)
    server.clock.advance(119)
    assert redeem(server, through_the_browser(server, request_uri), verifier).status_code == 200


def test_a_request_uri_of_another_client_or_unknown_is_refused_on_a_page(server):
    request_uri, _ = pushed(server)
    for client_id, uri in ((WIDGET, request_uri), (REPORTS[0], PREFIX + "guessed"), (REPORTS[0], "https://x.example/r")):
        page = refused_page(server, uri, client_id)
        assert page.status_code == 400 and "invalid_request_uri" in page.text
    assert through_the_browser(server, request_uri).startswith(APP_CALLBACK)  # untouched by those


def test_a_url_that_disagrees_with_the_pushed_request_is_refused(server):
    for tampered in ({"scope": "customers:ro chats--access:ro"}, {"redirect_uri": APP_CALLBACK + "?x=1"},
                     {"state": "other"}, {"code_challenge": pkce_pair()[1]}, {"prompt": "none"}):
        request_uri, _ = pushed(server, state="pushed-state")
        location = through_the_browser(server, request_uri, **tampered)
        answer = query_of(location)
        assert location.startswith(APP_CALLBACK + "?")  # to the pushed redirect URI
        assert (answer["error"], answer["state"]) == ("invalid_request", "pushed-state"), answer
        assert "code" not in answer


# --- PAR required (§5, §6) -----------------------------------------------------------------------


def test_an_app_registered_to_require_par_is_refused_without_it(server):
    client_id, secret = register(server, require_pushed_authorization_requests=True)
    assert secret
    location = UserAgent().authorize(requests.Request("GET", f"{server.url}/authorize", params={
        "response_type": "code", "client_id": client_id, "redirect_uri": APP_CALLBACK, "state": "plain",
        "scope": "customers:ro", "code_challenge": pkce_pair()[1], "code_challenge_method": "S256"}).prepare().url)
    assert (query_of(location)["error"], query_of(location)["state"]) == ("invalid_request", "plain")
    request_uri, verifier = pushed(server, (client_id, secret))
    allowed = through_the_browser(server, request_uri, client_id)
    assert redeem(server, allowed, verifier, (client_id, secret)).status_code == 200


def test_require_pushed_authorization_requests_must_be_a_boolean(server):
    response = requests.post(f"{server.url}/register", json={
        "client_name": "x", "redirect_uris": [APP_CALLBACK], "require_pushed_authorization_requests": "yes"})
    assert_oauth_error(response, 400, "invalid_client_metadata")


def test_a_server_requiring_par_says_so_and_refuses_every_plain_request(start_server):
    server = start_server(seed=7, require_pushed_authorization_requests=True)
    metadata = requests.get(f"{server.url}/.well-known/oauth-authorization-server").json()
    assert metadata["require_pushed_authorization_requests"] is True
    url = requests.Request("GET", f"{server.url}/authorize", params={
        "response_type": "code", "client_id": REPORTS[0], "redirect_uri": APP_CALLBACK, "state": "plain",
        "scope": "customers:ro"}).prepare().url
    assert query_of(UserAgent().authorize(url))["error"] == "invalid_request"
    request_uri, verifier = pushed(server)
    assert redeem(server, through_the_browser(server, request_uri), verifier).status_code == 200


def test_the_metadata_names_the_par_endpoint(server):
    metadata = requests.get(f"{server.url}/.well-known/oauth-authorization-server").json()
    assert metadata["pushed_authorization_request_endpoint"] == f"{server.url}/par"
    assert metadata["require_pushed_authorization_requests"] is False


# --- DPoP on the push (RFC 9449 §10.1) ------------------------------------------------------------


def test_a_dpop_proof_on_the_push_binds_the_code_to_its_key(server):
    key = dpop_key()
    request_uri, verifier = pushed(server, WIDGET, headers={"DPoP": dpop_proof(server, key, "POST", "/par")})
    location = through_the_browser(server, request_uri, WIDGET)
    for headers in ({}, {"DPoP": dpop_proof(server, dpop_key(), "POST", "/token")}):
        assert_oauth_error(redeem(server, location, verifier, WIDGET, headers), 400, "invalid_grant")
    tokens = redeem(server, location, verifier, WIDGET, {"DPoP": dpop_proof(server, key, "POST", "/token")})
    assert tokens.status_code == 200 and tokens.json()["token_type"] == "DPoP"


def test_dpop_jkt_in_the_pushed_body_binds_the_code(server):
    key = dpop_key()
    request_uri, verifier = pushed(server, WIDGET, dpop_jkt=thumbprint(key))
    location = through_the_browser(server, request_uri, WIDGET)
    assert_oauth_error(redeem(server, location, verifier, WIDGET), 400, "invalid_grant")
    own = redeem(server, location, verifier, WIDGET, {"DPoP": dpop_proof(server, key, "POST", "/token")})
    assert own.status_code == 200


def test_dpop_jkt_and_the_push_proof_must_name_the_same_key(server):
    key = dpop_key()
    proof = {"DPoP": dpop_proof(server, key, "POST", "/par")}
    assert push(server, WIDGET, headers=proof, dpop_jkt=thumbprint(key), scope="customers:ro",
                code_challenge=pkce_pair()[1], code_challenge_method="S256").status_code == 201
    other = {"DPoP": dpop_proof(server, key, "POST", "/par")}
    refused = push(server, WIDGET, headers=other, dpop_jkt=thumbprint(dpop_key()), scope="customers:ro",
                   code_challenge=pkce_pair()[1], code_challenge_method="S256")
    assert_oauth_error(refused, 400, "invalid_request")
    assert "section 10.1" in refused.json()["error_description"]


def test_an_invalid_proof_on_the_push_400_invalid_dpop_proof(server):
    key = dpop_key()
    for proof in (dpop_proof(server, key, "POST", "/token"), dpop_proof(server, key, "GET", "/par"), "x.y.z"):
        assert_oauth_error(push(server, WIDGET, headers={"DPoP": proof}), 400, "invalid_dpop_proof")
