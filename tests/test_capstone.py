"""The capstone's grader, fed the worked solution and the mistakes a learner makes.

Each wrong app below is the worked solution with one realistic mistake. The grader must fail the
phase the mistake is in, with a hint naming it, and pass every phase before it: that is what the
learner reads. It finds the app from the server's record alone (a mark or the client_id), and
plants an answer on the app's callback (phase 2). Every phase grades the app's last attempt at its
step: a mistake fixed later passes, a mistake made after a success fails, and what the server
refused because the app had revoked the token (the app checking its disconnect) or because the
access token had expired is no attempt.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from oauthlib.oauth2 import InvalidGrantError, MobileApplicationClient, WebApplicationClient
from requests_oauthlib import OAuth2Session

import mock_server
from oauth_lab.capstone import PLANTED, SCOPE, grade
from oauth_lab.exercises import capstone
from oauth_lab.lab import setup
from oauth_lab.user_agent import UserAgent, forms_of


@pytest.fixture(scope="module")
def lab():
    lab = setup(seed=None, port=mock_server.free_port())
    yield lab
    lab.handle.stop()


class LearnersApp:
    """The worked solution, one step a method; a keyword changes what that step sends."""

    def __init__(self, lab, client_id=None, **metadata):
        self.lab, self.client_id = lab, client_id
        if client_id is None:  # registered here, through RFC 7591
            sent = {"client_name": "Customer Lookup", "redirect_uris": [lab.redirect_uri],
                    "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"],
                    "scope": SCOPE, **metadata}
            self.client_id = requests.post(lab.endpoint("registration"), json={
                k: v for k, v in sent.items() if v is not None}).json().get("client_id")

    def ask(self, decision="Allow", scope=(SCOPE,), url_params=None, **session) -> str:
        """The authorization request; Jane signs in and decides. Returns what the app receives."""
        self.session = OAuth2Session(self.client_id, scope=list(scope),
                                     **{"redirect_uri": self.lab.redirect_uri, "pkce": "S256", **session})
        url, _ = self.session.authorization_url(self.lab.metadata["authorization_endpoint"], **(url_params or {}))
        return self.decide(url, decision)

    def decide(self, url: str, decision="Allow") -> str:
        browser = UserAgent("jane", "jane-password", self.lab.reach())
        self.redirect = browser.authorize(url, decision)
        browser.visit(self.redirect)
        return self.redirect

    def trade(self, session=None, redirect=None, **fetch) -> dict:
        return (session or self.session).fetch_token(
            self.lab.endpoint("token"), authorization_response=redirect or self.redirect,
            **{"include_client_id": True, **fetch})

    def callback(self, redirect: str) -> dict:
        """The redirect URI's handler: the session that made the request compares the state."""
        return self.trade(redirect=redirect)

    def call(self, token=None, **how) -> requests.Response:
        """The API call: the session's own (Authorization: Bearer), or a token sent some other way."""
        if token is None and not how:
            return self.session.post(self.lab.api("list_customers"), json={})
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(self.lab.api("list_customers"), json={}, headers=headers, **how)

    def refresh(self, refresh_token=None, **sent) -> dict:
        self.lab.clock.advance(3600)  # the access token has expired
        return self.session.refresh_token(self.lab.endpoint("token"), refresh_token=refresh_token,
                                          **{"client_id": self.client_id, **sent})

    def disconnect(self, token=None, **data) -> requests.Response:
        return requests.post(self.lab.endpoint("revocation"), data={
            "token": token or self.session.token["refresh_token"], "client_id": self.client_id, **data})

    def until_revocation(self):
        self.ask()
        self.trade()
        self.call()
        self.refresh()
        self.call()
        return self

    def whole_flow(self):
        self.until_revocation().disconnect()
        return self


def graded(app: LearnersApp, callback=None):
    """The grader's report on the app, handed its callback (or another one)."""
    return grade(app.lab, app.client_id, callback or app.callback)


def by_number(report) -> dict:
    return {v.title.split(" · ")[0]: v for v in report.verdicts}


def console_registration(lab, app_type: str) -> str:
    """Register through the Developer Console page, as a learner's browser would; the client id."""
    browser = requests.Session()
    form = forms_of(browser.get(f"{lab.url}/console").text)[-1].fields
    page = browser.post(f"{lab.url}/console", data=dict(
        form, client_name="Console Lookup", app_type=app_type, redirect_uris=lab.redirect_uri, scope=SCOPE))
    assert page.status_code == 201, page.text
    [key] = [k for k in lab.transcript.messages(lab.transcript.last_seq() - 1)[0]["keys"]
             if k.startswith("client_id:")]
    return key.split(":", 1)[1]


# --- the worked solution, and how the grader finds it ----------------------------------------------

def test_the_worked_solution_passes_every_phase(lab):
    app = LearnersApp(lab).whole_flow()
    report = graded(app)
    assert report.passed, report.text()
    assert report.text().startswith(f"✓ Capstone — Customer Lookup (client_id {app.client_id}): 7 of 7")
    assert [v.title for v in report.verdicts] == [
        "1 · registration", "2 · authorization request", "3 · token exchange", "4 · API call",
        "5 · refresh", "6 · revocation", "7 · the tokens no longer work"]
    assert "Hint:" not in report.text() and "Stuck?" not in report.text()


def test_the_report_draws_the_apps_own_messages(lab):
    app = LearnersApp(lab).whole_flow()
    arrows = graded(app).diagram().arrows
    steps = [arrow.label.split(" (")[0].split(":")[0] for arrow in arrows if not arrow.response]
    assert steps == ["POST /register", "GET /authorize", "POST /login", "GET /authorize", "POST /authorize",
                     "redirect to callback", "POST /token", "POST list_customers", "POST /token",
                     "POST list_customers", "POST /revoke"]  # the grader's own introspection is not the app's


def test_a_mark_grades_the_app_registered_last_after_it(lab):
    LearnersApp(lab).ask()  # an earlier attempt, before the mark
    mark = lab.transcript.mark()
    first = LearnersApp(lab)
    second = LearnersApp(lab).whole_flow()
    report = grade(lab, mark, second.callback)
    assert report.passed and second.client_id in report.app and first.client_id not in report.app


def test_the_id_the_server_gave_is_graded_not_one_the_registration_named(lab):
    mark = lab.transcript.mark()
    answer = requests.post(lab.endpoint("registration"), json={
        "client_id": "!my-own-id", "client_name": "Customer Lookup", "redirect_uris": [lab.redirect_uri],
        "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"],
        "scope": SCOPE}).json()
    assert answer["client_id"] != "!my-own-id"  # the server chooses it
    assert "client_id:!my-own-id" in lab.transcript.messages(mark.since)[-1]["keys"]  # recorded all the same
    app = LearnersApp(lab, answer["client_id"]).whole_flow()
    report = grade(lab, mark, app.callback)
    assert report.passed and report.app.endswith(f"(client_id {answer['client_id']})"), report.text()


def test_nothing_registered_after_the_mark_is_no_attempt(lab):
    LearnersApp(lab).whole_flow()
    report = grade(lab, lab.transcript.mark())
    assert not report.passed
    assert report.text().splitlines()[:2] == [
        "✗ Capstone — no app yet", "  ✗ 1 · registration: no app was registered after the mark"]


def test_a_refused_registration_is_graded_not_the_app_before_it(lab):
    mark = lab.transcript.mark()
    LearnersApp(lab).whole_flow()
    LearnersApp(lab, redirect_uris=["htp://127.0.0.1/callback"])
    report = grade(lab, mark)
    assert not report.passed and report.app == "a refused registration"
    assert "the server refused it: 400 invalid_redirect_uri" in report.verdicts[0].message


def test_an_app_registered_in_the_console_is_graded_too(lab):
    mark = lab.transcript.mark()
    app = LearnersApp(lab, console_registration(lab, "browser")).whole_flow()
    report = grade(lab, mark, app.callback)
    assert report.passed, report.text()
    assert report.app == f"Console Lookup (client_id {app.client_id})"


def test_a_server_side_app_from_the_console_has_a_secret(lab):
    first = grade(lab, console_registration(lab, "server-side")).verdicts[0]
    assert not first and "client_secret_basic" in first.message and "'browser' app type" in first.hint


def test_an_unknown_client_id_has_no_registration(lab):
    report = grade(lab, "no-such-app")
    assert not any(report.verdicts)
    assert report.verdicts[0].message == "the server has no registration of this app"


# --- one mistake each ------------------------------------------------------------------------------

def tried(step):
    """Run a step the server refuses: the grader reads the refusal from the record, not from us."""
    try:
        step()
    except Exception:  # noqa: BLE001 — the library raises what the server refused
        pass


def s256_pair(app, verifier_length=43):
    pkce = WebApplicationClient(app.client_id)
    verifier = pkce.create_code_verifier(verifier_length)
    return verifier, pkce.create_code_challenge(verifier, "S256")


def plain_challenge(app):
    verifier, _ = s256_pair(app)
    app.ask(pkce=None, url_params={"code_challenge": verifier, "code_challenge_method": "plain"})


def no_state(app):
    # requests-oauthlib always sends a state; oauthlib's own client sends one only if given.
    _, challenge = s256_pair(app)
    app.decide(WebApplicationClient(app.client_id).prepare_request_uri(
        app.lab.metadata["authorization_endpoint"], app.lab.redirect_uri, scope=[SCOPE],
        code_challenge=challenge, code_challenge_method="S256"))


def implicit(app):
    app.decide(MobileApplicationClient(app.client_id).prepare_request_uri(
        app.lab.metadata["authorization_endpoint"], app.lab.redirect_uri, scope=[SCOPE], state="s"))


def no_challenge_method(app):
    # A URL built by hand: oauthlib itself always names a method ("plain" unless told).
    _, challenge = s256_pair(app)
    app.decide(app.lab.metadata["authorization_endpoint"] + "?" + urlencode({
        "response_type": "code", "client_id": app.client_id, "redirect_uri": app.lab.redirect_uri,
        "scope": SCOPE, "state": "s", "code_challenge": challenge}))


def undecided(app):
    app.session = OAuth2Session(app.client_id, redirect_uri=app.lab.redirect_uri, scope=[SCOPE], pkce="S256")
    url, _ = app.session.authorization_url(app.lab.metadata["authorization_endpoint"])
    UserAgent("jane", "jane-password", app.lab.reach()).consent_page(url)  # Jane signs in, then nothing


def malformed_challenge(app):
    # RFC 7636 §4.2: 43 characters; the server sends the error through its "Leave?" page (an app
    # anyone registered), and nobody clicks on.
    app.session = OAuth2Session(app.client_id, redirect_uri=app.lab.redirect_uri, scope=[SCOPE])
    url, _ = app.session.authorization_url(app.lab.metadata["authorization_endpoint"], code_challenge="short",
                                           code_challenge_method="S256")
    UserAgent("jane", "jane-password", app.lab.reach()).consent_page(url)


def too_slow(app):
    app.ask()
    app.lab.clock.advance(11 * 60)  # codes live ten minutes
    tried(app.trade)


def wider_refresh(app):
    app.ask()
    app.trade()
    app.call()
    app.session.scope = [SCOPE, "chats--access:ro"]  # more than Jane allowed
    tried(app.refresh)


def verifier_lost(app):
    app.ask()
    # The callback handler makes a new session: the verifier of the request is gone.
    tried(lambda: app.trade(OAuth2Session(app.client_id, redirect_uri=app.lab.redirect_uri)))


def another_requests_verifier(app):
    _, challenge = s256_pair(app)
    app.ask(pkce=None, url_params={"code_challenge": challenge, "code_challenge_method": "S256"})
    tried(lambda: app.trade(code_verifier=s256_pair(app)[0]))


def other_redirect_uri_in_the_token_request(app):
    app.ask()
    app.session.redirect_uri = app.lab.redirect_uri + "/again"
    tried(app.trade)


def code_twice(app):
    app.ask()
    app.trade()
    tried(app.trade)  # the cell ran again


def spent_refresh_token(app):
    app.ask()
    first = app.trade()["refresh_token"]
    app.call()
    app.refresh()
    tried(lambda: app.refresh(refresh_token=first))  # kept the first one


def old_access_token_after_refresh(app):
    app.ask()
    old = app.trade()["access_token"]
    app.call()
    app.refresh()
    app.call(token=old)  # expired by now


def revoked_the_spent_refresh_token(app):
    app.ask()
    first = app.trade()["refresh_token"]
    app.call()
    app.refresh()
    app.call()
    app.disconnect(first)


def just(*steps):
    return lambda app: [getattr(app, step)() for step in steps]


MISTAKES = [
    # 1 · registration
    ("1", just(), dict(token_endpoint_auth_method="client_secret_basic"),
     "your app has a secret (client_secret_basic) but is meant to run in a browser"),
    ("1", just(), dict(token_endpoint_auth_method=None), "RFC 7591 §2's default is client_secret_basic"),
    ("1", just(), dict(grant_types=None), "grant_types have no refresh_token"),
    ("1", just(), dict(scope="customers:ro chats--access:ro"), "needs customers:ro and nothing more"),
    ("1", just(), dict(redirect_uris=["https://lookup.example/callback"]), "is not one of them"),
    # 2 · authorization request
    ("2", just(), {}, "your app sent no authorization request"),
    ("2", lambda app: app.ask(pkce=None), {}, "your authorization request had no code_challenge"),
    ("2", plain_challenge, {}, "code_challenge_method is 'plain'"),
    ("2", no_state, {}, "your authorization request had no state"),
    ("2", lambda app: tried(lambda: app.ask(redirect_uri=app.lab.redirect_uri + "/other")), {},
     "is not the one you registered"),
    ("2", lambda app: app.ask(scope=()), {}, "you asked for no scope"),
    ("2", lambda app: app.ask(scope=(SCOPE, "chats--access:ro")), {},
     "you asked for 'customers:ro chats--access:ro'"),
    ("2", implicit, {}, "response_type is 'token'"),
    ("2", no_challenge_method, {}, "code_challenge_method is missing, which means plain (RFC 7636 §4.3)"),
    ("2", undecided, {}, "<HTML page: Allow Customer Lookup? — Fernhollow Accounts>, and no Allow or Deny"),
    ("2", malformed_challenge, {}, "<HTML page: Leave Fernhollow Accounts? — Fernhollow Accounts>, and no Allow"),
    ("2", lambda app: app.ask(decision="Deny"), {}, "Jane clicked Deny"),
    # 3 · token exchange
    ("3", just("ask"), {}, "your app never traded its code for tokens"),
    ("3", verifier_lost, {}, "your token request had no code_verifier"),
    ("3", another_requests_verifier, {}, "is not the one your code_challenge was made from"),
    ("3", other_redirect_uri_in_the_token_request, {}, "but your authorization request sent"),
    ("3", lambda app: (app.ask(), tried(lambda: app.trade(include_client_id=False))), {},
     "could not tell which app was asking"),
    ("3", code_twice, {}, "you redeemed the same code twice"),
    ("3", too_slow, {}, "the server refused it: 400 invalid_grant: This code expired"),
    # 4 · API call
    ("4", just("ask", "trade"), {}, "your app never called the API"),
    ("4", lambda app: (app.ask(), app.call(token=app.trade()["refresh_token"])), {},
     "you called the API with the refresh token"),
    ("4", lambda app: (app.ask(), app.call(params={"access_token": app.trade()["access_token"]})), {},
     "you sent the token in the URL"),
    ("4", lambda app: (app.ask(), app.trade(), requests.post(app.lab.api("list_chats"), json={}, headers={
        "Authorization": f"Bearer {app.session.access_token}"})), {}, "refused the call: 403 insufficient_scope"),
    # 5 · refresh
    ("5", just("ask", "trade", "call"), {}, "your app never refreshed"),
    ("5", spent_refresh_token, {}, "an earlier refresh had replaced"),
    ("5", lambda app: (app.ask(), app.trade(), app.call(), tried(lambda: app.refresh(app.session.access_token))),
     {}, "you sent the access token as the refresh_token"),
    ("5", wider_refresh, {}, "the server refused the refresh: 400 invalid_scope"),
    ("5", old_access_token_after_refresh, {}, "not call the API with the new access token (it called with an older one)"),
    # 6 · revocation
    ("6", just("until_revocation"), {}, "your app never revoked its tokens"),
    ("6", lambda app: app.until_revocation().disconnect(app.session.access_token), {},
     "you revoked the access token, not the refresh token: the app stays connected"),
    ("6", revoked_the_spent_refresh_token, {}, "a refresh had already replaced"),
    ("6", lambda app: app.until_revocation().disconnect(client_id=None), {},
     "refused the revocation: 401 invalid_client"),
    ("6", lambda app: app.until_revocation().disconnect("rt_made-up"), {}, "so the 200 proves nothing"),
]


@pytest.mark.parametrize("phase, mistake, metadata, hint", MISTAKES, ids=[m[3][:40] for m in MISTAKES])
def test_a_mistake_fails_its_phase_with_a_hint(lab, phase, mistake, metadata, hint):
    app = LearnersApp(lab, **metadata)
    mistake(app)
    report = graded(app)
    verdicts = by_number(report)
    assert not verdicts[phase] and hint in verdicts[phase].text(), report.text()
    assert all(verdicts[str(n)] for n in range(1, int(phase))), report.text()
    assert "Hint:" in report.text()


def test_an_app_without_the_refresh_grant_gets_no_refresh_token(lab):
    app = LearnersApp(lab, grant_types=None)
    app.ask()
    assert "refresh_token" not in app.trade()
    verdicts = by_number(graded(app))
    assert "grant_types have no refresh_token" in verdicts["1"].message
    assert verdicts["3"].message == "the server answered with no refresh token"


def test_revoking_the_access_token_leaves_the_app_connected(lab):
    app = LearnersApp(lab).until_revocation()
    app.disconnect(app.session.access_token)
    ended = by_number(graded(app))["7"]
    assert not ended and ended.message == "the server says these still work: the refresh token of refresh 1"
    assert app.refresh()["access_token"]  # what the grader warned of: the app is still connected


def test_revoking_a_spent_refresh_token_ends_the_grant_on_this_server_all_the_same(lab):
    app = LearnersApp(lab)
    revoked_the_spent_refresh_token(app)
    verdicts = by_number(graded(app))
    assert not verdicts["6"] and verdicts["7"], verdicts["7"].text()


def test_a_token_in_the_query_string_is_a_leak_even_when_the_header_call_worked(lab):
    app = LearnersApp(lab).whole_flow()
    app.call(params={"access_token": app.session.access_token})  # after everything else was right
    assert not by_number(graded(app))["4"]


# --- phase 2: the grader plants an answer on the app's callback ------------------------------------

def by_hand(app):
    """A callback that reads the code off the answer itself and trades it (fetch_token(code=…)):
    the session never compares the state."""
    def callback(redirect):
        code = dict(parse_qsl(urlsplit(redirect).query))["code"]
        return app.session.fetch_token(app.lab.endpoint("token"), code=code, include_client_id=True)
    return callback


def with_a_session_of_its_own(app):
    """The callback page's handler makes a new session: it never saw the request's state (nor its
    verifier), and requests-oauthlib skips the state check when it has none."""
    def callback(redirect):
        fresh = OAuth2Session(app.client_id, redirect_uri=app.lab.redirect_uri)
        return fresh.fetch_token(app.lab.endpoint("token"), authorization_response=redirect, include_client_id=True)
    return callback


def rest_of_the_flow(app):
    app.call()
    app.refresh()
    app.call()
    app.disconnect()
    return app


TRADED = "your callback sent a token request for an answer your app never asked for"


def test_a_constant_state_never_compared_fails_phase_2(lab):
    app = LearnersApp(lab)
    app.ask(state="fernhollow")  # the same state for every request, and every user
    by_hand(app)(app.redirect)  # Jane's own answer: it works, as it would without any state
    verdicts = by_number(graded(rest_of_the_flow(app), by_hand(app)))
    assert not verdicts["2"] and TRADED in verdicts["2"].message, verdicts["2"].text()
    assert "PKCE binds that code to Ada's code_challenge: 400 invalid_grant" in verdicts["2"].message
    assert "RFC 6749 §10.12" in verdicts["2"].hint and "RFC 9700 §4.7.1" in verdicts["2"].hint
    assert all(verdicts[n] for n in "134567"), verdicts


def test_the_planted_code_reached_the_token_endpoint_in_the_record(lab):
    app = LearnersApp(lab)
    app.ask()
    app.trade()
    report = graded(rest_of_the_flow(app), by_hand(app))
    token_requests = [m for m in report.messages if urlsplit(m["path"]).path == "/token"]
    assert [m["status"] for m in token_requests] == [200, 200, 400]  # exchange, refresh, the planted code
    assert not any(k.startswith(f"state:{PLANTED}") for m in report.messages for k in m["keys"])  # Ada's part


def test_a_constant_state_the_session_compares_passes(lab):
    """The grader tells whether the callback compares the state; from one request it cannot tell a
    constant from a random value, and the notebook says so."""
    app = LearnersApp(lab)
    app.ask(state="fernhollow")  # given to OAuth2Session: it sends it, and compares it
    app.trade()
    assert graded(rest_of_the_flow(app)).passed


def test_a_state_given_to_authorization_url_is_sent_but_never_compared(lab):
    """requests-oauthlib keeps a copy to compare only of a state it made or was given when the
    session was made; one passed to authorization_url(state=…) it sends, and forgets."""
    app = LearnersApp(lab)
    app.ask(url_params={"state": "fernhollow"})
    assert dict(parse_qsl(urlsplit(app.redirect).query))["state"] == "fernhollow"
    app.trade()
    verdicts = by_number(graded(rest_of_the_flow(app)))
    assert TRADED in verdicts["2"].message and "OAuth2Session(..., state=" in verdicts["2"].hint


def test_a_callback_with_a_session_of_its_own_fails_phases_2_and_3(lab):
    app = LearnersApp(lab)
    app.ask()
    tried(lambda: with_a_session_of_its_own(app)(app.redirect))
    verdicts = by_number(graded(app, with_a_session_of_its_own(app)))
    assert TRADED in verdicts["2"].message and "Missing 'code_verifier'" in verdicts["2"].message
    assert verdicts["3"].message == "your token request had no code_verifier"


def test_without_a_callback_the_grader_has_nothing_to_plant_on(lab):
    app = LearnersApp(lab).whole_flow()
    verdicts = by_number(grade(lab, app.client_id))
    assert not verdicts["2"] and verdicts["2"].message == "the grader has not tried your callback: it was given none"
    assert "capstone.app.check(attempt, callback)" in verdicts["2"].hint


def test_a_callback_fixed_passes_when_graded_again(lab):
    app = LearnersApp(lab).whole_flow()
    assert TRADED in by_number(graded(app, by_hand(app)))["2"].message
    assert graded(app).passed  # the latest planted answer is the one graded


def test_a_callback_that_refuses_without_raising_passes(lab):
    app = LearnersApp(lab).whole_flow()
    careful = app.callback

    def quiet(redirect):
        try:
            return careful(redirect)
        except Exception:  # noqa: BLE001 — it refused: no token request, and nothing raised
            return None
    assert graded(app, quiet).passed


# --- retries: each phase grades the app's last attempt at its step ----------------------------------

def test_checking_the_disconnect_with_a_refresh_and_a_call_fails_nothing(lab):
    """Notebook 13's check of a disconnect, made by the app itself: both are refused, as they must."""
    app = LearnersApp(lab).whole_flow()
    with pytest.raises(InvalidGrantError):
        app.refresh()
    assert app.call().status_code == 401
    report = graded(app)
    assert report.passed, report.text()


def test_calling_with_the_access_token_it_revoked_is_no_api_call_attempt(lab):
    app = LearnersApp(lab).until_revocation()
    app.disconnect(app.session.access_token)
    assert app.call().status_code == 401  # the app checks its (wrong) disconnect
    verdicts = by_number(graded(app))
    assert verdicts["4"] and "you revoked the access token" in verdicts["6"].message


def test_a_call_with_the_expired_token_is_the_cue_to_refresh_not_an_attempt(lab):
    app = LearnersApp(lab)
    app.ask()
    app.trade()
    app.call()
    lab.clock.advance(3600)
    assert app.call().status_code == 401
    verdicts = by_number(graded(app))
    assert verdicts["4"] and verdicts["5"].message == "your app never refreshed its access token"


def test_a_call_only_after_expiry_is_no_api_call(lab):
    app = LearnersApp(lab)
    app.ask()
    app.trade()
    lab.clock.advance(3600)
    assert app.call().status_code == 401
    verdicts = by_number(graded(app))
    assert verdicts["4"].message == ("the API refused every call your app made: the access token had expired, "
                                     "or your app had revoked it")


def denied_first(app):
    app.ask(decision="Deny")
    app.whole_flow()


def exchange_without_client_id_first(app):
    app.ask()
    tried(lambda: app.trade(include_client_id=False))
    app.trade()
    rest_of_the_flow(app)


def another_action_first(app):
    app.ask()
    app.trade()
    assert requests.post(app.lab.api("list_chats"), json={}, headers={
        "Authorization": f"Bearer {app.session.access_token}"}).status_code == 403  # not the step's call
    rest_of_the_flow(app)


def refresh_without_client_id_first(app):
    app.ask()
    app.trade()
    app.call()
    tried(lambda: app.refresh(client_id=None))  # 401 invalid_client: a public client names itself
    app.refresh()
    app.call()
    app.disconnect()


def revocation_without_client_id_first(app):
    app.until_revocation()
    assert app.disconnect(client_id=None).status_code == 401
    app.disconnect()


def revoked_again_and_the_access_token_too(app):
    app.whole_flow()
    app.disconnect()  # the cell ran again: the same refresh token, 200, nothing changes
    app.disconnect(app.session.access_token)  # already ended with the grant


FIXED = [denied_first, exchange_without_client_id_first, another_action_first,
         refresh_without_client_id_first, revocation_without_client_id_first, revoked_again_and_the_access_token_too]


@pytest.mark.parametrize("flow", FIXED, ids=[f.__name__ for f in FIXED])
def test_a_mistake_fixed_by_a_later_attempt_passes(lab, flow):
    app = LearnersApp(lab)
    flow(app)
    report = graded(app)
    assert report.passed, report.text()


def test_the_refresh_fixed_on_the_second_try_counts_one_refresh(lab):
    app = LearnersApp(lab)
    refresh_without_client_id_first(app)
    refreshes = [m for m in graded(app).messages if "grant_type=refresh_token" in m["request_body"]]
    assert [m["status"] for m in refreshes] == [401, 200]
    assert "(1 refresh)" in by_number(graded(app))["5"].message


def test_a_mistake_after_a_success_is_the_last_attempt(lab):
    app = LearnersApp(lab).until_revocation()
    tried(lambda: app.refresh(app.session.access_token))
    app.disconnect()
    assert app.disconnect("rt_made-up").status_code == 200
    verdicts = by_number(graded(app))
    assert verdicts["5"].message == "you sent the access token as the refresh_token"
    assert "so the 200 proves nothing" in verdicts["6"].message
    assert verdicts["4"] and verdicts["7"]


# --- the exercise: the grader's report as a widget ------------------------------------------------

def test_the_worked_examples_app_is_not_the_learners(lab):
    worked = LearnersApp(lab).whole_flow()  # the worked example runs before Your turn
    attempt = lab.transcript.mark()  # Your turn, its cell still blank
    named = capstone.app.check(worked.client_id, worked.callback)
    assert not named.passed and "not an app named by its client_id" in named.message, named.text()
    blank = capstone.app.check(attempt, worked.callback)
    assert not blank.passed and "no app was registered after the mark" in blank.text()
    assert capstone.report(worked.client_id, worked.callback).passed  # the worked example's own report



def test_the_exercise_check_is_the_grader_and_grades_again(lab):
    mark = lab.transcript.mark()
    app = LearnersApp(lab).until_revocation()
    report = capstone.app.check(mark, app.callback)
    assert not report.passed and "✗ 6 · revocation" in report.text()
    assert report.text().endswith("Stuck? %load solutions/14_capstone.py")
    app.disconnect()
    assert report.passed is False  # what it showed stays until it grades again
    report.again.click()
    assert report.passed and report.text().startswith("✓ Capstone — Customer Lookup")


def test_the_report_widget_draws_the_messages_when_asked(lab):
    app = LearnersApp(lab).whole_flow()
    report = capstone.report(app.client_id, app.callback)
    assert report.children[-1].value == ""
    report.show_messages.value = True
    assert "POST /revoke" in report.children[-1].value
    report.show_messages.value = False
    assert report.children[-1].value == ""
