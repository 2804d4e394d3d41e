"""15 · DPoP: each wrong proof the check must refuse, with the server's own reason (the real token
endpoint and API judge every proof)."""
from __future__ import annotations

import base64
import hashlib

import pytest
from joserfc import jwt

import mock_server
from oauth_lab.exercises import dpop
from oauth_lab.lab import setup


@pytest.fixture(scope="module")
def lab():
    lab = setup(seed=None, port=mock_server.free_port())
    yield lab
    lab.handle.stop()


def proof_maker(jti=None, private=False, typ="dpop+jwt", ath=True, htu=None, skew=0):
    """A make_proof with one thing wrong (or none)."""
    counter = iter(range(10**6))

    def make_proof(key, htm, htu_given, iat, access_token=None):
        header = {"typ": typ, "alg": "ES256", "jwk": key.as_dict(private=private)}
        claims = {"jti": jti or f"proof-{next(counter)}-{id(key)}", "htm": htm, "htu": htu or htu_given,
                  "iat": iat + skew}
        if access_token is not None and ath:
            digest = hashlib.sha256(access_token.encode()).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        return jwt.encode(header, claims, key, algorithms=["ES256"])
    return make_proof


def test_a_right_proof_passes(lab):
    assert dpop.proof.check(proof_maker()).passed


@pytest.mark.parametrize("wrong, why", [
    (proof_maker(jti="same-every-time"), "This proof was used before"),
    (proof_maker(private=True), "must be a public key"),
    (proof_maker(typ="JWT"), "typ must be dpop+jwt"),
    (proof_maker(ath=False), "the API refused your proof for list_customers: 401 invalid_dpop_proof"),
    (proof_maker(htu="https://elsewhere.example/token"), "the token endpoint refused your proof"),
    (proof_maker(skew=-3600), "this server accepts proofs made at most 300 s before"),
    (lambda key, htm, htu, iat, access_token=None: {"typ": "dpop+jwt"}, "not the proof as a string"),
    ("eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.sig", "expected a function"),
], ids=["reused-jti", "private-key", "typ-jwt", "no-ath", "another-url", "an-hour-old", "not-a-string",
        "not-a-function"])
def test_a_wrong_proof_fails_with_the_servers_reason(lab, wrong, why):
    verdict = dpop.proof.check(wrong)
    assert not verdict.passed and why in verdict.message, verdict.message


def test_no_answer_yet(lab):
    verdict = dpop.proof.check(None)
    assert not verdict.passed and "%load solutions/15_make_proof.py" in verdict.text()
