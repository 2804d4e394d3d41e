# 11 · validate an ID token as the app, its audience (OIDC Core §3.1.3.7): the signature with the
# issuer's published keys, then iss, aud (this app), exp on the server's clock, and the nonce this
# login sent. Any failure raises.
from joserfc import jwt

from oauth_lab.jwt_access_tokens import published_keys

keys = published_keys(lab)  # the issuer's keys, from the jwks_uri of its discovery document
client_id = "fernhollow-reports"


def validate_id_token(id_token, nonce):
    token = jwt.decode(id_token, keys, algorithms=["RS256"])  # raises on a bad signature
    jwt.JWTClaimsRegistry(
        now=lab.clock.now(),
        iss={"essential": True, "value": lab.issuer},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        nonce={"essential": True, "value": nonce},
    ).validate(token.claims)
    return token.claims


my_answer = validate_id_token
