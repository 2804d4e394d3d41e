"""Scope rules as a user of the mock server would notice them."""
import pytest

from mock_server import scopes
from mock_server.scopes import (
    CATALOG,
    ROLES,
    Scope,
    covers,
    describe,
    expand,
    forbidden_for_role,
    grouped,
    implied_by,
    is_known,
    is_subset,
    join_scope,
    required_role,
    role_allows,
    split_scope,
    unknown,
)

OIDC = {"openid", "profile", "email"}


# --- catalog ---------------------------------------------------------------

def test_every_non_oidc_scope_follows_the_livechat_grammar():
    for name in CATALOG.keys() - OIDC:
        assert scopes._GRAMMAR.fullmatch(name), name


def test_catalog_entries_are_consistent():
    for name, scope in CATALOG.items():
        assert isinstance(scope, Scope) and scope.name == name
        assert scope.role in ROLES
        assert scope.description and scope.resource


def test_scope_is_immutable():
    with pytest.raises(AttributeError):
        CATALOG["openid"].role = "owner"


# --- split / join (RFC 6749 §3.3) -------------------------------------------

@pytest.mark.parametrize("text", [None, "", "   ", "\t \n"])
def test_split_empty_inputs(text):
    assert split_scope(text) == []


def test_split_keeps_order_and_drops_duplicates():
    assert split_scope("chats--my:ro openid chats--my:ro openid") == ["chats--my:ro", "openid"]


def test_split_tolerates_extra_spaces_and_tabs():
    assert split_scope("  openid   email\tprofile \n") == ["openid", "email", "profile"]


def test_split_does_not_split_on_commas_or_plus():
    assert split_scope("openid,email") == ["openid,email"]
    assert split_scope("openid+email") == ["openid+email"]


def test_join_uses_catalog_order_with_unknown_last():
    assert join_scope(["email", "zzz", "chats--my:ro", "aaa", "openid"]) == "chats--my:ro openid email zzz aaa"


def test_join_drops_duplicates_and_accepts_a_string():
    assert join_scope(["openid", "openid"]) == "openid"
    assert join_scope("email  openid") == "openid email"


@pytest.mark.parametrize("names", [None, "", []])
def test_join_of_nothing_is_empty(names):
    assert join_scope(names) == ""


def test_split_join_round_trip():
    text = join_scope(CATALOG)
    assert split_scope(text) == list(CATALOG)


# --- unknown scopes ---------------------------------------------------------

def test_known_scopes():
    assert is_known("chats--all:ro") and is_known("openid")


@pytest.mark.parametrize("name", [
    "chats--all:RW", "chats--all", "chats:ro", "agents--access:ro",
    "chats--everything:ro", "customers--all:ro", "", " openid", "OpenID",
])
def test_unknown_scopes(name):
    assert not is_known(name)
    assert implied_by(name) == set()


def test_unknown_lists_only_the_unknown_in_given_order():
    assert unknown("openid foo chats--my:ro bar foo") == ["foo", "bar"]
    assert unknown(["openid", "email"]) == []
    assert unknown(None) == []


# --- hierarchy (LiveChat: rw ⊇ ro, all ⊇ access ⊇ my) ------------------------

def test_widest_chats_scope_implies_all_narrower_ones():
    assert implied_by("chats--all:rw") == {
        "chats--all:rw", "chats--all:ro",
        "chats--access:rw", "chats--access:ro",
        "chats--my:rw", "chats--my:ro",
        # LiveChat's Scopes page: chats-*:rw writes meta data and conversation data alike.
        "chats.conversation--all:rw",
    }


def test_conversation_scope_reads_chats_as_livechat_describes_it():
    # "... and Read permission for conversation and meta data of all license chats (chats--all:ro)"
    assert implied_by("chats.conversation--all:rw") == {
        "chats.conversation--all:rw", "chats--all:ro", "chats--access:ro", "chats--my:ro"}


def test_narrowest_scope_implies_only_itself():
    assert implied_by("chats--my:ro") == {"chats--my:ro"}


def test_rw_includes_ro_without_a_middle_part():
    assert implied_by("customers:rw") == {"customers:rw", "customers:ro"}
    assert implied_by("customers:ro") == {"customers:ro"}


def test_implication_skips_scopes_missing_from_the_catalog():
    # agents has no "access" level; webhooks.state has no ":ro" here.
    assert implied_by("agents--all:rw") == {"agents--all:rw", "agents--all:ro", "agents--my:rw", "agents--my:ro"}
    assert implied_by("webhooks.state:rw") == {"webhooks.state:rw"}
    assert implied_by("webhooks.configuration:rw") == {"webhooks.configuration:rw"}


@pytest.mark.parametrize("name", sorted(OIDC))
def test_oidc_scopes_stand_alone(name):
    assert implied_by(name) == {name}


@pytest.mark.parametrize("granted, required", [
    ("chats--all:rw", "chats--all:ro"),
    ("chats--all:rw", "chats--my:ro"),
    ("chats--all:ro", "chats--access:ro"),
    ("chats--access:rw", "chats--my:rw"),
    ("chats--access:ro", "chats--my:ro"),
    ("customers:rw", "customers:ro"),
    ("webhooks--all:rw", "webhooks--all:ro"),
    ("openid chats--my:rw", "chats--my:ro"),
    (["openid", "email"], "email"),
])
def test_covers(granted, required):
    assert covers(granted, required)


@pytest.mark.parametrize("granted, required", [
    ("chats--my:rw", "chats--all:ro"),        # no upward reach
    ("chats--access:rw", "chats--all:ro"),
    ("chats--all:ro", "chats--all:rw"),       # ro never gives rw
    ("chats--all:ro", "chats--my:rw"),
    ("customers:ro", "customers:rw"),
    ("chats.conversation--all:rw", "chats--all:rw"),  # writes conversations, reads the rest
    ("chats--access:rw", "chats.conversation--all:rw"),  # no upward reach through an inclusion
    ("webhooks--all:rw", "webhooks.configuration:rw"),  # LiveChat's webhooks--all:rw is "delete only"
    ("chats--all:rw", "customers:ro"),        # other resource
    ("webhooks--all:rw", "webhooks.state:rw"),
    ("openid", "profile"),
    ("", "openid"),
    (None, "openid"),
    ("chats--all:rw", "nonsense"),
])
def test_does_not_cover(granted, required):
    assert not covers(granted, required)


def test_expand_unions_and_ignores_unknown():
    assert expand("customers:rw openid bogus") == {"customers:rw", "customers:ro", "openid"}
    assert expand([]) == set()


# --- is_subset: scope may only narrow ---------------------------------------

@pytest.mark.parametrize("requested, allowed", [
    ("chats--my:ro", "chats--all:rw"),
    ("chats--all:ro chats--my:rw", "chats--all:rw"),
    ("openid customers:ro", "openid email customers:rw"),
    ("openid", "openid"),
    ("", "openid"),
    ([], []),
])
def test_is_subset_when_narrowing(requested, allowed):
    assert is_subset(requested, allowed)


@pytest.mark.parametrize("requested, allowed", [
    ("chats--all:rw", "chats--all:ro"),
    ("chats--all:ro", "chats--my:rw"),
    ("openid email", "openid"),
    ("customers:rw", "customers:ro"),
    ("openid", ""),
    ("bogus", "bogus"),  # unknown scopes are never granted
])
def test_is_subset_rejects_widening(requested, allowed):
    assert not is_subset(requested, allowed)


# --- roles ------------------------------------------------------------------

# LiveChat's scope table (livechat-public-docs, src/constants/index.js): the role of each scope
# this course uses; "normal" there is "agent" here.
LIVECHAT_ROLES = {
    "chats--all:ro": "administrator", "chats--all:rw": "administrator",
    "chats.conversation--all:rw": "administrator",
    "chats--access:ro": "agent", "chats--access:rw": "agent", "chats--my:ro": "agent", "chats--my:rw": "agent",
    "customers:ro": "agent", "customers:rw": "agent",
    "agents--all:ro": "agent", "agents--all:rw": "administrator", "agents--my:ro": "agent", "agents--my:rw": "agent",
    "webhooks--all:ro": "administrator", "webhooks--all:rw": "administrator",
    "webhooks.configuration:rw": "administrator", "webhooks.state:rw": "administrator",
}


def test_every_livechat_scope_has_livechats_role():
    assert {name: scope.role for name, scope in CATALOG.items() if name not in OIDC} == LIVECHAT_ROLES


@pytest.mark.parametrize("name", ["chats--all:ro", "chats.conversation--all:rw", "agents--all:rw",
                                  "webhooks.configuration:rw"])
def test_admin_only_scopes(name):
    assert required_role(name) == "administrator"
    assert not role_allows("agent", name)
    assert role_allows("administrator", name)
    assert role_allows("owner", name)


def test_agent_scopes_are_open_to_everyone():
    for role in ROLES:
        assert role_allows(role, "chats--access:ro")  # what Jane, a normal agent, reads
        assert role_allows(role, "chats--my:rw")
        assert role_allows(role, "openid")


def test_owner_may_hold_every_scope():
    assert forbidden_for_role("owner", CATALOG) == []


@pytest.mark.parametrize("role, name", [
    ("guest", "chats--my:ro"),   # unknown role
    ("Agent", "chats--my:ro"),   # roles are case-sensitive
    ("owner", "bogus"),          # unknown scope
])
def test_role_allows_rejects_unknowns(role, name):
    assert not role_allows(role, name)


def test_forbidden_for_role_lists_offenders_in_given_order():
    names = "webhooks--all:rw chats--access:ro chats--all:ro agents--all:rw openid"
    assert forbidden_for_role("agent", names) == ["webhooks--all:rw", "chats--all:ro", "agents--all:rw"]
    assert forbidden_for_role("administrator", names) == []


def test_required_role_of_unknown_scope_raises():
    with pytest.raises(KeyError):
        required_role("bogus")


# --- describe / grouped -----------------------------------------------------

def test_describe():
    assert describe("chats--access:ro") == "Read chats in the groups you have access to"
    with pytest.raises(KeyError):
        describe("bogus")


def test_grouped_whole_catalog_in_display_order():
    groups = grouped()
    assert list(groups) == ["Chats", "Customers", "Agents", "Webhooks", "Identity"]
    assert [s.name for s in groups["Identity"]] == ["openid", "profile", "email"]
    assert sum(map(len, groups.values())) == len(CATALOG)


def test_grouped_selection_keeps_catalog_order_and_skips_unknown():
    groups = grouped("email bogus chats--my:ro chats--all:rw")
    assert {k: [s.name for s in v] for k, v in groups.items()} == {
        "Chats": ["chats--all:rw", "chats--my:ro"],
        "Identity": ["email"],
    }


@pytest.mark.parametrize("names", ["", [], "bogus"])
def test_grouped_of_nothing_is_empty(names):
    assert grouped(names) == {}
