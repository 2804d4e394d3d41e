# 04 · validate an access token as the API does (RFC 9068 §4): the signature with the server's
# published keys and the type — both before any claim is used — then iss, aud and exp, on the
# server's clock. Any failure raises.
from joserfc import jwt

from oauth_lab.exercises import exchange
from oauth_lab.jwt_access_tokens import published_keys

keys = published_keys(lab)  # an API fetches them once from jwks_uri, and again when a kid is new


def validate(access_token):
    token = jwt.decode(access_token, keys, algorithms=["RS256"])  # raises on a bad signature
    if token.header.get("typ") not in ("at+jwt", "application/at+jwt"):
        raise ValueError(f"not an access token: typ is {token.header.get('typ')!r}")
    jwt.JWTClaimsRegistry(
        now=lab.clock.now(),
        iss={"essential": True, "value": lab.issuer},
        aud={"essential": True, "value": lab.api_audience},
        exp={"essential": True},
    ).validate(token.claims)
    return token.claims


exchange.api_validates.check(validate)
