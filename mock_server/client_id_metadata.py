"""OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-01, read in
full; MCP 2026-07-28 cites -00): a client whose `client_id` is the https URL of a JSON document
that describes it. No registration: this server fetches the document when it meets the client.

A server that fetches URLs a stranger names is an attack surface — server-side request forgery:
a `client_id` of ``http://169.254.169.254/…`` would have the server read a cloud's metadata
service, ``http://127.0.0.1:<port>/…`` a service on its own machine. So every defence of the
draft's security considerations is here, each a rule of RULES.md ("Client ID Metadata Documents"):

- the URL (§3): https, a path, no dot segments, no fragment, no user name or password; at most
  255 characters;
- its addresses (§6.5): every address the host resolves to must be a global one — none of RFC
  6890's special-use blocks (loopback, private, link-local, shared, documentation, 6to4, NAT64…)
  — and the connection goes to the address that was checked, never a second lookup (a name that
  resolves elsewhere the second time, DNS rebinding, gains nothing);
- the fetch (§4, §6.6): a GET with no credentials, no redirect followed, 200 only, at most 5 KiB,
  at most 3 seconds in all (resolution, connection and the slowest server), JSON;
- the document (§4.1): its `client_id` is its URL, exactly; no `client_secret`, no
  `client_secret_expires_at`, no shared-secret authentication method; its redirect URIs are the
  client's only ones, and it passes every rule a registration does (clients.metadata_problem);
- the cache (§4.4): as its `Cache-Control: max-age` says, at most an hour; never an error, never an
  invalid document; on the virtual clock, so a fast-forward expires it.

**The lab's own loopback set-up** — the one exception to the address rule, and the draft's own:
"except when the authorization server itself is also running on a loopback address and the
resolved address matches the same loopback interface". It applies only to a single learner's
server listening on 127.0.0.1 or ::1 alone (``--host``, the default; not a class server's worlds,
which anyone in the class reaches), for a URL whose every address is exactly that one, on another
port than the server's own (its own routes are no client's). Whoever can reach such a server can
reach that address anyway: the notebook's app (``http://127.0.0.1:8765/client-metadata.json``) on a
laptop and on Binder, where server, kernel and app share the container. There, and only there,
plain http is accepted too: nothing on loopback crosses a network (RFC 8252 §7.3 reasons alike).
"""
from __future__ import annotations

import ipaddress
import json
import re
import socket
import ssl
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as ResolutionTimeout
from urllib.parse import unquote, urlsplit

import urllib3
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc6749.requests import JsonRequest
from flask import g

from .errors import rfc_text
from .settings import LIVECHAT
from .state import current

MAX_URL = 255  # characters: the database's client_id columns (models.py)
MAX_BYTES = 5 * 1024  # §6.6: "The recommended maximum response size ... is 5 kilobytes"
TIME_LIMIT = 3.0  # seconds for the whole fetch
MAX_AGE = 3600  # seconds: this server's upper bound on a document's cache lifetime (§4.4 MAY)
CACHED = 256  # documents kept per world
LOOPBACK_HOSTS = ("127.0.0.1", "::1")
SECRET_METHODS = ("client_secret_basic", "client_secret_post", "client_secret_jwt")
JSON_TYPE = re.compile(r"application/(?:[\w.+-]+\+)?json", re.I)
USER_AGENT = "Fernhollow-Accounts (OAuth Client ID Metadata Document fetcher)"
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="client-document-dns")
getaddrinfo = socket.getaddrinfo  # the system's resolver (the tests give names addresses of their own)

# RFC 6890 §2.2.2 and §2.2.3, the special-purpose address blocks, with multicast and the
# deprecated IPv4-compatible IPv6 addresses besides: what a client's document may never be at.
SPECIAL_USE = tuple((ipaddress.ip_network(block), name) for block, name in (
    ("0.0.0.0/8", "'this network'"), ("10.0.0.0/8", "private-use"), ("100.64.0.0/10", "shared address space"),
    ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local (cloud metadata services answer there)"),
    ("172.16.0.0/12", "private-use"), ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"), ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private-use"), ("198.18.0.0/15", "benchmarking"), ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"), ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "limited broadcast"),
    ("::1/128", "loopback"), ("::/128", "unspecified"), ("::/96", "IPv4-compatible (deprecated)"),
    ("::ffff:0:0/96", "IPv4-mapped"), ("64:ff9b::/96", "IPv4-IPv6 translation"), ("100::/64", "discard-only"),
    ("2001::/23", "IETF protocol assignments"), ("2001:db8::/32", "documentation"), ("2002::/16", "6to4"),
    ("fc00::/7", "unique-local"), ("fe80::/10", "link-local"), ("ff00::/8", "multicast"),
))


class ClientDocumentError(InvalidClientError):
    """The client's document could not be used: an unknown client, saying why (RFC 6749 §5.2
    `invalid_client`; an error page at the authorization endpoint, §4.1.2.1)."""


def supported(settings) -> bool:
    """The livechat profile leaves these out: a URL is an unknown client id there."""
    return settings.profile != LIVECHAT


def is_document_url(client_id) -> bool:
    """A `client_id` that is meant as a document's URL (any http(s) URL: a refused one says why)."""
    return isinstance(client_id, str) and client_id[:8].lower().startswith(("https://", "http://"))


def find(url: str):
    """The client this document URL describes — from this request's memo, the cache, or a fetch."""
    memo = g.setdefault("client_documents", {})  # the same answer however often one request asks
    if url not in memo:
        memo[url] = _cached_or_fetched(url)
    return memo[url]


def _cached_or_fetched(url: str):
    state = current()
    now = state.clock.timestamp()
    documents = state.clients.documents
    cached = documents.get(url)
    if cached is not None and cached[1] > now:
        return cached[0]
    document, lifetime = fetch(url, state.settings)
    client = client_of(url, document)
    if lifetime > 0:  # only what is valid gets here: errors and invalid documents never (§4.4)
        if len(documents) >= CACHED:
            documents.clear()
        documents[url] = client, now + lifetime
    return client


# --- the URL (§3) and its addresses (§6.5) ------------------------------------------------------

def refuse(why: str):
    raise ClientDocumentError(rfc_text(why))


def check_url(url: str):
    """§3: "MUST have an "https" scheme, MUST contain a path component, MUST NOT contain single-dot
    or double-dot path segments, MUST NOT contain a fragment component and MUST NOT contain a
    username or password". Returns the URL's parts."""
    if len(url) > MAX_URL:
        refuse(f"A client_id URL of more than {MAX_URL} characters is refused.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not one)
    except ValueError:
        refuse("The client_id is not a well-formed URL.")
    if "#" in url:
        refuse("A client_id URL must not contain a fragment (client ID metadata document draft, section 3).")
    if "@" in parts.netloc:
        refuse("A client_id URL must not contain a username or password (draft section 3).")
    if not parts.hostname:
        refuse("The client_id URL names no host.")
    if not parts.path:
        refuse("A client_id URL must contain a path, e.g. https://app.example/client.json (draft section 3).")
    if {".", ".."} & {unquote(segment) for segment in parts.path.split("/")}:
        refuse("A client_id URL must not contain . or .. path segments (draft section 3).")
    return parts


def lab_loopback(settings):
    """The address of the lab's own loopback set-up (the module's docstring), or None."""
    if settings.host in LOOPBACK_HOSTS and not settings.open_registration:
        return ipaddress.ip_address(settings.host)
    return None


def special_use(address) -> str | None:
    """What kind of special-use address this is (RFC 6890), or None for a global one."""
    for block, name in SPECIAL_USE:
        if address.version == block.version and address in block:
            return name
    return None if address.is_global else "not a global address"


def resolve(host: str, port: int, deadline: float) -> list:
    """Every address `host` names: an IP literal, or what name resolution answers in time. (Any
    form the system's resolver reads — 2130706433, 0x7f.1, 0177.0.0.1 — comes back as the address
    it means, and is judged as that.)"""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        answers = _resolver.submit(getaddrinfo, host, port, type=socket.SOCK_STREAM).result(
            timeout=max(0.0, deadline - time.monotonic()))
    except ResolutionTimeout:
        refuse(f"Resolving {host} took more than {TIME_LIMIT:g} seconds.")
    except (OSError, UnicodeError, ValueError):  # ValueError: a name with a NUL in it
        refuse(f"{host} does not resolve to any address.")
    return list(dict.fromkeys(ipaddress.ip_address(answer[4][0].split("%")[0]) for answer in answers))


def allowed_address(parts, settings, deadline: float):
    """The one address to connect to, once every address of the host passed (§6.5)."""
    loopback = lab_loopback(settings)
    if parts.scheme != "https" and loopback is None:
        refuse(_https_only())
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(parts.hostname, port, deadline)
    if not addresses:
        refuse(f"{parts.hostname} does not resolve to any address.")
    if loopback is not None and all(address == loopback for address in addresses):  # the lab's
        if port == settings.port:
            refuse("A client_id URL must not point at this server itself.")
        return addresses[0]
    for address in addresses:
        if (kind := special_use(address)) is not None:
            named = "is" if str(address) == parts.hostname else f"resolves to {address},"
            refuse(f"{parts.hostname} {named} a {kind} address: this server fetches client metadata "
                   "documents only from global addresses (draft section 6.5, RFC 6890)"
                   + (f", and from its own loopback address {loopback} in the lab." if loopback else "."))
    if parts.scheme != "https":
        refuse(_https_only())
    return addresses[0]


def _https_only() -> str:
    return ("A client_id URL must use https (draft section 3); this server takes plain http only "
            "from its own loopback address, in the lab.")


# --- the fetch (§4, §6.6) -----------------------------------------------------------------------

def fetch(url: str, settings) -> tuple[dict, int]:
    """The document at `url` and how long it may be cached, or ClientDocumentError."""
    deadline = time.monotonic() + TIME_LIMIT
    parts = check_url(url)
    if parts.scheme not in ("https", "http"):
        refuse("A client_id URL must use https (draft section 3).")
    address = allowed_address(parts, settings, deadline)
    try:
        body, headers = _get(parts, address, deadline)
    except ClientDocumentError:
        raise
    except urllib3.exceptions.NewConnectionError:  # before TimeoutError: urllib3 makes it one
        refuse(f"{parts.netloc} could not be reached.")
    except urllib3.exceptions.SSLError:
        refuse(f"The TLS certificate of {parts.hostname} could not be verified.")
    except (urllib3.exceptions.TimeoutError, TimeoutError):
        refuse(f"{parts.netloc} did not answer within {TIME_LIMIT:g} seconds.")
    except (urllib3.exceptions.HTTPError, OSError):
        refuse(f"{parts.netloc} could not be reached.")
    return parse(body, headers), lifetime(headers)


def _get(parts, address, deadline: float) -> tuple[bytes, dict]:
    """One GET to the checked `address`, sent as to the URL's host (Host, and TLS's SNI and
    certificate check); its body, read within the deadline and the size limit."""
    remaining = max(0.01, deadline - time.monotonic())
    timeout = urllib3.Timeout(connect=remaining, read=remaining)
    if parts.scheme == "https":
        name = None if _is_literal(parts.hostname) else parts.hostname
        pool = urllib3.HTTPSConnectionPool(str(address), parts.port or 443, timeout=timeout, retries=False,
                                           ssl_context=ssl.create_default_context(), server_hostname=name,
                                           assert_hostname=name or None)
    else:
        pool = urllib3.HTTPConnectionPool(str(address), parts.port or 80, timeout=timeout, retries=False)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Host": parts.netloc, "Accept": "application/json", "User-Agent": USER_AGENT,
               "Accept-Encoding": "identity"}
    with pool:
        response = pool.urlopen("GET", target, headers=headers, redirect=False, retries=False,
                                preload_content=False, assert_same_host=False)
        try:
            status = response.status
            if 300 <= status < 400:
                refuse(f"{parts.netloc} answered {status}, a redirect: a client metadata document is "
                       "fetched without following redirects (draft section 4).")
            if status != 200:
                refuse(f"{parts.netloc} answered {status}: a client metadata document answers 200 OK "
                       "(draft section 4.1).")
            if response.headers.get("Content-Encoding", "identity").lower() != "identity":
                refuse("A client metadata document must not be compressed here.")
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > MAX_BYTES:
                refuse(_too_large())
            body = bytearray()
            _shorten_timeout(response, deadline)
            # read1: one socket read at a time, so the deadline is checked between any two of them.
            while chunk := response.read1(1024, decode_content=False):
                body += chunk
                if len(body) > MAX_BYTES:
                    refuse(_too_large())
                if time.monotonic() > deadline:
                    raise TimeoutError
                _shorten_timeout(response, deadline)
            return bytes(body), response.headers  # names in any case (RFC 9110 §5.1)
        finally:
            response.release_conn()


def _shorten_timeout(response, deadline: float) -> None:
    """Each read waits at most until the deadline: a server that sends a byte now and then is
    stopped when the time is up, not one read timeout later."""
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(max(0.01, deadline - time.monotonic()))


def _too_large() -> str:
    return f"The client metadata document is larger than {MAX_BYTES:,} bytes (draft section 6.6)."


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse(body: bytes, headers: Mapping[str, str]) -> dict:
    """The document: a JSON object (§4.1)."""
    media_type = headers.get("Content-Type", "").split(";")[0].strip()
    if not JSON_TYPE.fullmatch(media_type):
        refuse("A client metadata document is JSON: served as application/json (draft section 4.1).")
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        refuse("The client metadata document is not valid JSON (RFC 8259).")
    if not isinstance(document, dict):
        refuse("A client metadata document is a JSON object (draft section 4.1).")
    return document


def lifetime(headers: Mapping[str, str]) -> int:
    """§4.4: "SHOULD respect HTTP cache headers": `Cache-Control: max-age` (RFC 9111 §5.2.2.1),
    at most MAX_AGE; nothing cached without it, or with no-store or no-cache."""
    directives = {part.strip().split("=")[0].lower(): part.strip().partition("=")[2].strip('"')
                  for part in headers.get("Cache-Control", "").split(",") if part.strip()}
    if "no-store" in directives or "no-cache" in directives:
        return 0
    age = directives.get("max-age", "")
    return min(int(age), MAX_AGE) if age.isdigit() else 0


# --- the document (§4.1, §6.2) ------------------------------------------------------------------

def client_of(url: str, document: dict):
    """The client the document describes, checked as a registration is (clients.py)."""
    from .models import Client

    if document.get("client_id") != url:
        refuse("The document's client_id is not the URL it was fetched from, character for "
               "character (draft section 4.1).")
    if "client_secret" in document or "client_secret_expires_at" in document:
        refuse("A client metadata document must not carry client_secret or client_secret_expires_at: "
               "there is no way to share a secret this way (draft section 4.1).")
    method = document.get("token_endpoint_auth_method", "none")
    if method in SECRET_METHODS:
        refuse(f"token_endpoint_auth_method {method} is a shared-secret method, which a client "
               "metadata document must not name (draft section 4.1).")
    if method != "none":
        refuse(rfc_text(f"token_endpoint_auth_method {method}: this server takes only none from a "
                        "client metadata document (it offers no private_key_jwt)."))
    if "software_statement" in document:
        refuse("A software_statement in a client metadata document is not supported here.")
    metadata = {key: value for key, value in document.items() if key != "client_id"}
    # Named, or absent: RFC 7591's default (client_secret_basic) is a secret the draft rules out,
    # so a document that names no method describes a public client.
    metadata["token_endpoint_auth_method"] = "none"
    try:  # every rule a registration follows, RFC 7591 §2 defaults included (clients.py)
        checked = current().registration.extract_client_metadata(_as_request(metadata))
    except OAuth2Error as error:
        refuse(f"The client metadata document breaks a registration rule: {error.get_error_description()}")
    if "scope" in document:
        checked["scope"] = document["scope"]
    checked.setdefault("client_name", urlsplit(url).netloc)  # §6.4: the host is what the user can check
    client = Client(client_id=url, client_secret=None, client_id_issued_at=0, client_secret_expires_at=0,
                    app_type="browser", is_resource_server=False)
    client.set_client_metadata(checked)
    return client


def _as_request(metadata: dict) -> JsonRequest:
    from .clients import _Payload

    request = JsonRequest("POST", current().settings.issuer + "/register", {})
    request.payload = _Payload(metadata)
    return request
