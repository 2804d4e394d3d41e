"""The authorization server under the livechat profile: the same Authlib grants as the standard
server's (mock_server/grants.py), with LiveChat's departures — and only the grants LiveChat offers:
the authorization code (with refresh) and the implicit grant, no client credentials, no device flow.

Client authentication fails in LiveChat's words. Its troubleshooting page lists, under
`unauthorized_client`, "missing client ID", "client ID not found", "refresh token not found" and
"invalid client secret"; under `invalid_client`, "using refresh token with wrong client id", and
"no client authentication included" in the code's description.
"""
from __future__ import annotations

from collections import defaultdict
from functools import cached_property

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.rfc6749 import OAuth2Payload
from authlib.oauth2.rfc6749.errors import (AccessDeniedError, InvalidClientError, InvalidGrantError,
                                           InvalidRequestError, UnauthorizedClientError)
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge
from flask import request as flask_request
from werkzeug.datastructures import CombinedMultiDict, MultiDict

from .. import grants, redirects, tokens
from ..authorization_server import AuthorizationServer
from ..clients import query_client
from ..models import Token
from ..state import current
from ..storage import credential_hash
from . import dialect
from .limits import keep_newest_tokens
from .tokens import keep_for_info


class LiveChatAuthorizationServer(AuthorizationServer):
    def create_oauth2_request(self, request):
        """`request`: the token request's parameters when its body was JSON (tokens.py)."""
        return LiveChatRequest(flask_request, request)

    def authenticate_client(self, request, methods, endpoint="token"):
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            raise client_refused(request) from error


def client_refused(request):
    """Why the app could not be authenticated, as LiveChat's troubleshooting page words it."""
    basic_id, basic_secret = extract_basic_authorization(request.headers)
    client_id = basic_id or request.form.get("client_id")
    if not client_id:
        return UnauthorizedClientError(f"{dialect.UNAUTHORIZED_CLIENT}: missing client ID.")
    if query_client(client_id) is None:
        return UnauthorizedClientError(f"{dialect.UNAUTHORIZED_CLIENT}: client ID not found.")
    if basic_secret or request.form.get("client_secret"):
        return UnauthorizedClientError(f"{dialect.UNAUTHORIZED_CLIENT}: invalid client secret.")
    return InvalidClientError(status_code=401,
                              description="Client authentication failed: no client authentication included.")


class LiveChatRequest(FlaskOAuth2Request):
    """A request to LiveChat's endpoints: a form (or, at /v2/token, a JSON body), its scope
    comma-separated."""

    def __init__(self, request, json_parameters: dict | None = None):
        super().__init__(request)
        self._body = request.form if json_parameters is None else MultiDict(json_parameters)
        self.payload = CommaScopes(CombinedMultiDict([request.args, self._body]))

    @property
    def form(self):
        return self._body


class CommaScopes(OAuth2Payload):
    """The request's parameters, its `scope` read as LiveChat writes it: comma-separated."""

    def __init__(self, values: CombinedMultiDict):
        self._values = values

    @property
    def data(self):
        return self._values

    @cached_property
    def datalist(self):
        values = defaultdict(list)
        for name in self._values:
            values[name].extend(self._values.getlist(name))
        return values

    @property
    def scope(self) -> str | None:
        return dialect.scope_from_wire(super().scope)


def livechat_redirect_uri(request, client) -> str:
    """LiveChat's rule: scheme, host and port exact, the registered path a prefix (RULES.md). The
    authorization endpoint has already refused a missing one (authorize.py)."""
    uri = request.payload.redirect_uri
    if not uri or not redirects.matches(uri, client.redirect_uris, "prefix"):
        raise InvalidRequestError(f"Redirect URI {uri} is not allowed for this app.")
    return uri


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    validate_authorization_redirect_uri = staticmethod(livechat_redirect_uri)

    def generate_authorization_code(self):
        return current().ids.prefixed(f"{dialect.REGION}:")

    def validate_token_request(self):
        # LiveChat's docs mark redirect_uri required here, for every kind of app (RFC 6749 §4.1.3
        # requires it only when the authorization request had one, which LiveChat's always has).
        if not self.request.form.get("redirect_uri"):
            raise InvalidRequestError(dialect.INVALID_REQUEST)
        super().validate_token_request()

    def query_authorization_code(self, code, client):
        try:
            return super().query_authorization_code(code, client)
        except InvalidGrantError as error:  # one answer for every bad code, as LiveChat gives
            raise UnauthorizedClientError(dialect.UNAUTHORIZED_CLIENT) from error

    def create_token_response(self):
        status, token, headers = super().create_token_response()
        return status, dialect.token_response(token, self.request), headers


class RefreshTokenGrant(grants.RefreshTokenGrant):
    def validate_token_request(self):
        super().validate_token_request()
        # LiveChat: refresh tokens rotate for web (browser) apps, never for server-side apps.
        self.INCLUDE_NEW_REFRESH_TOKEN = self.request.client.is_public

    def authenticate_refresh_token(self, refresh_token):
        known = current().db.query(Token.id).filter_by(refresh_token_hash=credential_hash(refresh_token))
        if known.first() is None:
            raise UnauthorizedClientError(f"{dialect.UNAUTHORIZED_CLIENT}: refresh token not found.")
        token = super().authenticate_refresh_token(refresh_token)
        if not token.check_client(self.request.client):
            raise InvalidClientError(status_code=401, description="Client authentication failed: "
                                                                  "refresh token used with the wrong client ID.")
        return token

    def create_token_response(self):
        status, token, headers = super().create_token_response()
        return status, dialect.token_response(token, self.request), headers


class ImplicitGrant(grants.ImplicitGrant):
    """LiveChat's implicit grant: "recommended for JavaScript web apps, but it works for both
    types", the token in the fragment as its example shows it — `access_token`, `token_type`,
    `expires_in`, `state`; no refresh token. RFC 9700 §2.1.2: clients SHOULD NOT use it."""

    validate_authorization_redirect_uri = staticmethod(livechat_redirect_uri)

    def authenticate_token_endpoint_client(self):
        """Any app, server-side ones too: nobody authenticates at the authorization endpoint."""
        return query_client(self.request.payload.client_id)

    def create_authorization_response(self, redirect_uri, grant_user):
        if not grant_user:
            raise AccessDeniedError(redirect_uri=redirect_uri, redirect_fragment=True)
        self.request.user = grant_user
        token = self.generate_token(user=grant_user, scope=self.request.scope, include_refresh_token=False)
        self.save_token(token)
        params = [(name, token[name]) for name in ("access_token", "token_type", "expires_in")]
        if state := self.request.payload.state:
            params.append(("state", state))
        return 302, "", [("Location", add_params_to_uri(redirect_uri, params, fragment=True))]


class LiveChatCodeChallenge(grants.StrictCodeChallenge):
    """PKCE as LiveChat's docs describe it: `code_challenge_method` "Possible values: `s256` or
    `plain`; default: `plain`" — its Accounts SDK writes `S256`, RFC 7636's spelling. A browser
    app must send a challenge."""

    CODE_CHALLENGE_METHODS = {**CodeChallenge.CODE_CHALLENGE_METHODS, "s256": compare_s256_code_challenge}

    def __init__(self):
        super().__init__(True, ["plain", "S256", "s256"])


def save_token(token: dict, request) -> None:
    tokens.save_token(token, request)
    if request.payload.grant_type == "refresh_token":  # /v2/info answers with both tokens then
        keep_for_info(token["access_token"], token.get("refresh_token") or request.form["refresh_token"])
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
    server.register_grant(AuthorizationCodeGrant, [LiveChatCodeChallenge()])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ImplicitGrant)
    return server
