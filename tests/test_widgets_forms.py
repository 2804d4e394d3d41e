"""The form-like widgets (scope picker, URL builder, consent panel, registration form), provoked
failures and exercise verdicts — as a learner uses them: set a value or click, then read the result."""
from __future__ import annotations

import contextlib
import re

import pytest
import requests
import ipywidgets as widgets
import traitlets
from joserfc import jwt
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError
from requests_oauthlib import OAuth2Session

import mock_server
from flows import ADMIN_TOOLS, REPORTS, WIDGET, query_of
from oauth_lab.checks import Exercise
from oauth_lab.failures import JOSE, RFC, expect_failure, read_redirect
from oauth_lab.lab import setup
from oauth_lab.widgets.consent_panel import ConsentPanel
from oauth_lab.widgets.registration_form import RegistrationForm
from oauth_lab.widgets.scope_picker import ScopePicker
from oauth_lab.widgets.url_builder import AuthorizationUrlBuilder
from oauth_lab.user_agent import UserAgent

ADMIN_SCOPE = "agents--all:rw"


@pytest.fixture(scope="module")
def lab():
    lab = setup(seed=None, port=mock_server.free_port())
    yield lab
    lab.handle.stop()


def oauth_session(lab, client_id=REPORTS[0], scopes=("chats--access:ro",), redirect_uri=None):
    return OAuth2Session(client_id, redirect_uri=redirect_uri or lab.redirect_uri, scope=list(scopes),
                         pkce="S256")


def auth_url(lab, *args, **kwargs) -> str:
    return oauth_session(lab, *args, **kwargs).authorization_url(lab.metadata["authorization_endpoint"])[0]


def panel(lab, *args, user="jane", **kwargs) -> ConsentPanel:
    return ConsentPanel(lab, auth_url(lab, *args, **kwargs), username=user)


def ticked(picker) -> set:
    return {name for name, box in picker.checkboxes.items() if box.value}


# --- ScopePicker -------------------------------------------------------------------------------

def test_clicking_boxes_sets_value_in_catalog_order(lab):
    picker = ScopePicker(lab)
    assert picker.value == () and picker.scope() == "" and picker.text() == "Scopes chosen: none"
    for name in ("customers:ro", "chats--all:ro", "openid"):
        picker.checkboxes[name].value = True
    assert picker.value == ("chats--all:ro", "customers:ro", "openid")
    assert picker.scope() == "chats--all:ro customers:ro openid"
    picker.checkboxes["customers:ro"].value = False
    assert picker.value == ("chats--all:ro", "openid")


@pytest.mark.parametrize("start", [(), ("chats--all:ro", "customers:ro")], ids=["empty", "same-set"])
def test_setting_value_ticks_the_boxes_and_keeps_catalog_order(lab, start):
    picker = ScopePicker(lab, value=start)
    picker.value = ("customers:ro", "chats--all:ro")
    assert ticked(picker) == {"chats--all:ro", "customers:ro"}
    assert picker.scope() == "chats--all:ro customers:ro"
    picker.value = ()
    assert ticked(picker) == set() and picker.scope() == ""


def test_offer_limits_the_boxes_and_a_name_outside_it_is_not_kept(lab):
    picker = ScopePicker(lab, offer=["customers:ro", "chats--all:ro"])
    assert list(picker.checkboxes) == ["chats--all:ro", "customers:ro"]
    with contextlib.suppress(traitlets.TraitError, ValueError):
        picker.value = ("webhooks--all:rw",)
    assert picker.value == () and picker.text() == "Scopes chosen: none"


@pytest.mark.parametrize("chosen, included, not_included", [
    ("chats--all:rw", {"chats--all:ro", "chats--access:rw", "chats--access:ro", "chats--my:ro"}, set()),
    ("chats--access:ro", {"chats--my:ro"}, {"chats--all:ro", "chats--access:rw", "chats--my:rw"}),
    ("customers:rw", {"customers:ro"}, {"chats--my:ro"}),
    ("customers:ro", set(), {"customers:rw"}),
    ("openid", set(), {"profile", "email"}),
])
def test_included_follows_the_hierarchy_downwards_only(lab, chosen, included, not_included):
    picker = ScopePicker(lab, value=(chosen,))
    found = picker.included()
    assert included <= set(found) and not (not_included | {chosen}) & set(found)
    assert all(found[name] == [chosen] for name in included)
    for name in included:  # the learner sees why a box they did not tick is covered
        assert f"included</b> by {chosen}" in picker._notes[name].value
    assert ("also included" in picker.text()) == bool(included)


@pytest.mark.parametrize("role, value, warned", [
    ("agent", ("chats--all:ro", ADMIN_SCOPE, "webhooks--all:rw"), ["chats--all:ro", ADMIN_SCOPE, "webhooks--all:rw"]),
    ("agent", ("chats--access:rw", "chats--my:rw", "customers:rw"), []),  # what a normal agent grants
    ("agent", ("chats--all:rw",), ["chats--all:rw"]),  # LiveChat: an administrator's scope
    ("administrator", (ADMIN_SCOPE, "webhooks--all:rw"), []),
])
def test_warnings_for_scopes_the_role_cannot_grant(lab, role, value, warned):
    picker = ScopePicker(lab, value=value, role=role, user="jane")
    assert [w.split()[0] for w in picker.warnings()] == warned
    assert all("administrator role" in w and "invalid_scope" in w for w in picker.warnings())
    assert picker.text().count("⚠") == len(warned)


def test_text_face_is_the_plain_text_output(lab):
    picker = ScopePicker(lab, value=("chats--all:rw", ADMIN_SCOPE))
    assert picker.text().startswith("Scopes chosen: chats--all:rw, agents--all:rw (also included: ")
    assert picker._repr_mimebundle_()["text/plain"] == picker.text() == repr(picker)


# --- AuthorizationUrlBuilder -------------------------------------------------------------------

def test_url_carries_the_parameters_and_parses_back(lab):
    builder = AuthorizationUrlBuilder(lab, REPORTS[0], scopes=["chats--all:ro", "customers:ro"])
    assert builder.parameters() == {"response_type": "code", "client_id": REPORTS[0],
                                    "redirect_uri": lab.redirect_uri, "scope": "chats--all:ro customers:ro",
                                    "state": "xyz-123"}
    assert builder.value.startswith(lab.metadata["authorization_endpoint"] + "?")
    assert query_of(builder.value) == builder.parameters()
    assert builder.text().splitlines()[0] == builder.value


@pytest.mark.parametrize("field, typed", [
    ("client_id", WIDGET), ("redirect_uri", "http://127.0.0.1:8765/callback"),
    ("scope", "customers:ro"), ("state", "a b&c=d/é"),
])
def test_url_follows_each_field_as_it_is_typed(lab, field, typed):
    builder = AuthorizationUrlBuilder(lab, REPORTS[0], scopes=["chats--all:ro"])
    getattr(builder, field).value = typed
    assert builder.parameters()[field] == typed
    assert query_of(builder.value) == builder.parameters()


@pytest.mark.parametrize("field", ["scope", "state", "code_challenge"])
def test_an_empty_field_is_left_out_of_the_url(lab, field):
    builder = AuthorizationUrlBuilder(lab, REPORTS[0], scopes=["chats--all:ro"], code_challenge="abc")
    getattr(builder, field).value = ""
    assert field not in query_of(builder.value) and field not in builder.parameters()


@pytest.mark.parametrize("challenge, expected", [
    ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", {"code_challenge_method": "S256"}), (None, {})])
def test_code_challenge_brings_its_method(lab, challenge, expected):
    query = query_of(AuthorizationUrlBuilder(lab, WIDGET, code_challenge=challenge).value)
    assert {k: v for k, v in query.items() if k.startswith("code_challenge_")} == expected
    assert query.get("code_challenge") == challenge


def test_url_follows_a_linked_scope_picker(lab):
    picker = ScopePicker(lab, value=("customers:ro",))
    builder = AuthorizationUrlBuilder(lab, REPORTS[0], scopes=picker)
    assert query_of(builder.value)["scope"] == "customers:ro"
    picker.checkboxes["chats--all:ro"].value = True
    assert query_of(builder.value)["scope"] == "chats--all:ro customers:ro"
    picker.value = ()
    assert "scope" not in query_of(builder.value)


def test_every_label_has_the_room_of_the_longest(lab):
    """ipywidgets gives a description 80 px and cuts the rest ("code_chal…"): one width for all,
    set for "code_challenge" (the browser test measures it)."""
    builder = AuthorizationUrlBuilder(lab, REPORTS[0])
    fields = [w for w in builder.children if isinstance(w, widgets.Text)]
    assert [f.description for f in fields] == ["client_id", "redirect_uri", "scope", "state", "code_challenge"]
    assert {f.style.description_width for f in fields} == {"8.5em"}


def test_built_url_is_one_the_server_accepts(lab):
    builder = AuthorizationUrlBuilder(lab, REPORTS[0], scopes=["customers:ro", "chats--access:ro"],
                                      code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    consent = ConsentPanel(lab, builder.value)
    assert [name for _, name in consent.asked] == ["chats--access:ro", "customers:ro"]
    assert consent.decide("Allow") and consent.received()["state"] == "xyz-123"


# --- ConsentPanel ------------------------------------------------------------------------------

def test_panel_lists_the_scopes_of_the_real_consent_page(lab):
    consent = panel(lab, scopes=("customers:ro", "chats--access:ro"))
    assert consent.heading == "Allow Fernhollow Reports?"
    assert consent.asked == [("Read chats in the groups you have access to", "chats--access:ro"),
                             ("See your customers' details", "customers:ro")]
    assert consent.value == "" and not consent.allow.disabled and not consent.deny.disabled
    assert consent.text().endswith("Waiting for Allow or Deny.")
    assert consent._repr_mimebundle_()["text/plain"] == consent.text()


def test_allow_sends_the_browser_back_with_code_state_and_iss(lab):
    session = oauth_session(lab)
    url, state = session.authorization_url(lab.metadata["authorization_endpoint"])
    consent = ConsentPanel(lab, url)
    consent.allow.click()
    got = consent.received()
    assert consent.value.startswith(lab.redirect_uri + "?") and query_of(consent.value) == got
    assert set(got) == {"code", "state", "iss"} and got["state"] == state and got["iss"] == lab.issuer
    assert consent.allow.disabled and consent.deny.disabled
    assert "Allow → app receives: code=" in consent.text() and got["code"] not in consent.text()


@pytest.mark.parametrize("again", [lambda c: c.allow.click(), lambda c: c.deny.click(),
                                   lambda c: c.decide("Deny")], ids=["allow", "deny", "decide"])
def test_a_second_click_changes_nothing(lab, again):
    consent = panel(lab)
    first = consent.decide("Allow")
    again(consent)
    assert consent.value == first and consent.decision == "Allow"


def test_deny_sends_access_denied(lab):
    consent = panel(lab)
    assert query_of(consent.decide("Deny"))["error"] == "access_denied"
    assert "code" not in consent.received() and consent.text().splitlines()[-1].startswith("Deny → ")


@pytest.mark.parametrize("kwargs, status, reason", [
    ({"redirect_uri": "http://evil.example/callback"}, 400, "not supported"),
    ({"client_id": "no-such-app"}, 400, "does not exist"),
], ids=["unregistered-redirect-uri", "unknown-client"])
def test_error_page_gives_no_redirect_and_no_buttons(lab, kwargs, status, reason):
    consent = panel(lab, **kwargs)
    assert consent.heading.startswith(f"Error page, no redirect (HTTP {status})") and reason in consent.heading
    assert consent.text() == consent.heading and consent.asked == []
    assert consent.value == "" and consent.received() == {} and consent.allow.disabled
    assert consent.decide("Allow") == ""


def test_wrong_password_is_an_error_page(lab):
    consent = ConsentPanel(lab, auth_url(lab), password="not-janes-password")
    assert "HTTP 401" in consent.heading and consent.value == "" and consent.deny.disabled


@pytest.mark.parametrize("client_id, scopes", [
    (REPORTS[0], ("chats--access:ro", "no-such:scope")), (ADMIN_TOOLS[0], (ADMIN_SCOPE,)),
    (ADMIN_TOOLS[0], ("chats--all:ro",))],
    ids=["unknown-scope", "admin-scope-for-an-agent", "all-chats-for-an-agent"])
def test_scope_refused_before_consent_redirects_invalid_scope(lab, client_id, scopes):
    consent = panel(lab, client_id, scopes)
    got = consent.received()
    assert got["error"] == "invalid_scope" and "code" not in got and got["iss"] == lab.issuer
    assert consent.asked == [] and consent.allow.disabled
    assert "No consent page" in consent.text() and "error=invalid_scope" in consent.text()


def test_admin_scope_is_offered_to_an_administrator(lab):
    consent = panel(lab, ADMIN_TOOLS[0], (ADMIN_SCOPE,), user="ada")
    assert [name for _, name in consent.asked] == [ADMIN_SCOPE] and "(as ada)" in consent.text()
    assert "code" in query_of(consent.decide("Allow"))


def test_after_run_all_the_decided_panel_offers_try_again(lab):
    """Run All: the cell after the panel decided (Allow). Try again sends the same request once more
    — a new consent page, a new code, the same state — for a click of the learner's own."""
    session = oauth_session(lab)
    url, state = session.authorization_url(lab.metadata["authorization_endpoint"])
    consent = ConsentPanel(lab, url)
    assert consent.again.layout.display == "none"  # nothing to try again yet
    first = consent.value or consent.decide("Allow")  # the notebook's next cell
    assert consent.again.layout.display == "" and "Try again asks once more" in consent._result.value
    shown = consent.text()

    consent.again.click()
    assert consent.value == "" and consent.decision is None and consent.text().endswith("Waiting for Allow or Deny.")
    assert not consent.allow.disabled and not consent.deny.disabled and consent.again.layout.display == "none"
    assert consent.heading == "Allow Fernhollow Reports?" and consent._result.value == ""
    consent.deny.click()
    got = consent.received()
    assert got["error"] == "access_denied" and got["state"] == state and "code" not in got
    assert "Run the cells below again to use this answer." in consent._result.value
    assert consent.text() != shown and consent.text().splitlines()[-1].startswith("Deny → app receives")

    consent.again.click()
    consent.allow.click()
    assert query_of(consent.value)["code"] != query_of(first)["code"] and consent.received()["state"] == state
    # the app's session, still waiting with its state and PKCE verifier, redeems the new code
    token = session.fetch_token(lab.endpoint("token"), authorization_response=consent.value, client_secret=REPORTS[1])
    assert token["scope"] == ["chats--access:ro"]


def test_read_what_my_app_received_after_try_again_waits_for_the_new_answer(lab):
    """The first answer (state s) reached the app too: after Try again, only a newer one counts."""
    url = auth_url(lab)
    consent = ConsentPanel(lab, url)
    first = consent.decide("Allow")
    consent.again.click()
    assert consent.read_from_app() == "" and "received nothing for this request yet" in consent._result.value
    browser = UserAgent("jane", "jane-password", lab.reach())  # the learner's own browser
    browser.visit(browser.authorize(url, "Deny"))
    assert query_of(consent.read_from_app())["error"] == "access_denied" and consent.value != first
    assert consent.decision == "Decided in your browser" and consent.again.layout.display == ""


@pytest.mark.parametrize("make", [
    lambda lab: panel(lab, redirect_uri="http://evil.example/callback"),  # error page
    lambda lab: panel(lab, REPORTS[0], ("no-such:scope",)),  # error redirect, no consent page
], ids=["error-page", "error-redirect"])
def test_an_error_is_not_offered_again(lab, make):
    consent = make(lab)
    before = (consent.value, consent.text())
    assert consent.again.layout.display == "none"
    consent.try_again()
    assert (consent.value, consent.text()) == before


def test_a_request_with_a_nonce_says_which_cell_to_run_instead(lab):
    """The same request again would replay its nonce, which the server refuses as a replay."""
    session = OAuth2Session(REPORTS[0], redirect_uri=lab.redirect_uri, scope=["openid"], pkce="S256")
    consent = ConsentPanel(lab, session.authorization_url(lab.metadata["authorization_endpoint"], nonce="n-1")[0])
    decided = consent.decide("Allow")
    assert consent.again.layout.display == "none" and "run this cell again" in consent._result.value
    consent.try_again()
    assert consent.value == decided
    replayed = ConsentPanel(lab, consent.authorization_url)  # what Try again would have sent
    assert replayed.received()["error"] == "invalid_request" and "code" not in replayed.received()


# --- RegistrationForm --------------------------------------------------------------------------

@pytest.mark.parametrize("app_type, method, has_secret", [
    ("server-side", "client_secret_basic", True), ("browser", "none", False)])
def test_register_click_returns_the_client(lab, app_type, method, has_secret):
    form = RegistrationForm(lab, name="Quiz App", app_type=app_type, redirect_uris=lab.redirect_uri,
                            scopes=("chats--access:ro",))
    assert form.value == {} and form.text() == "Not registered yet: click Register app."
    form.register.click()
    assert form.value["client_id"] and form.value["token_endpoint_auth_method"] == method
    assert ("client_secret" in form.value) == has_secret and form.error == ""
    assert form.text().startswith(f"Registered 'Quiz App': client_id {form.value['client_id']}")
    # the new app is real: its users see its name on the consent page
    assert panel(lab, form.value["client_id"]).heading == "Allow Quiz App?"


def test_metadata_maps_the_form_fields(lab):
    form = RegistrationForm(lab, name="Reports 2", app_type="browser", scopes=("customers:ro",),
                            redirect_uris=" http://127.0.0.1:8765/a,http://127.0.0.1:8765/b\n\n http://x.test/c ")
    form.scopes.checkboxes["chats--all:ro"].value = True
    assert form.metadata() == {
        "client_name": "Reports 2", "token_endpoint_auth_method": "none",
        "redirect_uris": ["http://127.0.0.1:8765/a", "http://127.0.0.1:8765/b", "http://x.test/c"],
        "grant_types": ["authorization_code", "refresh_token"], "scope": "chats--all:ro customers:ro"}


@pytest.mark.parametrize("typed", ["not a uri", "http://127.0.0.1:8765/cb#fragment"])
def test_bad_redirect_uri_is_refused_and_the_text_kept(lab, typed):
    form = RegistrationForm(lab, redirect_uris=typed)
    assert form.submit() == {} and form.value == {}
    assert "invalid_redirect_uri" in form.error and form.error.startswith("400 ")
    assert form.redirect_uris.value == typed and form.text() == f"Registration refused — {form.error}"


def test_fixing_the_uri_then_breaking_it_again(lab):
    form = RegistrationForm(lab, redirect_uris="not a uri")
    form.register.click()
    form.redirect_uris.value = "http://127.0.0.1:8765/callback"
    form.register.click()
    assert form.value["client_id"] and form.error == ""
    form.redirect_uris.value = "relative/path"
    form.register.click()
    assert form.value == {} and "invalid_redirect_uri" in form.error


# --- expect_failure / read_redirect ------------------------------------------------------------

def test_reused_code_shows_the_library_error_and_the_servers_answer(lab):
    session = oauth_session(lab)
    back = ConsentPanel(lab, session.authorization_url(lab.metadata["authorization_endpoint"])[0]).decide()
    fetch = dict(authorization_response=back, client_secret=REPORTS[1])
    session.fetch_token(lab.endpoint("token"), **fetch)
    with expect_failure(lab) as failure:
        session.fetch_token(lab.endpoint("token"), **fetch)
        pytest.fail("a reused code must be refused")  # not reached: the line above raises
    assert isinstance(failure.exception, InvalidGrantError) and failure.error == "invalid_grant"
    description = failure._body()["error_description"]
    for line in ("Your app sees: oauthlib: InvalidGrantError", "Server answered: HTTP 400 from POST /token",
                 f"error_description: {description}", f"Standard: {RFC['invalid_grant']}"):
        assert line in failure.text().splitlines()
    assert "already used" in description and f">{RFC['invalid_grant']}</td>" in failure._repr_html_()


def test_a_call_that_succeeds_says_no_error(lab):
    with expect_failure(lab) as failure:
        requests.get(f"{lab.url}/scopes", timeout=5).raise_for_status()
    assert failure.exception is None and failure.error is None
    assert failure.text() == "Result: no error — the call succeeded, which this cell did not expect"


def test_rejected_bearer_token_names_the_rfc_6750_error(lab):
    with expect_failure(lab) as failure:
        requests.post(lab.api("list_chats"), json={}, headers={"Authorization": "Bearer forged"},
                      timeout=5).raise_for_status()
    assert isinstance(failure.exception, requests.HTTPError)
    assert "Server answered: HTTP 401" in failure.text() and "WWW-Authenticate: Bearer" in failure.text()
    assert failure.error == "invalid_token" and RFC["invalid_token"] in failure.text()


def test_failure_without_a_server_answer_shows_the_exception_only(lab):
    with expect_failure(lab) as failure:
        raise ValueError("typo in my cell")
    assert failure.answer is None
    assert failure.text() == ("Your app sees: builtins: ValueError\nServer answered: nothing: no request "
                              "reached it\nIt says: typo in my cell")


def test_a_token_the_app_refuses_itself_cites_jose_not_an_oauth_error_code(lab):
    """joserfc's "expired_token" is not RFC 8628's expired device code."""
    claims = jwt.JWTClaimsRegistry(now=2_000_000_000, exp={"essential": True})
    with expect_failure(lab) as failure:
        claims.validate({"exp": 1_000_000_000})
    assert failure.error == "expired_token" and failure.answer is None
    assert f"Standard: {JOSE['expired_token']}" in failure.text().splitlines()
    assert RFC["expired_token"] not in failure.text()
    with expect_failure(lab) as failure:
        jwt.JWTClaimsRegistry(nonce={"essential": True, "value": "mine"}).validate({"nonce": "theirs"})
    assert "Your app sees: joserfc: InvalidClaimError" in failure.text()
    assert f"Standard: {JOSE['invalid_claim']}" in failure.text().splitlines()


def test_interrupting_the_kernel_is_not_swallowed(lab):
    with pytest.raises(KeyboardInterrupt), expect_failure(lab):
        raise KeyboardInterrupt


def test_read_redirect_explains_code_state_and_iss(lab):
    lines = read_redirect(panel(lab).decide()).text().splitlines()
    assert [line.split(" = ")[0] for line in lines] == ["code", "state", "iss"]
    for line, meaning in zip(lines, ("single use", "compare it with what you sent", "RFC 9207")):
        assert meaning in line


@pytest.mark.parametrize("error", ["access_denied", "invalid_scope"])
def test_read_redirect_explains_an_error(lab, error):
    reading = read_redirect(f"{lab.redirect_uri}?error={error}&error_description=Said+no&state=s1")
    assert reading.text().splitlines() == [f"error = {error}  — {RFC[error]}",
                                           "error_description = Said no  — a human-readable reason",
                                           "state = s1  — your own value, back unchanged: compare it "
                                           "with what you sent"]


def test_read_redirect_as_a_table_that_reads_straight(lab):
    """JupyterLab right-aligns table cells: every cell here says left, and each parameter has its
    name, its value and its meaning in three columns, under a header."""
    page = read_redirect(f"{lab.redirect_uri}?code=ac_1&state=s1&iss=http%3A%2F%2Fas.example")._repr_html_()
    cells = re.findall(r"<(t[dh]) style='([^']*)'>(.*?)</t[dh]>", page)
    assert len(cells) == 3 * 4 and all("text-align:left" in style for _, style, _ in cells)
    assert [c for _, _, c in cells[:6]] == ["parameter", "value", "what it means", "<code>code</code>",
                                             "<code>ac_1</code>", "the authorization code: single use, short-lived"]
    assert [c for _, _, c in cells[9:11]] == ["<code>iss</code>", "<code>http://as.example</code>"]


def test_read_redirect_without_parameters_is_empty():
    assert read_redirect("http://127.0.0.1:8765/callback").text() == ""


# --- Exercise / Verdict ------------------------------------------------------------------------

def exercise(problem, solution="solutions/ex1.py"):
    return Exercise("Ask for the right scope", problem, hint="Look at the API's error.",
                    solution=solution, success="the API answers 200.", context=("token",))


def test_right_answer_is_a_tick_without_hint():
    verdict = exercise(lambda answer: None).check("chats--all:ro")
    assert verdict and verdict.passed
    assert verdict.text() == repr(verdict) == "✓ Ask for the right scope: the API answers 200."


@pytest.mark.parametrize("solution, last", [("solutions/ex1.py", "Stuck? %load solutions/ex1.py"),
                                            ("", "Hint: Look at the API's error.")])
def test_wrong_answer_is_a_cross_with_hint(solution, last):
    verdict = exercise(lambda answer: f"{answer} is too narrow", solution).check("chats--my:ro")
    assert not verdict
    lines = verdict.text().splitlines()
    assert lines[0] == "✗ Ask for the right scope: chats--my:ro is too narrow"
    assert lines[1] == "Hint: Look at the API's error." and lines[-1] == last


def test_no_answer_yet_does_not_run_the_check():
    def problem(answer):
        raise AssertionError("must not be called")
    verdict = exercise(problem).check(None)
    assert not verdict and "no answer yet" in verdict.text() and "Hint:" in verdict.text()


def test_a_check_that_raises_is_a_cross_not_a_crash():
    verdict = exercise(lambda answer: answer["missing"]).check({})
    assert not verdict
    assert "checking your answer failed (KeyError: 'missing')" in verdict.text().splitlines()[0]


def test_context_reaches_the_check():
    seen = []
    verdict = exercise(lambda answer, token: seen.append((answer, token))).check("a", "tok")
    assert verdict and seen == [("a", "tok")]


def test_html_colour_differs_and_escapes_the_answer():
    right = exercise(lambda answer: None).check("x")._repr_html_()
    wrong = exercise(lambda answer: "<script>bad</script>").check("x")._repr_html_()
    colour = lambda html: html.split("solid ")[1].split(";")[0]  # noqa: E731
    assert colour(right) != colour(wrong)
    assert "<script>" not in wrong and "&lt;script&gt;" in wrong and "<br>" in wrong
