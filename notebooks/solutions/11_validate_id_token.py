# 11 · validate an ID token as the app, its audience (OIDC Core §3.1.3.7): the signature with the
# issuer's published keys (`keys`, fetched above from jwks_uri), then iss, aud (this app), exp on
# the server's clock, and the nonce this login sent. Any failure raises.
from joserfc import jwt

from oauth_lab.exercises import openid

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


openid.validates_id_token.check(validate_id_token)
