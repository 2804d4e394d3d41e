"""LiveChat's token endpoint and its two neighbours at the same path family:

- ``POST /v2/token``: the code and refresh grants (Authlib's, with the profile's rules: grants.py);
- ``DELETE /v2/token`` with ``Authorization: Bearer <token>``: revokes the token; an access
  token's refresh token dies with it. Answers ``{}``. (RFC 7009: ``POST`` to a revocation
  endpoint, the client authenticating; here the token alone is enough.)
- ``GET /v2/info`` with the bearer token: what the token is — LiveChat's way to validate one
  (RFC 7662 introspection is the standard's, and asks the caller to authenticate).
"""
from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import Blueprint, jsonify, request

from ..errors import guard_form_body, json_error
from ..grants import revoke_family
from ..models import Token, User
from ..resource import REALM, challenge_response
from ..state import current
from ..tokens import find_token
from . import dialect

blueprint = Blueprint("livechat_tokens", __name__)


@blueprint.before_request
def form_body_checks():
    if request.method == "POST":
        return guard_form_body()
    return None


@blueprint.post("/v2/token")
def token_endpoint():
    return current().authorization_server.create_token_response()


def bearer_token() -> str | None:
    """The token in the Authorization header, read by the resource protector's own parser."""
    try:
        _, token_string = current().resource_protector.parse_request_authorization(request)
    except OAuth2Error:
        return None
    return token_string


@blueprint.delete("/v2/token")
def revoke():
    presented = bearer_token()
    if not presented:
        return json_error(400, "invalid_request", "Send the token to revoke: Authorization: Bearer <token>.")
    token = find_token(presented)
    if token is not None:  # an unknown token is answered the same: no token probing (RFC 7009 §2.2)
        if token.is_refresh_token(presented):
            revoke_family(token.family_id)  # RFC 7009 §2.1: the grant's access tokens go too
        else:
            revoke_access_and_refresh(token)
        current().db.commit()
    response = jsonify({})
    response.headers["Cache-Control"] = "no-store"
    return response


def revoke_access_and_refresh(token: Token) -> None:
    """LiveChat: "If it's an access token with a corresponding refresh token, both tokens will be
    revoked." Its refresh token is the grant's live one: a server-side app's, which never
    rotates, sits on the grant's first token response."""
    now = current().clock.timestamp()
    token.access_revoked_at = token.access_revoked_at or now
    for row in current().db.query(Token).filter_by(family_id=token.family_id):
        if row.refresh_token_hash:
            row.refresh_revoked_at = row.refresh_revoked_at or now


@blueprint.get("/v2/info")
def token_info():
    """The token's facts, for whoever holds it; refresh tokens are not validated here (as LiveChat)."""
    token, challenge = current().resource_protector.token_or_challenge([])
    if challenge:
        return challenge
    state = current()
    user = state.db.get(User, token.user_id) if token.user_id else None
    if user is None:  # a client credentials token, from a standard server on the same --db
        return challenge_response(InvalidTokenError(
            description="This token acts for no user; LiveChat's tokens always act for a user account.",
            realm=REALM))
    response = jsonify(access_token=bearer_token(), account_id=dialect.account_id(user.id),
                       client_id=token.client_id, expires_in=token.expires_at - state.clock.timestamp(),
                       organization_id=dialect.organization_id(user),
                       scope=dialect.scope_to_wire(token.scope), token_type="Bearer")
    response.headers["Cache-Control"] = "no-store"
    return response
