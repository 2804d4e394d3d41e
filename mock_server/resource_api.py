"""The APIs over HTTP, in LiveChat's shape: ``POST /v3.5/agent/action/<action>`` with JSON.

Each action requires one scope (see ``agent_api.ACTIONS``); the token is checked by the resource
protector before the action runs. ``GET /v3.5/agent/actions`` lists which scope opens which call.

Two protected resources serve them (protected_resource.py): the agent API, every action, and the
configuration API, the actions LiveChat's own Configuration API has — the same data, another
audience. Each answers ``GET`` at its resource identifier: what a token for it may call there.
"""
from __future__ import annotations

import threading

from flask import Blueprint, jsonify, request

from . import agent_api, protected_resource, scopes
from .errors import json_body
from .resource import ResourceProtector
from .state import current

blueprint = Blueprint("agent_api", __name__)
AGENT, CONFIGURATION = protected_resource.AGENT_API.path, protected_resource.CONFIGURATION_API.path
# One protection space per API: its realm, its audience, its metadata in every challenge.
PROTECTORS = {resource: ResourceProtector(resource.realm, resource)
              for resource in protected_resource.RESOURCES}


@blueprint.get(f"{AGENT}/actions")
def list_actions():
    return jsonify(
        actions=[
            {"action": a.name, "scope": a.scope, "description": a.description}
            for a in agent_api.ACTIONS.values()
        ]
    )


@blueprint.get(AGENT)
@blueprint.get(CONFIGURATION)
def resource_home():
    """The API's own URL, its resource identifier: a client that calls it without a token learns
    where to sign in (the challenge's `resource_metadata`, RFC 9728 §5.1) — and with one, whose
    token it is and which calls it opens here."""
    resource = protected_resource.served_at(request.path)
    token, challenge = PROTECTORS[resource].token_or_challenge([])
    if challenge:
        return challenge
    return jsonify(resource=resource.identifier(), resource_name=resource.name,
                   client_id=token.client_id, sub=token.user_id or token.client_id, scope=token.scope,
                   actions=[name for name in resource.actions
                            if scopes.covers(token.scope, agent_api.ACTIONS[name].scope)])


@blueprint.post(f"{AGENT}/action/<name>")
@blueprint.post(f"{CONFIGURATION}/action/<name>")
def perform(name: str):
    resource = protected_resource.served_at(request.path)
    action = agent_api.ACTIONS.get(name) if name in resource.actions else None
    if action is None:
        error = agent_api.ApiError(404, "not_found", f"There is no action {name!r}.")
        return jsonify(error.body()), error.status
    token, challenge = PROTECTORS[resource].token_or_challenge([action.scope])
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
