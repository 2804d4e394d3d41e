"""LiveChat's token endpoint and its two neighbours at the same path family:

- ``POST /v2/token``: the code and refresh grants (Authlib's, with the profile's rules: grants.py),
  the parameters form-encoded or — as LiveChat's Accounts SDK sample sends them — JSON;
- ``DELETE /v2/token``: revokes a token sent one of LiveChat's "two alternative ways of making the
  same request": ``Authorization: Bearer <token>``, or the URL parameter ``?code=<token>``. An
  access token's refresh token dies with it. Answers ``{}``. (RFC 7009: ``POST`` to a revocation
  endpoint, the client authenticating; here the token alone is enough.)
- ``GET /v2/info`` with the bearer token: what the token is — LiveChat's way to validate one
  (RFC 7662 introspection is the standard's, and asks the caller to authenticate). "If an access
  token was obtained using a refresh token, the response will return both tokens."
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Blueprint, g, jsonify, request

from ..errors import guard_basic_header, guard_form_body, json_error, rfc_text
from ..grants import revoke_family
from ..models import Token, User
from ..oidc import REALM, userinfo_protector as accounts_protector  # the accounts server's own space
from ..resource import challenge_response
from ..state import current
from ..storage import credential_hash
from ..tokens import find_token
from . import dialect

blueprint = Blueprint("livechat_tokens", __name__)


@blueprint.before_request
def body_checks():
    """A token request's body: a form (the standard's checks), or a JSON object of strings."""
    if request.method != "POST":
        return None
    if request.mimetype == "application/x-www-form-urlencoded":
        return guard_form_body()
    if request.mimetype != "application/json":
        return json_error(400, "invalid_request", "Send the parameters as application/x-www-form-urlencoded "
                                                  "(RFC 6749 Appendix B) or as JSON (LiveChat's Accounts SDK).")
    try:
        g.token_parameters = dialect.json_parameters(request.get_data())
    except ValueError as error:
        return json_error(400, "invalid_request", rfc_text(str(error)))
    if repeated := sorted(set(g.token_parameters) & set(request.args)):
        return json_error(400, "invalid_request", f"Parameters must not be repeated (RFC 6749 section 3.2): "
                                                  f"{rfc_text(', '.join(repeated))}.")
    return guard_basic_header()


@blueprint.post("/v2/token")
def token_endpoint():
    return current().authorization_server.create_token_response(g.get("token_parameters"))


def bearer_token() -> str | None:
    """The token in the Authorization header, read by the resource protector's own parser."""
    try:
        _, token_string = current().resource_protector.parse_request_authorization(request)
    except OAuth2Error:
        return None
    return token_string


def token_to_revoke() -> tuple[str | None, str | None]:
    """(the token, None), or (None, why not): in the header or in ``?code=``, one of the two —
    RFC 6750 §2: a client "MUST NOT use more than one method to transmit the token in each
    request"."""
    in_header, in_url = bearer_token(), request.args.getlist("code")
    if len(in_url) > 1:
        return None, "Send one token: the code parameter is repeated."
    if in_header and in_url:
        return None, "Send the token one way, in the Authorization header or as ?code=, not both."
    presented = in_header or (in_url[0] if in_url else None)
    if not presented:
        return None, "Send the token to revoke: Authorization: Bearer <token>, or ?code=<token>."
    return presented, None


@blueprint.delete("/v2/token")
def revoke():
    presented, problem = token_to_revoke()
    if problem:
        return json_error(400, "invalid_request", problem)
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


# --- the refresh token /v2/info returns, kept without keeping it ------------------------------------
# The server stores no token string (RULES.md, "Storage and retention"), yet /v2/info must answer
# an access token obtained by refresh with its refresh token. So the refresh token is kept sealed
# (AES-GCM) under a key derived from the access token, which the server keeps only as a hash:
# whoever presents the access token can open it — the database alone cannot.

_SEAL_LABEL = b"LiveChat /v2/info: the refresh token that came with this access token"
_NONCE = bytes(12)  # each key seals exactly one value (one per access token), so a fixed nonce is safe


def _key(access_token: str) -> AESGCM:
    return AESGCM(hmac.new(access_token.encode(), _SEAL_LABEL, hashlib.sha256).digest())


def keep_for_info(access_token: str, refresh_token: str) -> None:
    sealed = _key(access_token).encrypt(_NONCE, refresh_token.encode(), None)
    db = current().db
    db.query(Token).filter_by(access_token_hash=credential_hash(access_token)).update(
        {"refresh_token_sealed": base64.urlsafe_b64encode(sealed).decode()})
    db.commit()


def refresh_token_for_info(token: Token, access_token: str) -> str | None:
    if not token.refresh_token_sealed:
        return None
    try:
        return _key(access_token).decrypt(_NONCE, base64.urlsafe_b64decode(token.refresh_token_sealed), None).decode()
    except InvalidTag:
        return None


@blueprint.get("/v2/info")
def token_info():
    """The token's facts, for whoever holds it; refresh tokens are not validated here (as LiveChat)."""
    token, challenge = accounts_protector.token_or_challenge([])
    if challenge:
        return challenge
    state, presented = current(), bearer_token()
    user = state.db.get(User, token.user_id) if token.user_id else None
    if user is None:  # a client credentials token, from a standard server on the same --db
        return challenge_response(InvalidTokenError(
            description="This token acts for no user; LiveChat's tokens always act for a user account."), REALM)
    facts = dict(access_token=presented, account_id=dialect.account_id(user.id), client_id=token.client_id,
                 expires_in=token.expires_at - state.clock.timestamp(),
                 organization_id=dialect.organization_id(user),
                 scope=dialect.scope_to_wire(token.scope), token_type="Bearer")
    if refresh_token := refresh_token_for_info(token, presented):
        facts["refresh_token"] = refresh_token
    response = jsonify(facts)
    response.headers["Cache-Control"] = "no-store"
    return response
