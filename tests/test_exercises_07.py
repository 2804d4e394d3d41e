"""07 · PKCE: each wrong answer the check must refuse, with the reason it gives (the token
endpoint's own verdict is what the learner's function is compared with)."""
from __future__ import annotations

import base64
import hashlib

import pytest

import mock_server
from oauth_lab.exercises import pkce
from oauth_lab.lab import setup


@pytest.fixture(scope="module")
def lab():
    lab = setup(seed=None, port=mock_server.free_port())
    yield lab
    lab.handle.stop()


def digest(verifier: str) -> bytes:
    return hashlib.sha256(verifier.encode("ascii")).digest()


def padded(verifier, challenge):
    return base64.urlsafe_b64encode(digest(verifier)).decode() == challenge  # keeps the "="


def hex_digest(verifier, challenge):
    return hashlib.sha256(verifier.encode()).hexdigest() == challenge


def plain_too(verifier, challenge):
    s256 = base64.urlsafe_b64encode(digest(verifier)).rstrip(b"=").decode()
    return challenge in (s256, verifier)


def any_challenge(verifier, challenge):
    return True


@pytest.mark.parametrize("wrong, why", [
    (padded, "for the verifier of the challenge's own request, your function says False"),
    (hex_digest, "for the verifier of the challenge's own request, your function says False"),
    (any_challenge, "for the verifier of another request, your function says True"),
    (plain_too, "(with plain, that would work), your function says True"),
    (lambda verifier, challenge: None, "your function says None; the token endpoint redeems the code"),
    ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "expected a function"),
], ids=["padding-kept", "hex-digest", "accepts-anything", "accepts-plain", "stub", "not-a-function"])
def test_a_wrong_answer_fails_with_a_reason(lab, wrong, why):
    verdict = pkce.verifies.check(wrong)
    assert not verdict.passed and why in verdict.message, verdict.text()


def test_the_server_is_the_judge(lab):
    """The check's oracle really is the token endpoint: the RFC 7636 Appendix B pair redeems,
    the same verifier against another challenge does not."""
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce.server_redeems(lab, verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert not pkce.server_redeems(lab, verifier, verifier)
