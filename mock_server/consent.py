"""The authorization endpoint (RFC 6749 §3.1, §4.1.1): the user signs in, reads what the app asks
for, and clicks Allow or Deny.

Errors follow §4.1.2.1: while the client or its redirect URI is unknown or does not match, the
user gets an error *page* — never a redirect, or the server would become an open redirector. Once
both are known, errors go back to the app as ``?error=...&state=...&iss=...``: at once for the
demo apps, and through a page the user clicks on for apps anyone registered (RFC 9700 §4.11.2).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc9101.errors import InvalidRequestUriError
from authlib.oauth2.rfc9207 import IssuerParameter as _IssuerParameter
from flask import Blueprint, render_template, request, session

from . import par, scopes
from .authorization_server import describe
from .clients import is_trusted
from .errors import error_page, rfc_text
from .settings import LOOPBACK_NAMES
from .state import current
from .transcript import query_params
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


def authorization_error(error: OAuth2Error, client=None, user=None):
    if not error.redirect_uri:
        why = "request_uri" if isinstance(error, InvalidRequestUriError) else True  # the page says why
        return error_page(400, f"Authorization error: {error.error}", describe(error), authorization=why)
    if user is None and not is_trusted(client, error.redirect_uri) and request.values.get("prompt") != "none":
        # RFC 9700 §4.11.2: authenticate the user before sending them to a redirect URI the
        # server does not trust (the silent prompt=none request excepted).
        return render_login(request.full_path)
    server = current().authorization_server
    response = server.handle_error_response(None, error)
    IssuerParameter().add_issuer_parameter(server, response)
    return back_to_app(response, client, error.redirect_uri)


def back_to_app(response, client, redirect_uri):
    """An error response (Deny included) goes at once to a trusted app. For an app anyone could
    have registered, the server would be a phishing springboard (RFC 9700 §4.11.2): a page names
    where the response goes, and the browser goes there only when the user clicks."""
    if is_trusted(client, redirect_uri):
        return response
    destination = urlsplit(response.location)
    return render_template("leaving.html", client=client, location=response.location,
                           origin=f"{destination.scheme}://{destination.netloc}",
                           params=query_params(response.location))


@blueprint.route("/authorize", methods=["GET", "POST"])
def authorize():
    return authorization_endpoint()


def authorization_endpoint(refuse=authorization_error, denied=back_to_app):
    """Sign-in, consent and the decision. `refuse(error, client, user)` answers an invalid request
    and `denied(response, client, redirect_uri)` a Deny: the livechat profile sends both to its
    own error page."""
    server = current().authorization_server
    user = signed_in_user()
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        # A redirect URI in the error means Authlib found the client and matched the URI.
        client = server.query_client(request.values.get("client_id")) if error.redirect_uri else None
        return refuse(error, client, user)
    if user is None:
        return render_login(request.full_path)
    client = grant.request.client
    forbidden = scopes.forbidden_for_role(user.role, grant.request.scope)
    if forbidden:
        # Says what was refused and the rule, never who is signed in: the app would learn it.
        return refuse(InvalidScopeError(rfc_text(
            f"{' '.join(forbidden)}: only a user with the {scopes.required_role(forbidden[0])} "
            "role can grant this, and the signed-in user cannot."),
            redirect_uri=grant.redirect_uri, state=grant.request.payload.state,
            # RFC 6749 §4.2.2.1: the implicit grant answers errors in the fragment too.
            redirect_fragment=grant.request.payload.response_type == "token"), client, user)
    if request.method == "GET":
        return render_consent(grant, user)
    check_csrf()
    if not par.redeem(grant.request):  # a pushed request decides once (RFC 9126 section 4)
        return refuse(InvalidRequestUriError("This request_uri was used already: push the request again."),
                      client, user)
    grant.request.auth_time = session.get("auth_time")
    allowed = request.form.get("decision") == "allow"
    response = server.create_authorization_response(grant=grant, grant_user=user if allowed else None)
    # Success goes straight back: the consent page named the redirect URI before the user allowed.
    return response if allowed else denied(response, client, grant.redirect_uri)


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
        # A metadata-document client's host (the draft's §6.4), the API asked for (RFC 8707 §2.1).
        client_host=urlsplit(client.client_id).netloc,
        # MCP 2026-07-28: "SHOULD display additional warnings for localhost-only redirect URIs".
        loopback_redirect=urlsplit(grant.redirect_uri).hostname in LOOPBACK_NAMES,
        resource=getattr(grant.request, "resource", None),
        action=current().settings.issuer + request.full_path,
        csrf_token=csrf_token(),
    )
