"""Redirect URI rules: what may be registered, and when a requested URI matches a registered one.

The standard (RFC 9700 §2.1 and §4.1.3, OAuth 2.1) demands exact string matching, "except for port
numbers in `localhost` redirection URIs of native apps" (§2.1): a native app listens on whatever
loopback port is free when it asks, so "the authorization server MUST allow any port to be
specified at the time of the request for loopback IP redirect URIs" (RFC 8252 §7.3). Only apps
registered as native get that, and only for the loopback IP literals: `localhost` is NOT
RECOMMENDED (RFC 8252 §8.3) and stays exact. LiveChat matches by prefix; "lax" accepts anything —
both exist only as teaching switches, to let the security lab steal a code.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
# RFC 8252 §7.3: "http://127.0.0.1:{port}/{path}" for IPv4, "http://[::1]:{port}/{path}" for IPv6.
LOOPBACK_IP_URI = re.compile(r"http://(127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?([/?].*)?", re.DOTALL)


def _split(uri: str):
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
        return parts
    except (ValueError, TypeError):
        return None


def registration_problem(uri, plain_http: bool = False) -> str | None:
    """Why this redirect URI cannot be registered (RFC 6749 §3.1.2; http only on loopback: RFC 9700
    §2.6, RFC 8252 §7.3 — unless `plain_http`, LiveChat's rule), or None."""
    if not isinstance(uri, str) or not uri:
        return "a redirect URI must be a non-empty string"
    parts = _split(uri)
    if parts is None or not parts.scheme or not parts.netloc:
        return f"{uri!r} is not an absolute URI"
    if parts.fragment or "#" in uri:
        return f"{uri!r} has a fragment; RFC 6749 section 3.1.2 forbids it"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS and not plain_http:
        return (f"{uri!r} uses http on a non-loopback host; use https (RFC 9700 section 2.6; http only "
                "for loopback, RFC 8252 section 7.3)")
    if parts.scheme not in ("http", "https"):
        return f"{uri!r} must use http (loopback only) or https"
    return None


def matches(requested: str, registered: list[str], mode: str = "exact", native: bool = False) -> bool:
    """Whether `requested` is one of the `registered` URIs under `mode`; `native`: the app is a
    native app, whose loopback IP redirect URIs match on any port (RFC 8252 §7.3)."""
    if not isinstance(requested, str):
        return False
    if mode == "exact":
        if requested in registered:
            return True
        return native and (bare := _without_port(requested)) is not None and any(
            bare == _without_port(uri) for uri in registered)
    if mode == "lax":
        parts = _split(requested)
        return parts is not None and parts.scheme in ("http", "https") and bool(parts.netloc)
    return any(_prefix_match(requested, r) for r in registered)


def _without_port(uri: str) -> str | None:
    """A loopback IP redirect URI with its port taken out, or None for any other URI: the rest —
    scheme, IP literal, path, query — still has to match character for character."""
    found = LOOPBACK_IP_URI.fullmatch(uri)
    if found is None or (found[2] is not None and not 0 < int(found[2]) <= 65535):
        return None
    return f"http://{found[1]}{found[3] or ''}"


def _prefix_match(requested: str, registered: str) -> bool:
    """LiveChat: scheme, host and port exact; the registered path a prefix; no query, fragment or
    path traversal in the requested URI."""
    req, reg = _split(requested), _split(registered)
    if req is None or reg is None or req.query or req.fragment or "#" in requested:
        return False
    if ".." in req.path.split("/") or "%2e" in req.path.lower():
        return False
    return (
        (req.scheme, req.hostname, req.port) == (reg.scheme, reg.hostname, reg.port)
        and req.path.startswith(reg.path)
    )
