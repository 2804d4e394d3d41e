# 15 · a DPoP proof by hand (RFC 9449 §4.2): a JWT typed dpop+jwt, signed with the app's private
# key, carrying its public key; one per request (a fresh jti), for that method and URL, made now,
# and at an API bound to the access token by its hash (ath, §7).
import base64
import hashlib
import secrets

from joserfc import jwt

from oauth_lab.exercises import dpop


def make_proof(key, htm, htu, iat, access_token=None):
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}  # never the private part
    claims = {"jti": secrets.token_urlsafe(16), "htm": htm, "htu": htu, "iat": iat}
    if access_token is not None:
        digest = hashlib.sha256(access_token.encode("ascii")).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return jwt.encode(header, claims, key, algorithms=["ES256"])


dpop.proof.check(make_proof)
