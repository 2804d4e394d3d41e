"""Device authorization (RFC 8628): a TV or a CLI shows a short code; the user types it on another
device's browser, signs in and decides; meanwhile the device polls the token endpoint.
"""
from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidScopeError, UnauthorizedClientError
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint as _DeviceAuthorizationEndpoint
from flask import Blueprint, render_template, request

from . import scopes
from .models import Client, DeviceCredential
from .state import current
from .users import check_csrf, csrf_token, render_login, signed_in_user

blueprint = Blueprint("device", __name__)


class DeviceAuthorizationEndpoint(_DeviceAuthorizationEndpoint):
    def create_endpoint_response(self, request):
        settings = current().settings
        self.EXPIRES_IN = settings.lifetimes.device_code
        client = self.authenticate_client(request)
        if client.get_allowed_scope(request.payload.scope) is None:
            raise InvalidScopeError("Ask only for scopes registered for this app.")
        if not client.check_grant_type("urn:ietf:params:oauth:grant-type:device_code"):
            raise UnauthorizedClientError("This app is not registered for the device flow.")
        return super().create_endpoint_response(request)

    def authenticate_client(self, request):
        # Authlib's create_endpoint_response authenticates again: once (above) is enough.
        if getattr(request, "client", None) is None:
            super().authenticate_client(request)
        return request.client

    def generate_device_code(self):
        return current().ids.prefixed("dc_")

    def generate_user_code(self):
        return current().ids.user_code()

    def get_verification_uri(self):
        return f"{current().settings.issuer}/device"

    def save_device_credential(self, client_id, scope, data):
        state = current()
        now = state.clock.timestamp()
        state.db.add(DeviceCredential(
            device_code=data["device_code"], user_code=data["user_code"], client_id=client_id,
            scope=self.server.query_client(client_id).get_allowed_scope(scope), issued_at=now, expires_at=now + data["expires_in"],
            interval=data["interval"]))
        state.db.commit()


def _normalise(user_code: str) -> str:
    """Users type codes loosely: ignore case, spaces and dashes (RFC 8628 §6.1)."""
    letters = "".join(c for c in user_code.upper() if c.isalnum())
    return f"{letters[:4]}-{letters[4:]}"


@blueprint.route("/device", methods=["GET", "POST"])
def device_page():
    user = signed_in_user()
    if user is None:
        return render_login(request.full_path)
    typed = request.values.get("user_code", "")
    if not typed:
        return render_template("device.html", step="enter", csrf_token=csrf_token())
    credential = current().db.query(DeviceCredential).filter_by(user_code=_normalise(typed)).first()
    if credential is None or credential.is_expired() or credential.decision is not None:
        return render_template("device.html", step="enter", user_code=typed, csrf_token=csrf_token(),
                               error="That code is unknown, expired or already used."), 400
    client = current().db.query(Client).filter_by(client_id=credential.client_id).first()
    forbidden = scopes.forbidden_for_role(user.role, credential.scope)
    if request.method == "POST" and request.form.get("decision"):
        check_csrf()
        allow = request.form["decision"] == "allow" and not forbidden
        credential.decision, credential.user_id = ("allow" if allow else "deny"), user.id
        current().db.commit()
        return render_template("device.html", step="done", allowed=allow, client=client)
    return render_template("device.html", step="consent", credential=credential, client=client,
                           user=user, groups=scopes.grouped(scopes.split_scope(credential.scope)),
                           forbidden=forbidden, csrf_token=csrf_token())


@blueprint.post("/device_authorization")
def device_authorization():
    server = current().authorization_server
    endpoint = DeviceAuthorizationEndpoint(server)
    oauth_request = server.create_oauth2_request(None)
    try:
        return server.handle_response(*endpoint.create_endpoint_response(oauth_request))
    except OAuth2Error as error:
        return server.handle_error_response(oauth_request, error)
