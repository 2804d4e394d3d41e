"""LiveChat's authorization endpoint, ``GET /?response_type=code&client_id=…&redirect_uri=…`` (or
``response_type=token``, the implicit grant), and its error page.

The steps are the standard server's (mock_server/consent.py: sign-in, consent, the decision);
what differs is where errors go. LiveChat's docs: "All authorization errors redirect to the error
page https://accounts.livechat.com/ooops", as ``?oauth_exception=<code>&exception_details=<detail>``
— never back to the app, the user's Deny included. The standard sends the errors an app can be
trusted with back to its redirect URI (RFC 6749 §4.1.2.1).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, request

from .. import consent, redirects
from ..authorization_server import describe
from ..clients import query_client
from ..errors import guard_authorization_params
from ..state import current
from ..users import signed_in_user
from .dialect import INVALID_REQUEST
from .limits import RedirectLimit

blueprint = Blueprint("livechat_authorize", __name__)


@dataclass
class Endpoint:
    """What each server's authorization endpoint keeps: its own redirect count, and the home page
    it shows at "/" when no request comes with it."""

    home: Callable
    redirects: RedirectLimit = field(default_factory=RedirectLimit)


def install(app, home) -> None:
    app.extensions["livechat_authorize"] = Endpoint(home)
    app.register_blueprint(blueprint)


def start_over() -> None:
    """The world starts over (admin.py): its clock goes back, so the redirects counted on it go."""
    current_app.extensions["livechat_authorize"].redirects = RedirectLimit()


def ooops(oauth_exception: str, details: str):
    query = urlencode({"oauth_exception": oauth_exception, "exception_details": details})
    return redirect(f"{current().settings.issuer}/ooops?{query}")


@blueprint.before_request
def checks_before_the_request():
    if request.path != "/":
        return None
    if guard_authorization_params():  # a parameter that is not printable ASCII: to the error page too
        return ooops("invalid_request", INVALID_REQUEST)
    user = signed_in_user()
    client_id = request.args.get("client_id")
    if request.method == "GET" and user and client_id:
        limit = current_app.extensions["livechat_authorize"].redirects
        if not limit.allows(client_id, user.id, current().clock.timestamp()):
            return ooops("access_denied", "too_many_redirects")
    return None


@blueprint.route("/", methods=["GET", "POST"])
def authorization_endpoint():
    if request.method == "GET" and not request.args:
        return current_app.extensions["livechat_authorize"].home()  # no request: the home page
    if refusal := client_or_redirect_refused():
        return refusal
    return consent.authorization_endpoint(refuse=refuse, denied=denied)


def client_or_redirect_refused():
    """The checks LiveChat names a detail for, in its order, before any other; and the
    `redirect_uri` its docs mark required (for the code and the implicit grant alike), whose
    absence gets LiveChat's `invalid_request` and its description."""
    client = query_client(request.values.get("client_id"))
    if client is None:
        return ooops("unauthorized_client", "client_id_not_found")
    if not client.redirect_uris:
        return ooops("unauthorized_client", "redirect_uri_not_set")
    uri = request.values.get("redirect_uri")
    if not uri:
        return ooops("invalid_request", INVALID_REQUEST)
    if not redirects.matches(uri, client.redirect_uris, "prefix"):
        return ooops("unauthorized_client", "invalid_redirect_uri")
    return None


def refuse(error, client, user):
    return ooops(error.error, describe(error))


def denied(response, client, redirect_uri):
    return ooops("access_denied", "The user denied the app access.")


@blueprint.get("/ooops")
def error_page():
    """What the user sees: the error and its detail. Nothing here goes back to the app."""
    return render_template("ooops.html", oauth_exception=request.args.get("oauth_exception", ""),
                           details=request.args.get("exception_details", "")), 400
