"""Tokens: how they are made (RFC 9068 JWT or opaque), stored, revoked (RFC 7009) and
introspected (RFC 7662).

A JWT access token can be checked by its signature alone — which is exactly why this server also
keeps a row for every one it issues: revocation, code reuse and refresh-family revocation must make
a JWT inactive at introspection *and* at the API, not only when it expires. The row holds the
token's id, owner, scope and expiry and a hash of each string (RFC 6819 §5.1.4.1.3), not the token.
"""
from __future__ import annotations

import hashlib
import json

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import Blueprint, g
from joserfc import jws
from sqlalchemy import bindparam, insert

from . import dpop, protected_resource, resource_indicators
from .grants import CONFIDENTIAL, PUBLIC_AND_CONFIDENTIAL, revoke_family
from .models import Token
from .state import current
from .storage import credential_hash


def api_audience(issuer: str) -> str:
    """RFC 9068 `aud` of a token whose request named no resource: the agent API's identifier."""
    return protected_resource.DEFAULT.identifier(issuer)


class JWTAccessTokens(JWTBearerTokenGenerator):
    def get_jwks(self):
        return current().keys.signing_key()

    def get_jti(self, client, grant_type, user, scope):
        g.issued_token_id = current().ids.token(22)  # save_token's, without decoding the JWT again
        return g.issued_token_id

    def get_audiences(self, client, user, scope):
        # RFC 9068 §3: the resource the request named (RFC 8707), or the default one.
        return resource_indicators.audience().identifier(current().settings.issuer)

    def get_extra_claims(self, client, grant_type, user, scope):
        proof = dpop.request_proof()  # RFC 9449 §6.1: a DPoP-bound token names its key
        return dpop.confirmation(proof.jkt if proof else None)

    def access_token_generator(self, client, grant_type, user, scope):
        self.issuer = current().settings.issuer  # read per request: the issuer is per server
        return super().access_token_generator(client, grant_type, user, scope)


def token_generator(settings):
    """The token generator: RFC 9068 JWTs (or opaque tokens), each response DPoP-bound when its
    request carried a proof (dpop.bind_token)."""
    generate = bearer_token_generator(settings)

    def generate_token(*args, **kwargs):
        return dpop.bind_token(generate(*args, **kwargs))
    return generate_token


def bearer_token_generator(settings) -> BearerTokenGenerator:
    def refresh_token(client, grant_type, user, scope):
        return current().ids.prefixed("rt_")

    def expires_in(client, grant_type):
        return current().settings.lifetimes.access_token

    if settings.access_token_format == "jwt":
        return JWTAccessTokens(settings.issuer, "RS256", refresh_token, expires_in)

    def opaque(client, grant_type, user, scope):
        return current().ids.prefixed("at_")

    return BearerTokenGenerator(opaque, refresh_token, expires_in)


def token_id_of(access_token: str) -> str:
    """The id a transcript and introspection show: a JWT's `jti`, or a digest of an opaque token."""
    try:
        claims = json.loads(jws.extract_compact(access_token.encode()).payload)
        if isinstance(claims, dict) and isinstance(claims.get("jti"), str):
            return claims["jti"]
    except Exception:  # not a JWT (or not ours): fall back to the digest
        pass
    return hashlib.sha256(access_token.encode()).hexdigest()[:22]


TOKEN_FIELDS = ("token_id", "client_id", "user_id", "grant_type", "token_type", "access_token_hash",
                "refresh_token_hash", "scope", "refresh_scope", "issued_at", "expires_in", "refresh_expires_at",
                "family_id", "code_id", "access_revoked_at", "refresh_revoked_at", "refresh_used_at",
                "dpop_jkt", "refresh_dpop_jkt", "resource")
INSERT_TOKEN = insert(Token.__table__).values({name: bindparam(name) for name in TOKEN_FIELDS})


def save_token(token: dict, request) -> None:
    """Authlib's `save_token` hook: store the response so it can be revoked and introspected."""
    state = current()
    now = state.clock.timestamp()
    token_id = g.pop("issued_token_id", None) or token_id_of(token["access_token"])
    parent = getattr(request, "refresh_token", None)  # set by the refresh grant
    code = getattr(request, "authorization_code", None)
    refresh = token.get("refresh_token")
    remember(token_id, token["access_token"], refresh)
    row = dict(
        token_id=token_id,
        client_id=request.client.client_id,
        user_id=request.user.id if request.user else None,
        grant_type=request.payload.grant_type or "implicit",
        token_type=token.get("token_type", "Bearer"),
        access_token_hash=credential_hash(token["access_token"]),
        refresh_token_hash=credential_hash(refresh) if refresh else None,
        scope=token.get("scope", ""),
        # RFC 6749 §6: a rotated refresh token keeps exactly the scope of the one it replaces.
        refresh_scope=(parent.get_refresh_scope() if parent else token.get("scope", "")) if refresh else None,
        issued_at=now,
        expires_in=token["expires_in"],
        refresh_expires_at=now + state.settings.lifetimes.refresh_token if refresh else None,
        family_id=parent.family_id if parent else token_id,
        code_id=code.id if code is not None and hasattr(code, "id") else None,
        access_revoked_at=None, refresh_revoked_at=None, refresh_used_at=None,
        **dpop.bindings(request.client, refresh is not None),
        resource=resource_indicators.audience().path,
    )
    # A Core INSERT: the ORM's unit of work cost more than the rest of the token request. In the
    # session's transaction when there is one (a code or refresh token was claimed in it: both
    # commit together); otherwise (client credentials) the request's only write.
    if state.db().in_transaction():
        state.db.connection().execute(INSERT_TOKEN, row)
        state.db.commit()
    else:
        state.storage.insert(INSERT_TOKEN, row)


def remember(token_id: str, *values: str | None) -> None:
    """This request knows which token these strings are (it issued or checked them): the
    transcript tags its message without asking the database again."""
    known = g.setdefault("token_ids", {})  # "" for a string that is no token of ours
    known.update((value, token_id) for value in values if value)


def token_id_for(value: str) -> str | None:
    """The id of the token this string is, if it is one of ours."""
    if (known := g.get("token_ids", {}).get(value)) is not None:
        return known or None
    token = find_token(value)
    return token.token_id if token else None


def find_token(token_string, token_type_hint=None) -> Token | None:
    """A token by its value; the hint is only a hint (RFC 7009 §2.1: search the other kind too).
    What it found (or that it found nothing: "") is remembered for the transcript."""
    if not isinstance(token_string, str) or not token_string:
        return None
    query, digest = current().db.query(Token), credential_hash(token_string)
    by_access = query.filter_by(access_token_hash=digest).first
    by_refresh = query.filter_by(refresh_token_hash=digest).first
    if token_type_hint == "refresh_token":
        token = by_refresh() or by_access()
    else:
        token = by_access() or by_refresh()
    remember(token.token_id if token else "", token_string)
    return token


def require_token_param(request) -> None:
    """RFC 7009 §2.1 / RFC 7662 §2.1: `token` is required; a hint the server does not know is
    only a hint — ignored, the search covers both kinds anyway."""
    if not request.form.get("token"):
        raise InvalidRequestError("Send the token to check in the 'token' parameter.")


class RevocationEndpoint(_RevocationEndpoint):
    """RFC 7009. Unknown tokens answer 200 too, so revocation cannot be used to probe tokens."""

    CLIENT_AUTH_METHODS = PUBLIC_AND_CONFIDENTIAL

    def check_params(self, request, client):
        require_token_param(request)

    def query_token(self, token_string, token_type_hint):
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token, request):
        if token.is_refresh_token(request.form["token"]):
            # Revoking a refresh token ends the grant: every token descended from it dies too.
            revoke_family(token.family_id)
        else:
            token.access_revoked_at = token.access_revoked_at or current().clock.timestamp()
        current().db.commit()


def active_token(token_string, token_type_hint=None) -> Token | None:
    """The token this string is, if it is active now, marked with how it was presented (its access
    token or its refresh token): anything else is None, and introspection answers exactly
    ``{"active": false}`` for it (RFC 7662 §2.2)."""
    token = find_token(token_string, token_type_hint)
    if token is None:
        return None
    is_refresh = token.is_refresh_token(token_string)
    if not (token.is_refresh_active() if is_refresh else token.is_active()):
        return None
    token.presented_as = "refresh_token" if is_refresh else "access_token"
    return token


def introspection_answer(token: Token | None) -> dict:
    """RFC 7662 §2.2: the facts about an active token; exactly ``{"active": false}`` for anything
    else, so the answer about an inactive token says nothing about why."""
    if token is None:
        return {"active": False}
    settings = current().settings
    refresh = token.presented_as == "refresh_token"
    answer = {
        "active": True,
        "token_type": "refresh_token" if refresh else ("DPoP" if token.dpop_jkt else "Bearer"),
        "client_id": token.client_id,
        "scope": token.get_refresh_scope() if refresh else token.scope,
        "iat": token.issued_at,
        "exp": token.refresh_expires_at if refresh else token.expires_at,
        "iss": settings.issuer,
    }
    if not refresh:  # the access token's own id and audience: a refresh token has neither
        answer.update(jti=token.token_id, aud=protected_resource.by_path(token.resource).identifier(settings.issuer))
        answer.update(dpop.confirmation(token.dpop_jkt))  # RFC 9449 §6.2: its key, to check locally
    if token.user_id:
        answer.update(sub=token.user_id, username=token.user_id)
    else:
        answer["sub"] = token.client_id
    return answer


class IntrospectionEndpoint(_IntrospectionEndpoint):
    """RFC 7662: the resource server's (or the owning app's) question "is this token good?"."""

    # §2.1 and §4: the caller must authenticate, or anyone could scan for tokens. A public
    # client's id alone ("none") proves nothing: anybody can send it.
    CLIENT_AUTH_METHODS = CONFIDENTIAL

    def check_params(self, request, client):
        require_token_param(request)

    def query_token(self, token_string, token_type_hint):
        return active_token(token_string, token_type_hint)

    def check_permission(self, token, client, request):
        if token.presented_as == "refresh_token":
            # Refresh tokens "are never sent to resource servers" (RFC 6749 §1.5): only the app
            # holding it may ask about one. An API is "not allowed to introspect this particular
            # token" and hears exactly {"active": false} (RFC 7662 §2.2).
            return token.client_id == client.client_id
        return client.is_resource_server or token.client_id == client.client_id

    def create_introspection_payload(self, token):
        # query_token answered None for anything inactive, and Authlib passes None on when the
        # caller may not see the token.
        return introspection_answer(token)


blueprint = Blueprint("tokens", __name__)


@blueprint.post("/token")
def token_endpoint():
    refused = dpop.accept_proof_at_authorization_server()  # RFC 9449 §5: any grant may be bound
    return refused or current().authorization_server.create_token_response()


@blueprint.post("/revoke")
def revocation_endpoint():
    return current().authorization_server.create_endpoint_response(RevocationEndpoint.ENDPOINT_NAME)


@blueprint.post("/introspect")
def introspection_endpoint():
    return current().authorization_server.create_endpoint_response(IntrospectionEndpoint.ENDPOINT_NAME)
