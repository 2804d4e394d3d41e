"""Notebook 09's exercise refuses the polling loops a learner gets wrong, each with its reason
(the solution passing is tests/test_solutions.py's job)."""
from __future__ import annotations

import pytest
import requests
from oauthlib.oauth2 import DeviceClient, OAuth2Error
from requests_oauthlib import OAuth2Session

import mock_server
from oauth_lab.exercises import device
from oauth_lab.lab import setup


@pytest.fixture(scope="module")
def lab():
    lab = setup(seed=None, port=mock_server.free_port())
    yield lab
    lab.handle.stop()


@pytest.fixture(scope="module")
def tv_client_id(lab):
    return requests.post(lab.endpoint("registration"), json={
        "client_name": "Shop TV", "token_endpoint_auth_method": "none",
        "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"],
        "scope": "chats--access:ro customers:ro"}).json()["client_id"]


def polling_loop(poll, goes_on=("authorization_pending", "slow_down"), step=5, waits=True):
    """A polling loop as a learner might write it, with one thing wrong: which answers it goes on
    after, what it adds to the interval on slow_down, whether it waits at all."""
    def loop(device_code, interval, wait):
        while True:
            if waits:
                wait(interval)
            try:
                return poll(device_code)
            except OAuth2Error as error:
                if error.error not in goes_on:
                    raise
                interval += step if error.error == "slow_down" else 0
    return loop


def loops(lab, client_id):
    tv = OAuth2Session(client=DeviceClient(client_id))

    def poll(device_code):
        return tv.fetch_token(lab.endpoint("token"), device_code=device_code, include_client_id=True)

    def polls_once(device_code, interval, wait):
        wait(interval)
        try:
            return poll(device_code)
        except OAuth2Error:
            return None

    def returns_a_made_up_token(device_code, interval, wait):
        polling_loop(poll)(device_code, interval, wait)
        return {"access_token": "made-up"}

    def another_app(device_code, interval, wait):
        stranger = OAuth2Session(client=DeviceClient("fernhollow-widget"))
        wait(interval)
        return stranger.fetch_token(lab.endpoint("token"), device_code=device_code, include_client_id=True)

    return {"never_slows_down": polling_loop(poll, step=0),
            "never_waits": polling_loop(poll, waits=False),
            "polls_on_after_a_denial": polling_loop(
                poll, goes_on=("authorization_pending", "slow_down", "access_denied")),
            "gives_up_at_slow_down": polling_loop(poll, goes_on=("authorization_pending",)),
            "polls_once": polls_once, "returns_a_made_up_token": returns_a_made_up_token, "another_app": another_app}


@pytest.mark.parametrize("name, why", [
    ("never_slows_down", "wait 10 s (RFC 8628 §3.5: the interval, plus 5 s after each slow_down)"),
    ("never_waits", "without calling wait(interval) before each poll"),
    ("polls_on_after_a_denial", "went on after access_denied"),
    ("gives_up_at_slow_down", "stopped at slow_down: that answer means poll again"),
    ("polls_once", "returned before the server issued tokens"),
    ("returns_a_made_up_token", "return the token response your last poll received"),
    ("another_app", "raised UnauthorizedClientError"),
])
def test_a_wrong_loop_fails_with_a_reason(lab, tv_client_id, monkeypatch, name, why):
    monkeypatch.setattr(device, "STUCK_AFTER", 1)  # the watchdog's patience, shortened for the test
    verdict = device.polling.check(loops(lab, tv_client_id)[name], tv_client_id)
    assert not verdict.passed and why in verdict.message, verdict.text()


@pytest.mark.parametrize("answer, why", [
    ("poll_for_tokens", "expected a function poll_for_tokens(device_code, interval, wait)"),
    (lambda device_code, interval, wait: wait("five"), "wait('five'): pass the number of seconds"),
])
def test_not_a_loop_at_all(lab, tv_client_id, answer, why):
    verdict = device.polling.check(answer, tv_client_id)
    assert not verdict.passed and why in verdict.message, verdict.text()


def test_an_app_that_may_not_use_the_device_flow(lab):
    admin_tools = "fernhollow-admin-tools"  # registered for the code flow only
    verdict = device.polling.check(lambda device_code, interval, wait: None, admin_tools)
    assert not verdict.passed and "the server refused device codes for 'fernhollow-admin-tools'" in verdict.message
