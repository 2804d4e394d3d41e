"""The authorization server under the livechat profile: the same Authlib grants as the standard
server's (mock_server/grants.py), with LiveChat's departures — and only the grants LiveChat offers
(authorization code and refresh: no client credentials, no device flow).
"""
from __future__ import annotations

from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, UnauthorizedClientError
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from flask import request as flask_request

from .. import grants, redirects, tokens
from ..authorization_server import AuthorizationServer
from ..clients import query_client
from ..state import current
from . import dialect
from .limits import keep_newest_tokens

# LiveChat's answer to an expired or reused code (its Authorization FAQ), and so to any bad code.
CODE_REFUSED = "The client is not authorized to request a token using this method"


class LiveChatAuthorizationServer(AuthorizationServer):
    def create_oauth2_request(self, request):
        oauth_request = super().create_oauth2_request(request)
        oauth_request.payload = CommaScopes(flask_request)
        return oauth_request


class CommaScopes(FlaskOAuth2Payload):
    """The request's parameters, its `scope` read as LiveChat writes it: comma-separated."""

    @property
    def scope(self) -> str | None:
        return dialect.scope_from_wire(super().scope)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    def generate_authorization_code(self):
        return current().ids.prefixed(f"{dialect.REGION}:")

    @staticmethod
    def validate_authorization_redirect_uri(request, client):
        """LiveChat's rule: scheme, host and port exact, the registered path a prefix (RULES.md)."""
        if not request.payload.redirect_uri:
            return grants.AuthorizationCodeGrant.validate_authorization_redirect_uri(request, client)
        if not redirects.matches(request.payload.redirect_uri, client.redirect_uris, "prefix"):
            raise InvalidRequestError(f"Redirect URI {request.payload.redirect_uri} is not allowed for this app.")
        return request.payload.redirect_uri

    def query_authorization_code(self, code, client):
        try:
            return super().query_authorization_code(code, client)
        except InvalidGrantError as error:  # one answer for every bad code, as LiveChat gives
            raise UnauthorizedClientError(CODE_REFUSED) from error

    def create_token_response(self):
        status, token, headers = super().create_token_response()
        return status, dialect.token_response(token, self.request), headers


class RefreshTokenGrant(grants.RefreshTokenGrant):
    def validate_token_request(self):
        super().validate_token_request()
        # LiveChat: refresh tokens rotate for web (browser) apps, never for server-side apps.
        self.INCLUDE_NEW_REFRESH_TOKEN = self.request.client.is_public

    def create_token_response(self):
        status, token, headers = super().create_token_response()
        return status, dialect.token_response(token, self.request), headers


def save_token(token: dict, request) -> None:
    tokens.save_token(token, request)
    keep_newest_tokens(request.client.client_id, request.user.id)


def token_generator() -> BearerTokenGenerator:
    """Opaque tokens: `dal:` + random for access tokens, no prefix for refresh tokens, 8 h."""
    return BearerTokenGenerator(
        lambda client, grant_type, user, scope: current().ids.prefixed(f"{dialect.REGION}:"),
        lambda client, grant_type, user, scope: current().ids.token(),
        lambda client, grant_type: dialect.ACCESS_TOKEN_LIFETIME)


def authorization_server(app) -> AuthorizationServer:
    server = LiveChatAuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_token_generator("default", token_generator())
    # PKCE: S256 or plain, plain when no method is named; a browser app must use it.
    server.register_grant(AuthorizationCodeGrant, [grants.StrictCodeChallenge(True, ["plain", "S256"])])
    server.register_grant(RefreshTokenGrant)
    return server
