"""Token anatomy, clock and API explorer widgets, driven by code against real servers.

The servers are module-scoped, so the virtual clock only moves forward across tests: every test
gets fresh tokens and measures time from `lab.clock.now()`, never from a fixed date.
"""
from __future__ import annotations

import json

import pytest
import requests
from joserfc import jws
from joserfc.util import json_b64encode

import mock_server
from flows import code_tokens
from oauth_lab.jwt_access_tokens import with_claims
from oauth_lab.lab import setup
from oauth_lab.server_link import RemoteClock
from oauth_lab.widgets.api_explorer import NO_TOKEN, ApiExplorer
from oauth_lab.widgets.base import escape
from oauth_lab.widgets.clock import ClockWidget, duration
from oauth_lab.widgets.token_anatomy import TokenAnatomy


def _start(**options):
    return mock_server.start(port=mock_server.free_port(), seed=7, **options)


@pytest.fixture(scope="module")
def server():
    handle = _start()
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def opaque_server():
    handle = _start(access_token_format="opaque")
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def lab(server):
    # seed=None: leave oauthlib's randomness alone for the other test modules.
    return setup(seed=None, port=server.settings.port)


@pytest.fixture
def tokens(server):
    return code_tokens(server, scope="chats--access:ro openid")


def plain_text(widget) -> str:
    return widget._repr_mimebundle_()["text/plain"]


def flip_signature_char(token: str) -> str:
    # A character in the middle: the last one may only carry padding bits.
    head, signature = token.rsplit(".", 1)
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{signature[:middle]}{flipped}{signature[middle + 1:]}"


def server_kid(lab) -> str:
    """The kid of the server's only key (no rotation in these tests)."""
    (key,) = requests.get(lab.metadata["jwks_uri"].replace(lab.issuer, lab.url, 1)).json()["keys"]
    return key["kid"]


# --- token anatomy ---------------------------------------------------------------------------

def test_anatomy_checks_a_real_access_token_as_the_api_does(lab, tokens):
    anatomy = TokenAnatomy(tokens["access_token"], lab)
    kid = server_kid(lab)
    assert anatomy.verified and anatomy.problem is None
    assert anatomy.header["typ"] == "at+jwt" and anatomy.claims["sub"] == "jane"
    assert [(c.name, c.passed) for c in anatomy.checks] == [
        ("typ", True), ("signature", True), ("iss", True), ("aud", True), ("exp", True)]
    expires = RemoteClock.format(anatomy.claims["exp"])
    assert anatomy.text() == ("JWT access token, as the API checks it: typ ✓ signature ✓ iss ✓ aud ✓ exp ✓"
                              f" · sub=jane · scope=chats--access:ro openid · expires {expires} (in 60 min)")
    assert escape(f"RS256 with the server's key {kid}") in anatomy.view.value
    assert "the app the token was issued to" in anatomy.view.value  # client_id explained
    assert plain_text(anatomy) == anatomy.text()


def test_an_id_token_is_no_access_token(lab, tokens):
    anatomy = TokenAnatomy(tokens["id_token"], lab)
    assert not anatomy.verified and anatomy.problem == "typ: typ = 'JWT'"
    assert anatomy.text().startswith("JWT access token, as the API checks it: typ ✗")


def test_an_id_token_checked_by_its_audience_the_app(lab, tokens):
    anatomy = TokenAnatomy(tokens["id_token"], lab, kind="ID token", client_id="fernhollow-reports")
    assert anatomy.verified and anatomy.header["kid"] == server_kid(lab)
    assert anatomy.text().startswith("JWT ID token, as the app checks it: signature ✓ iss ✓ aud ✓ exp ✓")
    assert "ties this ID token to that access token" in anatomy.view.value  # at_hash
    other_app = TokenAnatomy(tokens["id_token"], lab, kind="ID token", client_id="fernhollow-widget")
    assert not other_app.verified and other_app.problem.startswith("aud: aud = 'fernhollow-reports'")


def test_an_id_token_checked_against_the_logins_nonce_and_access_token(lab, server):
    tokens = code_tokens(server, scope="openid profile", nonce="n-42")
    anatomy = TokenAnatomy(tokens["id_token"], lab, kind="ID token", client_id="fernhollow-reports",
                           nonce="n-42", access_token=tokens["access_token"])
    assert [(c.name, c.passed) for c in anatomy.checks] == [
        ("signature", True), ("iss", True), ("aud", True), ("exp", True), ("nonce", True), ("at_hash", True)]
    assert anatomy.text().startswith("JWT ID token, as the app checks it: signature ✓ iss ✓ aud ✓ exp ✓ "
                                     "nonce ✓ at_hash ✓ · sub=jane")
    assert "Checks (OIDC Core §3.1.3.7)" in anatomy.view.value


def test_an_id_token_from_another_login_fails_on_nonce(lab, server):
    replayed = code_tokens(server, scope="openid", nonce="n-1")["id_token"]
    anatomy = TokenAnatomy(replayed, lab, kind="ID token", client_id="fernhollow-reports", nonce="n-2")
    assert not anatomy.verified
    assert anatomy.problem == "nonce: nonce = 'n-1', but this login sent 'n-2': replayed"
    assert anatomy.text().startswith("JWT ID token, as the app checks it: signature ✓ iss ✓ aud ✓ exp ✓ nonce ✗")


def test_an_id_token_without_nonce_fails_when_the_login_sent_one(lab, server):
    anatomy = TokenAnatomy(code_tokens(server, scope="openid")["id_token"], lab, kind="ID token",
                           client_id="fernhollow-reports", nonce="n-3")
    assert not anatomy.verified and anatomy.problem.startswith("nonce: nonce = None")


def test_at_hash_ties_the_id_token_to_its_own_access_token(lab, server):
    first, second = (code_tokens(server, scope="openid") for _ in range(2))
    anatomy = TokenAnatomy(first["id_token"], lab, kind="ID token", client_id="fernhollow-reports",
                           access_token=second["access_token"])
    assert not anatomy.verified and anatomy.problem.startswith("at_hash: at_hash = ")
    assert "the access token's is" in anatomy.problem


def test_a_flipped_signature_character_is_caught(lab, tokens):
    anatomy = TokenAnatomy(tokens["access_token"], lab)
    anatomy.value = flip_signature_char(tokens["access_token"])
    assert not anatomy.verified and "bad signature" in anatomy.problem
    assert "signature ✗" in anatomy.text() and "bad signature" in anatomy.view.value


def test_edited_claims_are_shown_but_not_trusted(lab, tokens):
    anatomy = TokenAnatomy(with_claims(tokens["access_token"], sub="ada", team="blue"), lab)
    assert anatomy.claims["sub"] == "ada"  # readable by anyone...
    assert not anatomy.verified and "bad signature" in anatomy.problem  # ...but not signed
    assert "not a registered claim" in anatomy.view.value  # `team`


def test_alg_none_is_refused(lab, tokens):
    segments = jws.extract_compact(tokens["access_token"].encode()).segments
    header = json_b64encode({"alg": "none", "typ": "at+jwt"})
    anatomy = TokenAnatomy(b".".join((header, segments["payload"], segments["signature"])).decode(), lab)
    assert not anatomy.verified and anatomy.problem == "signature: alg 'none' refused: only RS256 is accepted"


def test_a_token_of_another_issuer_is_refused(lab, tokens):
    anatomy = TokenAnatomy(with_claims(tokens["access_token"], iss="https://evil.example"), lab)
    assert not anatomy.verified and "bad signature" in anatomy.problem  # the signature check comes first


def test_garbage_with_two_dots_is_not_a_jwt(lab):
    anatomy = TokenAnatomy("abc.def.ghi", lab)
    assert not anatomy.verified and "base64url" in anatomy.problem


def test_check_again_measures_expiry_on_the_servers_clock(lab, tokens):
    anatomy = TokenAnatomy(tokens["access_token"], lab)
    lab.clock.advance(3600 + 180)
    assert "(in 60 min)" in anatomy.text()  # nothing re-read yet
    anatomy.refresh_button.click()
    assert "exp ✗" in anatomy.text() and anatomy.text().endswith("(3 min ago)")
    assert "expired 3 min ago" in anatomy.view.value
    assert not anatomy.verified and anatomy.problem.startswith("exp: ")
    assert [c.passed for c in anatomy.checks] == [True, True, True, True, False]  # the signature still holds


def test_opaque_token_is_introspected(opaque_server):
    lab = setup(seed=None, port=opaque_server.settings.port)
    access_token = code_tokens(opaque_server, scope="chats--access:ro")["access_token"]
    anatomy = TokenAnatomy(access_token, lab)
    assert anatomy.header == {} and anatomy.claims["active"] is True
    assert anatomy.verified and anatomy.claims["sub"] == "jane"
    assert anatomy.text().startswith("opaque access token, as the API checks it: introspection ✓ active · "
                                     "sub=jane · scope=chats--access:ro · expires ")
    assert "no readable parts" in anatomy.view.value
    anatomy.value = "at_not-a-token-this-server-issued"
    assert not anatomy.verified and "not active" in anatomy.problem
    assert anatomy.claims == {"active": False}


# --- clock -----------------------------------------------------------------------------------

def test_duration_reads_like_a_person():
    assert [duration(s) for s in (45, 3540, 3570, 3600, 4 * 3600 + 600, 3 * 86400)] == [
        "45 s", "59 min", "59 min 30 s", "60 min", "4 h 10 min", "3 days"]


def test_clock_buttons_move_the_servers_clock(lab):
    clock = ClockWidget(lab)
    start = lab.clock.now()
    clock.track("access token", start + 3600)
    assert clock.text() == f"Virtual time {RemoteClock.format(start)} · access token: expires in 60 min"
    assert plain_text(clock) == clock.text()
    clock.plus_1min.click()
    assert lab.clock.now() == start + 60 and clock.text().endswith("expires in 59 min")
    clock.plus_1h.click()
    assert lab.clock.now() == start + 3660 and clock.text().endswith("access token: expired 1 min ago")
    assert "expired 1 min ago" in clock.view.value
    clock.plus_10min.click()
    clock.plus_1day.click()
    clock.advance(30)
    assert lab.clock.now() == start + 3660 + 600 + 86400 + 30
    assert RemoteClock.format(lab.clock.now()) in clock.text()


def test_clock_text_is_a_snapshot_until_refreshed(lab):
    clock = ClockWidget(lab)
    before = clock.text()
    lab.clock.advance(5)  # another cell moves the clock
    assert clock.text() == before  # deterministic: text() makes no request
    clock.refresh()
    assert clock.text() == f"Virtual time {RemoteClock.format(lab.clock.now())}"


# --- API explorer ----------------------------------------------------------------------------

@pytest.fixture
def explorer(lab, tokens):
    return ApiExplorer(lab, {"jane": tokens["access_token"]})


def test_explorer_lists_the_servers_actions(explorer):
    assert explorer.action.value == "list_chats"
    assert "list_customers" in [value for _, value in explorer.action.options]
    assert list(explorer.token.options) == ["jane", NO_TOKEN]
    assert explorer.text() == "not sent yet" and explorer.last_response is None


def test_explorer_200_with_a_token_carrying_the_scope(explorer, tokens):
    explorer.send.click()
    assert explorer.last_response.status_code == 200
    assert explorer.text() == plain_text(explorer) == "POST list_chats with token 'jane' → 200"
    html = explorer.view.value
    assert "allowed: the token carries chats--access:ro" in html
    assert "/v3.5/agent/action/list_chats" in html and "chats_summary" in html
    assert "Authorization: Bearer eyJ0eX…" in html and tokens["access_token"] not in html


def test_explorer_403_shows_the_challenge(explorer):
    explorer.action.value = "list_customers"
    explorer.send.click()
    assert explorer.text() == "POST list_customers with token 'jane' → 403"
    html = explorer.view.value
    metadata = f"{explorer.lab.issuer}/.well-known/oauth-protected-resource/v3.5/agent"  # RFC 9728 §5.1
    assert escape(f'WWW-Authenticate: Bearer realm="agent-api", scope="customers:ro", '
                  f'resource_metadata="{metadata}", error="insufficient_scope"') in html
    assert "the token lacks scope customers:ro" in html


def test_explorer_401_without_a_token(explorer):
    explorer.token.value = NO_TOKEN
    explorer.send.click()
    assert explorer.text() == "POST list_chats with no token → 401"
    assert "Authorization" not in explorer.last_response.request.headers
    assert "no valid token: This API needs an access token" in explorer.view.value
    assert "WWW-Authenticate: Bearer realm=" in explorer.view.value


def test_explorer_400_names_the_payload_problem(explorer):
    explorer.action.value = "get_chat"
    explorer.payload.value = '{"chat_id": 5}'
    explorer.send.click()
    assert explorer.last_response.status_code == 400
    assert "the token is fine but the payload is not" in explorer.view.value


def test_invalid_json_sends_nothing_and_keeps_the_text(explorer, lab):
    before = lab.transcript.last_seq()
    explorer.payload.value = '{"chat_id": "chat-1001",'
    explorer.send.click()
    assert explorer.last_response is None
    assert "/v3.5/agent/action/" not in json.dumps(lab.transcript.messages(before))
    assert explorer.payload.value == '{"chat_id": "chat-1001",'
    assert "not valid JSON" in explorer.view.value and "Nothing was sent" in explorer.view.value
    assert explorer.text() == "payload is not valid JSON: nothing sent"


def test_same_input_same_output(lab, tokens):
    first, second = (TokenAnatomy(tokens["access_token"], lab) for _ in range(2))
    assert first.text() == second.text() and first.view.value == second.view.value
    assert first.text() == first.text()
