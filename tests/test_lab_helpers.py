"""The notebook-side plumbing a learner relies on without seeing it: the app's own redirect URI,
setup() finding the right server, the one-call flow, the course frame."""
from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import pytest
import requests

import mock_server
from flows import REPORTS, WIDGET, query_of
from oauth_lab.course import COURSE, DEVICE_STEPS, FLOWS, STEPS, header, where_we_are
from oauth_lab.flows import authorization_code_flow
from oauth_lab.lab import current_lab, setup
from oauth_lab.redirection_endpoint import RedirectionEndpoint
from oauth_lab.attacker import AttackerAuthorizationServer, AttackerSite
from oauth_lab.careless_app import CarelessApp
from oauth_lab.user_agent import UserAgent, referrer, with_inherited_fragment
from oauth_lab.widgets.consent_panel import ConsentPanel
from oauth_lab.widgets.diagram import server_path


@pytest.fixture(scope="module")
def lab():
    lab = setup(seed=None, port=mock_server.free_port())
    yield lab
    lab.handle.stop()


@pytest.fixture
def app():
    endpoint = RedirectionEndpoint(port=mock_server.free_port())
    yield endpoint
    endpoint.stop()


# --- the app's redirect URI ---------------------------------------------------------------------

def test_the_app_serves_its_redirect_uri_and_logs_what_it_received(app):
    page = requests.get(f"{app.redirect_uri}?code=ac_1&state=s%201&iss=http%3A%2F%2Fas.example")
    assert page.status_code == 200 and "Your app&#x27;s redirect URI" not in page.text
    assert "<h1>Your app's redirect URI</h1>" in page.text and "<code>s 1</code>" in page.text
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    assert app.received() == [f"{app.redirect_uri}?code=ac_1&state=s%201&iss=http%3A%2F%2Fas.example"]
    assert app.find("s 1") == app.received()[0] and app.find("other") is None


def test_the_callback_page_has_the_apps_own_look_and_loads_nothing(app):
    """Styled like the server's pages, in another colour, and saying whose page it is — with its
    style inline: the page fetches nothing that a Referer could leak the code to."""
    page = requests.get(f"{app.redirect_uri}?code=ac_1&state=s1").text
    assert "<style>" in page and "#2b8a3e" in page and "A page of the app, not of Fernhollow Accounts." in page
    assert not re.search(r"<(link|script|img|iframe)\b|url\(|@import", page)


def test_the_app_answers_404_off_its_callback(app):
    assert requests.get(f"{app.url}/callback/../admin").status_code == 404
    assert requests.get(f"{app.url}/").status_code == 404
    assert app.received() == []


def test_a_second_kernel_reads_what_the_first_ones_app_received(app):
    requests.get(f"{app.redirect_uri}?code=ac_2&state=s2")
    other_kernel = RedirectionEndpoint(port=int(app.url.rsplit(":", 1)[1]))
    assert app.serving_here and not other_kernel.serving_here
    assert other_kernel.find("s2") == f"{app.redirect_uri}?code=ac_2&state=s2"


def test_the_public_url_is_what_the_browser_uses(app):
    behind_a_proxy = RedirectionEndpoint(port=int(app.url.rsplit(":", 1)[1]),
                                         public_url="https://hub.example/user/jane/oauth-app/")
    requests.get(f"{app.url}/callback?state=s3")
    assert behind_a_proxy.redirect_uri == "https://hub.example/user/jane/oauth-app/callback"
    assert behind_a_proxy.find("s3") == "https://hub.example/user/jane/oauth-app/callback?state=s3"


@pytest.fixture
def shop():
    shop = CarelessApp(mock_server.free_port(), banner="http://127.0.0.1:9/banner.gif")
    yield shop
    shop.stop()


@pytest.mark.parametrize("path", ["/callback/welcome", "/callback/relay/http://a.example/x",
                                  "/callback/continue/http://a.example/x"])
def test_the_careless_pages_are_the_shops_never_your_apps(app, shop, path):
    assert requests.get(app.url + path, allow_redirects=False).status_code == 404
    assert requests.get(shop.url + path, allow_redirects=False).status_code in (200, 303)
    assert app.received() == [] and shop.received() == [shop.public_url + path]


def test_the_relay_forwards_the_response_and_continue_only_the_browser(shop):
    relay = requests.get(shop.page("relay", "http://a.example/x") + "?code=c&state=s", allow_redirects=False)
    onward = requests.get(shop.page("continue", "http://a.example/x") + "?code=c&state=s", allow_redirects=False)
    assert relay.headers["Location"] == "http://a.example/x?code=c&state=s"
    assert onward.headers["Location"] == "http://a.example/x"
    welcome = requests.get(shop.page("welcome") + "?code=c")
    assert welcome.headers["Referrer-Policy"] == "no-referrer-when-downgrade"
    assert "<img src='http://127.0.0.1:9/banner.gif'" in welcome.text
    assert "<h1>Fernhollow Shop's redirect URI</h1>" in welcome.text


def test_a_kernel_that_finds_the_shop_running_uses_it_as_it_is(shop):
    other_kernel = CarelessApp(shop.port, banner="http://elsewhere.example/other.gif")
    assert not other_kernel.serving_here
    assert "http://127.0.0.1:9/banner.gif" in requests.get(other_kernel.page("welcome")).text


@pytest.fixture
def app_of_another_kernel():
    """The app served by another process of this user's (notebook 15's kernel, still running while
    16 runs): a real second Python, which writes its card where this process reads cards."""
    port = mock_server.free_port()
    served = subprocess.Popen(
        [sys.executable, "-c", "import sys; from oauth_lab.redirection_endpoint import RedirectionEndpoint; "
         f"RedirectionEndpoint(port={port}); print('serving', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert served.stdout.readline() == "serving\n"
    yield RedirectionEndpoint(port=port)
    served.kill()
    served.wait()


def test_a_kernel_publishes_its_apps_document_where_another_kernel_serves_the_app(app_of_another_kernel):
    app = app_of_another_kernel
    assert not app.serving_here
    document = {"client_id": app.client_id, "client_name": "Lab Assistant"}
    app.publish_client_metadata(document, max_age=600)
    fetched = requests.get(app.client_id)
    assert fetched.json() == document and fetched.headers["Cache-Control"] == "max-age=600"
    assert app.metadata_fetches() == 0  # a GET that was not the server's


def test_a_site_takes_settings_only_with_its_users_key(app_of_another_kernel):
    app = app_of_another_kernel
    for headers in ({}, {"Authorization": "Bearer guessed"}):  # a web page, another user
        assert requests.post(f"{app.url}/configuration", json={"client_metadata": [{}, "no-store"]},
                             headers=headers).status_code == 404
        assert requests.get(f"{app.url}/configuration", headers=headers).status_code == 404
    assert requests.get(app.client_id).status_code == 404  # nothing was published


def test_a_site_with_forms_of_its_own_keeps_no_settings_request_as_one(lab):
    """The attacker's server keeps every form posted to it: a settings request without the key
    is answered 404 before it gets there, and a stale card's kernel is told the site is not its."""
    partner = AttackerAuthorizationServer(mock_server.free_port(), lab, {"widget-at-partner": WIDGET})
    try:
        answer = requests.post(f"{partner.url}/configuration", json={"honest": "http://evil.example/"},
                               headers={"Authorization": "Bearer guessed"})
        assert answer.status_code == 404 and partner.token_requests() == []
        assert partner.metadata()["authorization_endpoint"] == f"{partner.url}/authorize"
    finally:
        partner.stop()


def test_a_site_no_kernel_of_yours_serves_cannot_be_configured(app_of_another_kernel, monkeypatch, tmp_path):
    monkeypatch.setenv("MOCK_SERVER_CARDS", str(tmp_path))  # another user's cards: none for this site
    with pytest.raises(RuntimeError, match="not served by a kernel of yours"):
        app_of_another_kernel.configure(banner="http://127.0.0.1:9/banner.gif")
    stopped = RedirectionEndpoint(port=mock_server.free_port())
    stopped.stop()
    with pytest.raises(RuntimeError, match="not served by a kernel of yours"):
        stopped.configure(banner="http://127.0.0.1:9/banner.gif")


# --- the scripted browser -----------------------------------------------------------------------

PAGE = "http://127.0.0.1:1/callback?code=c&state=s#access_token=t"


@pytest.mark.parametrize("policy, page, target, sent", [
    (None, PAGE, "http://127.0.0.1:2/i.gif", "http://127.0.0.1:1/"),  # today's default: the origin
    (None, PAGE, "http://127.0.0.1:1/i.gif", "http://127.0.0.1:1/callback?code=c&state=s"),
    ("no-referrer", PAGE, "http://127.0.0.1:1/i.gif", None),
    ("no-referrer-when-downgrade", PAGE, "http://127.0.0.1:2/i.gif", "http://127.0.0.1:1/callback?code=c&state=s"),
    ("no-referrer-when-downgrade", "https://app.example/cb?code=c", "http://ads.example/i.gif", None),
    ("strict-origin-when-cross-origin", "https://app.example/cb?code=c", "http://ads.example/i.gif", None),
    ("unsafe-url", "http://u:p@127.0.0.1:1/cb?code=c#t", "http://ads.example/i.gif", "http://127.0.0.1:1/cb?code=c"),
    ("same-origin", PAGE, "http://127.0.0.1:2/i.gif", None),
    ("origin", PAGE, "http://127.0.0.1:1/i.gif", "http://127.0.0.1:1/"),
    ("origin-when-cross-origin", PAGE, "http://127.0.0.1:2/i.gif", "http://127.0.0.1:1/"),
    ("strict-origin", "https://app.example/cb", "https://ads.example/i.gif", "https://app.example/"),
    ("unsafe-url, bogus", PAGE, "http://127.0.0.1:2/i.gif", "http://127.0.0.1:1/callback?code=c&state=s"),
    ("bogus", PAGE, "http://127.0.0.1:2/i.gif", "http://127.0.0.1:1/"),  # unknown: the default
])
def test_the_referer_follows_the_pages_policy_and_never_carries_the_fragment(policy, page, target, sent):
    assert referrer(page, policy, target) == sent


@pytest.mark.parametrize("location, previous, followed", [
    ("http://b.example/x", "http://a.example/cb#access_token=t", "http://b.example/x#access_token=t"),
    ("http://b.example/x#own", "http://a.example/cb#access_token=t", "http://b.example/x#own"),
    ("http://b.example/x", "http://a.example/cb?code=c", "http://b.example/x"),  # the query stays behind
])
def test_a_redirect_keeps_the_fragment_unless_it_has_its_own(location, previous, followed):
    assert with_inherited_fragment(location, previous) == followed


def test_the_browser_follows_redirects_across_sites_loads_images_and_keeps_its_history():
    site = AttackerSite(mock_server.free_port())
    shop = CarelessApp(mock_server.free_port(), banner=site.page("banner.gif"))
    try:
        welcome = shop.page("welcome") + "?code=c&state=s"
        browser = UserAgent()
        page = browser.visit(site.page("go", to=welcome + "#frag"))
        assert page.status_code == 200 and browser.history == [welcome + "#frag"]
        assert site.referers() == [welcome]  # the whole URL, but never the fragment
        assert browser.visit("http://127.0.0.1:9/nothing-answers") is None
    finally:
        site.stop()
        shop.stop()


@pytest.mark.parametrize("order", ["server first", "app first"])
def test_a_public_address_stands_for_whole_path_segments(app, order):
    """On a hub the server is at …/oauth and the app at …/oauth-app: the first is a string prefix
    of the second, never its path. The redirect back to the app must reach the app."""
    public = "https://hub.test/user/learner"
    server_back = f"http://127.0.0.1:{mock_server.free_port()}"  # nothing listens: a wrong match fails
    app.public_url = f"{public}/oauth-app"
    reach = {f"{public}/oauth": server_back, app.public_url: app.url}
    browser = UserAgent(reach=dict(reversed(reach.items())) if order == "app first" else reach)
    page = browser.visit(f"{app.redirect_uri}?code=ac_1&state=s")
    assert page is not None and page.status_code == 200, "the app's callback was not reached"
    assert app.received()[-1] == f"{app.redirect_uri}?code=ac_1&state=s"
    assert browser.visit(f"{public}/oauth/authorize") is None  # …/oauth itself goes to the server


def test_the_kernel_and_the_diagram_read_whole_path_segments_too(lab):
    """The same rule where the kernel swaps the server's public address for its own (the back
    channel) and where the diagram names a redirect's target: …/oauth-app is the app's."""
    public = "https://hub.test/user/learner/oauth"
    behind_a_hub = dataclasses.replace(lab, metadata={**lab.metadata, "issuer": public})
    assert behind_a_hub.back_channel(f"{public}/token") == f"{lab.url}/token"
    assert behind_a_hub.back_channel(f"{public}-app/client-metadata.json") == f"{public}-app/client-metadata.json"
    assert server_path(f"{public}/authorize?x=1", public) == "/authorize"
    assert server_path(f"{public}-app/callback?code=c", public) == "/user/learner/oauth-app/callback"


# --- setup() ------------------------------------------------------------------------------------

def test_a_weakened_server_beside_the_default_one(lab):
    weak = setup(seed=None, port=mock_server.free_port(), make_current=False, require_pkce=False)
    try:
        assert current_lab() is lab, "the second server must not replace the notebook's lab"
        assert weak.metadata["mock_server_teaching_switches"] == {"require_pkce": False}
        assert "plain" in weak.metadata["code_challenge_methods_supported"]
        assert "mock_server_teaching_switches" not in lab.metadata
    finally:
        weak.handle.stop()


def test_a_running_server_with_other_switches_is_refused(lab):
    port = int(lab.url.rsplit(":", 1)[1])
    with pytest.raises(RuntimeError, match="has teaching switches off, not {'require_pkce': False}"):
        setup(seed=None, port=port, require_pkce=False)
    found = setup(seed=None, port=port)  # the same switches: found, not started again
    assert found.handle is lab.handle and found.issuer == lab.issuer


def test_a_running_server_with_other_policies_is_refused():
    """Stricter policies (pushed requests, DPoP nonces) are no teaching switches, but notebook
    15's nonce server found where the default one was wanted (or the other way) is refused too."""
    nonced = setup(seed=None, port=mock_server.free_port(), make_current=False, require_dpop_nonce=True)
    try:
        with pytest.raises(RuntimeError, match="has {'require_pushed_authorization_requests': False, "
                                               "'mock_server_requires_dpop_nonce': True}, not"):
            setup(seed=None, port=nonced.port, make_current=False)
        again = setup(seed=None, port=nonced.port, make_current=False, require_dpop_nonce=True)
        assert again.handle is nonced.handle
    finally:
        nonced.handle.stop()


def test_links_and_addresses(lab):
    assert repr(lab.page("console", "Developer Console")) == f"Developer Console: {lab.issuer}/console"
    assert lab.back_channel(lab.metadata["jwks_uri"]) == f"{lab.url}/.well-known/jwks.json"
    assert lab.back_channel("https://elsewhere.example/x") == "https://elsewhere.example/x"
    assert lab.api_audience == f"{lab.issuer}/v3.5/agent"


# --- the one-call flow --------------------------------------------------------------------------

def test_the_flow_helper_gets_tokens_for_confidential_and_public_apps(lab):
    reports = authorization_code_flow(lab, REPORTS[0], ["customers:ro"], client_secret=REPORTS[1])
    widget = authorization_code_flow(lab, WIDGET, ["customers:ro"])
    for app in (reports, widget):
        assert app.token["scope"] == ["customers:ro"] and "refresh_token" in app.token
        assert app.post(lab.api("list_customers"), json={}).status_code == 200
    assert query_of(lab.app.received()[-1])["iss"] == lab.issuer  # delivered to the app's page


def test_the_flow_helper_reports_a_refusal(lab):
    with pytest.raises(Exception, match="access_denied"):
        authorization_code_flow(lab, REPORTS[0], ["customers:ro"], client_secret=REPORTS[1], decision="Deny")


# --- the consent panel's real-browser path ------------------------------------------------------

def test_the_panel_reads_a_decision_made_in_the_browser(lab):
    from requests_oauthlib import OAuth2Session

    url, state = OAuth2Session(REPORTS[0], redirect_uri=lab.redirect_uri, scope=["customers:ro"],
                               pkce="S256").authorization_url(lab.metadata["authorization_endpoint"])
    panel = ConsentPanel(lab, url)
    panel.read_app.click()  # too early: nothing received yet
    assert panel.value == "" and "received nothing for this request yet" in panel._result.value
    browser = UserAgent(reach=lab.reach())  # the learner's own browser, on the real pages
    browser.visit(browser.authorize(url, "Allow"))
    panel.read_app.click()
    assert query_of(panel.value)["state"] == state and "code" in panel.received()
    assert panel.allow.disabled and panel.deny.disabled and panel.read_app.disabled
    assert panel.text().endswith("Decided in your browser → app receives: " + ", ".join(
        f"{k}={v[:6] + '…' if k == 'code' else v}" for k, v in panel.received().items()))


# --- the course frame ---------------------------------------------------------------------------

def test_the_strip_highlights_only_this_notebooks_steps():
    assert where_we_are("04-the-token-exchange").count("**▶") == 1
    assert "**▶ code → tokens**" in where_we_are("04-the-token-exchange")
    assert "▶" not in where_we_are("00-start-here") and all(s in where_we_are("00-start-here") for s in STEPS)
    for notebook in COURSE:
        assert set(notebook.steps) <= set(FLOWS[notebook.flow][1]), notebook.name
        assert f"*About {notebook.minutes} minutes.*" in header(notebook.name)


def test_the_device_flow_notebook_has_the_device_flows_strip():
    strip = where_we_are("09-devices-without-a-browser-device-flow")
    assert strip.startswith("**Where we are (device flow):**")
    assert [s for s in DEVICE_STEPS if f"**▶ {s}**" in strip] == [
        "device & user codes", "user decides on another device", "polling → tokens"]
    assert "sign-in & consent" not in strip and "authorization request" not in strip


def test_run_all_again_repeats_the_state_and_the_server_forgets_the_old_nonce(monkeypatch):
    """Run All again (same kernel, server still running) gives the same `state`, PKCE verifier and
    nonce as the first run — the server's world started over, so the nonce is no replay — while
    a second server beside the first continues the client's sequence, as in a fresh kernel."""
    import oauthlib.common
    from requests_oauthlib import OAuth2Session

    from oauth_lab import lab as lab_module

    monkeypatch.setattr(oauthlib.common, "SystemRandom", oauthlib.common.SystemRandom)
    monkeypatch.setattr(lab_module, "_current", lab_module._current)  # this test's labs are its own
    port, beside = mock_server.free_port(), mock_server.free_port()

    def run_all():
        lab = setup(seed=7, port=port)
        oidc = OAuth2Session("fernhollow-reports", redirect_uri=lab.redirect_uri, scope=["openid"])
        url, state = oidc.authorization_url(lab.metadata["authorization_endpoint"], nonce=oauthlib.common.generate_token())
        received = UserAgent(reach=lab.reach()).authorize(url)
        token = oidc.fetch_token(lab.endpoint("token"), authorization_response=received,
                                 client_secret="reports-secret")
        weak = setup(seed=7, port=beside, make_current=False, require_pkce=False)
        return lab, weak, state, token["id_token"], oauthlib.common.generate_token()

    first = run_all()
    try:
        assert first[4] != first[2], "the second server must not restart the client's sequence"
        again = run_all()  # would fail with "Replay attack" if the server remembered the nonce
        assert again[2:] == first[2:], "the same state, the same ID token, the same next value"
    finally:
        first[0].handle.stop()
        first[1].handle.stop()


def test_the_apps_port_is_where_its_own_servers_count_from(app):
    assert app.url == f"http://127.0.0.1:{app.port}"
