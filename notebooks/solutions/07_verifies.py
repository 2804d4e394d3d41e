# 07 · be the server: S256 means code_challenge = BASE64URL(SHA-256(ASCII(code_verifier))) with the
# '=' padding removed (RFC 7636 §4.2, §3); the server recomputes it and compares (§4.6).
import base64
import hashlib
import hmac

from oauth_lab.exercises import pkce


def verifies(code_verifier, code_challenge):
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return hmac.compare_digest(expected, code_challenge)  # constant time: no timing hints


pkce.verifies.check(verifies)
