"""08 · client credentials: each wrong answer the check must refuse, with the reason it gives."""
from __future__ import annotations

import pytest
import requests
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

import mock_server
from oauth_lab.exercises import client_credentials
from oauth_lab.flows import authorization_code_flow
from oauth_lab.lab import setup

REPORTS = ("fernhollow-reports", "reports-secret")


@pytest.fixture(scope="module")
def lab():
    lab = setup(seed=None, port=mock_server.free_port())
    yield lab
    lab.handle.stop()


def app_token(lab, scope: list[str], client=REPORTS) -> dict:
    job = OAuth2Session(client=BackendApplicationClient(client[0]))
    return job.fetch_token(lab.endpoint("token"), client_id=client[0], client_secret=client[1], scope=scope)


def registered_app(lab) -> tuple[str, str]:
    app = requests.post(lab.endpoint("registration"), json={
        "client_name": "Other job", "grant_types": ["client_credentials"], "scope": "customers:ro"}).json()
    return app["client_id"], app["client_secret"]


@pytest.mark.parametrize("wrong, why", [
    (lambda lab: {"access_token": "forged"}, "not active"),
    (lambda lab: authorization_code_flow(lab, *REPORTS[:1], ["customers:ro"], client_secret=REPORTS[1]).token,
     "acts for the user jane"),
    (lambda lab: app_token(lab, ["customers:ro", "chats--access:ro"]), "can read chats too"),
    (lambda lab: app_token(lab, ["customers:ro"], registered_app(lab)), "not to fernhollow-reports"),
    (lambda lab: app_token(lab, ["chats--access:ro"]), "refuses this token for list_customers"),
], ids=["forged", "code-flow", "too-wide", "other-app", "no-customers"])
def test_customers_only_refuses(lab, wrong, why):
    verdict = client_credentials.customers_only.check(wrong(lab))
    assert not verdict.passed and why in verdict.message, verdict.text()


def kept_token(lab):
    """A job that fetched its token once and keeps using it."""
    session = OAuth2Session(client=BackendApplicationClient(REPORTS[0]))
    session.fetch_token(lab.endpoint("token"), client_id=REPORTS[0], client_secret=REPORTS[1],
                        scope=["customers:ro"])

    def count_customers():
        answer = session.post(lab.api("list_customers"), json={})
        answer.raise_for_status()
        return answer.json()["total_customers"]
    return count_customers


def through_jane(lab):
    """A job that sends Jane through consent every night."""
    def count_customers():
        app = authorization_code_flow(lab, REPORTS[0], ["customers:ro"], client_secret=REPORTS[1])
        return app.post(lab.api("list_customers"), json={}).json()["total_customers"]
    return count_customers


@pytest.mark.parametrize("wrong, why", [
    (kept_token, "tomorrow night your job failed (HTTPError: 401"),
    (through_jane, "used the grant authorization_code"),
    (lambda lab: lambda: 3, "tonight your job counted 3; the API lists 4 customers"),
    (lambda lab: 4, "expected a function"),
], ids=["token-kept-forever", "code-flow", "wrong-count", "not-a-function"])
def test_nightly_job_refuses(lab, wrong, why):
    verdict = client_credentials.nightly_job.check(wrong(lab))
    assert not verdict.passed and why in verdict.message, verdict.text()
