"""The owner's admin routes: the virtual clock, the transcript, any token's facts, and starting
the world over.

For a notebook driving a server over HTTP — its own, or one it did not start (Binder's background
server, ``make server``, another notebook's). They answer only on this machine and only with the
server's owner key (``owner.py``): the transcript holds every secret, and on a shared machine
loopback is everyone. A class server's worlds ask for the learner's key instead (workshop/).

A notebook that joins a deterministic server starts its world over (``POST /_mock/start-over``),
so Restart & Run All gives the outputs the text shows, whatever ran before. Each start is a *run*
with its own id; a notebook's clock and transcript calls name their run (``X-Mock-Run``), and once
another notebook has started the world over they are told so (409) instead of reading its flows.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, abort, jsonify, request

from .errors import json_body, json_error
from .state import current
from .tokens import active_token, introspection_answer
from .transcript import FOLLOWED, message_number

blueprint = Blueprint("admin", __name__, url_prefix="/_mock")


RUN_HEADER = "X-Mock-Run"


@blueprint.before_request
def check_access():
    refused = current().admin_access()
    if refused is not None:
        return refused
    run = request.headers.get(RUN_HEADER)
    if run is not None and request.endpoint != "admin.start_over" and run != current().run:
        return json_error(409, "started_over", "This server's world was started over since yours "
                          "began (by another notebook, or a later setup() in this one): its flows "
                          "are not yours. Run setup() again here to start it over for this notebook.")
    return None


def owner_only():
    """Who may use the admin routes of a learner's own server: the owner, on this machine."""
    if request.remote_addr not in ("127.0.0.1", "::1"):
        abort(403, description="The admin routes answer only on loopback.")
    sent, key = request.authorization, current().owner_key
    if sent and sent.type == "bearer" and sent.token and hmac.compare_digest(sent.token.encode(), key.encode()):
        return None
    return json_error(401, "invalid_token", "The admin routes need this server's owner key: "
                      "Authorization: Bearer <key>, from the card its owner's processes read "
                      "(~/.oauth-lab/servers/).", {"WWW-Authenticate": 'Bearer realm="owner"'})


@blueprint.get("/run")
def run():
    """Which run of the world is current, and whether it can start over (deterministic only)."""
    state = current()
    return jsonify(run=state.run, seed=state.settings.seed, started_by=state.started_by)


@blueprint.post("/start-over")
def start_over():
    """A fresh world: seeded ids from the start, the clock at its first instant, only the demo
    users and apps, an empty transcript; the settings stay (a learned public URL). Only a
    deterministic server starts over: any other keeps what its users made."""
    from .app import start_over as start_world_over

    state = current()
    if state.settings.seed is None:
        return json_error(409, "not_deterministic", "Only a server started with --seed starts its "
                          "world over; this one keeps what its users made.")
    start_world_over(state)
    return jsonify(run=state.run, seed=state.settings.seed)


@blueprint.get("/clock")
def clock():
    return jsonify(current().clock.state())


@blueprint.post("/clock")
def move_clock():
    body = json_body()
    seconds = body.get("advance") if isinstance(body, dict) else None
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= 10**9:
        abort(400, description='Send {"advance": <seconds, 0 to 1e9>}.')
    try:
        current().clock.advance(seconds)
    except ValueError as too_far:  # past what a date can hold (clock.MOST_AHEAD)
        abort(400, description=str(too_far))
    return jsonify(current().clock.state())


@blueprint.get("/transcript")
def transcript():
    since = message_number(request.args.get("since", "0"))
    if since is None:
        abort(400, description="'since' must be a message number (0 to 2**63 - 1).")
    transcript, flow = current().transcript, request.args.get("flow", "")
    if flow:
        name, _, value = flow.partition(":")
        if name not in FOLLOWED:
            abort(400, description=f"'flow' starts from one of {', '.join(FOLLOWED)}: e.g. state:xyz.")
        messages = transcript.flow(since, **{name: value})
    else:
        messages = transcript.messages(since, request.args.get("key"))
    return jsonify(messages=[m.to_dict() for m in messages], last_seq=transcript.last_seq())


@blueprint.post("/introspect")
def introspect():
    """What introspection would tell a token's own app, for any token of this world: the course's
    exercise checks ask here whether a refresh token still works, which an API may not ask
    (``tokens.IntrospectionEndpoint.check_permission``) and a public app cannot (it has no secret
    to authenticate with). The owner key stands in for client authentication."""
    token = request.form.get("token")
    if not token:
        abort(400, description="Send the token to check in the 'token' form parameter.")
    return jsonify(introspection_answer(active_token(token)))


@blueprint.delete("/transcript")
def clear_transcript():
    current().transcript.clear()
    return jsonify(cleared=True)
