"""Notebook 10's exercises refuse what does not end access, or does not see a revocation — each
with the reason a learner needs."""
from __future__ import annotations

import pytest
import requests

from oauth_lab import jwt_access_tokens
from oauth_lab.exercises import revocation
from oauth_lab.flows import authorization_code_flow

REPORTS = ("fernhollow-reports", "reports-secret")


def fresh_tokens(lab) -> dict:
    return authorization_code_flow(lab, "fernhollow-reports", ["customers:ro"], client_secret=REPORTS[1]).token


def revoked(lab, which: str) -> dict:
    tokens = fresh_tokens(lab)
    assert requests.post(lab.endpoint("revocation"), data={"token": tokens[which]}, auth=REPORTS).status_code == 200
    return tokens


def replayed_refresh(lab) -> dict:
    """Access ended without revocation: a rotated refresh token presented again kills the family."""
    tokens = fresh_tokens(lab)
    for _ in range(2):
        requests.post(lab.endpoint("token"), auth=REPORTS,
                      data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    return tokens


@pytest.mark.parametrize("wrong, why", [
    (lambda lab: revoked(lab, "access_token"), "the refresh token still works"),
    (lambda lab: fresh_tokens(lab), "the refresh token still works"),
    (lambda lab: {"access_token": fresh_tokens(lab)["access_token"]}, "carries a refresh_token too"),
    (lambda lab: {"access_token": "made-up", "refresh_token": "made-up-too"}, "received no revocation"),
    (replayed_refresh, "received no revocation"),
    (lambda lab: "not a token response", "expected the token response"),
], ids=["access-only", "nothing-revoked", "no-refresh-token", "made-up", "ended-another-way", "a-string"])
def test_disconnect_refuses_what_leaves_access_or_was_no_revocation(lab, wrong, why):
    verdict = revocation.disconnect.check(wrong(lab))
    assert not verdict.passed and why in verdict.message, verdict.text()


def without_credentials(lab):
    return lambda token: requests.post(lab.endpoint("introspection"), data={"token": token}).json().get("active") is True


def active_only(lab):
    return lambda token: requests.post(lab.endpoint("introspection"), data={"token": token},
                                       auth=("agent-api", "agent-api-secret")).json()["active"]


def local_jwt_check(lab):
    """The other API of notebook 10: right about signatures, blind to revocation."""
    keys = jwt_access_tokens.published_keys(lab)

    def accepts(token):
        try:
            jwt_access_tokens.validate(token, keys, lab.issuer, lab.api_audience, lab.clock.now())
        except (jwt_access_tokens.InvalidAccessToken, ValueError):
            return False
        return True
    return accepts


def raises_when_inactive(lab):
    return lambda token: requests.post(lab.endpoint("introspection"), data={"token": token},
                                       auth=("agent-api", "agent-api-secret")).json()["aud"] == lab.api_audience


@pytest.mark.parametrize("wrong, why", [
    (lambda lab: lambda token: True, "did not return False for a made-up token"),
    (without_credentials, "does it authenticate as the resource server"),
    (active_only, "did not return False for a refresh token"),
    (local_jwt_check, "still accepts the token after the app revoked it"),
    (raises_when_inactive, "raised for a made-up token (KeyError): return False"),
    (lambda lab: lambda token: 1 / 0, "raised for a genuine, active token (ZeroDivisionError"),
    (lambda lab: lambda token: None, "returned None: return True or False"),
    (lambda lab: "accepts", "expected a function"),
], ids=["always-yes", "no-credentials", "active-only", "local-jwt-check", "raises", "broken", "stub",
                                 "not-a-function"])
def test_introspecting_api_refuses_an_api_that_misses_a_case(lab, wrong, why):
    verdict = revocation.introspecting_api.check(wrong(lab))
    assert not verdict.passed and why in verdict.message, verdict.text()
