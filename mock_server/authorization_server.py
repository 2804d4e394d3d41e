"""Authlib's Flask authorization server, with errors a learner can act on.

Every error carries an ``error_description`` (RFC 6749 §5.2 makes it optional; a learner needs
it), and a failed client authentication says what to check.
"""
from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer as _AuthorizationServer
from authlib.oauth2.rfc6749.errors import (InsecureTransportError, InvalidClientError,
                                           UnsupportedResponseTypeError)
from flask import g

from . import transport
from .client_id_metadata import ClientDocumentError
from .errors import rfc_text
from .metadata import authorization_server_metadata

DESCRIPTIONS = {
    "invalid_request": "A required parameter is missing, repeated or malformed.",
    "invalid_grant": "The code or token is invalid, expired, revoked or was issued to another app.",
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
        except ClientDocumentError:
            raise  # it says what is wrong with the client's metadata document
        except InvalidClientError as error:
            error.description = ("Client authentication failed: unknown client_id, wrong "
                                 "client_secret, or a method this app may not use (a browser app "
                                 "sends only its client_id, a server-side app its secret).")
            raise

    def handle_error_response(self, request, error):
        error.description = describe(error)
        return super().handle_error_response(request, error)

    def handle_response(self, status_code, payload, headers):
        """The response, and its payload kept for the transcript (recording.answered_payload),
        which would otherwise parse the JSON just made from it."""
        response = super().handle_response(status_code, payload, headers)
        if isinstance(payload, dict):
            g.answered = (response, payload)
        return response


def describe(error) -> str:
    """The error's description, in a sentence a learner can act on."""
    if isinstance(error, InsecureTransportError):
        return transport.explanation()
    if isinstance(error, UnsupportedResponseTypeError):
        # Authlib 1.9 passes its message and the response type to this error in swapped
        # order, so `description` holds the bare response type: say it in a sentence.
        return rfc_text(f"response_type={error.description} is not supported. "
                        + general_description(error.error))
    if error.description:
        return error.description
    # Some Authlib errors only describe themselves in a method.
    specific = error.get_error_description()
    general = general_description(error.error)
    return rfc_text(f"{specific}. {general}" if specific else general)


def general_description(error: str) -> str:
    """What the error means here; what is on offer is read from the metadata, which follows the
    teaching switches (response_type=token exists only with allow_implicit)."""
    metadata = authorization_server_metadata()
    if error == "unsupported_response_type":
        return f"This server offers response_type={' or '.join(metadata['response_types_supported'])}."
    if error == "unsupported_grant_type":  # the implicit grant never comes to the token endpoint
        grant_types = [g for g in metadata["grant_types_supported"] if g != "implicit"]
        return f"The token endpoint takes grant_type {', '.join(grant_types)}."
    return DESCRIPTIONS.get(error, "The request was refused.")
