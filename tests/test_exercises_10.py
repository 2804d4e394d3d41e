"""Notebook 10's exercises refuse what does not end access, or does not see a revocation — each
with the reason a learner needs."""
from __future__ import annotations

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session as AuthlibSession

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


def as_the_app(lab):
    """Introspects with the app's credentials: it may see its own refresh tokens, an API may not."""
    return lambda token: requests.post(lab.endpoint("introspection"), data={"token": token},
                                       auth=REPORTS).json()["active"]


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
    (as_the_app, "did not return False for a refresh token: the app that holds it may introspect it"),
    (local_jwt_check, "still accepts the token after the app revoked it"),
    (raises_when_inactive, "raised for a made-up token (KeyError): return False"),
    (lambda lab: lambda token: 1 / 0, "raised for a genuine, active token (ZeroDivisionError"),
    (lambda lab: lambda token: None, "returned None: return True or False"),
    (lambda lab: "accepts", "expected a function"),
], ids=["always-yes", "no-credentials", "as-the-app", "local-jwt-check", "raises", "broken", "stub",
                                 "not-a-function"])
def test_introspecting_api_refuses_an_api_that_misses_a_case(lab, wrong, why):
    verdict = revocation.introspecting_api.check(wrong(lab))
    assert not verdict.passed and why in verdict.message, verdict.text()


def test_introspecting_api_that_reads_active_passes(lab):
    """The server tells an API that a refresh token is not active (RFC 7662 §2.2; refresh tokens
    are never sent to resource servers, RFC 6749 §1.5): reading `active` is the whole decision."""
    verdict = revocation.introspecting_api.check(active_only(lab))
    assert verdict.passed, verdict.text()


def test_the_hints_work_as_written(lab):
    app = authorization_code_flow(lab, "fernhollow-reports", ["customers:ro"], client_secret=REPORTS[1])
    revoke, then = revocation.disconnect.hint.split("; then ")
    namespace = {"AuthlibSession": AuthlibSession, "lab": lab, "app": app}  # as notebook 10 imports it
    exec(revoke, namespace)  # noqa: S102 — the hint, word for word
    exec(then.rstrip("."), namespace)  # noqa: S102
    verdict = revocation.disconnect.check(namespace["my_answer"])
    assert verdict.passed, verdict.text()

    ask = revocation.introspecting_api.hint.split("; accept only")[0]

    def accepts(access_token):
        return eval(ask, {"requests": requests, "lab": lab, "access_token": access_token})["active"] is True
    verdict = revocation.introspecting_api.check(accepts)
    assert verdict.passed, verdict.text()
