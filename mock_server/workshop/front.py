"""The class's own pages, outside every learner's world: joining, and the instructor's dashboard.

``POST /workshop/join`` with ``{"class_code": "...", "name": "..."}`` (and, optionally, the
learner's app's ``redirect_uris``) answers 201 with the learner's issuer and key; a wrong class
code 403, too many wrong ones from one address 429 for a while (``guessing``); a full class 403,
and too many joins from one address 429 (``classroom.JoinRefused``).
"""
from __future__ import annotations

import hmac

from flask import Blueprint, Flask, current_app, jsonify, render_template, request

from .. import errors
from ..app import MAX_CONTENT_LENGTH, deny_framing
from ..errors import json_body, json_error
from ..redirects import registration_problem
from ..settings import APP_REDIRECT_URI
from . import instructor
from .classroom import JoinRefused
from .guessing import too_many_wrong, wait_message, wrong_secret
from .tenants import split

MAX_NAME = 64
JOIN_PATH = "/workshop/join"
CLASS_CODE = "class code"  # what is guessed, for the rate limit

blueprint = Blueprint("workshop", __name__)


def create_front_app(classroom) -> Flask:
    app = Flask("mock_server")  # its templates folder
    app.extensions["mock_server"] = classroom.template  # the Host check and error pages read it
    app.extensions["workshop"] = classroom
    app.config.update(MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH, MAX_FORM_MEMORY_SIZE=MAX_CONTENT_LENGTH)
    app.before_request(errors.guard_host)
    app.before_request(read_body)
    app.register_blueprint(blueprint)
    app.register_blueprint(instructor.blueprint)
    app.register_error_handler(Exception, errors.handle_unexpected)
    app.register_error_handler(404, not_found)
    for code in (400, 405, 413):
        app.register_error_handler(code, errors.handle_http_exception)

    @app.after_request
    def never_framed_or_cached(response):
        """The dashboard's sign-in form and Reset buttons never render in another site's frame;
        nothing here (a learner key, the feed naming every learner) is kept by a cache."""
        response.headers["Cache-Control"] = "no-store"
        if response.mimetype == "text/html":
            deny_framing(response)
        return response

    @app.teardown_request
    def release(_exc):
        classroom.release()

    return app


def classroom():
    return current_app.extensions["workshop"]


def read_body():
    """Every body is read (or, too large, refused with 413) before any view runs."""
    request.get_data(cache=True)


@blueprint.get("/")
def welcome():
    return render_template("workshop.html", base_url=classroom().config.base_url)


@blueprint.post(JOIN_PATH)
def join():
    room = classroom()
    if too_many_wrong(CLASS_CODE):
        return json_error(429, "access_denied", wait_message(CLASS_CODE))
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("class_code"), str):
        return json_error(400, "invalid_request", 'Send {"class_code": "...", "name": "..."} as JSON.')
    if not hmac.compare_digest(body["class_code"].encode("utf-8", "replace"),
                               room.config.class_code.encode()):
        wrong_secret(CLASS_CODE)
        return json_error(403, "access_denied", "Wrong class code: ask your instructor for it.")
    name, redirect_uris = body.get("name"), body.get("redirect_uris", [])
    if not (isinstance(name, str) and 0 < len(name.strip()) <= MAX_NAME and name.isprintable()):
        return json_error(400, "invalid_request", f"'name' must be printable text of 1 to {MAX_NAME} characters.")
    if not (isinstance(redirect_uris, list) and len(redirect_uris) <= 4
            and all(registration_problem(uri) is None for uri in redirect_uris)):
        return json_error(400, "invalid_request", "'redirect_uris' must be a list of at most 4 "
                                                  "absolute redirect URIs of your app.")
    uris = tuple(dict.fromkeys((APP_REDIRECT_URI, *redirect_uris)))
    try:
        tenant_id, learner_key = room.create_tenant(name.strip(), uris, request.remote_addr or "?")
    except JoinRefused as refused:
        return json_error(refused.status, "access_denied", refused.description)
    answer = jsonify(issuer=room.issuer_of(tenant_id), learner_key=learner_key, tenant=tenant_id)
    answer.status_code = 201
    return answer


def not_found(error):
    """An unknown path, or a world that does not exist: JSON, or the page for a browser page."""
    _, inside = split(request.path)
    if request.path.startswith("/t/") and errors.is_browser_page(inside):
        return errors.error_page(404, "No such learner", "There is no learner's server at this address.")
    return errors.handle_http_exception(error)
