"""Errors in the RFC shape, and guards that stop bad input before it can reach a library.

Back-channel endpoints answer JSON ``{"error", "error_description"}`` (RFC 6749 §5.2); pages a
browser sees answer an HTML error page. Nothing answers a stack trace. The guards below each
stop one input that made Authlib 1.9 or Flask answer 500 (RULES.md, "Hardening").
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import jsonify, render_template, request, session
from werkzeug.exceptions import HTTPException

from .state import current
from .transcript import is_front_channel

log = logging.getLogger(__name__)

# Endpoints that authenticate clients from form bodies (RFC 6749 §2.3, §3.2).
FORM_ENDPOINTS = ("/token", "/par", "/revoke", "/introspect", "/device_authorization")
MAX_JSON_DEPTH = 32
REPEATABLE = {"resource"}  # the one token-request parameter an extension lets repeat (RFC 8707 §2)


def rfc_text(text: str) -> str:
    """RFC 6749 §5.2: error descriptions are printable ASCII without quote or backslash."""
    return "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else "?" for c in text)


def json_error(status: int, error: str, description: str, headers: dict | None = None):
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_page(status: int, title: str, description: str, authorization: bool | str = False):
    """The HTML error page; `authorization` adds why the browser was not sent back to the app
    ("request_uri": a pushed request it could not use)."""
    return render_template("error.html", title=title, description=description,
                           authorization=authorization), status


def is_browser_page(path: str) -> bool:
    return is_front_channel(path)


def json_body():
    """The request's JSON, or None when absent, malformed or too deeply nested to parse."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def guard_host():
    """Answer only for the names this server is configured for (``Settings.allowed_hosts``, read
    on every request: the settings may be replaced while the server runs). A web page the user
    visits can point its own name at 127.0.0.1 (DNS rebinding); its requests then reach us with
    its name in Host, and must not read the transcript, move the clock or use a signed-in
    session."""
    from .public_url import may_carry_an_unknown_host  # before the hub's name is learned

    if may_carry_an_unknown_host():
        return None
    allowed = current().settings.allowed_hosts
    try:  # a Host is host[:port]; no user@ part may hide a name
        name = None if "@" in request.host else urlsplit(f"//{request.host}").hostname
    except ValueError:  # e.g. an unbalanced "[" in Host
        name = None
    if name in allowed:
        return None
    description = rfc_text(f"This server answers only for {', '.join(sorted(allowed))} (any port), "
                           f"not for the Host {request.host!r}. Reached through a proxy? Start it "
                           "with --public-url set to the address your browser shows.")
    if is_browser_page(request.path):
        return error_page(400, "Wrong host", description)
    return json_error(400, "invalid_request", description)


def guard_request():
    """Refuse malformed input with the RFC error the endpoint would give (``before_request``)."""
    if request.path.startswith(FORM_ENDPOINTS) and request.method == "POST":
        return guard_form_body()
    if request.path == "/authorize":
        return guard_authorization_params()
    if request.is_json:
        return _guard_json_depth()
    return None


def guard_authorization_params():
    """Authlib quotes these into its error descriptions, which must be printable ASCII."""
    for name in ("response_type", "redirect_uri"):
        value = request.values.get(name, "")
        if rfc_text(value) != value:
            return error_page(400, "Invalid request", f"{name} must be printable ASCII "
                                                      "(RFC 6749 §3.1.1, §3.1.2; encode it).")
    return None


def guard_form_body():
    """A token-endpoint body: form-encoded, no parameter twice, a Basic header Authlib can read."""
    media_type = (request.mimetype or "").lower()
    if media_type != "application/x-www-form-urlencoded":
        return json_error(400, "invalid_request",
                          "Send the parameters as application/x-www-form-urlencoded (RFC 6749 Appendix B).")
    # RFC 8707 §2: "Multiple resource parameters MAY be used" (resource_indicators.py decides).
    repeated = sorted(({k for k in request.form if len(request.form.getlist(k)) > 1}
                       | {k for k in request.args if k in request.form}) - REPEATABLE)
    if repeated:
        return json_error(400, "invalid_request",
                          f"Parameters must not be repeated (RFC 6749 §3.2): {', '.join(repeated)}.")
    return guard_basic_header()


def guard_basic_header():
    """Authlib's Basic parser raises on credentials that are not base64 of UTF-8, or on a scheme
    with nothing after it (a 500): refuse those as RFC 6749 §2.3.1 failed client authentication.
    The credentials are parsed — and URL-decoded, once — only by Authlib."""
    try:
        extract_basic_authorization(request.headers)
    except ValueError:  # UnicodeDecodeError is one
        return json_error(401, "invalid_client", "Authenticate the app with HTTP Basic: base64 of "
                          "UTF-8 'client_id:client_secret', each URL-encoded (RFC 6749 section 2.3.1).",
                          {"WWW-Authenticate": 'Basic realm="token"'})
    return None


def _guard_json_depth():
    """Refuse JSON nested deeper than MAX_JSON_DEPTH: validators walk it recursively. The depth
    is the parsed value's (brackets inside strings are text), and a document too deep for the
    parser itself (RecursionError) is refused the same way."""
    try:
        depth = nesting_depth(request.get_json(silent=True))
    except RecursionError:
        depth = MAX_JSON_DEPTH + 1
    if depth <= MAX_JSON_DEPTH:
        return None
    if is_browser_page(request.path):
        return error_page(400, "Invalid request", "The JSON document is nested too deeply.")
    error = "invalid_client_metadata" if request.path == "/register" else "invalid_request"
    return json_error(400, error, f"The JSON document is nested more than {MAX_JSON_DEPTH} deep.")


def nesting_depth(value) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0, [] is 1);
    counted without recursion, so any depth the parser accepted can be measured."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def handle_http_exception(error: HTTPException):
    """Flask's own 404/405/400: JSON for the back channel, a page for the browser."""
    if is_browser_page(request.path):
        return error_page(error.code, error.name, error.description)
    error_code = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}.get(
        error.code, "invalid_request")
    response = json_error(error.code, error_code, error.description)
    if error.code == 405 and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def handle_unexpected(error: Exception):
    """The last line: log it, answer in the RFC shape, never leak a trace — and keep nothing the
    failed request did to the browser session (a sign-in half done must not sign anyone in)."""
    log.exception("unexpected error on %s %s", request.method, request.path)
    session.modified = False
    if is_browser_page(request.path):
        return error_page(500, "Server error", "Something went wrong on the server.")
    return json_error(500, "server_error", "The server met an unexpected condition.")
