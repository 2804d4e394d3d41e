"""RULES.md, "Protected resources (RFC 9728) and resource indicators (RFC 8707)": an API says where
to sign in, a client asks for a token for that API, and the other API refuses it.
"""
from __future__ import annotations

import json
import re

import pytest
import requests
from joserfc import jws

from flows import (ADA, ADMIN_TOOLS, APP_CALLBACK, DEVICE_CODE, REPORTS, RESOURCE_SERVER, WIDGET,
                   authorize, code_tokens, pkce_pair, query_of, token)
from oauth_lab.user_agent import UserAgent

WELL_KNOWN = "/.well-known/oauth-protected-resource"
AGENT, CONFIGURATION = "/v3.5/agent", "/v3.5/configuration"


def challenge(response) -> dict:
    header = response.headers.get("WWW-Authenticate", "")
    assert header.startswith("Bearer "), header
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def bearer(access_token: str) -> dict:
    return {"Authorization": f"Bearer {access_token}"}


def call(server, api: str, action: str, access_token: str | None) -> requests.Response:
    return requests.post(f"{server.url}{api}/action/{action}", json={},
                         headers=bearer(access_token) if access_token else {})


def claims_of(access_token: str) -> dict:
    """A JWT's claims, read (not verified) by joserfc."""
    return json.loads(jws.extract_compact(access_token.encode()).payload)


def tokens_for(server, api: str, scope: str = "agents--all:ro", client=REPORTS, **params) -> dict:
    """A code flow whose authorization request names the resource `api`."""
    return code_tokens(server, client, scope=scope, resource=server.url + api, **params)


def assert_invalid_target(response, status=400):
    assert response.status_code == status, response.text
    assert response.json()["error"] == "invalid_target", response.text
    assert response.headers["Cache-Control"] == "no-store"


# --- RFC 9728: the metadata and the challenges that point to it ----------------------------------

@pytest.mark.parametrize("api", [AGENT, CONFIGURATION])
def test_metadata_at_the_path_inserted_well_known_url_names_the_resource_and_its_server(server, api):
    answer = requests.get(f"{server.url}{WELL_KNOWN}{api}", allow_redirects=False)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    metadata = answer.json()
    assert metadata["resource"] == server.url + api  # §3.3: the identifier the URL was built from
    assert metadata["authorization_servers"] == [server.issuer]
    assert metadata["bearer_methods_supported"] == ["header"]
    catalog = {s["name"]: s for s in requests.get(f"{server.url}/scopes").json()["scopes"]}
    assert metadata["scopes_supported"] and all(catalog[s]["role"] == "agent" for s in metadata["scopes_supported"])
    assert metadata["resource_name"]


def test_metadata_says_when_the_query_string_carries_tokens(start_server):
    switched = start_server(seed=7, allow_token_in_query=True)
    metadata = requests.get(f"{switched.url}{WELL_KNOWN}{AGENT}").json()
    assert metadata["bearer_methods_supported"] == ["header", "query"]


@pytest.mark.parametrize("path", [WELL_KNOWN, f"{WELL_KNOWN}/", f"{WELL_KNOWN}{AGENT}/", f"{WELL_KNOWN}/v3.5",
                                  f"{WELL_KNOWN}{AGENT}/actions", f"{WELL_KNOWN}/userinfo",
                                  f"{WELL_KNOWN}/%2e%2e/v3.5/agent"])
def test_no_metadata_for_a_path_that_is_no_resource(server, path):
    answer = requests.get(server.url + path, allow_redirects=False)
    assert answer.status_code == 404 and answer.json()["error"] == "not_found"


def test_metadata_answers_get_only(server):
    answer = requests.post(f"{server.url}{WELL_KNOWN}{AGENT}", allow_redirects=False)
    assert answer.status_code == 405 and answer.json()["error"] == "method_not_allowed"


@pytest.mark.parametrize("api", [AGENT, CONFIGURATION])
def test_every_api_challenge_names_its_metadata(server, api):
    expected = f"{server.url}{WELL_KNOWN}{api}"
    other = CONFIGURATION if api == AGENT else AGENT
    wrong_audience = tokens_for(server, other)["access_token"]
    no_scope = tokens_for(server, api, scope="agents--all:ro")["access_token"]
    refusals = [
        (call(server, api, "list_agents", None), 401, None),
        (call(server, api, "list_agents", "not-a-token"), 401, "invalid_token"),
        (call(server, api, "list_agents", wrong_audience), 401, "invalid_token"),
        (call(server, api, "register_webhook", no_scope), 403, "insufficient_scope"),
        (requests.get(server.url + api), 401, None),
    ]
    for answer, status, error in refusals:
        assert answer.status_code == status, answer.text
        assert challenge(answer).get("error") == error
        assert challenge(answer)["resource_metadata"] == expected  # §5.1
    assert requests.get(expected).json()["resource"] == server.url + api


def test_the_apis_own_url_is_its_resource_identifier(server):
    """§3.3: metadata found through a challenge names as resource the URL the client called."""
    url = server.url + AGENT
    refused = requests.get(url)
    metadata = requests.get(challenge(refused)["resource_metadata"]).json()
    assert metadata["resource"] == url
    answer = requests.get(url, headers=bearer(tokens_for(server, AGENT, scope="chats--access:ro")["access_token"]))
    assert answer.status_code == 200 and "WWW-Authenticate" not in answer.headers
    assert answer.json()["resource"] == url and answer.json()["actions"] == ["list_chats", "get_chat"]


def test_userinfo_is_no_api_of_this_kind_and_names_no_metadata(server):
    answer = requests.get(f"{server.url}/userinfo")
    assert answer.status_code == 401 and "resource_metadata" not in challenge(answer)


def test_the_authorization_server_metadata_lists_its_resources(server):
    metadata = requests.get(f"{server.url}/.well-known/oauth-authorization-server").json()
    assert metadata["protected_resources"] == [server.url + AGENT, server.url + CONFIGURATION]  # RFC 9728 §4
    assert metadata["client_id_metadata_document_supported"] is True
    assert "S256" in metadata["code_challenge_methods_supported"]


def test_a_class_world_serves_its_metadata_at_the_class_servers_root_too(class_server):
    learner = class_server.join("Resource learner")
    path = learner.url[len(class_server.url):]  # /t/<tenant>
    inserted = requests.get(f"{class_server.url}{WELL_KNOWN}{path}{AGENT}", allow_redirects=False)
    own = requests.get(f"{learner.url}{WELL_KNOWN}{AGENT}", allow_redirects=False)
    assert inserted.status_code == own.status_code == 200
    assert inserted.json() == own.json() and own.json()["resource"] == learner.url + AGENT
    assert challenge(requests.get(learner.url + AGENT))["resource_metadata"] == f"{learner.url}{WELL_KNOWN}{AGENT}"


def test_a_class_worlds_metadata_is_its_own(class_server):
    one, two = class_server.join("Resource one"), class_server.join("Resource two")
    path = two.url[len(class_server.url):]
    answer = requests.get(f"{class_server.url}{WELL_KNOWN}{path}{AGENT}").json()
    assert answer["resource"] == two.url + AGENT != one.url + AGENT
    assert requests.get(f"{class_server.url}{WELL_KNOWN}/t/nobody{AGENT}").status_code == 404


# --- RFC 8707: resource= at the authorization and token endpoints --------------------------------

@pytest.mark.parametrize("api, other", [(AGENT, CONFIGURATION), (CONFIGURATION, AGENT)])
def test_a_token_for_one_api_works_there_and_is_refused_by_the_other(server, api, other):
    access = tokens_for(server, api)["access_token"]
    assert claims_of(access)["aud"] == server.url + api  # RFC 9068 §3
    assert call(server, api, "list_agents", access).status_code == 200
    refused = call(server, other, "list_agents", access)  # the same action, the same scope
    assert refused.status_code == 401 and challenge(refused)["error"] == "invalid_token"
    assert server.url + api in refused.json()["error_description"]
    introspected = requests.post(f"{server.url}/introspect", data={"token": access}, auth=RESOURCE_SERVER).json()
    assert introspected["aud"] == server.url + api


def test_an_opaque_token_for_one_api_is_refused_by_the_other(start_server):
    opaque = start_server(seed=7, access_token_format="opaque")
    access = tokens_for(opaque, CONFIGURATION)["access_token"]
    assert call(opaque, CONFIGURATION, "list_agents", access).status_code == 200
    assert challenge(call(opaque, AGENT, "list_agents", access))["error"] == "invalid_token"


def test_a_request_that_names_no_resource_gets_the_agent_api(server):
    access = code_tokens(server, REPORTS, scope="agents--all:ro")["access_token"]
    assert claims_of(access)["aud"] == server.url + AGENT
    assert call(server, AGENT, "list_agents", access).status_code == 200
    assert challenge(call(server, CONFIGURATION, "list_agents", access))["error"] == "invalid_token"


def test_a_token_request_may_name_its_grants_resource_again(server):
    verifier, challenge_ = pkce_pair()
    got = authorize(server, scope="agents--all:ro", code_challenge=challenge_, code_challenge_method="S256",
                    resource=server.url + CONFIGURATION)
    answer = token(server, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": APP_CALLBACK,
                            "code_verifier": verifier, "resource": server.url + CONFIGURATION})
    assert answer.status_code == 200 and claims_of(answer.json()["access_token"])["aud"] == server.url + CONFIGURATION


def test_a_refresh_keeps_the_grants_resource(server):
    first = tokens_for(server, CONFIGURATION)
    for params in ({}, {"resource": server.url + CONFIGURATION}):
        answer = token(server, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **params})
        assert answer.status_code == 200, answer.text
        first = answer.json()
        assert claims_of(first["access_token"])["aud"] == server.url + CONFIGURATION


def test_client_credentials_may_name_a_resource(server):
    answer = token(server, {"grant_type": "client_credentials", "scope": "agents--all:ro",
                            "resource": server.url + CONFIGURATION})
    assert answer.status_code == 200, answer.text
    access = answer.json()["access_token"]
    assert call(server, CONFIGURATION, "list_agents", access).status_code == 200
    assert call(server, AGENT, "list_agents", access).status_code == 401


def test_scheme_and_host_compare_without_case(server):
    shouted = server.url.replace("http://127.0.0.1", "HTTP://127.0.0.1") + CONFIGURATION
    access = code_tokens(server, REPORTS, scope="agents--all:ro", resource=shouted)["access_token"]
    assert claims_of(access)["aud"] == server.url + CONFIGURATION  # the identifier, not the spelling


def test_the_consent_page_names_the_api(server):
    page = UserAgent(*ADA).consent_page(_url(server, resource=server.url + CONFIGURATION)).text
    assert "Fernhollow configuration API" in page and f"{server.url}{CONFIGURATION}" in page
    plain = UserAgent(*ADA).consent_page(_url(server, resource=None)).text
    assert "Only for use at" not in plain  # a request naming no resource: the page as before


@pytest.mark.parametrize("resource", [
    "https://evil.example/api",  # unknown
    "{url}/v3.5/agent#top",  # a fragment (§2: MUST NOT)
    "{url}/v3.5/agent/",  # not this identifier: no normalisation but case
    "{url}/v3.5/agent?x=1",
    "http://127.0.0.1:80/v3.5/agent",
    "/v3.5/agent",  # not an absolute URI (§2)
    "urn:fernhollow:agent-api",
    "",
])
def test_a_resource_the_server_does_not_know_redirects_invalid_target(server, resource):
    got = authorize(server, scope="chats--access:ro", resource=resource.format(url=server.url),
                    code_challenge=pkce_pair()[1], code_challenge_method="S256")
    assert got["error"] == "invalid_target" and got["state"] == "s-123" and got["iss"] == server.issuer
    assert "code" not in got


def test_two_resources_where_one_is_allowed_redirect_invalid_target(server):
    for second in ("https://evil.example/api", server.url + CONFIGURATION):
        url = _url(server, resource=[server.url + AGENT, second])
        got = query_of(UserAgent(*ADA).authorize(url))
        assert got["error"] == "invalid_target" and "code" not in got


def test_a_scope_that_means_nothing_at_the_resource_redirects_invalid_target(server):
    for scope in ("chats--access:ro", "agents--all:ro openid", "customers:ro agents--all:ro"):
        got = authorize(server, scope=scope, resource=server.url + CONFIGURATION,
                        code_challenge=pkce_pair()[1], code_challenge_method="S256")
        assert got["error"] == "invalid_target", got


def test_a_token_request_for_another_resource_than_the_grants_is_refused_and_the_code_kept(server):
    verifier, challenge_ = pkce_pair()
    got = authorize(server, scope="agents--all:ro", code_challenge=challenge_, code_challenge_method="S256",
                    resource=server.url + CONFIGURATION)
    exchange = {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": APP_CALLBACK,
                "code_verifier": verifier}
    for resource in (server.url + AGENT, "https://evil.example/api", server.url + CONFIGURATION + "#x"):
        assert_invalid_target(token(server, {**exchange, "resource": resource}))
    assert_invalid_target(token(server, {**exchange, "resource": [server.url + CONFIGURATION, server.url + AGENT]}))
    assert token(server, exchange).status_code == 200  # refused requests never spent the code


def test_a_code_of_a_request_without_resource_is_for_the_agent_api_only(server):
    verifier, challenge_ = pkce_pair()
    got = authorize(server, scope="agents--all:ro", code_challenge=challenge_, code_challenge_method="S256")
    assert_invalid_target(token(server, {"grant_type": "authorization_code", "code": got["code"],
                                         "redirect_uri": APP_CALLBACK, "code_verifier": verifier,
                                         "resource": server.url + CONFIGURATION}))


def test_a_refresh_for_another_resource_is_refused_and_the_refresh_token_kept(server):
    first = tokens_for(server, CONFIGURATION)
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    for resource in (server.url + AGENT, "https://evil.example/api", ""):
        assert_invalid_target(token(server, {**refresh, "resource": resource}))
    assert token(server, refresh).status_code == 200  # not rotated by the refusals


def test_client_credentials_for_an_unknown_resource_or_a_foreign_scope_are_refused(server):
    for scope, resource in (("agents--all:ro", "https://evil.example/api"),
                            ("customers:ro", server.url + CONFIGURATION),
                            ("agents--all:ro", server.url + CONFIGURATION + "#frag")):
        assert_invalid_target(token(server, {"grant_type": "client_credentials", "scope": scope,
                                             "resource": resource}))


def test_a_device_code_is_for_the_agent_api_only(server):
    device = requests.post(f"{server.url}/device_authorization",
                           data={"client_id": WIDGET, "scope": "customers:ro"}).json()
    UserAgent("jane", "jane-password").approve_device(device["verification_uri"], device["user_code"])
    poll = {"grant_type": DEVICE_CODE, "device_code": device["device_code"], "client_id": WIDGET}
    assert_invalid_target(token(server, {**poll, "resource": server.url + CONFIGURATION}, auth=None))
    answer = token(server, {**poll, "resource": server.url + AGENT}, auth=None)
    assert answer.status_code == 200 and claims_of(answer.json()["access_token"])["aud"] == server.url + AGENT


def _url(server, resource, client_id=ADMIN_TOOLS[0], scope="agents--all:ro") -> str:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": APP_CALLBACK, "state": "s-123",
              "scope": scope, "resource": resource}
    return requests.Request("GET", f"{server.url}/authorize", params=params).prepare().url
