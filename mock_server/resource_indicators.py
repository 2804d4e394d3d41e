"""Resource indicators (RFC 8707): a client names the API it wants a token for, and gets a token
only that API accepts.

`resource` at the authorization endpoint names the API the grant is for (§2.1); at the token
endpoint, the API the access token is for (§2.2). The token's `aud` is that API's resource
identifier (RFC 9068 §3: "SHOULD have the same value as the resource parameter"), and the API
refuses any other audience (resource.py). A request that names no resource gets the agent API,
this server's default (RFC 8707 §2.1 allows one; RFC 9068 §3: "MUST use a default resource
indicator").

This server's choices, where RFC 8707 leaves room (RULES.md, "Resource indicators"):

- one resource per request: several are refused, since a token with several audiences "can be used
  by any one of those resources to access any of the others" (§3);
- the identifier compares exactly, except the case of its scheme and host (RFC 3986 §6.2.2.1);
- with a resource named, every scope asked for must mean something at it (RFC 9068 §2.2.3): "an
  invalid combination of resource and scope" is `invalid_target` too (§2);
- a token request may name only its grant's resource (§2.2 lets policy limit it "to those that
  were originally granted by the resource owner"); client credentials, having no prior grant, any.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from flask import g

from . import protected_resource, scopes
from .errors import rfc_text
from .protected_resource import ProtectedResource


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: "The requested resource is invalid, missing, unknown, or malformed."""

    error = "invalid_target"
    status_code = 400


def requested(request) -> list[str]:
    """Every `resource` value of the request (§2: the parameter may repeat)."""
    return list(request.payload.datalist.get("resource", []))


def identify(value: str) -> ProtectedResource:
    """The resource of this server that `value` names, or invalid_target saying why not."""
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or not parts.scheme or not parts.netloc:
        raise InvalidTargetError(rfc_text(
            f"resource={value[:200]} is not an absolute URI (RFC 8707 section 2, RFC 3986 section 4.3)."))
    if "#" in value:
        raise InvalidTargetError("A resource must not include a fragment (RFC 8707 section 2).")
    for resource in protected_resource.RESOURCES:
        if same_identifier(value, resource.identifier()):
            return resource
    raise InvalidTargetError(rfc_text(
        f"resource={value[:200]} is no resource of this server. Its resources: "
        + ", ".join(r.identifier() for r in protected_resource.RESOURCES) + "."))


def same_identifier(value: str, identifier: str) -> bool:
    """Exactly the same URI, but for the case of scheme and host, which are case-insensitive
    (RFC 3986 §3.1, §3.2.2): no other normalisation (no default port, no trailing slash)."""
    return canonical(value) == canonical(identifier)


def canonical(uri: str) -> str:
    """`uri` with its scheme and authority lower-cased (the rest as sent)."""
    parts = urlsplit(uri)
    head = len(parts.scheme) + len("://") + len(parts.netloc)
    return uri[:head].lower() + uri[head:]


def named_in(request) -> ProtectedResource | None:
    """The one resource the request names, or None when it names none."""
    values = requested(request)
    if len(values) > 1:
        raise InvalidTargetError(
            "Name one resource per request here: a token for several resources could be used by "
            "each of them at the others (RFC 8707 section 3).")
    return identify(values[0]) if values else None


def check_scope(resource: ProtectedResource, scope: str | None) -> None:
    """RFC 9068 §2.2.3: every scope of a token "MUST have meaning for the resources indicated in
    the aud claim"; asked otherwise, "an invalid combination of resource and scope" (§2)."""
    foreign = [name for name in scopes.split_scope(scope) if not resource.understands(name)]
    if foreign:
        raise InvalidTargetError(rfc_text(
            f"{' '.join(foreign)} means nothing at {resource.identifier()}: ask it for scopes of "
            f"{', '.join(resource.groups)} (RFC 8707 section 2, RFC 9068 section 2.2.3)."))


def audience() -> ProtectedResource:
    """The API the access token this request issues is for."""
    return g.get("resource") or protected_resource.DEFAULT


class ResourceIndicators:
    """The `resource` parameter at the authorization and token endpoints, as an Authlib grant
    extension: registered with each grant (app.py)."""

    def __call__(self, grant):
        if grant.GRANT_TYPE == "implicit":  # behind its teaching switch: no token endpoint
            grant.register_hook("after_validate_authorization_request", self.validate_implicit)
            return
        if grant.GRANT_TYPE == "authorization_code":
            grant.register_hook("after_validate_authorization_request_payload", self.validate_authorization)
        grant.register_hook("before_create_token_response", self.validate_token_request)

    def validate_authorization(self, grant, redirect_uri=None):
        """§2.1: the grant is for the resource the request names (none: the default). An error
        goes back to the app (Authlib adds the redirect URI)."""
        resource = named_in(grant.request)
        if resource is not None:
            check_scope(resource, grant.request.scope)
        grant.request.resource = resource
        g.resource = resource  # the implicit grant issues its token in this very request

    def validate_implicit(self, grant, redirect_uri):
        """§2.1: "the requested resource is applicable to that access token"; errors in the
        fragment, as the implicit grant's (RFC 6749 §4.2.2.1)."""
        try:
            self.validate_authorization(grant)
        except InvalidTargetError as error:
            error.redirect_uri, error.redirect_fragment = redirect_uri, True
            raise

    def validate_token_request(self, grant):
        """§2.2: the token is for the resource named, which must be its grant's."""
        asked = named_in(grant.request)
        granted = granted_resource(grant)
        if granted is None:  # client credentials: the app's own token, no grant before it
            resource = asked or protected_resource.DEFAULT
            if asked is not None:
                check_scope(asked, grant.request.payload.scope
                            or grant.request.client.get_allowed_scope(None))
        elif asked not in (None, granted):
            raise InvalidTargetError(rfc_text(
                f"This grant is for {granted.identifier()}; a token for {asked.identifier()} needs "
                "an authorization for it (RFC 8707 section 2.2)."))
        else:
            resource = granted
        g.resource = resource


def granted_resource(grant) -> ProtectedResource | None:
    """The resource the user granted access to: the code's or the refresh token's; the default
    for a device code (its request takes no `resource`); None for client credentials."""
    request = grant.request
    if grant.GRANT_TYPE == "authorization_code":
        return protected_resource.by_path(request.authorization_code.resource)
    if grant.GRANT_TYPE == "refresh_token":
        return protected_resource.by_path(request.refresh_token.resource)
    if grant.GRANT_TYPE == "client_credentials":
        return None
    return protected_resource.DEFAULT
