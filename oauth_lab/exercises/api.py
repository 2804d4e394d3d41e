"""05 · Calling the API."""
from __future__ import annotations

import requests

from ..checks import Exercise
from ..flows import authorization_code_flow
from ..lab import current_lab


def _needed_scope(answer):
    """The learner's `scope_needed(answer)` must read the scope out of real challenges (RFC 6750
    §3), for several calls, and find none where the answer names none."""
    if not callable(answer):
        return "expected a function scope_needed(answer) that returns a scope name or None"
    lab = current_lab()
    needed = {a["action"]: a["scope"] for a in requests.get(
        f"{lab.url}/v3.5/agent/actions", timeout=5).json()["actions"]}
    customers_only = authorization_code_flow(lab, "fernhollow-reports", ["customers:ro"],
                                             client_secret="reports-secret")
    for action in ("update_agent", "list_agents", "list_chats"):
        got = answer(customers_only.post(lab.api(action), json={}))
        if got != needed[action]:
            return f"for the 403 of {action}, your function returned {got!r}; its challenge names {needed[action]!r}"
    for what, refused in (("a 200 answer", customers_only.post(lab.api("list_customers"), json={})),
                          ("a 401 without a token", requests.post(lab.api("list_customers"), json={}, timeout=5))):
        if (got := answer(refused)) is not None:
            return f"for {what}, which names no scope, your function returned {got!r}: return None"
    return None


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
    hint="header = answer.headers.get('WWW-Authenticate', ''); re.search(r'scope=\"([^\"]*)\"', header) "
         "finds the value (its .group(1)); when it finds nothing, return None.",
    solution="solutions/05_needed_scope.py",
    success="your function reads the scope each 403 challenge names, and finds none where there is none.")

can_call = Exercise(
    "05 · can_call", _can_call,
    hint="call the action with the token and an empty JSON payload; 401 and 403 mean no.",
    solution="solutions/05_can_call.py",
    success="your function agrees with the API for every token tried.")
