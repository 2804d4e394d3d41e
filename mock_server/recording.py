"""Feeds the transcript: one message per request, recorded around every view (Flask hooks).

It runs on every request, so it reads only what a message can carry: a source of flow keys that
is absent (no query, no form, no Authorization header, a JSON answer naming no key) costs nothing.
"""
from __future__ import annotations

import json
import re

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Flask, g, request

from .errors import json_body
from .tokens import token_id_for
from .state import ServerState, current
from .transcript import (MAX_BODY, MAX_HEADER, MAX_PATH, NOT_RECORDED, REQUEST_HEADERS, RESPONSE_HEADERS,
                         channel_of, kept, keys_of, page_title, query_params)


def install_recorder(app: Flask) -> None:
    @app.before_request
    def keep_body():
        # Read the body once into Werkzeug's cache: form parsing later reads from the cache, and
        # the transcript still sees the raw bytes. Too large a body raises 413 here, unread.
        request.get_data(cache=True)

    @app.after_request
    def record(response):
        if request.path.startswith(NOT_RECORDED):
            return response
        state, refused = current(), _body_refused()
        state.transcript.append(
            time=state.clock.timestamp(),
            channel=channel_of(request.path),
            method=request.method,
            path=kept(request.full_path.rstrip("?"), MAX_PATH),
            request_headers=_headers(request.headers.items(), REQUEST_HEADERS),
            request_body=_request_text(refused),
            status=response.status_code,
            response_headers=_headers(response.headers.items(), RESPONSE_HEADERS),
            response_body=_response_text(response),
            keys=sorted(_keys(response, state, refused)),
        )
        return response


def _headers(items, names) -> dict:
    """The named headers, from one pass over them (Werkzeug answers each absent header it is asked
    for with an exception)."""
    present: dict[str, str] = {}
    for name, value in items:
        present.setdefault(name.lower(), value)  # the first, as Headers[name] gives it
    return {name: kept(present[name.lower()], MAX_HEADER) for name in names if name.lower() in present}


def _text(data: bytes, mimetype: str) -> str:
    if mimetype == "text/html":
        return page_title(data[:MAX_BODY].decode("utf-8", "replace"))
    return kept(data.decode("utf-8", "replace"), MAX_BODY)


def _body_refused() -> bool:
    """Flask refused the body unread: larger than MAX_CONTENT_LENGTH (413)."""
    limit = request.max_content_length
    return limit is not None and (request.content_length or 0) > limit


def _request_text(refused: bool) -> str:
    if refused:
        return f"<body of {request.content_length} bytes, refused unread>"
    return _text(request.get_data(cache=True), request.mimetype)


def _response_text(response) -> str:
    if response.is_streamed or response.direct_passthrough:
        return ""
    return _text(response.get_data(), response.mimetype)


def _keys(response, state: ServerState, refused: bool) -> set[str]:
    found = set()
    for params in _parameter_sources(response, state, refused):
        found |= keys_of(params, token_id_for)
    return found


def _parameter_sources(response, state: ServerState, refused: bool):
    form = {} if refused or request.mimetype not in FORMS else request.form.to_dict()
    yield request.args.to_dict()
    yield form
    if next_url := form.get("next") or request.args.get("next"):
        yield query_params(next_url)
    if location := response.headers.get("Location"):
        yield query_params(location)
    for body in (None if refused or not request.is_json else json_body(), answered_payload(response)):
        if isinstance(body, dict):
            yield {k: v for k, v in body.items() if isinstance(v, str)}
    if "HTTP_AUTHORIZATION" in request.environ or "access_token" in request.args:
        yield _authorization_params(state)
    yield g.get("transcript_params", {})  # what a view names that no parameter carries


FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
# A JSON answer worth parsing for keys names one as a member: a metadata document does not.
NAMES_A_KEY = re.compile(rb'"(?:client_id|state|code|user_code|device_code|access_token|refresh_token|token)"\s*:')


def answered_payload(response):
    """The JSON object a response carries: as the authorization server made it, or parsed."""
    made, payload = g.get("answered", (None, None))
    if made is response:
        return payload
    if response.mimetype != "application/json" or response.is_streamed:
        return None
    data = response.get_data()
    if not NAMES_A_KEY.search(data):
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _authorization_params(state: ServerState) -> dict:
    """The client id from Basic credentials, or the bearer token, as flow keys — parsed by the
    same Authlib functions that authenticate the request."""
    try:
        client_id, _ = extract_basic_authorization(request.headers)
    except ValueError:  # not base64 of UTF-8: the guard refused it
        client_id = None
    if client_id:
        return {"client_id": client_id}
    try:
        _, token_string = state.resource_protector.parse_request_authorization(request)
    except OAuth2Error:
        return {}
    return {"bearer": token_string}
