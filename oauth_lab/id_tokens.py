"""OIDC Core §3.1.3.7: how the *app* validates an ID token — it is the token's audience.

The reverse of an access token (``jwt_access_tokens``): the API reads those, the app never does.
An ID token is addressed to the app (``aud`` = its client id) and tells it who signed in. The app
checks, before believing it:

1. the signature, with the issuer's published keys and the expected algorithm (step 6 lets TLS
   stand in for it when the token comes straight from the token endpoint; the course checks it);
2. ``iss`` is exactly the issuer (step 2); 3. ``aud`` names this app (step 3);
4. ``exp`` is still in the future (step 9, on the server's clock in this course);
5. ``nonce`` is the one this login sent (step 11): an ID token replayed from another login fails;
6. optionally ``at_hash`` matches the access token that came with it (§3.1.3.8, a MAY in the code flow).

There is no ``typ`` rule: ID tokens carry ``typ: JWT`` (or nothing), and an access token of this
server fails on ``aud`` instead.
"""
from __future__ import annotations

import hashlib

from joserfc.util import urlsafe_b64encode

from . import jwt_access_tokens
from .jwt_access_tokens import Check


def at_hash(access_token: str) -> str:
    """OIDC Core §3.2.2.9 for RS256: the left half of SHA-256 of the token, base64url."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return urlsafe_b64encode(digest[: len(digest) // 2]).decode()


def checks(token: str, keys, issuer: str, client_id: str, now: int, nonce: str | None = None,
           access_token: str | None = None) -> list[Check]:
    """Each check in order, stopping at the first that fails; nonce and at_hash when given."""
    done = jwt_access_tokens.checks(token, keys, issuer, client_id, now, types=None)
    if not done[-1].passed:
        return done
    claims = jwt_access_tokens.unverified_parts(token)[1]  # verified by now
    if nonce is not None:
        found = claims.get("nonce")
        detail = f"nonce = {found!r}" + ("" if found == nonce else f", but this login sent {nonce!r}: replayed")
        done.append(Check("nonce", found == nonce, detail))
        if found != nonce:
            return done
    if access_token is not None:
        found, expected = claims.get("at_hash"), at_hash(access_token)
        detail = f"at_hash = {found!r}" + ("" if found == expected else f", the access token's is {expected!r}")
        done.append(Check("at_hash", found == expected, detail))
    return done
