"""Protected resource metadata (RFC 9728): how an API tells a client where to sign in.

This server hosts two protected resources, each named by its *resource identifier* (RFC 9728
§1.2: an https URL without fragment), which is also the `aud` of the tokens meant for it (RFC 8707
§2, RFC 9068 §3; resource_indicators.py):

- the agent API, ``{issuer}/v3.5/agent`` — the API of every notebook, and the default audience of a
  token whose request named no resource;
- the configuration API, ``{issuer}/v3.5/configuration`` — LiveChat's name for the API that manages
  agents and webhooks: a second audience, so that a token for one API is refused by the other.

Each publishes its metadata at ``{issuer}/.well-known/oauth-protected-resource{path}`` and names
that URL in every challenge of its (``resource_metadata``, §5.1). With the issuer at the root of
its host (``http://127.0.0.1:5001``) that URL is exactly the one §3 and §3.1 build: the well-known
string inserted between the host and the resource identifier's path. Under a path prefix it is not:

- a class server's learner (issuer ``<base>/t/<id>``): the host's root is the class server's, so
  ``<base>/.well-known/oauth-protected-resource/t/<id>/v3.5/agent`` is served too
  (workshop/tenants.py) — both URLs answer;
- behind a JupyterHub (issuer ``https://hub/user/<name>/oauth``): the host's root is the hub's, which
  forwards nothing there to us; only the URL under our own prefix answers, and a client finds it
  through the challenge, which MCP clients must use when present (RULES.md, "Protected resources").
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, jsonify

from . import scopes
from .settings import LIVECHAT
from .state import current

blueprint = Blueprint("protected_resource", __name__)

WELL_KNOWN = "/.well-known/oauth-protected-resource"  # RFC 9728 §3: the default suffix


@dataclass(frozen=True)
class ProtectedResource:
    path: str  # under the issuer: the identifier is issuer + path
    name: str  # resource_name (§2): shown to people
    realm: str  # its protection space in challenges (RFC 6750 §3)
    actions: tuple[str, ...]  # the agent_api.ACTIONS it serves
    # The scope groups (scopes.Scope.resource) that mean something here: a token for this resource
    # carries only scopes of these (RFC 9068 §2.2.3; RFC 8707 §2, invalid_target otherwise).
    groups: tuple[str, ...]
    # scopes_supported (§2): the read scopes a normal agent can grant, which MCP clients ask for
    # when a challenge names none (MCP 2026-07-28, "Scope Selection Strategy": "the minimal set of
    # scopes necessary for basic functionality"). §2 lets a resource leave others out.
    advertised: tuple[str, ...]

    def identifier(self, issuer: str | None = None) -> str:
        """The resource identifier: what `resource=` names and `aud` carries."""
        return (issuer or current().settings.issuer) + self.path

    def metadata_url(self, issuer: str | None = None) -> str:
        """Where its metadata answers, under this server's own address (the module says why)."""
        return (issuer or current().settings.issuer) + WELL_KNOWN + self.path

    def understands(self, scope: str) -> bool:
        return scopes.is_known(scope) and scopes.CATALOG[scope].resource in self.groups

    def metadata(self, settings) -> dict:
        """The document of §2 (§3.2: a parameter with no value is left out)."""
        switches = settings.switches
        return {
            "resource": self.identifier(settings.issuer),
            "authorization_servers": [settings.issuer],
            "scopes_supported": list(self.advertised),
            # §2: how a bearer token may be sent (RFC 6750 §2.1, §2.3).
            "bearer_methods_supported": ["header"] + (["query"] if switches.allow_token_in_query else []),
            "resource_name": self.name,
        }


AGENT_API = ProtectedResource(
    "/v3.5/agent", "Fernhollow agent API", "agent-api",
    actions=("list_chats", "get_chat", "list_customers", "list_agents", "update_agent", "register_webhook"),
    groups=("Chats", "Customers", "Agents", "Webhooks"),
    advertised=("chats--access:ro", "customers:ro", "agents--all:ro"))
CONFIGURATION_API = ProtectedResource(
    "/v3.5/configuration", "Fernhollow configuration API", "configuration-api",
    actions=("list_agents", "update_agent", "register_webhook"),
    groups=("Agents", "Webhooks"),
    advertised=("agents--all:ro",))
RESOURCES = (AGENT_API, CONFIGURATION_API)
DEFAULT = AGENT_API  # the audience of a token whose request named no resource (RFC 9068 §3)
BY_PATH = {resource.path: resource for resource in RESOURCES}


def by_path(path: str | None) -> ProtectedResource:
    """The resource stored as `path` (None: the default, as rows written before resources were)."""
    return BY_PATH.get(path or DEFAULT.path, DEFAULT)


def served_at(path: str) -> ProtectedResource | None:
    """The resource whose URLs `path` is one of."""
    return next((r for r in RESOURCES if path == r.path or path.startswith(r.path + "/")), None)


def identifiers(issuer: str) -> list[str]:
    """RFC 9728 §4 `protected_resources`: the resources usable with this authorization server."""
    return [resource.identifier(issuer) for resource in RESOURCES]


@blueprint.get(WELL_KNOWN + "/<path:rest>")
def metadata(rest: str):
    """§3.1: a GET at the well-known URL; §3.2: 200 with the JSON document, or an error status."""
    resource = BY_PATH.get("/" + rest)
    if resource is None:
        abort(404, description=f"No protected resource here has the path /{rest}; this server's are "
                               f"{', '.join(r.path for r in RESOURCES)}.")
    return jsonify(resource.metadata(current().settings))


def refuse_root():
    """The host's root itself is no protected resource here (§3.1's request for an identifier
    without a path finds nothing): a JSON 404, as every back-channel miss."""
    abort(404, description="This host's root is no protected resource; the APIs here are "
                           f"{', '.join(r.path for r in RESOURCES)}: their metadata is at "
                           f"{WELL_KNOWN}<path>.")


blueprint.add_url_rule(WELL_KNOWN, "root", refuse_root, methods=["GET"])


def published(settings) -> bool:
    """Whether this server publishes its resources' metadata: not under the livechat profile,
    whose docs describe none of it (RULES.md, "The livechat profile")."""
    return settings.profile != LIVECHAT
