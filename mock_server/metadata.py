"""Discovery (RFC 8414, OIDC Discovery 1.0): the documents real clients configure themselves from.

They describe exactly what is enabled — an insecure teaching switch changes them, and is listed in
``mock_server_teaching_switches`` so nobody mistakes a weakened server for a normal one.
"""
from __future__ import annotations

import functools

from flask import Blueprint, current_app, jsonify

from . import dpop, protected_resource, scopes
from .grants import CONFIDENTIAL
from .settings import LIVECHAT
from .state import current

blueprint = Blueprint("metadata", __name__)

DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


def authorization_server_metadata() -> dict:
    return authorization_server_metadata_for(current().settings)


def authorization_server_metadata_for(settings) -> dict:
    switches = settings.switches
    issuer = settings.issuer
    response_types = ["code"] + (["token"] if switches.allow_implicit else [])
    metadata = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "registration_endpoint": f"{issuer}/register",
        "device_authorization_endpoint": f"{issuer}/device_authorization",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "scopes_supported": list(scopes.CATALOG),
        "response_types_supported": response_types,
        "response_modes_supported": ["query"] + (["fragment"] if switches.allow_implicit else []),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials",
                                  DEVICE_CODE] + (["implicit"] if switches.allow_implicit else []),
        "code_challenge_methods_supported": ["S256"] + ([] if switches.require_pkce else ["plain"]),
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": CONFIDENTIAL,
        "authorization_response_iss_parameter_supported": True,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name",
                             "preferred_username", "email", "email_verified"],
        "service_documentation": f"{issuer}/console",
        # RFC 9126 §5: pushed authorization requests; required of every client, or only of those
        # registered with require_pushed_authorization_requests.
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "require_pushed_authorization_requests": settings.require_pushed_authorization_requests,
        "dpop_signing_alg_values_supported": list(dpop.ALGORITHMS),  # RFC 9449 §5.1
        # A client_id may be the URL of the client's metadata document (client_id_metadata.py).
        "client_id_metadata_document_supported": True,
        "protected_resources": protected_resource.identifiers(issuer),  # RFC 9728 §4
    }
    if settings.require_dpop_nonce:  # no standard field says it: clients learn it from use_dpop_nonce
        metadata["mock_server_requires_dpop_nonce"] = True
    if teaching := teaching_switches(settings):
        metadata["mock_server_teaching_switches"] = teaching
    if settings.allow_plain_http:  # a deployment choice, not a lesson: listed apart (transport.py)
        metadata["mock_server_allows_plain_http"] = True
    if settings.profile == LIVECHAT:
        from .livechat.discovery import livechat_metadata  # the profile imports this module

        metadata = livechat_metadata(metadata)
    return metadata


def teaching_switches(settings) -> dict:
    """Insecure switches that are on, plus any changed lifetime (also a teaching setting)."""
    from .settings import Lifetimes

    changed = dict(settings.switches.insecure())
    defaults = Lifetimes()
    for name in defaults.__dataclass_fields__:
        if getattr(settings.lifetimes, name) != getattr(defaults, name):
            changed[f"{name}_lifetime"] = getattr(settings.lifetimes, name)
    return changed


@blueprint.get("/.well-known/oauth-authorization-server")
@blueprint.get("/.well-known/openid-configuration")
def discovery():
    return current_app.response_class(document(current().settings), mimetype=current_app.json.mimetype)


@functools.lru_cache(maxsize=4096)  # a class's worlds, each with settings of its own
def document(settings) -> bytes:
    """The metadata as jsonify sends it, made once per settings (which change only by being
    replaced): every client starts with it, and it was a fifth of a discovery request's cost."""
    return current_app.json.response(authorization_server_metadata_for(settings)).get_data()


@blueprint.get("/scopes")
def scope_catalog():
    """The scope list a provider publishes in its docs (LiveChat does), with roles and hierarchy."""
    return jsonify(scopes=[
        {"name": s.name, "description": s.description, "resource": s.resource, "role": s.role,
         "implies": sorted(scopes.implied_by(s.name) - {s.name})}
        for s in scopes.CATALOG.values()])


@blueprint.get("/.well-known/jwks.json")
def jwks():
    return jsonify(current().keys.public_jwks())
