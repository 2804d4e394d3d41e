"""The resource server's side of RFC 6750: finding, checking and refusing bearer tokens — and of
RFC 9449, DPoP-bound tokens (``Authorization: DPoP`` with a proof: dpop.py).

Answers a user can read: 401 with a bare ``Bearer realm`` challenge when no token came (§3.1: no
error code then), 401 ``invalid_token`` saying *why* (unknown, bad signature, expired, revoked),
403 ``insufficient_scope`` naming the scope that was needed. Scope checks follow LiveChat's
hierarchy (``chats--all:rw`` covers ``chats--access:ro``).

An API of this server (protected_resource.py) also refuses a token meant for another one: its
audience (RFC 8707, RFC 9068 §4) must be this API's resource identifier. Its every challenge names
its metadata (`resource_metadata`, RFC 9728 §5.1), where a client learns where to sign in.
"""
from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

from authlib.integrations.flask_oauth2 import ResourceProtector as _ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import BearerTokenValidator as _BearerTokenValidator
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError
from flask import jsonify
from flask import request as flask_request  # `request` is Authlib's wrapper below
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import select

from . import dpop, protected_resource, scopes
from .errors import rfc_text
from .models import Token
from .state import current
from .storage import credential_hash
from .tokens import remember

REALM = protected_resource.AGENT_API.realm  # the default protection space (RFC 6750 §3); userinfo has its own


def _when(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def signature_verifies(token_string: str) -> bool:
    """A JWT must verify against our JWKS; an opaque token has no signature (the database decides)."""
    if token_string.count(".") != 2:
        return True
    try:
        jwt.decode(token_string, current().keys.verification_keys(), algorithms=["RS256"])
    except (JoseError, ValueError):
        return False
    return True


def find_access_token(token_string: str) -> Token | None:
    token = current().db.scalars(select(Token).where(
        Token.access_token_hash == credential_hash(token_string)).limit(1)).first()
    if token is not None:
        remember(token.token_id, token_string)
    return token


class BearerTokenValidator(_BearerTokenValidator):
    def __init__(self, realm=None, resource=None, **extra_attributes):
        super().__init__(realm, **extra_attributes)
        self.resource = resource  # a ProtectedResource: the audience a token must have; None: any

    def authenticate_token(self, token_string):
        if not signature_verifies(token_string):
            return None
        return find_access_token(token_string)

    def validate_token(self, token, scopes_required, request):
        self.check_alive(token)
        if token.dpop_jkt:  # RFC 9449 §7.2: a bound token is no bearer token
            raise self.invalid("is DPoP-bound: send it as Authorization: DPoP, with a DPoP proof "
                               "signed by its key (RFC 9449 section 7.2)")
        self.check_fit(token, scopes_required)

    def invalid(self, why: str) -> InvalidTokenError:
        return InvalidTokenError(description=rfc_text(f"The access token {why}."), realm=self.realm,
                                 extra_attributes=metadata_attribute(self.resource))

    def check_alive(self, token) -> None:
        """A token this server issued, neither revoked nor expired (RFC 6750 §3.1 invalid_token)."""
        if token is None:
            raise self.invalid("is not one this server issued, or was tampered with")
        if token.is_revoked():
            raise self.invalid(f"was revoked at {_when(token.access_revoked_at)}")
        if token.is_expired():
            raise self.invalid(f"expired at {_when(token.expires_at)}")

    def check_fit(self, token, scopes_required) -> None:
        """Meant for this API, with a scope this call needs (RFC 9068 §4, RFC 6750 §3.1)."""
        if wrong := self.wrong_audience(token):
            raise self.invalid(wrong)
        if self.scope_insufficient(token.get_scope(), scopes_required):
            raise InsufficientScope(scopes_required, self.realm, self.resource)

    def wrong_audience(self, token) -> str | None:
        """RFC 9068 §4: "The JWT access token MUST be rejected if aud does not contain a resource
        indicator of the current resource server" (RFC 6750 §3.1: invalid_token). Why, or None."""
        audience = protected_resource.by_path(token.resource)
        if self.resource is None or audience is self.resource:
            return None
        return (f"is meant for {audience.identifier()}, not for this API ({self.resource.identifier()}): "
                f"ask for a token with resource={self.resource.identifier()} (RFC 8707)")

    def scope_insufficient(self, token_scopes, required_scopes):
        if not required_scopes:
            return False
        granted = scopes.split_scope(token_scopes)
        return not any(scopes.covers(granted, needed) for needed in required_scopes)


class DPoPTokenValidator(BearerTokenValidator):
    """RFC 9449 §7.1: ``Authorization: DPoP <token>`` with a proof for this request, signed by the
    key the token is bound to. Its refusals carry the DPoP challenge (dpop.DPoPChallenge)."""

    TOKEN_TYPE = "dpop"

    def authenticate_token(self, token_string):
        token = super().authenticate_token(token_string)
        if token is not None:
            token.presented_string = token_string  # the proof's ath is the hash of this string
        return token

    def validate_token(self, token, scopes_required, request):
        with self.in_the_dpop_challenge():
            self.check_alive(token)
        dpop.check_presented_proof(token, token.presented_string, self.realm)
        with self.in_the_dpop_challenge():
            self.check_fit(token, scopes_required)

    @contextmanager
    def in_the_dpop_challenge(self):
        """The bearer checks' refusals, words and status alike, in the DPoP challenge."""
        try:
            yield
        except InvalidTokenError as error:
            raise dpop.DPoPChallenge(error.error, error.description, self.realm,
                                     status_code=error.status_code,
                                     scope=(error.extra_attributes or {}).get("scope")) from None


class InsufficientScope(InsufficientScopeError, InvalidTokenError):
    """Authlib's 403 insufficient_scope, with the Bearer challenge Authlib builds for invalid_token
    (its own insufficient_scope error sends none); RFC 6750 §3: the challenge names the scope."""

    def __init__(self, scopes_required: list[str], realm: str, resource=None):
        needed = " ".join(scopes_required)
        super().__init__(description=f"This call needs the scope {' or '.join(scopes_required)}.",
                         realm=realm, extra_attributes={"scope": needed, **metadata_attribute(resource)})


class ResourceProtector(_ResourceProtector):
    """The bearer-token checks of one protection space: an API's (protected_resource.py), or the
    accounts server's own userinfo endpoint's (oidc.py). The realm names it in every challenge;
    an API's also names its metadata, and refuses a token meant for another API."""

    def __init__(self, realm: str = REALM, resource=None):
        super().__init__()
        self.realm, self.resource = realm, resource
        self.register_token_validator(BearerTokenValidator(realm=realm, resource=resource))
        self.register_token_validator(DPoPTokenValidator(realm=realm, resource=resource))

    def parse_request_authorization(self, request):
        """Authlib reads the Authorization header; only the teaching switch adds the query string."""
        query_token = flask_request.args.get("access_token")
        if ("Authorization" not in request.headers and query_token
                and current().settings.switches.allow_token_in_query):
            return self.get_token_validator("bearer"), query_token
        return super().parse_request_authorization(request)

    def token_or_challenge(self, scopes: list[str]):
        """(token, None) when the request carries a good token for `scopes`, else (None, the
        RFC 6750 challenge response) — returned by the view, not raised, so it is an ordinary
        response that the transcript records in full."""
        try:
            return self.acquire_token(scopes), None
        except OAuth2Error as error:
            return None, challenge_response(error, self.realm, self.resource)


def metadata_attribute(resource) -> dict:
    """RFC 9728 §5.1: `resource_metadata`, the URL of an API's metadata, in its challenges."""
    if resource is None or not protected_resource.published(current().settings):
        return {}
    return {"resource_metadata": resource.metadata_url()}


def challenge_response(error, realm: str, resource=None):
    """RFC 6750 §3: the WWW-Authenticate challenge for each failure."""
    if isinstance(error, (MissingAuthorizationError, UnsupportedTokenTypeError)):
        # No bearer credentials at all: a bare challenge, no error code (§3.1) — Authlib's own
        # answer here carries the non-RFC code "missing_authorization".
        body = {"error_description": "This API needs an access token: Authorization: Bearer <token>"}
        if "access_token" in flask_request.args:
            body["error_description"] = (
                "Tokens in the query string are refused (RFC 6750 §2.3, RFC 9700 §4.3.2); "
                "send Authorization: Bearer <token>."
            )
        response = jsonify(body)
        response.status_code = 401
        attributes = {"realm": realm, **metadata_attribute(resource)}
        response.headers["WWW-Authenticate"] = "Bearer " + ", ".join(f'{k}="{v}"' for k, v in attributes.items())
        return dpop.offer_dpop(response, realm)
    return dpop.offer_dpop(current().authorization_server.handle_response(*error()), realm)
