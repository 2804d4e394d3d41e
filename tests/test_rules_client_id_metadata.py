"""RULES.md, "Client ID Metadata Documents": a client_id that is the URL of the client's own
metadata, fetched by the server — and every way a stranger's URL could make the server fetch what
it must not (server-side request forgery), refused before or while fetching.

The documents are served by `documents.DocumentSite`, which logs every request it gets: a refusal
that must come *before* any fetch is checked to have fetched nothing.
"""
from __future__ import annotations

import html
import json
import re
import socket
import time

import pytest
import requests

import mock_server.client_id_metadata as cimd
from documents import Answer, DocumentSite, certificate_authority
from flows import APP_CALLBACK, authorization_url, code_tokens, pkce_pair, query_of, token
from oauth_lab.user_agent import UserAgent

SCOPE = "chats--access:ro"


@pytest.fixture
def site():
    served = DocumentSite()
    yield served
    served.stop()


def refusal(server, client_id: str) -> str:
    """The authorization endpoint's answer to a client it cannot use: an error page (RFC 6749
    §4.1.2.1: never a redirect), saying why."""
    answer = requests.get(authorization_url(server, client_id, scope=SCOPE), allow_redirects=False)
    assert answer.status_code == 400 and answer.headers["Content-Type"].startswith("text/html"), answer.text
    assert "Location" not in answer.headers
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', answer.text, re.S)
    assert found, answer.text
    return html.unescape(found.group(1))


def pkce_tokens(server, client_id: str, **params) -> dict:
    return code_tokens(server, client_id, scope=SCOPE, **params)


# --- the client a document describes --------------------------------------------------------------

def test_a_client_known_by_its_document_signs_in_with_pkce(server, site):
    client_id = site.publish(client_name="Doc App")
    page = UserAgent().consent_page(authorization_url(server, client_id, scope=SCOPE,
                                                      code_challenge=pkce_pair()[1], code_challenge_method="S256"))
    assert "Doc App" in page.text and f"127.0.0.1:{site.port}" in page.text  # the host, for the user (§6.4)
    assert "a program on this computer" in page.text  # a loopback redirect URI: said (MCP)
    tokens = pkce_tokens(server, client_id)
    introspected = requests.post(f"{server.url}/_mock/introspect", data={"token": tokens["access_token"]},
                                 headers=server.admin_headers).json()
    assert introspected["active"] and introspected["client_id"] == client_id
    assert site.requests[0]["authorization"] is None and site.requests[0]["cookie"] is None  # no credentials
    assert site.requests[0]["host"] == f"127.0.0.1:{site.port}"


def test_a_document_with_refresh_gets_refresh_tokens_that_rotate(server, site):
    client_id = site.publish(grant_types=["authorization_code", "refresh_token"])
    tokens = pkce_tokens(server, client_id)
    refreshed = token(server, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                               "client_id": client_id}, auth=None)
    assert refreshed.status_code == 200 and refreshed.json()["refresh_token"] != tokens["refresh_token"]


def test_the_document_is_cached_as_its_max_age_says(server, site):
    client_id = site.publish(cache="max-age=600")
    pkce_tokens(server, client_id)  # the authorization request, the consent, the token request
    assert site.fetched() == 1
    server.clock.advance(601)  # the virtual clock: the document is stale
    pkce_tokens(server, client_id)
    assert site.fetched() == 2


def test_header_names_are_read_in_any_case(server, site):
    """RFC 9110 §5.1: header names are case-insensitive. A document served as `content-type` and
    `cache-control` is a document, cached as its max-age says."""
    client_id = site.publish(cache="max-age=600")
    site.answers["/client.json"].lower_case = True
    pkce_tokens(server, client_id)
    assert site.fetched() == 1


@pytest.mark.parametrize("cache", [None, "no-store", "no-cache, max-age=600", "max-age=0", "max-age=-5"])
def test_without_a_usable_max_age_the_document_is_fetched_at_every_request(server, site, cache):
    client_id = site.publish(cache=cache)
    pkce_tokens(server, client_id)
    # Once per request: the authorization request before and after sign-in, the consent, the token.
    assert site.fetched() == 4


def test_the_cache_is_kept_an_hour_at_most(server, site):
    client_id = site.publish(cache="max-age=999999")
    pkce_tokens(server, client_id)
    server.clock.advance(3601)
    pkce_tokens(server, client_id)
    assert site.fetched() == 2


def test_redirect_uris_come_from_the_document_only(server, site):
    client_id = site.publish(redirect_uris=["http://127.0.0.1:9/elsewhere"])
    # The demo apps' callback, registered for every demo app, is not this client's.
    assert "Redirect URI" in refusal(server, client_id)
    assert query_of(UserAgent().authorize(authorization_url(
        server, client_id, scope=SCOPE, redirect_uri="http://127.0.0.1:9/elsewhere",
        code_challenge=pkce_pair()[1], code_challenge_method="S256")))["code"]


def test_the_metadata_advertises_documents_and_the_livechat_profile_does_not(server, start_server):
    assert requests.get(f"{server.url}/.well-known/oauth-authorization-server").json()[
        "client_id_metadata_document_supported"] is True
    livechat = start_server(seed=7, profile="livechat")
    assert "client_id_metadata_document_supported" not in requests.get(
        f"{livechat.url}/.well-known/oauth-authorization-server").json()


def test_a_document_over_tls_is_fetched_from_the_checked_address_with_the_names_certificate(
        server, tmp_path, monkeypatch):
    ca, context = certificate_authority(tmp_path, "client.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the server trusts this CA (OpenSSL reads it)
    tls = DocumentSite(tls=context)
    try:
        # client.test resolves to 127.0.0.1, the lab's own loopback address, once.
        lookups = []
        monkeypatch.setattr(cimd, "getaddrinfo", fake_resolver({"client.test": ["127.0.0.1"]}, lookups))
        client_id = f"https://client.test:{tls.port}/client.json"
        tls.publish(client_id=client_id)
        assert pkce_tokens(server, client_id)["access_token"]
        assert tls.requests[0]["host"] == f"client.test:{tls.port}"
        assert lookups == ["client.test"] * tls.fetched()  # one resolution per fetch
        monkeypatch.delenv("SSL_CERT_FILE")
        assert "certificate" in refusal(server, client_id)  # an unknown CA: refused
    finally:
        tls.stop()


# --- SSRF: addresses the server never fetches from -------------------------------------------------

def fake_resolver(names: dict, lookups: list | None = None):
    """getaddrinfo, with `names` answering the addresses given (others as the system answers)."""
    def getaddrinfo(host, port, *args, **kwargs):
        if lookups is not None:
            lookups.append(host)
        if host not in names:
            return socket.getaddrinfo(host, port, *args, **kwargs)
        return [(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
                for address in names[host]]
    return getaddrinfo


@pytest.mark.parametrize("host", [
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "127.0.0.2",
    "192.0.0.8", "198.18.0.1", "224.0.0.1", "255.255.255.255", "[::1]", "[::]", "[fe80::1]", "[fc00::1]",
    "[::ffff:127.0.0.1]", "[::ffff:169.254.169.254]", "[64:ff9b::a9fe:a9fe]", "[2002:a9fe:a9fe::]",
    "[::7f00:1]", "[ff02::1]",
])
def test_a_special_use_address_is_never_fetched(server, host):
    description = refusal(server, f"https://{host}/client.json")
    assert "address" in description and "global" in description


@pytest.mark.parametrize("host", ["167772161", "2852039166", "0xa9.0xfe.0xa9.0xfe", "0251.0376.0251.0376",
                                  "10.1", "0x0a000001"])
def test_decimal_octal_and_hex_forms_are_judged_as_the_address_they_mean(server, host):
    assert "address" in refusal(server, f"https://{host}/client.json")


def test_a_name_that_resolves_to_a_private_address_is_never_fetched(server, monkeypatch):
    monkeypatch.setattr(cimd, "getaddrinfo", fake_resolver({
        "internal.example": ["10.1.2.3"], "metadata.example": ["169.254.169.254"],
        "mixed.example": ["93.184.216.34", "192.168.0.10"],  # one good address is not enough
        "v6.example": ["fd00::1"]}))
    for name in ("internal.example", "metadata.example", "mixed.example", "v6.example"):
        assert "resolves to" in refusal(server, f"https://{name}/client.json")


def test_a_name_is_resolved_once_per_fetch_and_fetched_from_that_address(server, site, monkeypatch):
    """DNS rebinding: a name that answers a harmless address when checked and another when
    connected to gains nothing — there is no second lookup."""
    answers, lookups = iter([["127.0.0.1"]] + [["10.0.0.1"]] * 10), []
    monkeypatch.setattr(cimd, "getaddrinfo", lambda host, port, *a, **k: fake_resolver(
        {host: next(answers)}, lookups)(host, port))
    client_id = f"http://rebind.example:{site.port}/client.json"
    site.publish(client_id=client_id)
    first = requests.get(authorization_url(server, client_id, scope=SCOPE), allow_redirects=False)
    assert first.status_code == 200 and lookups == ["rebind.example"]  # checked, then fetched there
    assert site.fetched() == 1 and site.requests[0]["host"] == f"rebind.example:{site.port}"
    assert "10.0.0.1" in refusal(server, client_id)  # the next answer is refused before connecting
    assert site.fetched() == 1


def test_this_servers_own_routes_are_never_fetched(server, monkeypatch):
    port = server.url.rsplit(":", 1)[1]
    monkeypatch.setattr(cimd, "getaddrinfo", fake_resolver({"localhost": ["127.0.0.1"]}))
    for url in (f"http://127.0.0.1:{port}/_mock/transcript", f"http://2130706433:{port}/_mock/transcript",
                f"http://localhost:{port}/.well-known/jwks.json", f"http://127.0.0.1:{port}/"):
        started = time.monotonic()
        assert "this server itself" in refusal(server, url)
        # Refused before connecting: a deterministic server serves one request at a time, and
        # a request to itself would have waited for the time limit.
        assert time.monotonic() - started < 2


def test_the_loopback_exception_is_the_servers_own_address_only(server, monkeypatch):
    other = DocumentSite(host="127.0.0.2")  # another loopback address, another interface's worth
    try:
        url = other.publish()
        assert "loopback" in refusal(server, url)
        assert other.requests == []
    finally:
        other.stop()


def test_plain_http_from_a_global_address_is_refused(server, monkeypatch):
    lookups = []
    monkeypatch.setattr(cimd, "getaddrinfo", fake_resolver({"app.example": ["93.184.216.34"]}, lookups))
    for url in ("http://93.184.216.34/client.json", "http://app.example/client.json"):
        assert "https" in refusal(server, url)


def test_a_class_world_is_not_the_labs_loopback(class_server, site):
    learner = class_server.join("Document learner")
    client_id = site.publish()
    answer = requests.get(authorization_url(learner, client_id, scope=SCOPE), allow_redirects=False)
    assert answer.status_code == 400 and "must use https" in html.unescape(answer.text)
    assert site.requests == []


def test_only_a_single_learners_loopback_server_is_the_labs():
    from mock_server.settings import Settings

    assert str(cimd.lab_loopback(Settings())) == "127.0.0.1"
    assert str(cimd.lab_loopback(Settings(host="::1"))) == "::1"
    for settings in (Settings(host="0.0.0.0"), Settings(host="192.168.1.5"), Settings(host="localhost"),
                     Settings(open_registration=True)):
        assert cimd.lab_loopback(settings) is None


# --- the fetch: redirects, size, time, what comes back ----------------------------------------------

def test_a_redirect_is_not_followed(server, site):
    real = site.publish("/real.json")
    for status in (301, 302, 303, 307, 308):
        site.answers["/client.json"] = Answer(status, b"", headers={"Location": real})
        assert f"answered {status}" in refusal(server, site.url())
    assert site.fetched("/real.json") == 0


def test_a_huge_document_is_refused(server, site):
    padding = "x" * (6 * 1024)
    client_id = site.url()
    body = json.dumps({"client_id": client_id, "redirect_uris": [APP_CALLBACK], "client_uri": padding}).encode()
    site.answers["/client.json"] = Answer(body=body)
    assert "larger than 5,120 bytes" in refusal(server, client_id)
    site.answers["/client.json"] = Answer(body=body, length=False)  # no Content-Length: read, and cut
    assert "larger than 5,120 bytes" in refusal(server, client_id)


def test_a_slow_server_is_given_three_seconds_in_all(server, site):
    client_id = site.publish()
    body = site.answers["/client.json"].body
    for slow in (Answer(body=body, delay=10), Answer(body=body, drip=0.5)):
        site.answers["/client.json"] = slow
        started = time.monotonic()
        assert "within 3 seconds" in refusal(server, client_id)
        assert time.monotonic() - started < 5


@pytest.mark.parametrize("answer, words", [
    (Answer(404, b"{}"), "answered 404"),
    (Answer(500, b"{}"), "answered 500"),
    (Answer(201, b"{}"), "answered 201"),
    (Answer(body=b"<html>", content_type="text/html"), "application/json"),
    (Answer(body=b"[1, 2]"), "JSON object"),
    (Answer(body=b"{not json"), "valid JSON"),
    (Answer(body=b"\xff\xfe{}"), "valid JSON"),
    (Answer(body=b"[" * 5000 + b"]" * 5000), "larger than"),
    (Answer(body=b"[" * 2500 + b"]" * 2500), "valid JSON"),  # nested past the parser's depth
    (Answer(body=b"{}", headers={"Content-Encoding": "gzip"}), "compressed"),
])
def test_an_answer_that_is_no_document_is_refused(server, site, answer, words):
    site.answers["/client.json"] = answer
    assert words in refusal(server, site.url())


def test_errors_are_never_cached(server, site):
    client_id = site.url()
    site.answers["/client.json"] = Answer(500, b"")
    refusal(server, client_id)
    site.publish(cache="max-age=600")  # fixed at once: the next request fetches again
    assert pkce_tokens(server, client_id)["access_token"]


# --- the document's content ------------------------------------------------------------------------

@pytest.mark.parametrize("client_id", ["{url}/", "{url}?x=1", "{url_upper}", "https://other.example/client.json", ""])
def test_a_document_whose_client_id_differs_from_its_url_is_refused(server, site, client_id):
    url = site.url()
    site.publish(client_id=client_id.format(url=url, url_upper=url.replace("http://", "HTTP://")))
    assert "not the URL it was fetched from" in refusal(server, url)


@pytest.mark.parametrize("metadata", [{"client_secret": "s3cret"}, {"client_secret_expires_at": 0},
                                      {"token_endpoint_auth_method": "client_secret_basic"},
                                      {"token_endpoint_auth_method": "client_secret_post"},
                                      {"token_endpoint_auth_method": "client_secret_jwt"}])
def test_a_document_with_a_secret_is_refused(server, site, metadata):
    assert re.search("secret", refusal(server, site.publish(**metadata)))


@pytest.mark.parametrize("method", ["private_key_jwt", "tls_client_auth", "nonsense"])
def test_a_method_this_server_does_not_offer_is_refused(server, site, method):
    assert "takes only none" in refusal(server, site.publish(token_endpoint_auth_method=method))


@pytest.mark.parametrize("metadata, words", [
    ({"redirect_uris": ["http://app.example/callback"]}, "non-loopback"),  # plain http off loopback
    ({"redirect_uris": [APP_CALLBACK + "#frag"]}, "fragment"),
    ({"redirect_uris": "http://127.0.0.1:8765/callback"}, "redirect_uris"),
    ({"redirect_uris": []}, "redirect_uris"),
    ({"grant_types": ["client_credentials"]}, "client_credentials"),
    ({"scope": "chats--all:ro nonsense"}, "Unknown scopes"),
    ({"client_name": 5}, "client_name"),
    ({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "jwks"),
    ({"software_statement": "a.b.c"}, "software_statement"),
])
def test_a_document_that_breaks_a_registration_rule_is_refused(server, site, metadata, words):
    assert words in refusal(server, site.publish(**metadata))


def test_a_documents_scope_limits_what_it_may_ask(server, site):
    client_id = site.publish(scope="customers:ro")
    assert query_of(UserAgent().authorize(authorization_url(
        server, client_id, scope="chats--access:ro", code_challenge=pkce_pair()[1],
        code_challenge_method="S256")))["error"] == "invalid_scope"


@pytest.mark.parametrize("url, words", [
    ("https://app.example", "path"),
    ("https://app.example/a/../client.json", ". or .."),
    ("https://app.example/a/%2E%2E/client.json", ". or .."),
    ("https://app.example/./client.json", ". or .."),
    ("https://app.example/client.json#x", "fragment"),
    ("https://user:pw@app.example/client.json", "username"),
    ("https://app.example:99999/client.json", "well-formed"),
    ("https://app.example/" + "a" * 300, "255"),
    ("ftp://app.example/client.json", None),
])
def test_a_url_that_is_no_client_identifier_is_refused(server, url, words):
    answer = requests.get(authorization_url(server, url, scope=SCOPE), allow_redirects=False)
    assert answer.status_code == 400 and "Location" not in answer.headers
    if words:
        assert words in refusal(server, url)


def test_a_failing_document_at_the_token_endpoint_is_invalid_client(server, site):
    client_id = site.publish()
    verifier, challenge = pkce_pair()
    got = query_of(UserAgent().authorize(authorization_url(server, client_id, scope=SCOPE, code_challenge=challenge,
                                                           code_challenge_method="S256")))
    site.answers["/client.json"] = Answer(500, b"")  # the client's site fails meanwhile
    answer = token(server, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": APP_CALLBACK,
                            "code_verifier": verifier, "client_id": client_id}, auth=None)
    assert answer.status_code in (400, 401) and answer.json()["error"] == "invalid_client"
    assert "answered 500" in answer.json()["error_description"]
    site.publish()
    answer = token(server, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": APP_CALLBACK,
                            "code_verifier": verifier, "client_id": client_id}, auth=None)
    assert answer.status_code == 200  # the refused request did not spend the code
