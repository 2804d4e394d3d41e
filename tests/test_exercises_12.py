"""12 · Security lab: each exercise's check passes the right answer and fails the typical wrong ones,
each with the reason it gives (the callback checks attack the learner's function for real: a planted
code, an answer without iss, a mix-up, and Jane's own answer)."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

import mock_server
from oauth_lab.exercises import security_lab
from oauth_lab.lab import setup


@pytest.fixture(scope="module")
def lab():
    lab = setup(seed=None, port=mock_server.free_port())
    yield lab
    lab.handle.stop()


def query(redirect):
    return dict(parse_qsl(urlsplit(redirect).query))


def wrong(exercise, answer, why):
    verdict = exercise.check(answer)
    assert not verdict.passed and why in verdict.message, verdict.text()
    assert verdict.text().endswith(f"Stuck? %load {exercise.solution}") and "Hint: " in verdict.text()


def right(exercise, answer):
    verdict = exercise.check(answer)
    assert verdict.passed, verdict.text()


# --- 1 · a callback that checks state -----------------------------------------------------------

def careless(app, redirect, token_endpoint):
    return app.fetch_token(token_endpoint, code=query(redirect)["code"], include_client_id=True)


def checks_state(app, redirect, token_endpoint):
    return app.fetch_token(token_endpoint, authorization_response=redirect, include_client_id=True)


def state_checked_too_late(app, redirect, token_endpoint):
    token = careless(app, redirect, token_endpoint)  # the code already went out
    if query(redirect)["state"] != app._state:
        raise ValueError("CSRF")
    return token


def refuses_everything(*_):
    raise ValueError("no")


def test_a_callback_that_checks_state_passes(lab):
    right(security_lab.checks_state, checks_state)


@pytest.mark.parametrize("answer, why", [
    (careless, "Jane's app is now connected to ada's account"),
    (state_checked_too_late, "only after sending it to the token endpoint"),
    (refuses_everything, "did not return Jane's token for the answer to her own request"),
    ("callback", "expected a function"),
], ids=["careless", "state-checked-too-late", "refuses-everything", "not-a-function"])
def test_a_callback_that_does_not_check_state_fails(lab, answer, why):
    wrong(security_lab.checks_state, answer, why)


# --- 2–3 · no open redirector -------------------------------------------------------------------

def same_origin(page, target):
    return urlsplit(target)[:2] == urlsplit(page)[:2]


@pytest.mark.parametrize("answer, why", [
    (lambda page, target: True, "let the relay send Jane's code to the attacker's page"),
    (lambda page, target: urlsplit(target).hostname == "127.0.0.1", "127.0.0.1 with another port is another origin"),
    (lambda page, target: target.startswith(f"{urlsplit(page).scheme}://{urlsplit(page).netloc}"),
     "was fooled by a user name"),
    (lambda page, target: urlsplit(target).port == urlsplit(page).port, "another host, whose name only starts like"),
    (lambda page, target: not urlsplit(target).scheme or same_origin(page, target),  # "no scheme: a path of ours"
     "a URL that starts with // names another host"),
    (lambda page, target: False, "refused the shop's own home page"),
    ("may_forward", "expected a function"),
], ids=["everything", "same-host", "starts-with-the-origin", "same-port", "schemeless-taken-for-a-path", "nothing",
         "not-a-function"])
def test_an_open_redirector_fails(lab, answer, why):
    wrong(security_lab.no_open_redirect, answer, why)


def test_forwarding_only_to_the_pages_own_origin_passes(lab):
    right(security_lab.no_open_redirect, same_origin)


# --- 4 · a referrer policy for the welcome page -------------------------------------------------

@pytest.mark.parametrize("policy", ["no-referrer", "same-origin", "strict-origin", "origin",
                                    "strict-origin-when-cross-origin", "unsafe-url, no-referrer", "No-Referrer"])
def test_a_policy_that_keeps_the_code_home_passes(lab, policy):
    right(security_lab.referrer_policy, policy)


@pytest.mark.parametrize("policy, why", [
    ("no-referrer-when-downgrade", "the banner's request tells the partner Referer: http://127.0.0.1:"),
    ("unsafe-url", "/callback/welcome?code=ac_example&state=st_example, the code and state included"),
    ("no-referrer, unsafe-url", "the code and state included"),  # the last policy a browser knows wins
    ("none", "browsers ignore a policy they do not know, 'none'"),
    (["no-referrer"], "expected the value of the Referrer-Policy header"),
])
def test_a_policy_that_sends_the_whole_url_fails(lab, policy, why):
    wrong(security_lab.referrer_policy, policy, why)


# --- 5–6 · what the server answers --------------------------------------------------------------

RIGHT = {"the thief refreshes first": 200, "then the app refreshes": 400, "then the thief calls the API": 401,
         "the app refreshes asking for customers:ro only": 200}


def test_the_server_answers_what_the_exercise_teaches(lab):
    assert security_lab.server_answers() == RIGHT


def test_right_predictions_pass(lab):
    right(security_lab.refresh_answers, RIGHT)


@pytest.mark.parametrize("change, why", [
    ({"the thief refreshes first": 400}, "the thief refreshes first: you said 400, the server answered 200: "
                                         "nothing had been used twice yet"),
    ({"then the app refreshes": 200}, "then the app refreshes: you said 200, the server answered 400"),
    ({"then the thief calls the API": 200}, "you said 200, the server answered 401: the server cannot tell"),
    ({"the app refreshes asking for customers:ro only": 400}, "never more (RFC 6749 §6)"),
    ({"then the app refreshes": None}, "no prediction yet for: then the app refreshes"),
])
def test_a_wrong_prediction_fails_with_what_the_server_did(lab, change, why):
    wrong(security_lab.refresh_answers, dict(RIGHT, **change), why)


def test_predictions_need_every_step(lab):
    wrong(security_lab.refresh_answers, {"the thief refreshes first": 200}, "expected a dict with these keys")


# --- 7 · a careful callback ---------------------------------------------------------------------

def fetch(app, redirect, metadata):
    return app.fetch_token(metadata["token_endpoint"], authorization_response=redirect, include_client_id=True)


def careless_too(app, redirect, metadata):
    return careless(app, redirect, metadata["token_endpoint"])


def iss_only(app, redirect, metadata):
    if query(redirect).get("iss") != metadata["issuer"]:
        raise ValueError("mix-up")
    return careless_too(app, redirect, metadata)


def iss_if_present(app, redirect, metadata):
    """The issue's case: params.get("iss", issuer) != issuer lets an answer without iss through."""
    if query(redirect).get("iss", metadata["issuer"]) != metadata["issuer"]:
        raise ValueError("mix-up")
    return fetch(app, redirect, metadata)


def iss_after_the_token(app, redirect, metadata):
    token = fetch(app, redirect, metadata)  # the code already went out
    if query(redirect).get("iss") != metadata["issuer"]:
        raise ValueError("mix-up")
    return token


def careful(app, redirect, metadata):
    iss = query(redirect).get("iss")
    if iss != metadata["issuer"] and (iss or metadata.get("authorization_response_iss_parameter_supported")):
        raise ValueError("mix-up")
    return fetch(app, redirect, metadata)


def test_a_careful_callback_passes(lab):
    right(security_lab.careful_callback, careful)


@pytest.mark.parametrize("answer, why", [
    (careless_too, "Jane's app is now connected to ada's account"),
    (iss_only, "Jane's app is now connected to ada's account"),
    (fetch, "accepted an answer without iss from a server whose metadata says"),
    (iss_if_present, "accepted an answer without iss from a server whose metadata says"),
    (iss_after_the_token, "accepted an answer without iss"),
    (refuses_everything, "did not return Jane's token for the answer to her own request"),
    ("careful_callback", "expected a function"),
], ids=["careless", "iss-only", "state-only", "iss-if-present", "iss-checked-too-late", "refuses-everything",
        "not-a-function"])
def test_a_careless_callback_fails_with_a_reason(lab, answer, why):
    wrong(security_lab.careful_callback, answer, why)


def test_a_callback_that_requires_iss_only_where_announced_still_stops_the_mix_up(lab):
    def no_mix_up_check(app, redirect, metadata):  # refuses a missing iss, never compares a present one
        if "iss" not in query(redirect):
            raise ValueError("no iss")
        return fetch(app, redirect, metadata)
    wrong(security_lab.careful_callback, no_mix_up_check, "sent Jane's code and verifier to the attacker's token endpoint")


def test_the_check_leaves_no_server_running(lab, monkeypatch):
    """The check starts its servers (a mock server, the attacker's) on free ports and stops them."""
    ports, free_port = [], mock_server.free_port
    monkeypatch.setattr(mock_server, "free_port", lambda: ports.append(free_port()) or ports[-1])
    right(security_lab.careful_callback, careful)
    assert len(ports) == 2
    for port in ports:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=2)


# --- 8 · headers that keep the consent page out of frames ---------------------------------------

@pytest.mark.parametrize("headers", [
    {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"},
    {"x-frame-options": "sameorigin", "content-security-policy": "default-src 'self'; frame-ancestors 'self'"},
])
def test_headers_that_refuse_every_frame_pass(lab, headers):
    right(security_lab.frame_headers, headers)


@pytest.mark.parametrize("headers, why", [
    ({}, "no X-Frame-Options that refuses frames"),
    ({"Content-Security-Policy": "frame-ancestors 'none'"}, "a browser without CSP Level 2"),
    ({"X-Frame-Options": "ALLOW-FROM http://127.0.0.1:8765", "Content-Security-Policy": "frame-ancestors 'none'"},
     "ALLOW-FROM is obsolete"),
    ({"X-Frame-Options": "DENY"}, "RFC 9700 §4.16 asks for CSP Level 2 as well"),
    ({"X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'none'"},
     "frame-ancestors does not fall back to default-src"),
    ({"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors *"}, "frame-ancestors is 'none' or 'self'"),
    ("X-Frame-Options: DENY", "expected the response headers, a dict"),
])
def test_headers_that_let_a_frame_through_fail(lab, headers, why):
    wrong(security_lab.frame_headers, headers, why)
