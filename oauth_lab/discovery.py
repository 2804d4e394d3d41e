"""A client that meets an API first (notebook 16): from the API's URL to its authorization server,
each step the one the MCP authorization spec (2026-07-28) asks of its clients, each check one a
client must make before it goes on.

    challenge(answer)                               # the 401's WWW-Authenticate, read
    resource_metadata_urls(api, challenge)          # where the API's metadata is (RFC 9728 §3.1, §5.1)
    protected_resource_metadata(api, urls, get)     # fetched, checked (check_resource: §3.3)
    authorization_server_urls(issuer)               # where its server's metadata is (RFC 8414 §3.1, §5)
    authorization_server_metadata(issuer, get)      # fetched, checked (check_server: RFC 8414 §3.3; PKCE)
    check_iss(redirect, server)                     # the authorization response's issuer (RFC 9207 §2.4)

`get(url)` fetches a URL the way this client reaches it: ``fetcher(lab)`` maps the server's
public addresses to this kernel's (``lab.back_channel``), as every notebook does. Each check that
fails raises ``Refused``: the client must not go on.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import requests
from werkzeug.datastructures import WWWAuthenticate

RESOURCE_METADATA = "/.well-known/oauth-protected-resource"  # RFC 9728 §3
SERVER_METADATA = "/.well-known/oauth-authorization-server"  # RFC 8414 §3
OPENID_CONFIGURATION = "/.well-known/openid-configuration"  # OpenID Connect Discovery §4


class Refused(Exception):
    """A check failed: the client must not use what it was given."""


def fetcher(lab):
    """`get(url)`: the answer to a GET of `url`, reached from this kernel — or None when nothing
    answers there. No redirect is followed: metadata answers where it is."""
    def get(url: str) -> requests.Response | None:
        try:
            return requests.get(lab.back_channel(url), timeout=5, allow_redirects=False)
        except requests.RequestException:
            return None
    return get


# An element of a WWW-Authenticate list (RFC 9110 §11.6.1): up to a comma outside a quoted string.
ELEMENT = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*")+')
STARTS_A_CHALLENGE = re.compile(r"\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:\s+[^=\s]+(?:=|$)|\s*$)")


def challenges(header: str | None) -> list[WWWAuthenticate]:
    """Each challenge of a WWW-Authenticate header. One header may carry several (an API that also
    takes DPoP sends ``Bearer realm=…, resource_metadata=…, DPoP realm=…, algs=…``, RFC 9449 §7.2),
    which werkzeug's parser, made for one challenge, would read as one: the header is cut where a
    new scheme begins, and werkzeug reads each piece."""
    pieces: list[str] = []
    for element in ELEMENT.findall(header or ""):
        if STARTS_A_CHALLENGE.match(element) or not pieces:
            pieces.append(element.strip())
        else:
            pieces[-1] += "," + element
    return [found for piece in pieces if (found := WWWAuthenticate.from_header(piece)) is not None]


def challenge(answer: requests.Response) -> dict:
    """The parameters of the Bearer challenge (RFC 6750 §3); {} when there is none."""
    bearer = [found for found in challenges(answer.headers.get("WWW-Authenticate")) if found.type == "bearer"]
    return dict(bearer[0].parameters) if bearer else {}


def resource_metadata_urls(api: str, challenge: dict) -> list[str]:
    """The challenge's `resource_metadata` (RFC 9728 §5.1); without one, the well-known URLs built
    from the API's URL — path inserted after the host first, then the host's root (§3.1; MCP's
    order)."""
    if "resource_metadata" in challenge:
        return [challenge["resource_metadata"]]
    parts = urlsplit(api)
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")  # §3.1: no terminating slash
    return [origin + RESOURCE_METADATA + path, origin + RESOURCE_METADATA] if path else [origin + RESOURCE_METADATA]


def protected_resource_metadata(api: str, urls: list[str], get) -> dict:
    """The API's metadata, from the first URL that answers it, checked (``check_resource``)."""
    for url in urls:
        answer = get(url)
        if answer is not None and answer.status_code == 200:
            return check_resource(api, answer.json())
    raise Refused(f"No protected resource metadata at {', '.join(urls)}.")


def check_resource(api: str, metadata: dict) -> dict:
    """Its `resource` must be the API's URL itself (RFC 9728 §3.3: "If these values are not
    identical, the data contained in the response MUST NOT be used"), or any document could claim
    to speak for this API; and it names an authorization server (the MCP spec: "at least one")."""
    if metadata.get("resource") != api:
        raise Refused(f"This metadata describes {metadata.get('resource')!r}, not {api}: RFC 9728 §3.3 says "
                      "its data MUST NOT be used.")
    if not metadata.get("authorization_servers"):
        raise Refused("This metadata names no authorization server (MCP: at least one).")
    return metadata


def authorization_server_urls(issuer: str) -> list[str]:
    """Where an issuer's metadata may be, in the order the MCP spec has clients try them: RFC 8414
    §3.1 (path inserted after the host), then OpenID Connect Discovery — inserted, then appended
    (RFC 8414 §5)."""
    parts = urlsplit(issuer)
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    if not path:
        return [origin + SERVER_METADATA, origin + OPENID_CONFIGURATION]
    return [origin + SERVER_METADATA + path, origin + OPENID_CONFIGURATION + path, issuer + OPENID_CONFIGURATION]


def authorization_server_metadata(issuer: str, get) -> dict:
    """The issuer's metadata, from the first URL that answers it, checked (``check_server``)."""
    for url in authorization_server_urls(issuer):
        answer = get(url)
        if answer is not None and answer.status_code == 200:
            return check_server(issuer, answer.json())
    raise Refused(f"No authorization server metadata for {issuer}.")


def check_server(issuer: str, metadata: dict) -> dict:
    """Its `issuer` is the very issuer its URL was built from (RFC 8414 §3.3: otherwise it "MUST
    NOT be used"), and it offers PKCE with S256 (the MCP spec: "If code_challenge_methods_supported
    is absent, the authorization server does not support PKCE and MCP clients MUST refuse to
    proceed")."""
    if metadata.get("issuer") != issuer:
        raise Refused(f"This metadata names the issuer {metadata.get('issuer')!r}, not {issuer}: RFC 8414 §3.3 "
                      "says it MUST NOT be used.")
    if "S256" not in metadata.get("code_challenge_methods_supported", []):
        raise Refused(f"{issuer} does not say it supports PKCE with S256 (code_challenge_methods_supported: "
                      f"{metadata.get('code_challenge_methods_supported')}): refuse to proceed.")
    return metadata


def check_iss(redirect: str, server: dict) -> dict:
    """The authorization response's parameters, once its `iss` passed RFC 9207 §2.4 as the MCP
    spec's table reads it — before its code goes to any token endpoint, its error to the user: an
    `iss` present must be the issuer this client asked; an absent one, only if the server's
    metadata does not promise it."""
    params = dict(parse_qsl(urlsplit(redirect).query))
    if "iss" in params and params["iss"] != server["issuer"]:
        raise Refused(f"This answer comes from {params['iss']!r}, not from {server['issuer']}, the server "
                      "this client asked (a mix-up attack, RFC 9207): throw it away.")
    if "iss" not in params and server.get("authorization_response_iss_parameter_supported"):
        raise Refused(f"{server['issuer']} promises iss in every answer, and this one has none: throw it away.")
    return params
