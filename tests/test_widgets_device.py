"""The device-flow widgets (notebook 09) as a learner uses them — by code and by clicking — against
a real server: the device's screen with its QR code, and the poller with the user's Allow/Deny."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import requests
from oauthlib.oauth2 import DeviceClient
from requests_oauthlib import OAuth2Session

import mock_server
from flows import WIDGET
from oauth_lab.failures import RFC, expect_failure, read_redirect
from oauth_lab.lab import setup
from oauth_lab.user_agent import UserAgent, main_text
from oauth_lab.widgets.device_flow import DevicePoller, DeviceScreen
from oauth_lab.widgets.diagram import DEVICE_FLOW, SequenceDiagram

GRANT = {"device_code": "dc_x", "user_code": "WDJB-MJHT", "expires_in": 600, "interval": 5,
         "verification_uri": "https://example.com/device",
         "verification_uri_complete": "https://example.com/device?user_code=WDJB-MJHT"}
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def lab():
    """Seeded: the virtual clock stands still unless moved, so poll times are exact."""
    lab = setup(seed=3, port=mock_server.free_port())
    yield lab
    lab.handle.stop()


@pytest.fixture
def tv(lab):
    """The public device app of notebook 09 (here the demo widget app, registered for the grant)."""
    return OAuth2Session(client=DeviceClient(WIDGET))


def codes(lab, client_id=WIDGET, scope="customers:ro") -> dict:
    return requests.post(lab.endpoint("device_authorization"), data={"client_id": client_id, "scope": scope}).json()


def polls_recorded(lab, grant) -> int:
    return sum(m["path"] == "/token" for m in lab.transcript.flow(device_code=grant["device_code"]))


# --- the device's screen -----------------------------------------------------------------------

def test_screen_shows_the_address_and_the_code_as_text_and_a_qr_code():
    screen = DeviceScreen(GRANT)
    assert screen.text() == ("Fernhollow Shop TV: scan the QR code or, using a browser on another device, "
                             "visit https://example.com/device and enter the code WDJB-MJHT")
    root = ET.fromstring(screen.svg())
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "https://example.com/device" in texts and "WDJB-MJHT" in texts  # RFC 8628 §3.3.1: MUST show it
    assert screen.qr() in screen.svg() and "<path" in screen.qr()


def test_screen_svg_is_the_same_in_another_interpreter():
    """nbval compares it: the QR code must not depend on the process (hash seeds, dict order)."""
    program = ("import json, sys; from oauth_lab.widgets.device_flow import DeviceScreen; "
               "print(DeviceScreen(json.loads(sys.argv[1])).svg(), end='')")
    other = subprocess.run([sys.executable, "-c", program, json.dumps(GRANT)], capture_output=True,
                           text=True, check=True, env={"PYTHONHASHSEED": "123"}).stdout
    assert other == DeviceScreen(GRANT).svg()
    elsewhere = dict(GRANT, verification_uri_complete=GRANT["verification_uri"])
    assert DeviceScreen(elsewhere).qr() != DeviceScreen(GRANT).qr()


def test_a_long_proxied_verification_uri_still_fits_beside_the_qr_code():
    uri = "https://hub.example.org/user/a-rather-long-learner-name/oauth/device"
    root = ET.fromstring(DeviceScreen(dict(GRANT, verification_uri=uri)).svg())
    (line,) = [t for t in root.iter(f"{SVG}text") if t.text == uri]
    assert 0.6 * int(line.get("font-size")) * len(uri) <= DeviceScreen.TEXT_WIDTH


# --- the poller, by code -----------------------------------------------------------------------

def test_polling_until_jane_allows(lab, tv):
    grant = codes(lab)
    poller = DevicePoller(lab, tv, grant)
    assert poller.value == {} and not poller.finished
    assert poller.text() == f"User code {grant['user_code']} · interval 5 s · device code expires in 10 min"
    assert poller.poll() == "authorization_pending"
    assert poller.poll(wait=False) == "slow_down" and poller.interval == 10  # RFC 8628 §3.5: +5 s
    assert poller.poll() == "authorization_pending"  # waited the new 10 s: no slow_down
    assert poller.decide("Allow") == "Allow"
    assert poller.poll() == "tokens"
    assert poller.value["access_token"] and poller.value == dict(tv.token)
    assert poller.text().splitlines()[1:] == [
        "jane, on another device: Allow (the page asked for See your customers' details [customers:ro])",
        "poll 1 at +5 s: 400 authorization_pending",
        "poll 2 at +5 s: 400 slow_down; interval now 10 s",
        "poll 3 at +15 s: 400 authorization_pending",
        "poll 4 at +25 s: 200 — Bearer token, expires_in 3600, scope customers:ro"]
    assert "done" in poller.text().splitlines()[0]


def test_a_finished_poller_sends_nothing_more(lab, tv):
    grant = codes(lab)
    poller = DevicePoller(lab, tv, grant)
    poller.decide("Allow")
    poller.poll()
    sent = polls_recorded(lab, grant)
    assert poller.poll() == "tokens" and poller.poll(wait=False) == "tokens"
    assert polls_recorded(lab, grant) == sent  # RFC 8628 §3.5: the device stops polling
    assert all(b.disabled for b in (poller.wait_and_poll, poller.poll_now, poller.allow, poller.deny))


def test_jane_denies(lab, tv):
    poller = DevicePoller(lab, tv, codes(lab))
    poller.decide("Deny")
    assert poller.poll() == "access_denied" and poller.finished and poller.value == {}
    assert poller.text().splitlines()[-1] == "poll 1 at +5 s: 400 access_denied — stop polling"
    assert poller.decide("Allow") == "Deny", "a decision is made once"


def test_nobody_decides_and_the_codes_expire(lab, tv):
    grant = codes(lab)
    poller = DevicePoller(lab, tv, grant)
    lab.clock.advance(grant["expires_in"])
    assert poller.poll(wait=False) == "expired_token" and poller.finished
    assert poller.allow.disabled and poller.deny.disabled  # too late to decide: nothing to click


def test_another_apps_device_code_is_refused(lab):
    stranger = OAuth2Session(client=DeviceClient("fernhollow-reports"))
    poller = DevicePoller(lab, stranger, codes(lab), auth=("fernhollow-reports", "reports-secret"))
    assert poller.poll() == "unauthorized_client" and poller.finished and poller.value == {}


def test_jane_decided_in_her_own_browser_first(lab, tv):
    """The link path: the page is used up, so the scripted Jane is told so; the device only
    learns the decision by polling, as a real device does."""
    grant = codes(lab)
    UserAgent().approve_device(grant["verification_uri"], grant["user_code"])
    poller = DevicePoller(lab, tv, grant)
    assert poller.decide("Deny") is None
    assert "unknown, expired or already used" in poller.text()
    assert poller.allow.disabled and poller.deny.disabled
    assert poller.poll() == "tokens"


# --- the poller, clicked -----------------------------------------------------------------------

def test_clicking_the_buttons(lab, tv):
    poller = DevicePoller(lab, tv, codes(lab))
    poller.wait_and_poll.click()
    poller.poll_now.click()
    assert [p.answer for p in poller.polls] == ["authorization_pending", "slow_down"]
    assert "interval now 10 s" in poller.report.value
    poller.allow.click()
    assert poller.allow.disabled and poller.deny.disabled
    poller.wait_and_poll.click()
    assert poller.value["token_type"] == "Bearer"
    shown = poller.report.value
    assert poller.value["access_token"] not in shown and poller.value["access_token"][:6] + "…" in shown
    assert "The token response" in shown and "scope</code>: customers:ro" in shown
    assert poller.wait_and_poll.disabled and poller.poll_now.disabled


def test_the_link_opens_the_page_with_the_code_filled_in(lab, tv):
    grant = codes(lab)
    assert f"href='{grant['verification_uri_complete']}'" in DevicePoller(lab, tv, grant).screen.value


# --- the failures and the diagram ----------------------------------------------------------------

def test_device_failures_name_rfc_8628(lab, tv):
    grant = codes(lab)
    UserAgent().approve_device(grant["verification_uri"], grant["user_code"], "Deny")
    with expect_failure(lab) as failure:
        tv.fetch_token(lab.endpoint("token"), device_code=grant["device_code"], include_client_id=True)
    assert failure.error == "access_denied"
    assert "Standard: RFC 8628 §3.5 — the user denied the device's request: stop polling" in failure.text()
    assert "WWW-Authenticate" not in failure.text()
    # at the authorization endpoint the same code is still RFC 6749's
    assert RFC["access_denied"] in read_redirect("http://127.0.0.1/cb?error=access_denied").text()


def test_the_device_flow_diagram_names_the_device_and_the_other_device(lab, tv):
    grant = codes(lab)
    poller = DevicePoller(lab, tv, grant)
    poller.poll()
    poller.decide("Allow")
    poller.poll()
    diagram = SequenceDiagram(lab.transcript.flow(device_code=grant["device_code"]), names=DEVICE_FLOW)
    assert diagram.participants == ["Browser, another device", "Device (your code)", "Authorization server"]
    lines = diagram.text().splitlines()
    assert lines[2] == (" 3. [screen] Device (your code) → Browser, another device: "
                        "shows verification_uri and user_code")
    assert lines[3].endswith("POST /token (grant_type=device_code, client_id, device_code)"), lines[3]
    assert "on screen, not HTTP" in diagram.svg()
    ET.fromstring(diagram.svg())


def test_a_code_flow_diagram_keeps_its_names_and_legend(lab):
    from oauth_lab.flows import authorization_code_flow

    authorization_code_flow(lab, WIDGET, ["customers:ro"])
    diagram = SequenceDiagram(lab.transcript.messages(since=lab.transcript.last_seq() - 4))
    assert "App (your code)" in diagram.participants and "[screen]" not in diagram.text()
    assert "on screen" not in diagram.svg()


# --- reading a page as Jane does -----------------------------------------------------------------

def test_main_text_reads_paragraphs_and_buttons_not_styles():
    page = ("<html><head><style>p { color: red }</style></head><body><header><h1>Site</h1></header>"
            "<main><p>Hello\n   <b>you</b>.</p><form><button>Allow</button> <button>Deny</button></form>"
            "</main></body></html>")
    assert main_text(page) == "Hello you.\n[Allow] [Deny]"


def test_the_device_page_as_jane_reads_it(lab):
    grant = codes(lab)
    page = UserAgent().device_consent_page(grant["verification_uri"], grant["user_code"])
    text = main_text(page.text)
    assert re.search(rf"The device showing {grant['user_code']} runs Fernhollow Chat Widget", text), text
    assert text.endswith("[Allow] [Deny]")
