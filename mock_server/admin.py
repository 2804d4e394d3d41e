"""Loopback-only admin routes: the virtual clock and the transcript over HTTP.

For a notebook attached to a server it did not start (another process, Binder's background
server). Refused to anyone not on this machine: on a shared class server, students must not move
the instructor's clock or read everyone's secrets from the transcript.
"""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from .errors import json_body
from .state import current
from .transcript import FOLLOWED

blueprint = Blueprint("admin", __name__, url_prefix="/_mock")


@blueprint.before_request
def loopback_only():
    if request.remote_addr not in ("127.0.0.1", "::1"):
        abort(403, description="The admin routes answer only on loopback.")


@blueprint.get("/clock")
def clock():
    return jsonify(current().clock.state())


@blueprint.post("/clock")
def move_clock():
    body = json_body()
    seconds = body.get("advance") if isinstance(body, dict) else None
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= 10**9:
        abort(400, description='Send {"advance": <seconds, 0 to 1e9>}.')
    current().clock.advance(seconds)
    return jsonify(current().clock.state())


@blueprint.get("/transcript")
def transcript():
    try:  # int(), not str.isdigit(): "²" is a digit int() refuses
        since = int(request.args.get("since", "0"))
    except ValueError:
        since = -1
    if since < 0:
        abort(400, description="'since' must be a message number.")
    transcript, flow = current().transcript, request.args.get("flow", "")
    if flow:
        name, _, value = flow.partition(":")
        if name not in FOLLOWED:
            abort(400, description=f"'flow' starts from one of {', '.join(FOLLOWED)}: e.g. state:xyz.")
        messages = transcript.flow(since, **{name: value})
    else:
        messages = transcript.messages(since, request.args.get("key"))
    return jsonify(messages=[m.to_dict() for m in messages], last_seq=transcript.last_seq())


@blueprint.delete("/transcript")
def clear_transcript():
    current().transcript.clear()
    return jsonify(cleared=True)
