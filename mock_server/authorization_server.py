"""Authlib's Flask authorization server, with errors a learner can act on.

Every error carries an ``error_description`` (RFC 6749 §5.2 makes it optional; a learner needs
it), and a failed client authentication says what to check.
"""
from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer as _AuthorizationServer
from authlib.oauth2.rfc6749.errors import InvalidClientError

from .errors import rfc_text

DESCRIPTIONS = {
    "invalid_request": "A required parameter is missing, repeated or malformed.",
    "invalid_grant": "The code or refresh token is invalid, expired, revoked or not yours.",
    "unsupported_grant_type": "This server offers authorization_code, refresh_token, "
                              "client_credentials and the device_code grant.",
    "unsupported_response_type": "This server offers response_type=code.",
    "unsupported_token_type": "This server revokes and introspects access and refresh tokens.",
    "access_denied": "The user (or the server) denied the request.",
    "authorization_pending": "The user has not decided yet: poll again after `interval` seconds.",
    "slow_down": "Polling too fast: wait 5 seconds longer between polls from now on.",
    "expired_token": "The device code expired: start the device flow again.",
}


class AuthorizationServer(_AuthorizationServer):
    def authenticate_client(self, request, methods, endpoint="token"):
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            error.description = ("Client authentication failed: unknown client_id, wrong "
                                 "client_secret, or a method this app may not use (a browser app "
                                 "sends only its client_id, a server-side app its secret).")
            raise

    def handle_error_response(self, request, error):
        if not error.description:  # some Authlib errors only describe themselves in a method
            specific = error.get_error_description()
            general = DESCRIPTIONS.get(error.error, "The request was refused.")
            error.description = rfc_text(f"{specific}. {general}" if specific else general)
        return super().handle_error_response(request, error)
