"""Clients and registration: RFC 7591 dynamic registration, the Developer Console page that uses the
same code, and the demo apps.

LiveChat's vocabulary maps onto the RFC: a *server-side app* is a confidential client
(``client_secret_basic``), a *browser app* ("JavaScript app") a public one (``none``, PKCE, no
secret). The secret is shown once, at registration, and never again.
"""
from __future__ import annotations

import hmac
import json
import time

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import AccessDeniedError
from authlib.oauth2.rfc6749.requests import JsonPayload, JsonRequest
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint as _ClientRegistrationEndpoint
from authlib.oauth2.rfc7591 import InvalidClientMetadataError, InvalidRedirectURIError
from flask import Blueprint, g, render_template, request
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import bindparam, select

from . import client_id_metadata, redirects, scopes
from .errors import json_body, json_error, rfc_text
from .metadata import authorization_server_metadata
from .models import Client
from .settings import LIVECHAT
from .state import current
from .users import check_csrf, csrf_token

blueprint = Blueprint("clients", __name__)

# RFC 7591 §2 (and §2.3, OIDC Registration §2 for the last one): each field's JSON type. A wrong
# type must be the §3.2.2 error, never a crash in a validator that assumes the type.
STRING_FIELDS = ("client_name", "client_uri", "logo_uri", "scope", "token_endpoint_auth_method",
                 "tos_uri", "policy_uri", "jwks_uri", "software_id", "software_version",
                 "software_statement", "id_token_signed_response_alg", "application_type")
# OIDC Registration §2: "web" (the default) or "native" — an app on the user's device, whose
# loopback IP redirect URIs may name any port (RFC 8252 §7.3; redirects.py).
APPLICATION_TYPES = ("web", "native")
LIST_FIELDS = ("grant_types", "response_types", "contacts")
# Booleans an app registers beside RFC 7591's own: it always uses DPoP (RFC 9449 §5.2), it only
# pushes its authorization requests (RFC 9126 §6). Absent means false.
BOOLEAN_FIELDS = ("dpop_bound_access_tokens", "require_pushed_authorization_requests")
APP_TYPES = {"server-side": "client_secret_basic", "browser": "none"}
CLIENT_BY_ID = select(Client).where(Client.client_id == bindparam("client_id")).limit(1)


class ClientCache:
    """The apps this process looked up, by client_id, for KEEP seconds: every token request, API
    call and authorization request looks its app up, and an app changes only when the demo apps
    are re-pointed (``ensure_demo_apps`` clears this) or a workshop learner's world is reset (each
    process clears its copy: workshop/classroom.py). A new app has a new id: never cached absent."""

    KEEP = 5.0  # seconds: the most another process sharing the database may lag behind
    MOST = 256

    def __init__(self):
        self._found: dict[str, tuple[Client, float]] = {}
        # Clients known by their metadata document (client_id_metadata.py): URL -> (client, until
        # when on the world's virtual clock).
        self.documents: dict[str, tuple[Client, int]] = {}

    def find(self, client_id) -> Client | None:
        found = self._found.get(client_id) if isinstance(client_id, str) else None
        if found is not None and found[1] > time.monotonic():
            return found[0]
        db = current().db
        client = db.scalars(CLIENT_BY_ID, {"client_id": client_id}).first()
        if client is not None:
            db.expunge(client)  # loaded, and out of reach of this session's rollback or expiry
            if len(self._found) >= self.MOST:
                self._found.clear()
            self._found[client_id] = client, time.monotonic() + self.KEEP
        return client

    def clear(self) -> None:
        self._found.clear()
        self.documents.clear()


def _is_string_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_unicode(value) -> bool:
    """No lone surrogate ("\\ud800") anywhere: JSON's syntax allows one, but it is no Unicode
    character (RFC 8259 §8.2) and cannot be stored or sent as UTF-8."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_public_jwk_set(value) -> bool:
    """RFC 7591 §2 `jwks`: a JWK Set (RFC 7517 §5) of the client's *public* keys, checked by
    importing it (joserfc raises TypeError, not its own error, for some shapes, and Authlib's
    validator lets that through as a 500)."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        return False
    try:
        keys = KeySet.import_key_set(value).keys
    except (JoseError, ValueError, TypeError):
        return False
    return not any(key.is_private for key in keys)  # a private or symmetric key is a leaked secret


def metadata_problem(data) -> OAuth2Error | None:
    """What is wrong with this client metadata, as the RFC 7591 §3.2.2 error, or None."""
    if not isinstance(data, dict) or not data:
        return InvalidClientMetadataError("The body must be a non-empty JSON object.")
    if not _is_string_list(data.get("redirect_uris", [])) or not _is_unicode(data.get("redirect_uris")):
        return InvalidRedirectURIError("'redirect_uris' must be a list of strings.")
    if not _is_unicode(data):
        return InvalidClientMetadataError("Every string must be Unicode text: no lone surrogates "
                                          "(RFC 8259 section 8.2).")
    for name in STRING_FIELDS:
        if name in data and not isinstance(data[name], str):
            return InvalidClientMetadataError(f"'{name}' must be a string.")
    for name in LIST_FIELDS:
        if not _is_string_list(data.get(name, [])):
            return InvalidClientMetadataError(f"'{name}' must be a list of strings.")
    for name in BOOLEAN_FIELDS:
        if not isinstance(data.get(name, False), bool):
            return InvalidClientMetadataError(f"'{name}' must be true or false.")
    if data.get("application_type", "web") not in APPLICATION_TYPES:
        return InvalidClientMetadataError("'application_type' must be 'web' or 'native' "
                                          "(OpenID Connect Dynamic Client Registration section 2).")
    if "jwks" in data and not is_public_jwk_set(data["jwks"]):
        return InvalidClientMetadataError("'jwks' must be a JWK Set of public keys: an object whose "
                                          "'keys' is a list of keys (RFC 7517 section 5).")
    # LiveChat's console takes plain http anywhere (the livechat profile); the standard, on loopback only.
    plain_http = current().settings.profile == LIVECHAT
    for uri in data.get("redirect_uris", []):
        if problem := redirects.registration_problem(uri, plain_http):
            return InvalidRedirectURIError(rfc_text(problem))
    grant_types = data.get("grant_types", ["authorization_code"])
    if "authorization_code" in grant_types and not data.get("redirect_uris"):
        return InvalidRedirectURIError("An app using the authorization code grant needs redirect_uris.")
    if unknown := scopes.unknown(scopes.split_scope(data.get("scope", ""))):
        return InvalidClientMetadataError(rfc_text(f"Unknown scopes: {', '.join(unknown)}."))
    if data.get("token_endpoint_auth_method") == "none" and "client_credentials" in grant_types:
        return InvalidClientMetadataError("A public client (no secret) cannot use client_credentials.")
    if data.get("id_token_signed_response_alg", "RS256") != "RS256":
        return InvalidClientMetadataError("ID tokens are signed with RS256 only.")
    return None


class ClientRegistrationEndpoint(_ClientRegistrationEndpoint):
    def authenticate_token(self, request):
        """No initial access token on loopback (one learner, one machine); off loopback, the
        token printed in the banner (RFC 7591 §3) — from an app and from the console alike."""
        settings = current().settings
        if not settings.registration_needs_token:
            return True
        sent = request.headers.get("Authorization", "")
        return bool(settings.registration_token) and hmac.compare_digest(
            sent.encode(), f"Bearer {settings.registration_token}".encode())

    def extract_client_metadata(self, request):
        if problem := metadata_problem(request.payload.data):
            raise problem
        metadata = {
            "grant_types": ["authorization_code"],  # RFC 7591 §2 defaults
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "id_token_signed_response_alg": "RS256",
        }
        metadata.update(super().extract_client_metadata(request))
        for name in ("application_type", *BOOLEAN_FIELDS):  # not RFC 7591's: its claims drop them
            if name in request.payload.data:
                metadata[name] = request.payload.data[name]
        return metadata

    def generate_client_id(self, request):
        return current().ids.token(32)

    def generate_client_secret(self, request):
        return current().ids.token(43)

    def generate_client_info(self, request):
        info = super().generate_client_info(request)
        if request.payload.data.get("token_endpoint_auth_method") == "none":
            # A public client gets no secret at all (RFC 7591 §3.2.1: only when issued).
            del info["client_secret"], info["client_secret_expires_at"]
        return info

    def get_server_metadata(self):
        return authorization_server_metadata()

    def save_client(self, client_info, client_metadata, request):
        return save_client(client_info, client_metadata)


def save_client(client_info: dict, client_metadata: dict, **extra) -> Client:
    auth_method = client_metadata.get("token_endpoint_auth_method", "client_secret_basic")
    client = Client(app_type="browser" if auth_method == "none" else "server-side", **extra)
    for name, value in client_info.items():
        setattr(client, name, value)
    client.set_client_metadata(client_metadata)
    current().db.add(client)
    current().db.commit()
    return client


class _Payload(JsonPayload):
    def __init__(self, data):
        self._data = data

    @property
    def data(self):
        return self._data


def register(metadata: dict, headers: dict | None = None):
    """Run RFC 7591 registration; returns (status, body, headers) — errors in the RFC shape too.
    The console and the HTTP endpoint share it, so both apply the same rules."""
    http_request = JsonRequest("POST", current().settings.issuer + "/register", headers or {})
    http_request.payload = _Payload(metadata)
    try:
        return current().registration(http_request)
    except AccessDeniedError:
        return 401, {"error": "invalid_token", "error_description":
                     "Registration off loopback needs the initial access token from the banner."}, \
            [("WWW-Authenticate", 'Bearer error="invalid_token"')]
    except OAuth2Error as error:
        status, body, headers = error()
        return status, dict(body), headers


def demo_apps(settings) -> list[dict]:
    """The pre-registered apps of the story (fixed ids and secrets, so notebooks can name them).
    Their redirect URIs are the learner's app's own callback, never a page of this server."""
    callbacks = list(settings.app_redirect_uris)
    apps = [
        {"client_id": "fernhollow-reports", "client_secret": "reports-secret",
         "client_name": "Fernhollow Reports", "token_endpoint_auth_method": "client_secret_basic",
         "redirect_uris": callbacks,
         "grant_types": ["authorization_code", "refresh_token", "client_credentials",
                         "urn:ietf:params:oauth:grant-type:device_code"],
         # Only scopes a normal agent can grant: without `scope`, a request asks for all of them.
         "scope": "chats--access:ro customers:ro agents--all:ro openid profile email"},
        {"client_id": "fernhollow-widget", "client_secret": None,
         "client_name": "Fernhollow Chat Widget", "token_endpoint_auth_method": "none",
         "redirect_uris": callbacks,
         "grant_types": ["authorization_code", "refresh_token",
                         "urn:ietf:params:oauth:grant-type:device_code"],
         "scope": "chats--access:ro chats--my:rw customers:ro openid profile"},
        {"client_id": "fernhollow-admin-tools", "client_secret": "admin-tools-secret",
         "client_name": "Fernhollow Admin Tools", "token_endpoint_auth_method": "client_secret_basic",
         "redirect_uris": callbacks, "grant_types": ["authorization_code", "refresh_token"],
         # Administrator scopes (LiveChat's scope table): Jane cannot grant them, Ada can.
         "scope": "chats--all:ro agents--all:ro agents--all:rw webhooks.configuration:rw"},
        {"client_id": "agent-api", "client_secret": "agent-api-secret",
         "client_name": "Agent API (resource server)", "token_endpoint_auth_method": "client_secret_basic",
         "redirect_uris": [], "grant_types": [], "scope": "", "is_resource_server": True},
    ]
    if settings.profile == LIVECHAT:  # LiveChat's scope list has no OpenID Connect scopes
        for app in apps:
            app["scope"] = scopes.join_scope(set(scopes.split_scope(app["scope"])) - scopes.OPENID_CONNECT)
            if app["redirect_uris"]:  # its implicit grant "works for both types" of app
                app["grant_types"] = [*app["grant_types"], "implicit"]
    return apps


def response_types(grant_types: list[str]) -> list[str]:
    """RFC 7591 §2.1: the response types that go with an app's grant types."""
    return [kind for grant, kind in (("authorization_code", "code"), ("implicit", "token")) if grant in grant_types]


def query_client(client_id) -> Client | None:
    """Authlib's `query_client`: the registered app with this id — or, for an id that is a URL,
    the client its metadata document describes (raises ClientDocumentError, saying why not)."""
    if client_id_metadata.is_document_url(client_id) and client_id_metadata.supported(current().settings):
        return client_id_metadata.find(client_id)
    return current().clients.find(client_id)


def is_trusted(client, redirect_uri: str | None) -> bool:
    """Whether the server may send the browser straight to this app's redirect URI: only a demo
    app's, which the server registered itself, to a callback the server chose (not one a workshop
    learner named when joining). Anyone can register an app, and with it a redirect URI nobody
    vetted (RFC 9700 §4.11.2)."""
    state = current()
    demo_ids = {app["client_id"] for app in demo_apps(state.settings)}
    return (client is not None and client.client_id in demo_ids
            and redirect_uri not in state.untrusted_redirect_uris)


def ensure_demo_apps(db, settings) -> None:
    """Register the demo apps, or re-point their callbacks at the app's current address."""
    for app in demo_apps(settings):
        app = dict(app, response_types=response_types(app["grant_types"]) if app["redirect_uris"] else [],
                   id_token_signed_response_alg="RS256")
        info = {"client_id": app.pop("client_id"), "client_secret": app.pop("client_secret"),
                "client_id_issued_at": 0, "client_secret_expires_at": 0}
        is_resource_server = app.pop("is_resource_server", False)
        existing = db.query(Client).filter_by(client_id=info["client_id"]).first()
        if existing:
            existing.set_client_metadata(app)
        else:
            save_client(info, app, is_resource_server=is_resource_server)
    db.commit()
    current().clients.clear()


@blueprint.post("/register")
def register_endpoint():
    data = json_body()
    if not isinstance(data, dict):
        return json_error(400, "invalid_client_metadata", "The body must be a JSON object.")
    status, body, headers = register(data, dict(request.headers))
    response = current().authorization_server.handle_response(status, body, headers)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route("/console", methods=["GET", "POST"])
def console():
    """The Developer Console: register an app by hand, the way LiveChat's console does."""
    form, result, error, status = request.form, None, None, 200
    if request.method == "POST":
        check_csrf()
        # Off loopback the console asks for the initial access token, as /register does.
        typed = form.get("initial_access_token", "").strip()
        code, body, _ = register(console_metadata(form), {"Authorization": f"Bearer {typed}"} if typed else {})
        if code == 201:
            result, status = body, 201
            # The page is HTML: name the new app for the transcript, as /register's JSON does.
            g.transcript_params = {"client_id": body["client_id"]}
        else:
            error, status = body.get("error_description") or body.get("error"), code
    apps = current().db.query(Client).filter_by(is_resource_server=False).order_by(Client.id).all()
    page = render_template("console.html", apps=apps, result=result, error=error, form=form,
                           groups=scopes.grouped(), csrf_token=csrf_token(),
                           needs_token=current().settings.registration_needs_token)
    return page, status


def console_metadata(form) -> dict:
    """The console form as RFC 7591 metadata, with only the grants this server offers (the
    livechat profile has no client credentials)."""
    metadata = app_metadata(form.get("client_name", ""), form.get("app_type", "server-side"),
                            form.get("redirect_uris", ""), form.getlist("scope"))
    offered = authorization_server_metadata()["grant_types_supported"]
    if current().settings.profile == LIVECHAT:  # its implicit grant "works for both types" of app
        metadata["grant_types"].append("implicit")
    grant_types = [g for g in metadata["grant_types"] if g in offered]
    return dict(metadata, grant_types=grant_types, response_types=response_types(grant_types))


def app_metadata(client_name: str, app_type: str, redirect_uris: str, scope_names) -> dict:
    """What LiveChat's console asks (a name, an app type, redirect URIs comma- or line-separated,
    scopes) as RFC 7591 metadata. The console page and the notebook's registration form both
    use it."""
    uris = [u.strip() for u in redirect_uris.replace(",", "\n").splitlines() if u.strip()]
    grant_types = ["authorization_code", "refresh_token"]
    if app_type == "server-side":  # it has a secret, so it may also act for itself (RFC 6749 §4.4)
        grant_types.append("client_credentials")
    return {
        "client_name": client_name.strip() or "Untitled app",
        "token_endpoint_auth_method": APP_TYPES.get(app_type, "client_secret_basic"),
        "redirect_uris": uris,
        "scope": scopes.join_scope(scope_names),
        "grant_types": grant_types,
    }

