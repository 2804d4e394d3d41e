"""The agent API over HTTP, in LiveChat's shape: ``POST /v3.5/agent/action/<action>`` with JSON.

Each action requires one scope (see ``agent_api.ACTIONS``); the token is checked by the resource
protector before the action runs. ``GET /v3.5/agent/actions`` lists which scope opens which call.
"""
from __future__ import annotations

import threading

from flask import Blueprint, jsonify, request

from . import agent_api
from .errors import json_body
from .state import current

blueprint = Blueprint("agent_api", __name__, url_prefix="/v3.5/agent")


@blueprint.get("/actions")
def list_actions():
    return jsonify(
        actions=[
            {"action": a.name, "scope": a.scope, "description": a.description}
            for a in agent_api.ACTIONS.values()
        ]
    )


@blueprint.post("/action/<name>")
def perform(name: str):
    action = agent_api.ACTIONS.get(name)
    if action is None:
        error = agent_api.ApiError(404, "not_found", f"There is no action {name!r}.")
        return jsonify(error.body()), error.status
    token, challenge = current().resource_protector.token_or_challenge([action.scope])
    if challenge:
        return challenge
    payload = json_body()
    if payload is None and request.get_data():
        error = agent_api.ApiError(400, "validation", "The body must be a JSON object.")
        return jsonify(error.body()), error.status
    caller = agent_api.Caller(
        user_id=token.user_id, client_id=token.client_id, scopes=frozenset(token.scope.split())
    )
    try:
        return jsonify(current().world.perform(lambda world: agent_api.perform(world, name, caller, payload or {})))
    except agent_api.ApiError as error:
        return jsonify(error.body()), error.status


class InProcessWorld:
    """The agent API's data (agent_api.World) of a server in one process: one action at a time,
    since requests run in parallel. (A class server keeps each learner's in its database:
    mock_server/workshop/agent_data.py.)"""

    def __init__(self, world: agent_api.World):
        self.world = world
        self._lock = threading.Lock()

    def perform(self, action):
        """`action(world)`'s answer."""
        with self._lock:
            return action(self.world)
