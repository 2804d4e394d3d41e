"""05 · Calling the API."""
from __future__ import annotations

import requests

from ..checks import Exercise
from ..flows import authorization_code_flow
from ..lab import current_lab


def _needed_scope(answer):
    needed = {a["action"]: a["scope"] for a in requests.get(
        f"{current_lab().url}/v3.5/agent/actions", timeout=5).json()["actions"]}["update_agent"]
    return None if answer == needed else f"{answer!r} is not what the API asked for"


def _can_call(answer):
    if not callable(answer):
        return "expected a function can_call(token, action)"
    lab = current_lab()
    reports = authorization_code_flow(lab, "fernhollow-reports", ["chats--access:ro", "agents--all:ro"],
                                      client_secret="reports-secret").token["access_token"]
    cases = [(reports, "list_chats", True), (reports, "list_agents", True),
             (reports, "update_agent", False), ("not-a-token", "list_chats", False)]
    for token, action, expected in cases:
        if answer(token, action) is not expected:
            who = "a made-up token" if token == "not-a-token" else "a token with chats--access:ro and agents--all:ro"
            return f"can_call({who}, {action!r}) should be {expected}"
    return None


needed_scope = Exercise(
    "05 · read the challenge", _needed_scope,
    hint="call update_agent with a token that lacks the scope; read the scope=\"...\" part of "
         "WWW-Authenticate.",
    solution="solutions/05_needed_scope.py",
    success="that is the scope the API names in its 403 challenge.")

can_call = Exercise(
    "05 · can_call", _can_call,
    hint="call the action with the token and an empty JSON payload; 401 and 403 mean no.",
    solution="solutions/05_can_call.py",
    success="your function agrees with the API for every token tried.")
