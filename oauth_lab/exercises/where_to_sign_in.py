"""16 · An API that tells you where to sign in."""
from __future__ import annotations

from ..checks import Exercise
from ..discovery import authorization_server_metadata, fetcher, protected_resource_metadata, resource_metadata_urls
from ..lab import current_lab


def _documents(lab, api: str) -> tuple[dict, dict]:
    """An API's metadata and its authorization server's, as the server publishes them."""
    get = fetcher(lab)
    resource = protected_resource_metadata(api, resource_metadata_urls(api, {}), get)
    return resource, authorization_server_metadata(resource["authorization_servers"][0], get)


def _may_go_on(answer):
    if not callable(answer):
        return "expected a function may_go_on(api, resource_metadata, server_metadata) that returns True or False"
    lab = current_lab()
    agent, configuration = f"{lab.issuer}/v3.5/agent", f"{lab.issuer}/v3.5/configuration"
    documents = {api: _documents(lab, api) for api in (agent, configuration)}
    resource, server = documents[agent]
    for api, (its_resource, its_server) in documents.items():
        if answer(api, its_resource, its_server) is not True:
            return f"your function refused {api}'s genuine metadata and its server's: return True for them"
    wrong = [
        (configuration, resource, server,
         "metadata that describes another API (its resource is not the URL you called, RFC 9728 §3.3)"),
        (agent, dict(resource, resource=agent + "/"), server,
         "metadata whose resource is the API's URL with a slash added: compare exactly (RFC 9728 §6)"),
        (agent, resource, dict(server, issuer="https://accounts.elsewhere.example"),
         "an authorization server the API does not name (its issuer is not in authorization_servers)"),
        (agent, dict(resource, authorization_servers=[]), server,
         "metadata that names no authorization server"),
        (agent, resource, {k: v for k, v in server.items() if k != "code_challenge_methods_supported"},
         "a server whose metadata says nothing of PKCE (MCP: refuse to proceed)"),
        (agent, resource, dict(server, code_challenge_methods_supported=["plain"]),
         "a server that offers PKCE only with plain, not S256"),
    ]
    for api, resource_metadata, server_metadata, what in wrong:
        if answer(api, resource_metadata, server_metadata) is not False:
            return f"your function went on with {what}: return False"
    return None


may_go_on = Exercise(
    "16 · may the client go on?", _may_go_on,
    hint="Three comparisons, exact: resource_metadata['resource'] == api; server_metadata['issuer'] in "
         "resource_metadata.get('authorization_servers', []); 'S256' in "
         "server_metadata.get('code_challenge_methods_supported', []). Return True only when all three hold.",
    solution="solutions/16_may_go_on.py",
    success="your client goes on with each API's genuine documents, and stops at metadata of another API (or "
            "its URL with a slash), a server the API does not name, no server at all, and a server without "
            "PKCE S256.")
