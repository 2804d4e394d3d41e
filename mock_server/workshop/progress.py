"""Where a learner is in the course, read from their exchanges with the server.

Each message of a transcript may mark a milestone (the first time a learner did something the
course teaches) and may carry an error (what the server refused, in the RFC's words). The
dashboard counts both; nothing here touches a database.
"""
from __future__ import annotations

import json
from urllib.parse import parse_qsl

from ..transcript import query_params

# In course order: the dashboard shows them left to right.
MILESTONES = (
    "registered an app",
    "signed in",
    "got a code",
    "exchanged a code",
    "called the API",
    "refreshed",
    "was stopped by PKCE",
    "used client credentials",
    "used the device flow",
    "revoked a token",
)
GRANT_MILESTONES = {"authorization_code": "exchanged a code", "refresh_token": "refreshed",
                    "client_credentials": "used client credentials",
                    "urn:ietf:params:oauth:grant-type:device_code": "used the device flow"}


def milestone_of(method: str, path: str, status: int, request_body: str, response_headers: dict,
                 response_body: str, **_other) -> str | None:
    path = path.split("?", 1)[0]
    if method != "POST":
        return None
    if path in ("/register", "/console") and status == 201:
        return "registered an app"
    if path == "/login" and status == 303:
        return "signed in"
    if path == "/authorize" and status == 302:
        location = query_params(response_headers.get("Location"))
        if "code" in location:
            return "got a code"
        return "was stopped by PKCE" if _about_pkce(location.get("error_description")) else None
    if path == "/token":
        form = dict(parse_qsl(request_body))
        if status == 200:
            return GRANT_MILESTONES.get(form.get("grant_type"))
        return "was stopped by PKCE" if status == 400 and _about_pkce(response_body) else None
    if path.startswith("/v3.5/agent/action/") and status == 200:
        return "called the API"
    if path == "/revoke" and status == 200:
        return "revoked a token"
    return None


def _about_pkce(text: str | None) -> bool:
    return bool(text) and ("code_challenge" in text or "code_verifier" in text)


def error_of(status: int, response_headers: dict, response_body: str, **_other) -> str | None:
    """"error: description" of a refusal: a JSON error body, or an error redirect."""
    body = _json(response_body) if status >= 400 else None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return _line(body["error"], body.get("error_description"))
    if isinstance(body, dict) and isinstance(body.get("error"), dict):  # the agent API's shape
        return _line(str(body["error"].get("type")), body["error"].get("message"))
    location = query_params(response_headers.get("Location"))
    if "error" in location:
        return _line(location["error"], location.get("error_description"))
    return None


def _line(error: str, description) -> str:
    return f"{error}: {description}" if isinstance(description, str) and description else error


def _json(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None
