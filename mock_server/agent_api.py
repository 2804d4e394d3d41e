"""A small, LiveChat-shaped "agent API" (v3.5) as pure functions.

The HTTP layer authenticates the bearer token, checks ``ACTIONS[name].scope``
against the token's scopes and then calls :func:`perform`.  Everything here is
plain data in, plain data out, so learners can read it without knowing Flask
or OAuth, and tests can drive it directly.

The demo world is fixed (no randomness, no clock) so that notebooks and tests
always see the same chats, ids and timestamps.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlsplit

from .scopes import covers


class ApiError(Exception):
    """An error the HTTP layer turns into LiveChat's ``{"error": {...}}`` body."""

    def __init__(self, status: int, type: str, message: str):
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message

    def body(self) -> dict:
        return {"error": {"type": self.type, "message": self.message}}


@dataclass(frozen=True)
class Caller:
    """Who is calling, as established from a validated access token."""

    user_id: str | None  # None: client-credentials token acting for the organisation
    client_id: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class Action:
    name: str
    scope: str
    description: str
    handler: Callable[["World", Caller, dict], dict]


# --------------------------------------------------------------------------
# The demo world
# --------------------------------------------------------------------------

ORGANIZATION = {"id": "org-fernhollow", "name": "Fernhollow Footwear"}
GROUPS = {0: "General", 1: "Returns"}

# (id, name, email, role, job title, max concurrent chats, group ids)
_AGENTS = (
    ("jane", "Jane Agent", "jane@fernhollow.example", "agent", "Returns Specialist", 6, (1,)),
    ("ada", "Ada Admin", "ada@fernhollow.example", "administrator", "Support Lead", 4, (0, 1)),
    ("sam", "Sam Sparrow", "sam@fernhollow.example", "agent", "Support Agent", 6, (0,)),
)

# (id, name, email, created_at)
_CUSTOMERS = (
    ("cust-201", "Olivia Brown", "olivia.brown@example.com", "2026-01-12T18:03:44.000000Z"),
    ("cust-202", "Mateo Garcia", "mateo.garcia@example.com", "2026-02-03T08:41:10.000000Z"),
    ("cust-203", "Priya Patel", "priya.patel@example.com", "2026-02-20T15:22:31.000000Z"),
    ("cust-204", "Lukas Meyer", "lukas.meyer@example.com", "2026-03-01T11:05:57.000000Z"),
)

# Each chat has one thread; messages are (time of day, "customer"|"agent", text)
# on the chat's date, which keeps the seed readable and the timestamps fixed.
_CHATS = (
    ("chat-1001", 1, "cust-201", "jane", "2026-03-02", True, ("exchange",), (
        ("09:14:05", "customer", "Hi! The trail runners I ordered are half a size too small."),
        ("09:14:52", "agent", "Sorry about that, Olivia. Would you like an exchange or a refund?"),
        ("09:15:30", "customer", "An exchange for size 39 please."),
    )),
    ("chat-1002", 0, "cust-202", "sam", "2026-03-03", False, ("shipping",), (
        ("13:02:11", "customer", "Do you ship to Spain?"),
        ("13:02:40", "agent", "We do! Standard delivery to Spain takes 3-5 business days."),
        ("13:03:05", "customer", "Great, thanks."),
    )),
    ("chat-1003", 1, "cust-203", "jane", "2026-03-04", False, ("refund",), (
        ("10:20:00", "customer", "When will I get my refund for order BS-4471?"),
        ("10:21:15", "agent", "It was issued yesterday; banks usually need 2-3 days."),
    )),
    ("chat-1004", 0, "cust-201", "ada", "2026-03-05", True, (), (
        ("16:45:09", "customer", "My discount code SPRING26 says it has expired."),
        ("16:46:02", "agent", "Let me check that for you."),
    )),
    ("chat-1005", 1, "cust-204", "ada", "2026-03-06", False, ("damaged", "refund"), (
        ("08:30:27", "customer", "The sole of my left boot came off after one week."),
        ("08:31:40", "agent", "That should not happen. Send a photo and we will refund you."),
        ("08:35:12", "customer", "Photo sent by email."),
        ("08:36:00", "agent", "Received, the refund is on its way."),
    )),
)


def _agent_record(agent_id, name, email, role, job_title, max_chats, group_ids) -> dict:
    return {
        "id": agent_id,
        "name": name,
        "email": email,
        "role": role,
        "job_title": job_title,
        "max_chats_count": max_chats,
        "groups": [{"id": group_id, "priority": "normal"} for group_id in group_ids],
    }


def _customer_record(customer_id, name, email, created_at) -> dict:
    return {"id": customer_id, "type": "customer", "name": name, "email": email,
            "created_at": created_at}


def _chat_record(chat_id, group_id, customer_id, agent_id, date, active, tags, messages) -> dict:
    thread_id = chat_id.replace("chat-", "thr-")
    authors = {"customer": customer_id, "agent": agent_id}
    events = [
        {
            "id": f"{thread_id}_{number}",
            "type": "message",
            "text": text,
            "author_id": authors[author],
            "created_at": f"{date}T{time}.000000Z",
            "visibility": "all",
        }
        for number, (time, author, text) in enumerate(messages, start=1)
    ]
    return {
        "id": chat_id,
        "group_id": group_id,
        "user_ids": [customer_id, agent_id],
        "thread": {
            "id": thread_id,
            "active": active,
            "tags": list(tags),
            "created_at": events[0]["created_at"],
            "events": events,
        },
    }


def _by_id(records) -> dict:
    return {record["id"]: record for record in records}


@dataclass
class World:
    """All mutable server state; a dataclass so two worlds compare by value."""

    organization: dict
    groups: dict
    agents: dict
    customers: dict
    chats: dict
    webhooks: dict = field(default_factory=dict)
    # A counter rather than len(webhooks), so ids stay unique should deletion be added.
    next_webhook_number: int = 1

    @classmethod
    def demo(cls) -> "World":
        # Records are built fresh on every call, so two worlds never share state.
        return cls(
            organization=dict(ORGANIZATION),
            groups=dict(GROUPS),
            agents=_by_id(_agent_record(*row) for row in _AGENTS),
            customers=_by_id(_customer_record(*row) for row in _CUSTOMERS),
            chats=_by_id(_chat_record(*row) for row in _CHATS),
        )

    def agent(self, user_id) -> dict | None:
        agent = self.agents.get(user_id)
        return copy.deepcopy(agent) if agent else None

    def group_ids_of(self, user_id) -> set[int]:
        agent = self.agents.get(user_id)
        return {group["id"] for group in agent["groups"]} if agent else set()


# --------------------------------------------------------------------------
# Payload validation: every bad payload must end as a 400, never a crash.
# --------------------------------------------------------------------------

def _invalid(message: str) -> ApiError:
    return ApiError(400, "validation", message)


def _field(payload: dict, name: str, is_valid: Callable[[Any], bool], expected: str,
           *, required: bool):
    """Return ``payload[name]`` if valid; JSON null counts as absent."""
    value = payload.get(name)
    if value is None:
        if required:
            raise _invalid(f"`{name}` is required")
        return None
    if not is_valid(value):
        raise _invalid(f"`{name}` must be {expected}")
    return value


def _is_text(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _int_between(low: int, high: int) -> Callable[[Any], bool]:
    # bool is a subclass of int in Python, but `true` is not a number in JSON.
    return lambda value: (isinstance(value, int) and not isinstance(value, bool)
                          and low <= value <= high)


def _is_http_url(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# --------------------------------------------------------------------------
# Chats: visibility follows LiveChat's chats--all / chats--access scopes.
# --------------------------------------------------------------------------

def _visible_chats(world: World, caller: Caller) -> list[dict]:
    """The scope caps what the app may see; the user's groups still apply (LiveChat's list_chats:
    chats--all:ro "to find chats from all groups", chats--access:ro "from groups that the
    requester ... is a member of")."""
    if covers(caller.scopes, "chats--all:ro"):  # an administrator's scope
        return list(world.chats.values())
    # A client-credentials caller belongs to no group and so sees none.
    groups = world.group_ids_of(caller.user_id)
    return [chat for chat in world.chats.values() if chat["group_id"] in groups]


def _chat_users(world: World, chat: dict) -> list[dict]:
    present = chat["thread"]["active"]
    users = []
    for user_id in chat["user_ids"]:
        person = world.customers.get(user_id) or world.agents[user_id]
        users.append({
            "id": user_id,
            "type": "customer" if user_id in world.customers else "agent",
            "name": person["name"],
            "email": person["email"],
            "present": present,
        })
    return users


def _thread_view(chat: dict, *, with_events: bool) -> dict:
    thread = chat["thread"]
    view = {
        "id": thread["id"],
        "created_at": thread["created_at"],
        "active": thread["active"],
        "user_ids": list(chat["user_ids"]),
        "tags": list(thread["tags"]),
        "access": {"group_ids": [chat["group_id"]]},
    }
    if with_events:
        view["events"] = thread["events"]
    return view


def _chat_summary(world: World, chat: dict) -> dict:
    thread = chat["thread"]
    return {
        "id": chat["id"],
        "users": _chat_users(world, chat),
        "last_thread_summary": _thread_view(chat, with_events=False),
        "last_event_per_type": {"message": {
            "thread_id": thread["id"],
            "thread_created_at": thread["created_at"],
            "event": thread["events"][-1],
        }},
        "access": {"group_ids": [chat["group_id"]]},
        "properties": {},
    }


# --------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------

ACTIONS: dict[str, Action] = {}

WEBHOOK_ACTIONS = frozenset({
    "incoming_chat", "chat_deactivated", "chat_transferred", "chat_access_updated",
    "incoming_event", "event_updated", "thread_tagged", "thread_untagged",
})
UPDATABLE_AGENT_FIELDS = {
    "name": (_is_text, "a non-empty string"),
    "job_title": (lambda value: isinstance(value, str), "a string"),
    "max_chats_count": (_int_between(0, 100), "an integer between 0 and 100"),
}


def _is_webhook_action(value) -> bool:
    return isinstance(value, str) and value in WEBHOOK_ACTIONS  # unhashables can't be `in` a set


def _action(name: str, scope: str, description: str):
    def register(handler):
        ACTIONS[name] = Action(name, scope, description, handler)
        return handler
    return register


@_action("list_chats", "chats--access:ro",
         "Chat summaries the caller may see, newest first.")
def _list_chats(world: World, caller: Caller, payload: dict) -> dict:
    limit = _field(payload, "limit", _int_between(1, 100), "an integer between 1 and 100",
                   required=False) or 10  # LiveChat's default page size
    chats = sorted(_visible_chats(world, caller),
                   key=lambda chat: chat["thread"]["created_at"], reverse=True)
    return {
        "chats_summary": [_chat_summary(world, chat) for chat in chats[:limit]],
        "found_chats": len(chats),
        "next_page_id": None,  # paging is not simulated
    }


@_action("get_chat", "chats--access:ro", "One chat with its thread and events.")
def _get_chat(world: World, caller: Caller, payload: dict) -> dict:
    chat_id = _field(payload, "chat_id", _is_text, "a non-empty string", required=True)
    # A chat outside the caller's groups gets the same 404 as a missing one,
    # so the answer does not reveal that it exists.
    chat = next((chat for chat in _visible_chats(world, caller) if chat["id"] == chat_id), None)
    if chat is None:
        raise ApiError(404, "not_found", f"Chat `{chat_id}` not found")
    return {
        "id": chat["id"],
        "thread": _thread_view(chat, with_events=True),
        "users": _chat_users(world, chat),
        "access": {"group_ids": [chat["group_id"]]},
        "properties": {},
    }


@_action("list_customers", "customers:ro", "All customers of the organisation.")
def _list_customers(world: World, caller: Caller, payload: dict) -> dict:
    customers = [
        {**customer, "statistics": {"chats_count": sum(
            customer["id"] in chat["user_ids"] for chat in world.chats.values())}}
        for customer in world.customers.values()
    ]
    return {"customers": customers, "total_customers": len(customers)}


@_action("list_agents", "agents--all:ro", "All agents of the organisation.")
def _list_agents(world: World, caller: Caller, payload: dict) -> dict:
    # LiveChat answers with a bare JSON array; actions here always return an object.
    return {"agents": list(world.agents.values())}


@_action("update_agent", "agents--all:rw", "Change an agent's name, job title or chat limit.")
def _update_agent(world: World, caller: Caller, payload: dict) -> dict:
    agent_id = _field(payload, "id", _is_text, "a non-empty string", required=True)
    # Reject fields we do not update instead of ignoring them: a silent {} would
    # tell the learner the change worked.
    unsupported = sorted(str(key) for key in payload.keys() - {"id", *UPDATABLE_AGENT_FIELDS})
    if unsupported:
        raise _invalid(f"`{unsupported[0]}` cannot be updated")
    # Validate every field before touching the agent, so a bad one changes nothing.
    changes = {
        name: _field(payload, name, is_valid, expected, required=False)
        for name, (is_valid, expected) in UPDATABLE_AGENT_FIELDS.items()
    }
    if agent_id not in world.agents:
        raise ApiError(404, "not_found", f"Agent `{agent_id}` not found")
    world.agents[agent_id].update({name: value for name, value in changes.items()
                                   if value is not None})
    return {}


@_action("register_webhook", "webhooks.configuration:rw",  # LiveChat's Configuration API
         "Ask for an HTTP callback when something happens in a chat.")
def _register_webhook(world: World, caller: Caller, payload: dict) -> dict:
    url = _field(payload, "url", _is_http_url, "an http(s) URL", required=True)
    action = _field(payload, "action", _is_webhook_action,
                    "one of " + ", ".join(sorted(WEBHOOK_ACTIONS)), required=True)
    secret_key = _field(payload, "secret_key", _is_text, "a non-empty string", required=True)
    webhook_id = f"wh-{world.next_webhook_number}"
    world.next_webhook_number += 1
    world.webhooks[webhook_id] = {
        "id": webhook_id,
        "url": url,
        "action": action,
        "secret_key": secret_key,
        "owner_client_id": caller.client_id,
        "type": "license",
    }
    return {"id": webhook_id}


def perform(world: World, action: str, caller: Caller, payload: Any) -> dict:
    """Run one action.  The caller's scope for it must already have been checked."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise ApiError(404, "not_found", f"Unknown action `{action}`")
    if not isinstance(payload, dict):
        raise _invalid("The request body must be a JSON object")
    # Results are copies, so whoever serialises or edits them cannot alter the world.
    return copy.deepcopy(spec.handler(world, caller, payload))
