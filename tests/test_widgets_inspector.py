"""The exchange inspector and its sequence diagram, on a known transcript and on a real flow."""
from __future__ import annotations

import base64
import html
import json
import re
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from flows import code_tokens
from oauth_lab.server_link import RemoteTranscript
from oauth_lab.widgets.diagram import SequenceDiagram, hide_params
from oauth_lab.widgets.inspector import ExchangeInspector

CODE = "ac_9f3kQ7vSecretCodeValue"
VERIFIER = "verifier-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFG"
ACCESS = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJqYW5lIn0.c2lnbmF0dXJlLXNlY3JldA"
REFRESH = "rt_RefreshSecretValue456"
PASSWORD = "jane-password"
CSRF = "csrfSecretValue789"
BASIC = "Ymx1ZXNreS1yZXBvcnRzOnJlcG9ydHMtc2VjcmV0"
SECRETS = (CODE, VERIFIER, ACCESS, REFRESH, PASSWORD, CSRF, BASIC)

AUTHORIZE = "/authorize?response_type=code&client_id=fernhollow-reports&state=s-123&scope=chats--all%3Aro"
CALLBACK = f"http://127.0.0.1:8765/callback?code={CODE}&state=s-123&iss=http%3A%2F%2F127.0.0.1%3A5001"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
JSON = {"Content-Type": "application/json"}


def message(seq, method, path, status, channel="front", request_headers=None, request_body="",
            response_headers=None, response_body=""):
    return {"seq": seq, "time": 1767603600, "channel": channel, "method": method, "path": path,
            "request_headers": request_headers or {}, "request_body": request_body, "status": status,
            "response_headers": response_headers or {}, "response_body": response_body, "keys": []}


FLOW = [
    message(1, "GET", AUTHORIZE, 200, response_headers=HTML,
            response_body="<HTML page: Sign in — Fernhollow Accounts>"),
    message(2, "POST", "/login", 302, request_headers=FORM,
            request_body=f"csrf_token={CSRF}&username=jane&password={PASSWORD}",
            response_headers={"Location": f"http://127.0.0.1:5001{AUTHORIZE}"}),
    message(3, "GET", AUTHORIZE, 200, response_headers=HTML,
            response_body="<HTML page: Allow Fernhollow Reports? — Fernhollow Accounts>"),
    message(4, "POST", AUTHORIZE, 302, request_headers=FORM,
            request_body=f"csrf_token={CSRF}&decision=allow", response_headers={"Location": CALLBACK}),
    message(5, "POST", "/token", 200, "back", {"Authorization": f"Basic {BASIC}", **FORM},
            f"grant_type=authorization_code&code={CODE}&code_verifier={VERIFIER}", JSON,
            json.dumps({"access_token": ACCESS, "refresh_token": REFRESH, "token_type": "Bearer"})),
    message(6, "POST", "/v3.5/agent/action/list_chats", 200, "back",
            {"Authorization": f"Bearer {ACCESS}", **JSON}, "{}", JSON, '{"found_chats": 5}'),
]
BROWSER, APP, SERVER, API = "User's browser", "App (your code)", "Authorization server", "API (resource server)"


@pytest.fixture
def inspector():
    return ExchangeInspector(FLOW, "Code flow")


def html_of(inspector: ExchangeInspector) -> str:
    return inspector._exchanges.value + inspector._diagram.value


def test_one_arrow_per_request_and_response_in_order():
    arrows = SequenceDiagram(FLOW).arrows
    assert [(a.source, a.target, a.response) for a in arrows] == [
        *[(BROWSER, SERVER, False), (SERVER, BROWSER, True)] * 4,
        (BROWSER, APP, False),  # the code's delivery through the browser
        (APP, SERVER, False), (SERVER, APP, True),
        (APP, API, False), (API, APP, True),
    ]
    assert [a.label for a in arrows] == [
        "GET /authorize (response_type=code, client_id, state, scope)",
        "200 page “Sign in”",
        "POST /login (username, password)",
        "302 → /authorize",
        "GET /authorize (response_type=code, client_id, state, scope)",
        "200 page “Allow Fernhollow Reports?”",
        "POST /authorize (decision=allow)",
        "302 → callback ?code=ac_9f3…&state=s-123&iss=http://127.0.0.1:5001",
        "redirect to callback: code, state, iss",
        "POST /token (grant_type=authorization_code, code, code_verifier)",
        "200 access_token, refresh_token",
        "POST list_chats",
        "200 found_chats",
    ]


def test_text_is_numbered_one_line_per_arrow():
    lines = SequenceDiagram(FLOW, "Code flow").text().splitlines()
    assert lines[0] == "Code flow" and len(lines) == 14
    assert lines[9] == " 9. [front] User's browser → App (your code): redirect to callback: code, state, iss"
    assert lines[11] == "11. [back] Authorization server ⇢ App (your code): 200 access_token, refresh_token"


def test_admin_calls_are_left_out():
    admin = message(7, "GET", "/_mock/transcript?since=6", 200, "back")
    assert SequenceDiagram(FLOW + [admin]).text() == SequenceDiagram(FLOW).text()


def test_messages_are_grouped_by_leg(inspector):
    page = inspector._exchanges.value
    front, back = page.index("Front channel — through the user"), page.index("Back channel — app ↔ server")
    assert front < page.index("/login") < page.index("decision") < back < page.index("/token")
    assert inspector.text().splitlines()[-6:] == [
        "front GET /authorize → 200", "front POST /login → 302", "front GET /authorize → 200",
        "front POST /authorize → 302", "back POST /token → 200", "back POST /v3.5/agent/action/list_chats → 200",
    ]


def test_bodies_are_readable(inspector):
    page = inspector._exchanges.value
    assert ">grant_type</th>" in page and ">authorization_code</code>" in page  # form as a table
    assert "&quot;token_type&quot;: &quot;Bearer&quot;" in page  # JSON pretty-printed


def test_secrets_are_masked_until_shown(inspector):
    for secret in SECRETS:
        assert secret not in html_of(inspector) and secret not in inspector.text(), secret
    assert "Basic Ymx1ZX…" in inspector._exchanges.value
    inspector.show_secrets.value = True
    for secret in SECRETS:
        assert secret in html_of(inspector), secret
    assert CODE in inspector.text()


def test_masking_keeps_the_wire_form():
    url = f"/callback?code={CODE}&redirect_uri=http%3A%2F%2F127.0.0.1%3A5001%2Fcallback"
    assert hide_params(url) == "/callback?code=ac_9f3…&redirect_uri=http%3A%2F%2F127.0.0.1%3A5001%2Fcallback"
    assert hide_params(url, show=True) == url


def test_svg_is_valid_and_deterministic():
    svg = SequenceDiagram(FLOW, "Code flow").svg()
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and int(root.get("width")) > 0
    assert svg == SequenceDiagram(json.loads(json.dumps(FLOW)), "Code flow").svg()
    assert ET.fromstring(SequenceDiagram([]).svg()) is not None


def test_in_html_the_diagram_is_an_image_that_shrinks_to_the_output(inspector):
    """JupyterLab shows an image/svg+xml output at the drawing's own width, cut off when the
    output is narrower; the HTML face is the same drawing, no wider than the output (the browser
    test measures it)."""
    diagram = inspector.diagram()
    page = diagram._repr_html_()
    found = re.fullmatch(r"<img src='data:image/svg\+xml;base64,([^']+)' alt='([^']*)' "
                         r"style='max-width:100%;height:auto'>", page)
    assert found and base64.b64decode(found[1]).decode() == diagram.svg()
    assert html.unescape(found[2]) == diagram.text()
    assert int(ET.fromstring(diagram.svg()).get("width")) > 968  # wider than JupyterLab's output at 1280 px


def test_text_faces(inspector):
    diagram = inspector.diagram()
    assert inspector._repr_mimebundle_()["text/plain"] == inspector.text()
    assert diagram._repr_svg_() == diagram.svg() and repr(diagram) == diagram.text()
    assert inspector.text().startswith(diagram.text())


def test_a_real_flow(server):
    lab = SimpleNamespace(transcript=RemoteTranscript(server.url, server.owner_key))  # what for_flow reads
    step = lab.transcript.mark()
    code_tokens(server)  # front channel through UserAgent (state "s-123"), then POST /token
    inspector = ExchangeInspector.for_flow(lab, state="s-123")
    lines = inspector.diagram().text().splitlines()
    assert any("Authorization server ⇢ User's browser: 303 → /authorize" in line for line in lines)  # after login
    assert any("Authorization server ⇢ User's browser: 302 → callback ?code=ac_" in line for line in lines)
    assert any("User's browser → App (your code): redirect to callback: code, state" in line for line in lines)
    assert "back POST /token → 200" in inspector.text()
    assert ExchangeInspector.for_step(step).text() == inspector.text()  # the mark's own call left out


@pytest.mark.parametrize("server, shown", [
    (None, "303 → /user/learner/oauth/authorize"),  # a transcript read without knowing the server
    ("https://hub.test/user/learner/oauth", "303 → /authorize"),  # as its requests' paths read
    ("https://elsewhere.example", "303 → /user/learner/oauth/authorize"),
])
def test_a_redirect_within_the_server_reads_as_its_own_path_behind_a_hub(server, shown):
    """Behind a hub the server redirects to its public URL (…/oauth/authorize) while the next
    request reads /authorize: the diagram names both the same way."""
    login = {**message(2, "POST", "/login", 303, response_headers={
        "Location": "https://hub.test/user/learner/oauth/authorize?response_type=code"}), "server": server}
    lines = SequenceDiagram([login]).text().splitlines()
    assert lines[-1].endswith(f"Authorization server ⇢ User's browser: {shown}"), lines
