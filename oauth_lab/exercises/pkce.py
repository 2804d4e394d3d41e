"""07 · PKCE and public clients."""
from __future__ import annotations

import requests
from oauthlib.oauth2 import WebApplicationClient
from requests_oauthlib import OAuth2Session

from ..checks import Exercise
from ..lab import current_lab
from ..user_agent import UserAgent
from .support import query

APP = "fernhollow-widget"  # the public app: its codes are redeemed with no secret at all


def server_redeems(lab, verifier: str, challenge: str) -> bool:
    """The server's own verdict: a fresh code bound to `challenge` (S256), then a token request
    that proves it with `verifier`. Only the token endpoint decides; the check just asks it."""
    session = OAuth2Session(APP, redirect_uri=lab.redirect_uri, scope=["chats--access:ro"])
    url, _ = session.authorization_url(lab.metadata["authorization_endpoint"],
                                       code_challenge=challenge, code_challenge_method="S256")
    code = query(UserAgent("jane", "jane-password", lab.reach()).authorize(url))["code"]
    answer = requests.post(lab.endpoint("token"), timeout=5, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": lab.redirect_uri,
        "client_id": APP, "code_verifier": verifier})
    return answer.status_code == 200


def _verifies(answer):
    if not callable(answer):
        return "expected a function verifies(code_verifier, code_challenge) that returns True or False"
    lab = current_lab()
    pkce = WebApplicationClient(APP)
    own, other = pkce.create_code_verifier(64), pkce.create_code_verifier(64)
    challenge = pkce.create_code_challenge(own, "S256")
    cases = [(own, challenge, "the verifier of the challenge's own request"),
             (other, challenge, "the verifier of another request"),
             (challenge, challenge, "the challenge itself, sent as the verifier by an attacker who "
                                    "read the request (with plain, that would work)")]
    for verifier, code_challenge, what in cases:
        said, server = answer(verifier, code_challenge), server_redeems(lab, verifier, code_challenge)
        if said is not server:
            verdict = "redeems the code" if server else "refuses it (invalid_grant)"
            return f"for {what}, your function says {said!r}; the token endpoint {verdict}"
    return None


verifies = Exercise(
    "07 · be the server: check a verifier", _verifies,
    hint="hash the verifier's ASCII bytes with hashlib.sha256, base64url-encode the digest "
         "(base64.urlsafe_b64encode) without the '=' padding, and compare with the challenge "
         "(hmac.compare_digest compares in constant time).",
    solution="solutions/07_verifies.py",
    success="your function agrees with the token endpoint on every verifier tried.")
