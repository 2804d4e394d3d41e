"""LiveChat's dialect on the wire, translated at the edge: inside, the server keeps the RFC's
space-separated scopes and its own user ids.

- Scopes travel comma-separated (``chats--all:ro,customers:ro``); RFC 6749 §3.3 separates them with
  spaces. A name with a space in it is no scope: ``chats--all:ro customers:ro`` is one unknown name.
- Codes and access tokens carry the data centre's region, ``dal:``; refresh tokens carry none
  ("Refresh tokens no longer include the dal: or fra: prefixes", LiveChat's docs).
- A token response names the agent's account and organization (UUIDs) beside the RFC's fields.
- A token request may come as JSON: LiveChat's Accounts SDK sample POSTs its code exchange to
  ``/v2/token`` with ``Content-Type: application/json``; its curl samples send a form.
- Errors carry LiveChat's own descriptions where its troubleshooting page gives them.
"""
from __future__ import annotations

import json
import uuid

from authlib.oauth2.rfc6749.errors import InvalidScopeError

from ..errors import rfc_text
from ..models import User
from ..scopes import split_scope

REGION = "dal"  # LiveChat's data centres are dal (USA, the default) and fra (Europe)
ACCESS_TOKEN_LIFETIME = 28800  # 8 h: LiveChat's documented default `expires_in`
_IDS = uuid.UUID("5f0c6f6e-6c69-4e65-8a1b-6665726e686f")  # the namespace of Fernhollow's account ids

# LiveChat's troubleshooting page names errors by these descriptions ("I get the … error").
INVALID_REQUEST = ("The request is missing a required parameter, includes an invalid parameter value, "
                   "includes a parameter more than once, or is otherwise malformed.")
UNAUTHORIZED_CLIENT = "The client is not authorized to request a token using this method"


def scope_from_wire(value: str | None) -> str | None:
    """A comma-separated scope parameter as the RFC's space-separated list (None: none sent)."""
    if not value:
        return None
    names = value.split(",")
    if unreadable := [name for name in names if not name or name != "".join(name.split())]:
        # "scope name not found": one of invalid_scope's reasons on LiveChat's troubleshooting page.
        raise InvalidScopeError(rfc_text(f"scope name not found: {unreadable[0]!r}"))
    return " ".join(names)


class _Object(list):
    """A JSON object as its (name, value) pairs: a name sent twice stays visible."""


def json_parameters(body: bytes) -> dict:
    """A token request's JSON body as its parameters; ValueError saying why it cannot be one. The
    rules of a form body hold: strings only, none twice (RFC 6749 §3.2)."""
    try:
        pairs = json.loads(body, object_pairs_hook=_Object)
    except (ValueError, RecursionError) as error:  # not UTF-8 or not JSON
        raise ValueError("The body is not JSON.") from error
    if not isinstance(pairs, _Object):
        raise ValueError("The JSON body must be an object of parameters.")
    names = [name for name, _ in pairs]
    if repeated := sorted({name for name in names if names.count(name) > 1}):
        raise ValueError(f"Parameters must not be repeated (RFC 6749 section 3.2): {', '.join(repeated)}.")
    if not_text := [name for name, value in pairs if not isinstance(value, str)]:
        raise ValueError(f"Every parameter must be a string, as in a form: {', '.join(not_text)}.")
    if not all(_is_text(name) and _is_text(value) for name, value in pairs):
        raise ValueError("Every parameter must be Unicode text: no lone surrogates (RFC 8259 section 8.2).")
    return dict(pairs)


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
