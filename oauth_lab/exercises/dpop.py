"""15 · Tokens that only work for you: a DPoP proof made by hand."""
from __future__ import annotations

import requests
from joserfc.jwk import ECKey

from ..checks import Exercise
from ..lab import current_lab

APP = ("fernhollow-reports", "reports-secret")  # its own token (client credentials): no user needed
SCOPE = "customers:ro agents--all:ro"


def _refusal(response: requests.Response) -> str:
    """What the server said when it refused a request, in its own words."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    return f"{response.status_code} {body.get('error')}: {body.get('error_description')}"


def _proof(answer, key, htm: str, htu: str, iat: int, access_token: str | None = None) -> str:
    proof = answer(key, htm, htu, iat, access_token)
    if not isinstance(proof, str):
        raise TypeError(f"make_proof returned {type(proof).__name__}, not the proof as a string (a compact JWT)")
    return proof


def _make_proof(answer):
    """Each proof goes to the real server: a token request, then two API calls with the token it
    bound to the key. The server's own checks (RFC 9449 §4.3, §7.1) are the verdict."""
    if not callable(answer):
        return "expected a function make_proof(key, htm, htu, iat, access_token=None)"
    lab = current_lab()
    key = ECKey.generate_key("P-256")  # a fresh key for every check: the thumbprint binds it
    token_url = lab.endpoint("token")
    proof = _proof(answer, key, "POST", token_url, lab.clock.now())
    response = requests.post(token_url, data={"grant_type": "client_credentials", "scope": SCOPE}, auth=APP,
                             headers={"DPoP": proof}, timeout=5)
    if response.status_code != 200:
        return f"the token endpoint refused your proof: {_refusal(response)}"
    if response.json().get("token_type") != "DPoP":
        return "the token endpoint issued a bearer token: was the proof in the DPoP header?"
    access_token = response.json()["access_token"]
    for action in ("list_customers", "list_agents"):
        url = lab.api(action)
        proof = _proof(answer, key, "POST", url, lab.clock.now(), access_token)
        call = requests.post(url, json={}, timeout=5, headers={"Authorization": f"DPoP {access_token}",
                                                                "DPoP": proof})
        if call.status_code != 200:
            return f"the API refused your proof for {action}: {_refusal(call)}"
    return None


proof = Exercise(
    "15 · a DPoP proof by hand", _make_proof,
    hint="the header: typ 'dpop+jwt', alg 'ES256' and the public key, key.as_dict(private=False), as "
         "'jwk'; the claims: a fresh random jti for every proof, htm, htu and iat; with an access "
         "token, ath = base64url(SHA-256(token)) without '=' padding. Sign with "
         "joserfc.jwt.encode(header, claims, key, algorithms=['ES256']).",
    solution="solutions/15_make_proof.py",
    success="the token endpoint bound a token to your key, and the API took it with each of your proofs.")
