"""Pushed authorization requests (RFC 9126): the authorization request goes to the server directly,
and the browser carries only a reference to it.

The client POSTs the parameters it would have put in the authorization URL to ``/par``,
authenticating as at the token endpoint (a public client sends its ``client_id``). The server
checks them as it would at the authorization endpoint and answers a ``request_uri``; the browser
then goes to ``/authorize?client_id=…&request_uri=…`` — no scope, no redirect URI, no PKCE
challenge for anyone on the way to read or change.

The authorization endpoint uses only the pushed parameters (RFC 9126 §4, by way of RFC 9101
§6.3); this server goes further and refuses a request whose URL carries a parameter that
disagrees with them (RULES.md, "Pushed authorization requests"). A ``request_uri`` is bound to its
client, lives ``Lifetimes.pushed_request`` seconds and is used once: by the decision (Allow or
Deny), since the sign-in and consent pages read it too.
"""
from __future__ import annotations

import json

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc9101.errors import InvalidRequestUriError
from flask import Blueprint, jsonify, request
from sqlalchemy import select

from . import dpop
from .errors import json_error
from .grants import PUBLIC_AND_CONFIDENTIAL, claim
from .models import PushedRequest
from .state import current
from .storage import credential_hash

blueprint = Blueprint("par", __name__)

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"  # RFC 9126 §2.2's suggested form
# Parameters that only authenticate the client (RFC 9126 §2.1: "not germane to the
# authorization request itself").
CLIENT_AUTHENTICATION = ("client_secret", "client_assertion", "client_assertion_type")
# The consent page's own form fields, posted back to the authorization URL with the decision.
CONSENT_FORM = ("csrf_token", "decision")
MOST_PUSHED_CHARACTERS = 16 * 1024  # a request kept until it is used or expires: bounded


@blueprint.post("/par")
def pushed_authorization_request_endpoint():
    refused = dpop.accept_proof_at_authorization_server()  # RFC 9449 §10.1: a proof may come here too
    if refused:
        return refused
    server = current().authorization_server
    oauth_request = server.create_oauth2_request(None)
    try:
        client = server.authenticate_client(oauth_request, PUBLIC_AND_CONFIDENTIAL)  # §2.1
        parameters = pushed_parameters(client)
        validate_as_authorization_request(server, oauth_request, parameters)
    except OAuth2Error as error:
        error.redirect_uri = None  # a direct request: the answer is JSON, never a redirect (§2.3)
        return server.handle_error_response(oauth_request, error)
    if len(json.dumps(parameters)) > MOST_PUSHED_CHARACTERS:
        return json_error(413, "invalid_request", f"A pushed request holds at most {MOST_PUSHED_CHARACTERS} "
                                                  "characters of parameters (RFC 9126 section 2.3: 413).")
    request_uri, lifetime = save(client, parameters)
    response = jsonify(request_uri=request_uri, expires_in=lifetime)
    response.status_code = 201  # §2.2
    response.headers["Cache-Control"] = "no-cache, no-store"
    return response


def pushed_parameters(client) -> dict:
    """The authorization request in the body (§2.1): everything but client authentication;
    ``client_id`` required and the authenticated client's; no ``request_uri``; and, with a DPoP
    proof on the push, its key as ``dpop_jkt`` (RFC 9449 §10.1)."""
    parameters = {name: value for name, value in request.form.items() if name not in CLIENT_AUTHENTICATION}
    if parameters.get("client_id") != client.client_id:
        raise InvalidRequestError("Send the authorization request's client_id in the body: the "
                                  "authenticated app's (RFC 9126 section 2.1).")
    if "request_uri" in parameters:
        raise InvalidRequestError("A pushed request must not carry request_uri (RFC 9126 section 2.1).")
    proof = dpop.request_proof()
    if proof is not None:
        if parameters.get("dpop_jkt", proof.jkt) != proof.jkt:
            raise InvalidRequestError("dpop_jkt names another key than the one that signed the DPoP "
                                      "proof of this request (RFC 9449 section 10.1).")
        parameters["dpop_jkt"] = proof.jkt
    return parameters


def validate_as_authorization_request(server, oauth_request, parameters: dict) -> None:
    """§2.1: checked as the authorization endpoint checks a request (the client's redirect URI,
    response type, scopes, PKCE), refused early; what needs the user (her role) waits for her."""
    oauth_request.payload = BasicOAuth2Payload(parameters)
    oauth_request.pushing = True  # PushedRequests.use_pushed_request leaves it alone
    grant = server.get_authorization_grant(oauth_request)
    grant.validate_authorization_request()


def save(client, parameters: dict) -> tuple[str, int]:
    state = current()
    now, lifetime = state.clock.timestamp(), state.settings.lifetimes.pushed_request
    # §2.2: "computationally infeasible to predict or guess"; stored as a hash, as tokens are.
    request_uri = REQUEST_URI_PREFIX + state.ids.token(32)
    state.db.add(PushedRequest(request_uri_hash=credential_hash(request_uri), client_id=client.client_id,
                               parameters=json.dumps(parameters), issued_at=now, expires_at=now + lifetime))
    state.db.commit()
    return request_uri, lifetime


def required_for(client) -> bool:
    """§5, §6: PAR required of every client (a server's policy), or of this one (its metadata)."""
    return bool(current().settings.require_pushed_authorization_requests
                or client.client_metadata.get("require_pushed_authorization_requests"))


class PushedRequests:
    """An Authlib extension of the authorization server: before the authorization endpoint looks
    at a request, a ``request_uri`` is replaced by the request it stands for."""

    def __call__(self, server):
        server.register_hook("before_get_authorization_grant", self.use_pushed_request)

    def use_pushed_request(self, server, oauth_request) -> None:
        if getattr(oauth_request, "pushing", False):
            return
        sent = request.values
        client = server.query_client(sent.get("client_id"))
        if "request_uri" not in sent:
            if client is not None and required_for(client):
                # §5: refused "using the invalid_request error code" — back to the app when its
                # redirect URI is known, as any authorization error (RFC 6749 §4.1.2.1).
                raise InvalidRequestError(
                    "This app must push its authorization requests first (RFC 9126): POST them to "
                    f"{current().settings.issuer}/par, then send only client_id and request_uri here.",
                    redirect_uri=_checked_redirect_uri(client, sent), state=sent.get("state"))
            return
        row = find_pushed_request(sent.get("request_uri"), client)
        pushed = json.loads(row.parameters)
        oauth_request.payload = BasicOAuth2Payload(pushed)  # an error's state is the pushed one, too
        oauth_request.pushed_request_id = row.id
        if disagreeing := _disagreeing(sent, pushed):
            raise InvalidRequestError(
                f"The URL carries {', '.join(disagreeing)} beside request_uri, which the pushed request "
                "says otherwise (or not at all): only the pushed parameters count (RFC 9126 section 4, "
                "RFC 9101 section 6.3), and this server refuses a URL that disagrees with them.",
                redirect_uri=pushed.get("redirect_uri") or client.get_default_redirect_uri())


def find_pushed_request(request_uri, client) -> PushedRequest:
    """The pushed request this ``request_uri`` stands for, if it is the client's, unexpired and
    unused (RFC 9126 §2.2, §4). Refused on a page, never redirected: a redirect URI from a
    request that is not this client's, or no longer valid, is none to trust."""
    row = None
    if isinstance(request_uri, str) and request_uri.startswith(REQUEST_URI_PREFIX):
        row = current().db.scalars(select(PushedRequest).where(
            PushedRequest.request_uri_hash == credential_hash(request_uri)).limit(1)).first()
    if row is None or client is None or row.client_id != client.client_id:
        raise InvalidRequestUriError("Unknown request_uri, or pushed by another app (RFC 9126 section 2.2).")
    if row.used_at is not None:
        raise InvalidRequestUriError("This request_uri was used already: push the request again "
                                     "(RFC 9126 section 4: one-time use).")
    if row.expires_at <= current().clock.timestamp():
        raise InvalidRequestUriError(f"This request_uri expired (it lives "
                                     f"{current().settings.lifetimes.pushed_request} s): push the "
                                     "request again (RFC 9126 section 4).")
    return row


def _disagreeing(sent, pushed: dict) -> list[str]:
    """The URL's parameters (besides client_id and request_uri) whose value is not the pushed one."""
    ignored = {"client_id", "request_uri", *CONSENT_FORM}
    return sorted(name for name in sent if name not in ignored and sent.getlist(name) != [pushed.get(name)])


def _checked_redirect_uri(client, sent) -> str | None:
    """The redirect URI an error may go to (RFC 6749 §4.1.2.1): a registered one, or the default."""
    asked = sent.get("redirect_uri")
    if asked:
        return asked if client.check_redirect_uri(asked) else None
    return client.get_default_redirect_uri()


def redeem(oauth_request) -> bool:
    """The decision uses the pushed request up (§4: one-time use). False when it was used at the
    same instant by another decision; True for a request that was not pushed."""
    row_id = getattr(oauth_request, "pushed_request_id", None)
    if row_id is None:
        return True
    used = claim(PushedRequest, row_id, "used_at")
    current().db.commit()
    return used
