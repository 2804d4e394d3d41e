"""The authorization endpoint (RFC 6749 §3.1, §4.1.1): the user signs in, reads what the app asks
for, and clicks Allow or Deny.

Errors follow §4.1.2.1: while the client or its redirect URI cannot be trusted, the user gets an
error *page* — never a redirect, or the server would become an open redirector. Once both are
known, errors go back to the app as ``?error=...&state=...&iss=...``.
"""
from __future__ import annotations

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc9207 import IssuerParameter as _IssuerParameter
from flask import Blueprint, render_template, request, session

from . import scopes
from .errors import error_page, rfc_text
from .state import current
from .users import check_csrf, csrf_token, render_login, signed_in_user

blueprint = Blueprint("consent", __name__)


class IssuerParameter(_IssuerParameter):
    """RFC 9207: every authorization response names its issuer, error responses included."""

    def get_issuer(self):
        return current().settings.issuer

    def add_issuer_parameter(self, authorization_server, response):
        location = response.location or ""
        if "#" in location:  # implicit: the response parameters travel in the fragment
            response.location = add_params_to_uri(location, {"iss": self.get_issuer()}, fragment=True)
        else:
            super().add_issuer_parameter(authorization_server, response)


def authorization_error(error: OAuth2Error):
    if not error.redirect_uri:
        return error_page(400, f"Authorization error: {error.error}", error.get_error_description(),
                          authorization=True)
    server = current().authorization_server
    response = server.handle_error_response(None, error)
    IssuerParameter().add_issuer_parameter(server, response)
    return response


@blueprint.route("/authorize", methods=["GET", "POST"])
def authorize():
    server = current().authorization_server
    user = signed_in_user()
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return authorization_error(error)
    if user is None:
        return render_login(request.full_path)
    forbidden = scopes.forbidden_for_role(user.role, grant.request.scope)
    if forbidden:
        return authorization_error(InvalidScopeError(rfc_text(
            f"{user.name} ({user.role}) cannot grant {', '.join(forbidden)}: "
            f"it needs the {scopes.required_role(forbidden[0])} role."),
            redirect_uri=grant.redirect_uri, state=grant.request.payload.state))
    if request.method == "GET":
        return render_consent(grant, user)
    check_csrf()
    grant.request.auth_time = session.get("auth_time")
    decision = request.form.get("decision")
    return server.create_authorization_response(
        grant=grant, grant_user=user if decision == "allow" else None)


def render_consent(grant, user):
    client = grant.request.client
    asked = scopes.split_scope(grant.request.scope)
    return render_template(
        "consent.html",
        client=client,
        user=user,
        groups=scopes.grouped(asked),
        implied={name: sorted(scopes.implied_by(name) - {name}) for name in asked},
        redirect_uri=grant.redirect_uri,
        action=current().settings.issuer + request.full_path,
        csrf_token=csrf_token(),
    )
