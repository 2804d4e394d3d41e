"""Tests for the pure agent API (mock_server.agent_api)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server.agent_api import ACTIONS, ApiError, Caller, World, perform

ALL_CHATS = {"chat-1001", "chat-1002", "chat-1003", "chat-1004", "chat-1005"}
RETURNS_CHATS = {"chat-1001", "chat-1003", "chat-1005"}  # group 1
GENERAL_CHATS = {"chat-1002", "chat-1004"}  # group 0


def caller(user_id="jane", *scopes, client_id="demo-client"):
    return Caller(user_id=user_id, client_id=client_id, scopes=frozenset(scopes))


JANE = caller("jane", "chats--access:ro")
ADA = caller("ada", "chats--access:ro")
SAM = caller("sam", "chats--access:ro")
MACHINE = caller(None, "chats--access:ro", client_id="reporting-bot")  # client credentials


@pytest.fixture
def world():
    return World.demo()


def call(world, action, who, /, **payload):
    # Positional-only, so payloads may have their own "action" field (webhooks).
    return perform(world, action, who, payload)


def api_error(world, action, who, payload):
    with pytest.raises(ApiError) as info:
        perform(world, action, who, payload)
    return info.value


def chat_ids(result):
    return {chat["id"] for chat in result["chats_summary"]}


# --- ApiError and perform --------------------------------------------------

def test_api_error_body_has_livechat_shape():
    error = ApiError(404, "not_found", "nope")
    assert (error.status, error.type, error.message) == (404, "not_found", "nope")
    assert error.body() == {"error": {"type": "not_found", "message": "nope"}}


def test_unknown_action_is_404(world):
    error = api_error(world, "delete_everything", JANE, {})
    assert (error.status, error.type) == (404, "not_found")


@pytest.mark.parametrize("payload", [[], "x", 3, None, True, [{"chat_id": "chat-1001"}]])
def test_non_object_payload_is_400(world, payload):
    error = api_error(world, "list_chats", JANE, payload)
    assert (error.status, error.type) == (400, "validation")


def test_every_action_declares_a_scope_and_description():
    assert set(ACTIONS) == {"list_chats", "get_chat", "list_customers", "list_agents",
                            "update_agent", "register_webhook"}
    for name, action in ACTIONS.items():
        assert action.name == name and action.scope and action.description


def test_each_action_needs_livechats_scope():
    # LiveChat's method tables (Agent Chat API v3.5; Configuration API for agents and webhooks),
    # the narrowest scope of each (list_chats: chats--all:ro "or" chats--access:ro, which it covers).
    assert {name: action.scope for name, action in ACTIONS.items()} == {
        "list_chats": "chats--access:ro", "get_chat": "chats--access:ro", "list_customers": "customers:ro",
        "list_agents": "agents--all:ro", "update_agent": "agents--all:rw",
        "register_webhook": "webhooks.configuration:rw"}


def test_perform_does_not_check_scopes(world):
    # The HTTP layer enforces Action.scope; perform trusts it.
    assert call(world, "list_agents", caller("jane"))["agents"]


def test_results_do_not_alias_world_state(world):
    result = call(world, "list_agents", ADA)
    result["agents"][0]["name"] = "Mallory"
    assert world.agent("jane")["name"] == "Jane Agent"


# --- World ----------------------------------------------------------------

def test_demo_world_is_deterministic_and_independent():
    first, second = World.demo(), World.demo()
    assert first == second
    perform(first, "update_agent", ADA, {"id": "jane", "name": "Changed"})
    assert first != second and second.agent("jane")["name"] == "Jane Agent"


def test_demo_world_contents(world):
    assert world.organization == {"id": "org-fernhollow", "name": "Fernhollow Footwear"}
    assert world.groups == {0: "General", 1: "Returns"}
    assert set(world.chats) == ALL_CHATS
    assert len(world.customers) == 4


def test_agent_lookup_for_userinfo(world):
    jane = world.agent("jane")
    assert {k: jane[k] for k in ("id", "name", "email", "role")} == {
        "id": "jane", "name": "Jane Agent", "email": "jane@fernhollow.example", "role": "agent"}
    assert world.agent("ada")["role"] == "administrator"
    assert world.agent("nobody") is None and world.agent(None) is None


# --- list_chats -------------------------------------------------------------

@pytest.mark.parametrize("who, expected", [
    (JANE, RETURNS_CHATS),
    (ADA, ALL_CHATS),
    (SAM, GENERAL_CHATS),
    (MACHINE, set()),
    (caller("ghost", "chats--access:ro"), set()),
])
def test_list_chats_by_group_membership(world, who, expected):
    result = call(world, "list_chats", who)
    assert chat_ids(result) == expected
    assert result["found_chats"] == len(expected)
    assert result["next_page_id"] is None


@pytest.mark.parametrize("scope", ["chats--all:ro", "chats--all:rw"])
@pytest.mark.parametrize("user_id", ["jane", "sam", None])
def test_list_chats_with_all_scope_sees_everything(world, scope, user_id):
    assert chat_ids(call(world, "list_chats", caller(user_id, scope))) == ALL_CHATS


def test_list_chats_access_rw_does_not_widen_to_all(world):
    assert chat_ids(call(world, "list_chats", caller("jane", "chats--access:rw"))) == RETURNS_CHATS


def test_list_chats_summary_shape_and_order(world):
    summaries = call(world, "list_chats", ADA)["chats_summary"]
    created = [chat["last_thread_summary"]["created_at"] for chat in summaries]
    assert created == sorted(created, reverse=True)
    first = summaries[0]
    assert first["id"] == "chat-1005"
    assert first["access"] == {"group_ids": [1]}
    assert {user["id"]: user["type"] for user in first["users"]} == {
        "cust-204": "customer", "ada": "agent"}
    last = first["last_event_per_type"]["message"]["event"]
    assert last["text"] == "Received, the refund is on its way."
    assert last["created_at"] == "2026-03-06T08:36:00.000000Z"


def test_list_chats_limit(world):
    result = call(world, "list_chats", ADA, limit=2)
    assert len(result["chats_summary"]) == 2
    assert result["found_chats"] == 5


@pytest.mark.parametrize("limit", [0, 101, -1, 10**100, "5", 2.0, True, [], {}])
def test_list_chats_rejects_bad_limit(world, limit):
    error = api_error(world, "list_chats", ADA, {"limit": limit})
    assert (error.status, error.type) == (400, "validation")
    assert "limit" in error.message


# --- get_chat ---------------------------------------------------------------

def test_get_chat_returns_thread_with_events(world):
    chat = call(world, "get_chat", JANE, chat_id="chat-1001")
    assert chat["id"] == "chat-1001"
    assert chat["thread"]["active"] is True
    events = chat["thread"]["events"]
    assert [e["author_id"] for e in events] == ["cust-201", "jane", "cust-201"]
    assert events[0]["text"].startswith("Hi! The trail runners")
    assert all(e["created_at"].startswith("2026-") for e in events)


@pytest.mark.parametrize("payload", [{}, {"chat_id": None}, {"chat_id": ""},
                                     {"chat_id": 1001}, {"chat_id": ["chat-1001"]}])
def test_get_chat_requires_chat_id_string(world, payload):
    error = api_error(world, "get_chat", JANE, payload)
    assert (error.status, error.type) == (400, "validation")
    assert "chat_id" in error.message


@pytest.mark.parametrize("who, chat_id", [
    (JANE, "chat-9999"),
    (JANE, "chat-1002"),  # exists, but in group 0
    (SAM, "chat-1001"),  # exists, but in group 1
    (MACHINE, "chat-1001"),
])
def test_get_chat_unknown_or_invisible_is_404(world, who, chat_id):
    error = api_error(world, "get_chat", who, {"chat_id": chat_id})
    assert (error.status, error.type) == (404, "not_found")


def test_hidden_and_missing_chats_look_the_same(world):
    hidden = api_error(world, "get_chat", JANE, {"chat_id": "chat-1002"})
    missing = api_error(world, "get_chat", JANE, {"chat_id": "chat-1002x"})
    assert hidden.message.replace("chat-1002", "") == missing.message.replace("chat-1002x", "")


@pytest.mark.parametrize("who", [ADA, caller("jane", "chats--all:ro"),
                                 caller(None, "chats--all:ro")])
def test_get_chat_visible_to_group_member_or_all_scope(world, who):
    assert call(world, "get_chat", who, chat_id="chat-1002")["id"] == "chat-1002"


# --- list_customers ---------------------------------------------------------

def test_list_customers(world):
    result = call(world, "list_customers", caller(None, "customers:ro"))
    assert result["total_customers"] == 4
    olivia = next(c for c in result["customers"] if c["id"] == "cust-201")
    assert olivia["name"] == "Olivia Brown" and olivia["type"] == "customer"
    assert olivia["statistics"] == {"chats_count": 2}


# --- list_agents ------------------------------------------------------------

def test_list_agents(world):
    agents = {a["id"]: a for a in call(world, "list_agents", ADA)["agents"]}
    assert {"jane", "ada", "sam"} <= set(agents)
    assert agents["ada"]["groups"] == [{"id": 0, "priority": "normal"},
                                       {"id": 1, "priority": "normal"}]
    assert agents["jane"]["email"] == "jane@fernhollow.example"
    assert not any("password" in key or "secret" in key for a in agents.values() for key in a)


# --- update_agent -----------------------------------------------------------

def test_update_agent_persists(world):
    assert call(world, "update_agent", ADA, id="jane", name="Jane Doe",
                job_title="Team Lead", max_chats_count=0) == {}
    jane = world.agent("jane")
    assert (jane["name"], jane["job_title"], jane["max_chats_count"]) == ("Jane Doe", "Team Lead", 0)
    listed = {a["id"]: a for a in call(world, "list_agents", ADA)["agents"]}
    assert listed["jane"]["name"] == "Jane Doe"


def test_update_agent_only_changes_given_fields(world):
    call(world, "update_agent", ADA, id="sam", max_chats_count=100)
    sam = world.agent("sam")
    assert (sam["name"], sam["max_chats_count"]) == ("Sam Sparrow", 100)


@pytest.mark.parametrize("payload, field", [
    ({}, "id"),
    ({"id": 7}, "id"),
    ({"id": "jane", "name": ""}, "name"),
    ({"id": "jane", "name": 42}, "name"),
    ({"id": "jane", "job_title": ["x"]}, "job_title"),
    ({"id": "jane", "max_chats_count": 101}, "max_chats_count"),
    ({"id": "jane", "max_chats_count": -1}, "max_chats_count"),
    ({"id": "jane", "max_chats_count": "5"}, "max_chats_count"),
    ({"id": "jane", "max_chats_count": 5.0}, "max_chats_count"),
    ({"id": "jane", "max_chats_count": False}, "max_chats_count"),
    ({"id": "jane", "max_chats_count": 2**80}, "max_chats_count"),
    ({"id": "jane", "role": "owner"}, "role"),
])
def test_update_agent_validation(world, payload, field):
    before = World.demo()
    error = api_error(world, "update_agent", ADA, payload)
    assert (error.status, error.type) == (400, "validation")
    assert field in error.message
    assert world == before


def test_update_agent_bad_field_changes_nothing(world):
    api_error(world, "update_agent", ADA, {"id": "jane", "name": "Ok", "max_chats_count": 500})
    assert world.agent("jane")["name"] == "Jane Agent"


def test_update_unknown_agent_is_404(world):
    error = api_error(world, "update_agent", ADA, {"id": "nobody", "name": "X"})
    assert (error.status, error.type) == (404, "not_found")


# --- register_webhook -------------------------------------------------------

WEBHOOK = {"url": "https://hooks.example.com/livechat", "action": "incoming_chat",
           "secret_key": "s3cr3t"}


def test_register_webhook_ids_are_sequential_and_stored(world):
    ids = [call(world, "register_webhook", ADA, **WEBHOOK)["id"] for _ in range(3)]
    assert ids == ["wh-1", "wh-2", "wh-3"]
    assert world.webhooks["wh-2"] == {**WEBHOOK, "id": "wh-2", "owner_client_id": "demo-client",
                                      "type": "license"}


def test_register_webhook_ids_are_deterministic_across_worlds():
    assert [perform(World.demo(), "register_webhook", ADA, WEBHOOK) for _ in range(2)] == [
        {"id": "wh-1"}, {"id": "wh-1"}]


def test_register_webhook_accepts_http_and_other_actions(world):
    assert call(world, "register_webhook", MACHINE, url="http://localhost:8080/hook",
                action="chat_deactivated", secret_key="k") == {"id": "wh-1"}


@pytest.mark.parametrize("override, field", [
    ({"url": None}, "url"),
    ({"url": "ftp://example.com/hook"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "https://"}, "url"),
    ({"url": "http://[::1"}, "url"),
    ({"url": 12}, "url"),
    ({"action": None}, "action"),
    ({"action": "everything"}, "action"),
    ({"action": ["incoming_chat"]}, "action"),
    ({"action": {"a": 1}}, "action"),
    ({"secret_key": None}, "secret_key"),
    ({"secret_key": ""}, "secret_key"),
    ({"secret_key": 123}, "secret_key"),
])
def test_register_webhook_validation(world, override, field):
    error = api_error(world, "register_webhook", ADA, {**WEBHOOK, **override})
    assert (error.status, error.type) == (400, "validation")
    assert field in error.message
    assert world.webhooks == {}


# --- fuzz -------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
# Real field names and ids make the fuzzer reach past "field is required".
known_keys = st.sampled_from(["chat_id", "limit", "id", "name", "job_title", "max_chats_count",
                              "url", "action", "secret_key", "filters"])
likely_values = st.sampled_from(["chat-1001", "chat-1002", "jane", "nobody", "incoming_chat",
                                 "https://example.com/h", 5, 0, 100])
payloads = json_values | st.dictionaries(known_keys | st.text(max_size=8),
                                         likely_values | json_values, max_size=6)
callers = st.builds(Caller, st.sampled_from(["jane", "ada", "sam", "ghost", None]),
                    st.text(max_size=8),
                    st.frozensets(st.sampled_from(["chats--all:ro", "chats--access:ro",
                                                   "chats--my:ro", "bogus"])))


@settings(max_examples=400, deadline=None)
@given(action=st.sampled_from(sorted(ACTIONS)), who=callers, payload=payloads)
def test_any_json_payload_gives_dict_or_api_error(action, who, payload):
    try:
        result = perform(World.demo(), action, who, payload)
    except ApiError as error:
        assert error.status in (400, 404)
        assert error.body()["error"]["message"]
    else:
        assert isinstance(result, dict)
