"""OpenID Connect's userinfo endpoint (OIDC Core §5.3): who the user is, for a token with `openid`.

ID tokens themselves are made by the ``OpenIDCode`` extension of the code grant (grants.py).
"""
from __future__ import annotations

from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import Blueprint

from .grants import user_info
from .models import User
from .resource import ResourceProtector, challenge_response
from .state import current

blueprint = Blueprint("oidc", __name__)

# Userinfo is the accounts server's own protected resource (OIDC Core §5.3), not the agent API:
# its challenges name its own realm (RFC 6750 §3).
REALM = "fernhollow-accounts"
userinfo_protector = ResourceProtector(REALM)


@blueprint.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    state = current()
    token, challenge = userinfo_protector.token_or_challenge(["openid"])
    if challenge:
        return challenge
    if token.user_id is None:
        return challenge_response(InvalidTokenError(
            description="This token was issued to an app, not for a user.", realm=REALM), REALM)
    return dict(user_info(state.db.get(User, token.user_id), token.scope))
