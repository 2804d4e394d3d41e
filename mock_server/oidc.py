"""OpenID Connect's userinfo endpoint (OIDC Core §5.3): who the user is, for a token with `openid`.

ID tokens themselves are made by the ``OpenIDCode`` extension of the code grant (grants.py).
"""
from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import Blueprint

from .grants import user_info
from .models import User
from .state import current

blueprint = Blueprint("oidc", __name__)


@blueprint.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    state = current()
    protector = state.resource_protector
    try:
        token = protector.acquire_token(["openid"])
        if token.user_id is None:
            raise InvalidTokenError(description="This token was issued to an app, not for a user.")
    except OAuth2Error as error:
        protector.raise_error_response(error)
    return dict(user_info(state.db.get(User, token.user_id), token.scope))
