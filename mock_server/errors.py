"""Errors in the RFC shape, and guards that stop bad input before it can reach a library.

Back-channel endpoints answer JSON ``{"error", "error_description"}`` (RFC 6749 §5.2); pages a
browser sees answer an HTML error page. Nothing answers a stack trace. The guards below each
stop one input that made Authlib 1.9 or Flask answer 500 (platform-notes).
"""
from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import unquote

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from .transcript import is_front_channel

log = logging.getLogger(__name__)

# Endpoints that authenticate clients from form bodies (RFC 6749 §2.3, §3.2).
FORM_ENDPOINTS = ("/token", "/revoke", "/introspect", "/device_authorization")
MAX_JSON_DEPTH = 32


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


def error_page(status: int, title: str, description: str, authorization: bool = False):
    """The HTML error page; `authorization` adds why the browser was not sent back to the app."""
    return render_template("error.html", title=title, description=description,
                           authorization=authorization), status


def is_browser_page(path: str) -> bool:
    return path == "/" or is_front_channel(path)


def json_body():
    """The request's JSON, or None when absent, malformed or too deeply nested to parse."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def guard_request():
    """Refuse malformed input with the RFC error the endpoint would give (``before_request``)."""
    if request.path.startswith(FORM_ENDPOINTS) and request.method == "POST":
        return _guard_form_endpoint()
    if request.path == "/authorize":
        # Authlib quotes these into its error descriptions, which must be printable ASCII.
        for name in ("response_type", "redirect_uri"):
            value = request.values.get(name, "")
            if rfc_text(value) != value:
                return error_page(400, "Invalid request", f"{name} must be printable ASCII "
                                                          "(RFC 6749 §3.1.1, §3.1.2; encode it).")
    if request.is_json:
        return _guard_json_depth()
    return None


def _guard_form_endpoint():
    media_type = (request.mimetype or "").lower()
    if media_type != "application/x-www-form-urlencoded":
        return json_error(400, "invalid_request",
                          "Send the parameters as application/x-www-form-urlencoded (RFC 6749 §3.2).")
    repeated = sorted({k for k in request.form if len(request.form.getlist(k)) > 1}
                      | {k for k in request.args if k in request.form})
    if repeated:
        return json_error(400, "invalid_request",
                          f"Parameters must not be repeated (RFC 6749 §3.2): {', '.join(repeated)}.")
    return _guard_basic_header()


def _guard_basic_header():
    """Clients authenticate with HTTP Basic or in the form (RFC 6749 §2.3.1); Basic credentials
    must decode to UTF-8 `id:secret`, each URL-encoded."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.strip().partition(" ")
    if not header.strip():
        return None
    if scheme.lower() != "basic":
        return json_error(401, "invalid_client", "Authenticate the app with HTTP Basic or "
                          "client_id/client_secret in the form.", {"WWW-Authenticate": 'Basic realm="token"'})
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        client_id, separator, secret = decoded.partition(":")
        if not separator or not client_id:
            raise ValueError("no id:secret pair")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return json_error(401, "invalid_client", "The Basic credentials are malformed.",
                          {"WWW-Authenticate": 'Basic realm="token"'})
    # Decode once here so Authlib compares the real id and secret (client-interop point 5).
    request.environ["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(
        f"{unquote(client_id)}:{unquote(secret)}".encode()).decode()
    return None


def _guard_json_depth():
    text = request.get_data(as_text=True)
    depth = deepest = 0
    for char in text:
        depth += char in "[{"
        depth -= char in "]}"
        deepest = max(deepest, depth)
    if deepest > MAX_JSON_DEPTH:
        if is_browser_page(request.path):
            return error_page(400, "Invalid request", "The JSON document is nested too deeply.")
        error = "invalid_client_metadata" if request.path == "/register" else "invalid_request"
        return json_error(400, error, "The JSON document is nested too deeply.")
    return None


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
    """The last line: log it, answer in the RFC shape, never leak a trace."""
    log.exception("unexpected error on %s %s", request.method, request.path)
    if is_browser_page(request.path):
        return error_page(500, "Server error", "Something went wrong on the server.")
    return json_error(500, "server_error", "The server met an unexpected condition.")
