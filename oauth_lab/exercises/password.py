"""01 · Why not share your password?"""
from __future__ import annotations

from ..checks import Exercise
from .support import access_token_of, introspect, status


def _customers_only(answer):
    access_token = access_token_of(answer)
    facts = introspect(access_token)
    if facts.get("client_id") != "fernhollow-widget":
        return f"this token was issued to {facts.get('client_id')!r}, not to the browser app fernhollow-widget"
    if status("list_customers", access_token) != 200:
        return "the API refuses this token for list_customers"
    if status("list_chats", access_token) != 403:
        return "this token can read chats too: ask for customers:ro only"
    return None


customers_only = Exercise(
    "01 · customers only", _customers_only,
    hint="authorization_code_flow(lab, 'fernhollow-widget', ['customers:ro']) — a browser app has "
         "no secret, so pass none; the session's .token is the token response.",
    solution="solutions/01_customers_only.py",
    success="the API lists customers with it and refuses chats (403).")
