"""Notebook 16's client side (oauth_lab/discovery.py, the app's metadata document, the impostor API):
each step finds what it should, and each check refuses what it must."""
from __future__ import annotations

import pytest
import requests

from oauth_lab.discovery import (Refused, authorization_server_metadata, authorization_server_urls, challenge,
                                 challenges, check_iss, check_resource, check_server, fetcher,
                                 protected_resource_metadata, resource_metadata_urls)
from oauth_lab.impostor_api import ImpostorAPI


def test_from_the_apis_url_to_its_server(lab):
    api, get = lab.api_audience, fetcher(lab)
    found = challenge(requests.get(lab.back_channel(api)))
    resource = protected_resource_metadata(api, resource_metadata_urls(api, found), get)
    server = authorization_server_metadata(resource["authorization_servers"][0], get)
    assert server == lab.metadata


def test_without_a_challenge_the_well_known_urls_are_built_as_rfc_9728_says():
    assert resource_metadata_urls("https://rs.example/v3.5/agent", {}) == [
        "https://rs.example/.well-known/oauth-protected-resource/v3.5/agent",
        "https://rs.example/.well-known/oauth-protected-resource"]
    # §3.1: "any terminating slash (/) following the host component MUST be removed"
    assert resource_metadata_urls("https://rs.example/", {}) == ["https://rs.example/.well-known/oauth-protected-resource"]
    assert resource_metadata_urls("https://rs.example", {"resource_metadata": "https://x/m"}) == ["https://x/m"]


def test_the_servers_metadata_is_looked_for_in_the_mcp_specs_order():
    assert authorization_server_urls("https://as.example") == [
        "https://as.example/.well-known/oauth-authorization-server",
        "https://as.example/.well-known/openid-configuration"]
    assert authorization_server_urls("https://hub.example/user/jane/oauth") == [
        "https://hub.example/.well-known/oauth-authorization-server/user/jane/oauth",
        "https://hub.example/.well-known/openid-configuration/user/jane/oauth",
        "https://hub.example/user/jane/oauth/.well-known/openid-configuration"]


def test_a_challenge_is_read_by_a_parser_and_only_a_bearer_one(lab):
    answer = requests.get(lab.back_channel(lab.api_audience))
    assert set(challenge(answer)) == {"realm", "resource_metadata"}
    other = requests.Response()
    other.headers["WWW-Authenticate"] = 'Basic realm="x"'
    assert challenge(other) == {}
    assert challenge(requests.Response()) == {}


def test_an_impostors_challenge_leads_to_metadata_the_client_refuses(lab):
    api, get = lab.api_audience, fetcher(lab)
    points_at = challenge(requests.get(lab.back_channel(api)))["resource_metadata"]
    impostor = ImpostorAPI(lab, points_at)
    try:
        trap = challenge(requests.get(impostor.api))
        assert trap["resource_metadata"] == points_at
        with pytest.raises(Refused, match="MUST NOT be used"):
            protected_resource_metadata(impostor.api, resource_metadata_urls(impostor.api, trap), get)
    finally:
        impostor.stop()


@pytest.mark.parametrize("change", [{"resource": "https://elsewhere.example/v3.5/agent"}, {"authorization_servers": []},
                                    {"resource": None}])
def test_resource_metadata_about_another_resource_or_no_server_is_refused(lab, change):
    resource = protected_resource_metadata(lab.api_audience, resource_metadata_urls(lab.api_audience, {}),
                                           fetcher(lab))
    with pytest.raises(Refused):
        check_resource(lab.api_audience, {**resource, **change})


def test_nothing_found_is_refused_too(lab):
    with pytest.raises(Refused, match="No protected resource metadata"):
        protected_resource_metadata(lab.api_audience, [f"{lab.issuer}/nothing-here"], fetcher(lab))
    with pytest.raises(Refused, match="No authorization server metadata"):
        authorization_server_metadata("http://127.0.0.1:9", fetcher(lab))  # nothing answers there


@pytest.mark.parametrize("change", [{"issuer": "https://accounts.elsewhere.example"},
                                    {"code_challenge_methods_supported": ["plain"]},
                                    {"code_challenge_methods_supported": []}])
def test_server_metadata_for_another_issuer_or_without_s256_is_refused(lab, change):
    with pytest.raises(Refused):
        check_server(lab.issuer, {**lab.metadata, **change})
    without = {k: v for k, v in lab.metadata.items() if k != "code_challenge_methods_supported"}
    with pytest.raises(Refused, match="PKCE"):
        check_server(lab.issuer, without)


def test_iss_is_checked_as_the_mcp_specs_table_says(lab):
    promise = dict(lab.metadata)  # authorization_response_iss_parameter_supported: true
    silent = {k: v for k, v in lab.metadata.items() if k != "authorization_response_iss_parameter_supported"}
    back = f"{lab.redirect_uri}?code=c&state=s"
    assert check_iss(f"{back}&iss={lab.issuer}", promise)["code"] == "c"  # true, present: compared
    assert check_iss(f"{back}&iss={lab.issuer}", silent)["code"] == "c"  # false, present: compared
    assert check_iss(back, silent)["code"] == "c"  # false, absent: proceed
    with pytest.raises(Refused, match="promises iss"):
        check_iss(back, promise)  # true, absent: reject
    for other in ("https://accounts.attacker.example", lab.issuer + "/", lab.issuer.upper()):
        with pytest.raises(Refused, match="mix-up"):
            check_iss(f"{back}&iss={requests.utils.quote(other, safe='')}", silent)


def test_the_app_publishes_its_document_and_counts_only_the_servers_fetches(lab):
    document = {"client_id": lab.app.client_id, "client_name": "Lab Assistant",
                "redirect_uris": [lab.redirect_uri], "token_endpoint_auth_method": "none"}
    lab.app.publish_client_metadata(document, max_age=600)
    fetched = requests.get(lab.app.client_id)
    assert fetched.json() == document and fetched.headers["Cache-Control"] == "max-age=600"
    assert lab.app.metadata_fetches() == 0  # this GET was not the server's
    authorize = requests.Request("GET", lab.metadata["authorization_endpoint"], params={
        "response_type": "code", "client_id": lab.app.client_id, "redirect_uri": lab.redirect_uri,
        "scope": "chats--access:ro", "code_challenge": "x" * 43, "code_challenge_method": "S256"}).prepare().url
    assert requests.get(lab.back_channel(authorize)).status_code == 200  # the sign-in page: a known client
    assert lab.app.metadata_fetches() == 1
    lab.app.publish_client_metadata(document)  # not cacheable: never stored
    assert requests.get(lab.app.client_id).headers["Cache-Control"] == "no-store"


def test_the_apps_client_id_is_the_address_the_server_reaches(lab):
    assert lab.app.client_id == f"http://127.0.0.1:{lab.app.port}/client-metadata.json"
    assert not lab.on_class_server  # a server of this machine's own: it fetches the document


def test_the_consent_panel_says_what_the_page_says_of_the_app_and_the_api(lab):
    from oauth_lab.widgets.consent_panel import ConsentPanel

    lab.app.publish_client_metadata({"client_id": lab.app.client_id, "client_name": "Lab Assistant",
                                     "redirect_uris": [lab.redirect_uri]})
    params = {"response_type": "code", "client_id": lab.app.client_id, "redirect_uri": lab.redirect_uri,
              "scope": "chats--access:ro", "code_challenge": "x" * 43, "code_challenge_method": "S256",
              "resource": lab.api_audience}
    url = requests.Request("GET", lab.metadata["authorization_endpoint"], params=params).prepare().url
    text = ConsentPanel(lab, url).text()
    assert f"not registered here: it names itself by the document at {lab.app.client_id}" in text
    assert f"Only for use at Fernhollow agent API, {lab.api_audience}." in text
    demo = requests.Request("GET", lab.metadata["authorization_endpoint"], params={
        **params, "client_id": "fernhollow-reports", "resource": None}).prepare().url
    assert "registered" not in ConsentPanel(lab, demo).text() and "Only for use" not in ConsentPanel(lab, demo).text()


def test_on_a_class_server_the_notebooks_client_finds_its_world_and_registers(class_server, monkeypatch, tmp_path):
    """Notebook 16 on a class server: discovery finds the learner's world (its server's metadata
    at the RFC 8414 path-inserted address the class server routes), the class server cannot reach
    this kernel's app — so the notebook registers (RFC 7591) — and the token is for one API."""
    import mock_server
    from flows import APP_CALLBACK, code_tokens
    from oauth_lab.lab import setup
    from workshop import CLASS_CODE

    monkeypatch.setattr("oauth_lab.lab.CLASSES", tmp_path / "classes.json")
    monkeypatch.setenv("MOCK_APP_PORT", str(mock_server.free_port()))
    lab = setup(seed=None, class_server=class_server.url, class_code=CLASS_CODE, name="Discovering learner")
    try:
        api, get = lab.api_audience, fetcher(lab)
        resource = protected_resource_metadata(api, resource_metadata_urls(api, challenge(requests.get(api))), get)
        server = authorization_server_metadata(resource["authorization_servers"][0], get)
        assert server["issuer"] == lab.issuer and lab.on_class_server
        client_id = requests.post(server["registration_endpoint"], json={
            "client_name": "Assistant", "redirect_uris": [APP_CALLBACK], "token_endpoint_auth_method": "none",
            "scope": "chats--access:ro", "application_type": "native"}).json()["client_id"]
        access = code_tokens(lab, client_id, scope="chats--access:ro", resource=api)["access_token"]
        mine = requests.get(api, headers={"Authorization": f"Bearer {access}"})
        other = requests.get(f"{lab.issuer}/v3.5/configuration", headers={"Authorization": f"Bearer {access}"})
        assert (mine.status_code, other.status_code) == (200, 401)
    finally:
        lab.app.stop()


@pytest.mark.parametrize("header, schemes, bearer", [
    ('Bearer realm="api", resource_metadata="https://x/.well-known/oauth-protected-resource/api", '
     'DPoP realm="api", algs="ES256 RS256"', ["bearer", "dpop"],
     {"realm": "api", "resource_metadata": "https://x/.well-known/oauth-protected-resource/api"}),
    ('DPoP realm="a", error="invalid_token", error_description="revoked, at noon", algs="ES256", Bearer realm="a"',
     ["dpop", "bearer"], {"realm": "a"}),
    ('Negotiate abcd==, Bearer realm="r"', ["negotiate", "bearer"], {"realm": "r"}),
    ('Bearer error="invalid_token", error_description="a \\"quoted\\", comma", scope="a b"', ["bearer"],
     {"error": "invalid_token", "error_description": 'a "quoted", comma', "scope": "a b"}),
    ('Basic realm="x"', ["basic"], {}),
    ("", [], {}),
], ids=["bearer-then-dpop", "dpop-then-bearer", "token68-first", "quoted-commas", "basic", "none"])
def test_one_header_may_carry_several_challenges(header, schemes, bearer):
    """RFC 9110 §11.6.1: a list of challenges; an API that takes DPoP sends two (RFC 9449 §7.2)."""
    assert [found.type for found in challenges(header)] == schemes
    answer = requests.Response()
    answer.headers["WWW-Authenticate"] = header
    assert challenge(answer) == bearer
