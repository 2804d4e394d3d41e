"""Routing a request to a learner's world: ``<base>/t/<tenant>/…`` is served by the same app as
a single learner's server, in that tenant's state, chosen here once, before Flask sees the request.

The world's issuer is ``<base>/t/<tenant>``, so its metadata is also at the path-inserted address
RFC 8414 §3 defines, ``<base>/.well-known/oauth-authorization-server/t/<tenant>``; the appended
forms (``<issuer>/.well-known/…``, which OIDC clients fetch; RFC 8414 §5) are the app's own
routes. Its APIs' metadata likewise (RFC 9728 §3.1): the resource ``<base>/t/<tenant>/v3.5/agent``
has it at ``<base>/.well-known/oauth-protected-resource/t/<tenant>/v3.5/agent`` too. Anything else — an unknown tenant, a malformed id, ``..`` — goes to the class's front
pages, which answer 404.
"""
from __future__ import annotations

import re

from ..state import serving

WORLD_PATH = re.compile(r"/t/(?P<tenant>[^/]+)(?P<rest>/.*)?", re.S)
INSERTED_METADATA = re.compile(r"/\.well-known/(?P<document>oauth-authorization-server)/t/(?P<tenant>[^/]+)")
INSERTED_RESOURCE_METADATA = re.compile(r"/\.well-known/oauth-protected-resource/t/(?P<tenant>[^/]+)(?P<rest>/.+)",
                                        re.S)


def split(path: str) -> tuple[str | None, str]:
    """(tenant id, the path inside its world), or (None, path) for the class's own pages."""
    if found := WORLD_PATH.fullmatch(path):
        return found["tenant"], found["rest"] or "/"
    if found := INSERTED_METADATA.fullmatch(path):
        return found["tenant"], f"/.well-known/{found['document']}"
    if found := INSERTED_RESOURCE_METADATA.fullmatch(path):
        return found["tenant"], f"/.well-known/oauth-protected-resource{found['rest']}"
    return None, path


class TenantRouter:
    """WSGI: a learner's requests to `app` in their world, everything else to `front`."""

    def __init__(self, classroom, app, front):
        self.classroom, self.app, self.front = classroom, app, front

    def __call__(self, environ, start_response):
        tenant_id, rest = split(environ.get("PATH_INFO", ""))
        try:
            world = self.classroom.world(tenant_id) if tenant_id is not None else None
            if world is None:
                return self.front(environ, start_response)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + f"/t/{tenant_id}"
            environ["PATH_INFO"] = rest
            with serving(world):
                self.classroom.sync(tenant_id, world)
                return self.app(environ, start_response)
        finally:
            self.classroom.release()
