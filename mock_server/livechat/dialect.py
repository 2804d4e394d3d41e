"""LiveChat's dialect on the wire, translated at the edge: inside, the server keeps the RFC's
space-separated scopes and its own user ids.

- Scopes travel comma-separated (``chats--all:ro,customers:ro``); RFC 6749 §3.3 separates them with
  spaces. A name with a space in it is no scope: ``chats--all:ro customers:ro`` is one unknown name.
- Codes and access tokens carry the data centre's region, ``dal:``; refresh tokens carry none
  ("Refresh tokens no longer include the dal: or fra: prefixes", LiveChat's docs).
- A token response names the agent's account and organization (UUIDs) beside the RFC's fields.
"""
from __future__ import annotations

import uuid

from authlib.oauth2.rfc6749.errors import InvalidScopeError

from ..errors import rfc_text
from ..models import User
from ..scopes import split_scope

REGION = "dal"  # LiveChat's data centres are dal (USA, the default) and fra (Europe)
ACCESS_TOKEN_LIFETIME = 28800  # 8 h: LiveChat's documented default `expires_in`
_IDS = uuid.UUID("5f0c6f6e-6c69-4e65-8a1b-6665726e686f")  # the namespace of Fernhollow's account ids


def scope_from_wire(value: str | None) -> str | None:
    """A comma-separated scope parameter as the RFC's space-separated list (None: none sent)."""
    if not value:
        return None
    names = value.split(",")
    if unreadable := [name for name in names if not name or name != "".join(name.split())]:
        raise InvalidScopeError(rfc_text(
            f"Scopes are comma-separated here: {unreadable[0]!r} is not a scope name."))
    return " ".join(names)


def scope_to_wire(scope: str) -> str:
    return ",".join(split_scope(scope))


def account_id(user_id: str) -> str:
    """The agent's LiveChat-style account id: a UUID, the same one every time."""
    return str(uuid.uuid5(_IDS, f"account:{user_id}"))


def organization_id(user: User) -> str:
    return str(uuid.uuid5(_IDS, f"organization:{user.organization_id}"))


def token_response(token: dict, request) -> dict:
    """The token response as LiveChat words it. A refresh that did not rotate answers with the
    refresh token it was given (LiveChat's server-side apps), so the app keeps using it."""
    user = request.user
    answer = dict(token, scope=scope_to_wire(token.get("scope", "")),
                  account_id=account_id(user.id), organization_id=organization_id(user))
    if request.refresh_token is not None and "refresh_token" not in answer:
        answer["refresh_token"] = request.payload.data["refresh_token"]  # (only its hash is stored)
    return answer
