"""Transport (mock_server/transport.py): the scheme and address the browser used, and TLS.

A hub serves the server at ``https://hub.test:8898/user/learner/oauth``; jupyter-server-proxy forwards
each request to 127.0.0.1 over plain http with the hub's name in Host and the prefix stripped.
Here those requests are sent over real HTTP as the proxy sends them. Then plain http from another
machine: refused with the RFC error (never a 500) unless the server runs with --allow-plain-http.
"""
from __future__ import annotations

import pytest
import requests

import mock_server
from flows import REPORTS, pkce_pair, query_of
from mock_server.__main__ import banner, parse_args, settings_from_args
from oauth_lab.user_agent import UserAgent

HUB_HOST = "hub.test:8898"
PUBLIC = f"https://{HUB_HOST}/user/learner/oauth"
APP = f"https://{HUB_HOST}/user/learner/oauth-app/callback"
BASIC = ("fernhollow-reports", "reports-secret")


@pytest.fixture(scope="module")
def behind_tls_hub():
    with mock_server.start(port=mock_server.free_port(), seed=3, public_url=PUBLIC,
                           app_redirect_uris=(APP,)) as server:
        yield server


def proxied(server, method: str, path: str, **kwargs) -> requests.Response:
    """What jupyter-server-proxy sends: plain http to loopback, the hub's Host, no prefix."""
    headers = {"Host": HUB_HOST, "X-Forwarded-Context": "/user/learner/oauth", **kwargs.pop("headers", {})}
    return requests.request(method, f"{server.url}{path}", headers=headers, allow_redirects=False,
                            timeout=5, **kwargs)


def test_a_request_through_the_hub_is_https_at_the_public_url(behind_tls_hub):
    page = proxied(behind_tls_hub, "GET", "/authorize", params={
        "response_type": "code", "client_id": "fernhollow-reports", "redirect_uri": APP,
        "scope": "customers:ro", "state": "s1"})
    assert page.status_code == 200, page.text  # was 400 insecure_transport: "OAuth 2 MUST utilize https"
    assert f'action="{PUBLIC}/login"' in page.text
    cookie = page.headers["Set-Cookie"]
    assert "Path=/user/learner/oauth" in cookie, cookie  # the browser sends it back to the server only


def test_the_whole_front_channel_through_the_hub(behind_tls_hub):
    """Jane's browser at the public URLs, every request delivered as the proxy delivers it."""
    browser = keeping_cookies_as_the_browser_does(UserAgent(reach={PUBLIC: behind_tls_hub.url}))
    browser.session.headers["Host"] = HUB_HOST
    url = (f"{PUBLIC}/authorize?response_type=code&client_id=fernhollow-reports&state=s2"
           f"&scope=customers:ro&redirect_uri={requests.utils.quote(APP, safe='')}")
    received = query_of(browser.authorize(url, server=PUBLIC))
    assert received["state"] == "s2" and received["iss"] == PUBLIC and received["code"]
    token = requests.post(f"{behind_tls_hub.url}/token", auth=BASIC, timeout=5, data={
        "grant_type": "authorization_code", "code": received["code"], "redirect_uri": APP})
    assert token.status_code == 200, token.text  # the back channel: loopback, no proxy


def keeping_cookies_as_the_browser_does(browser: UserAgent) -> UserAgent:
    """The browser asks hub.test for the public paths (…/user/learner/oauth/login), where the
    server's cookie belongs; this scripted one asks loopback without the prefix: it files each
    cookie where its own requests will find it, once it has checked where the browser would."""
    def keep(response, **_):
        for cookie in response.cookies:
            assert (cookie.domain, cookie.path) == ("hub.test", "/user/learner/oauth"), cookie
            browser.session.cookies.set(cookie.name, cookie.value)
        return response
    browser.session.hooks["response"].append(keep)
    return browser


def test_forwarded_headers_are_not_trusted(behind_tls_hub):
    """X-Forwarded-Proto/-Host are anyone's to send: they change neither the scheme nor the host."""
    answer = requests.get(f"{behind_tls_hub.url}/authorize", timeout=5, headers={
        "Host": "attacker.example", "X-Forwarded-Host": HUB_HOST, "X-Forwarded-Proto": "https"})
    assert answer.status_code == 400 and "Wrong host" in answer.text


@pytest.fixture(scope="module", params=[False, True], ids=["default", "allow_plain_http"])
def plain_http_hub(request):
    """A hub (or a class) without TLS: browsers reach the server at http://hub.test:8898/…"""
    with mock_server.start(port=mock_server.free_port(), public_url=f"http://{HUB_HOST}/user/learner/oauth",
                           allow_plain_http=request.param) as server:
        yield server


@pytest.mark.parametrize("path, data", [
    ("/token", {"grant_type": "client_credentials", "scope": "customers:ro"}),
    ("/revoke", {"token": "whatever"}),
    ("/introspect", {"token": "whatever"}),
    ("/device_authorization", {"scope": "customers:ro"}),
])
def test_plain_http_from_another_machine(plain_http_hub, path, data):
    answer = proxied(plain_http_hub, "POST", path, data=data, auth=BASIC)
    if not plain_http_hub.settings.allow_plain_http:
        assert answer.status_code == 400, answer.text  # was 500 at every back-channel endpoint
        assert answer.json()["error"] == "invalid_request"
        assert "requires TLS" in answer.json()["error_description"]
        assert "--allow-plain-http" in answer.json()["error_description"]
    else:
        assert answer.status_code in (200, 401) and answer.json().get("error") != "invalid_request", answer.text
    loopback = requests.post(f"{plain_http_hub.url}{path}", data=data, auth=BASIC, timeout=5)
    assert loopback.status_code != 400 or loopback.json()["error"] != "invalid_request"  # loopback is fine


def test_the_consent_page_says_why_plain_http_is_refused(plain_http_hub):
    page = proxied(plain_http_hub, "GET", "/authorize", params={
        "response_type": "code", "client_id": "fernhollow-reports", "scope": "customers:ro"})
    if plain_http_hub.settings.allow_plain_http:
        assert page.status_code == 200 and "Sign in" in page.text
    else:
        assert page.status_code == 400 and "requires TLS here (RFC 6749 sections 3.1 and 3.2)" in page.text


def test_the_metadata_and_banner_say_plain_http_is_allowed(plain_http_hub):
    metadata = proxied(plain_http_hub, "GET", "/.well-known/oauth-authorization-server").json()
    assert metadata.get("mock_server_allows_plain_http", False) is plain_http_hub.settings.allow_plain_http


@pytest.mark.parametrize("argv, says", [
    (["--host", "127.0.0.1"], None),
    (["--host", "0.0.0.0"], "WARNING: http://0.0.0.0:5001 is plain http to other machines"),
    (["--public-url", "https://oauth.example.org"], None),
    (["--host", "0.0.0.0", "--allow-plain-http"], "INSECURE: plain http accepted from other machines"),
])
def test_the_banner_tells_an_operator_before_a_learner_finds_out(argv, says):
    text = banner(settings_from_args(parse_args(argv)))
    lines = [line for line in text.splitlines() if "plain http" in line]
    assert (lines[0].startswith(says) if says else not lines), text


# --- a class on a LAN: the README's `make workshop ARGS="--host 192.168.1.20 …"` ---------------------

@pytest.mark.parametrize("allow", [False, True], ids=["default", "allow_plain_http"])
def test_a_class_on_a_lan_over_plain_http(tmp_path, allow):
    """A learner's laptop reaches the class at http://192.0.2.2:5001: without TLS, OAuth's endpoints
    refuse (they answered 500 and an insecure_transport page before), unless the instructor chose
    --allow-plain-http; the banner says which, before a learner finds out."""
    from werkzeug.test import Client

    from mock_server.workshop.classroom import WorkshopConfig
    from mock_server.workshop.serve import banner, build

    config = WorkshopConfig(host="192.0.2.2", port=5001, db=str(tmp_path / "class.sqlite3"),
                            class_code="fern-42", instructor_secret="s" * 24, allow_plain_http=allow)
    laptop = Client(build(config))
    lan = {"base_url": "http://192.0.2.2:5001", "environ_base": {"REMOTE_ADDR": "192.0.2.9"}}
    joined = laptop.post("/workshop/join", json={"class_code": "fern-42", "name": "Ada",
                                                 "redirect_uris": ["http://127.0.0.1:8765/callback"]}, **lan)
    assert joined.status_code == 201, joined.text
    world = joined.json["issuer"].removeprefix("http://192.0.2.2:5001")
    token = laptop.post(f"{world}/token", data={"grant_type": "client_credentials", "scope": "customers:ro"},
                        headers={"Authorization": "Basic ZmVybmhvbGxvdy1yZXBvcnRzOnJlcG9ydHMtc2VjcmV0"}, **lan)
    said = banner(config)
    if allow:
        assert token.status_code == 200, token.text
        assert "INSECURE: plain http accepted from other machines" in said
    else:
        assert token.status_code == 400 and "requires TLS" in token.json["error_description"], token.text
        assert "WARNING: http://192.0.2.2:5001 is plain http to other machines" in said
def test_behind_the_hub_the_apis_are_named_by_their_public_urls(behind_tls_hub):
    """Resource indicators and their metadata behind a hub (RULES.md, "Where the metadata is behind
    a prefix"): the identifiers are the public URLs, whichever way a request arrives; the
    challenge names the metadata under the server's public prefix, which the proxy forwards; a
    token asked on the back channel for the public identifier works there, and a client known by a
    document on this machine's loopback (the kernel's app) is fetched there."""
    from documents import DocumentSite

    api = f"{PUBLIC}/v3.5/agent"
    for answer in (proxied(behind_tls_hub, "GET", "/v3.5/agent"), requests.get(f"{behind_tls_hub.url}/v3.5/agent")):
        assert f'resource_metadata="{PUBLIC}/.well-known/oauth-protected-resource/v3.5/agent"' in \
            answer.headers["WWW-Authenticate"]
    metadata = proxied(behind_tls_hub, "GET", "/.well-known/oauth-protected-resource/v3.5/agent").json()
    assert metadata["resource"] == api and metadata["authorization_servers"] == [PUBLIC]

    site = DocumentSite()  # the kernel's app, on loopback in the container
    try:
        client_id = site.publish(redirect_uris=[APP])
        browser = keeping_cookies_as_the_browser_does(UserAgent(reach={PUBLIC: behind_tls_hub.url}))
        browser.session.headers["Host"] = HUB_HOST
        verifier, challenge = pkce_pair()
        url = requests.Request("GET", f"{PUBLIC}/authorize", params={
            "response_type": "code", "client_id": client_id, "redirect_uri": APP, "state": "s3",
            "scope": "chats--access:ro", "resource": api, "code_challenge": challenge,
            "code_challenge_method": "S256"}).prepare().url
        received = query_of(browser.authorize(url, server=PUBLIC))
        token = requests.post(f"{behind_tls_hub.url}/token", timeout=5, data={
            "grant_type": "authorization_code", "code": received["code"], "redirect_uri": APP, "client_id": client_id,
            "code_verifier": verifier, "resource": api})
        assert token.status_code == 200, token.text
        access = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert proxied(behind_tls_hub, "GET", "/v3.5/agent", headers=access).json()["resource"] == api
        assert requests.get(f"{behind_tls_hub.url}/v3.5/agent", headers=access).status_code == 200
        assert requests.get(f"{behind_tls_hub.url}/v3.5/configuration", headers=access).status_code == 401
    finally:
        site.stop()
