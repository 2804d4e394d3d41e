"""Notebook 11's exercise refuses an app that trusts an ID token it should not — each time naming
the check (OIDC Core §3.1.3.7) it skipped."""
from __future__ import annotations

import pytest
from joserfc import jwt

from oauth_lab.exercises import openid
from oauth_lab.jwt_access_tokens import published_keys, unverified_parts

CLIENT_ID = "fernhollow-reports"


def validator(lab, iss=True, nonce=True, aud=True, exp=True):
    """An app's ID-token check that verifies the signature, and the claims asked for."""
    keys = published_keys(lab)

    def validate(id_token, sent_nonce):
        token = jwt.decode(id_token, keys, algorithms=["RS256"])
        options = {}
        if iss:
            options["iss"] = {"essential": True, "value": lab.issuer}
        if nonce:
            options["nonce"] = {"essential": True, "value": sent_nonce}
        if aud:
            options["aud"] = {"essential": True, "value": CLIENT_ID}
        # No exp option still checks a present exp against `now`: skipping it means not passing now.
        now = lab.clock.now() if exp else unverified_parts(id_token)[1]["iat"]
        jwt.JWTClaimsRegistry(now=now, **options).validate(token.claims)
        return token.claims
    return validate


@pytest.mark.parametrize("wrong, why", [
    (lambda lab: lambda id_token, nonce: unverified_parts(id_token)[1], "edited after signing"),
    (lambda lab: lambda id_token, nonce: None, "return its claims"),
    (lambda lab: validator(lab, nonce=False), "from another login"),
    (lambda lab: validator(lab, aud=False), "issued to another app"),
    (lambda lab: validator(lab, iss=False), "whose iss is another server's"),
    (lambda lab: validator(lab, exp=False), "accepted an expired ID token"),
    (lambda lab: lambda id_token, nonce: 1 / 0, "refused a genuine ID token (ZeroDivisionError"),
    (lambda lab: "validate", "expected a function"),
], ids=["reads-unverified", "returns-nothing", "no-nonce", "no-aud", "no-iss", "no-exp", "broken", "not-a-function"])
def test_validate_id_token_refuses_a_skipped_check(lab, wrong, why):
    verdict = openid.validates_id_token.check(wrong(lab))
    assert not verdict.passed and why in verdict.message, verdict.text()


def test_the_full_check_passes(lab):
    assert openid.validates_id_token.check(validator(lab)).passed


def test_the_hint_works_as_written(lab):
    """Each claim option is joserfc's {"essential": True, "value": …}: a bare value (iss=lab.issuer)
    would raise AttributeError inside joserfc."""
    decode, rest = openid.validates_id_token.hint.split("; then ")
    registry, returned = rest.split("; return ")
    source = (f"def validate_id_token(id_token, nonce):\n    {decode}\n    {registry}\n"
              f"    return {returned.rstrip('.')}\n")
    namespace = {"jwt": jwt, "keys": published_keys(lab), "lab": lab, "client_id": CLIENT_ID}
    exec(source, namespace)  # noqa: S102 — the hint, word for word
    verdict = openid.validates_id_token.check(namespace["validate_id_token"])
    assert verdict.passed, verdict.text()
