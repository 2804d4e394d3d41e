"""The one home of the scope rules: grammar, catalog, hierarchy and roles.

Scope names follow LiveChat's grammar, ``resource[.sub]--{my|access|all}:{ro|rw}``
(a few scopes, e.g. ``customers:ro``, have no middle part), plus the OpenID
Connect scopes ``openid``, ``profile`` and ``email``.  On the wire a scope is
a space-delimited list of such names (RFC 6749 §3.3).

The catalog, each scope's role and meaning, follow LiveChat's scope table (the docs'
``src/constants/index.js``, shown on its Scopes page), for the scopes this course uses.

Two hierarchies make one scope grant others (LiveChat's "general rules"):
  * access: ``rw`` includes ``ro``;
  * reach:  ``all`` includes ``access`` includes ``my``.
A few scopes also include a scope of another resource, as LiveChat describes them
(``Scope.includes``). Implication only goes downwards, and only to scopes that exist in CATALOG.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Ascending: each role can do what the ones before it can. LiveChat's table calls the least
# role "normal"; here it is "agent" (Jane is a normal agent, Ada an administrator).
ROLES = ("agent", "administrator", "owner")

# Ordered from narrowest to widest, so "includes" means "has a lower index".
_REACH = ("my", "access", "all")
_ACCESS = ("ro", "rw")

# One regex is the whole grammar; implied_by() derives the hierarchy from it
# instead of from a hand-written table, so a new catalog entry needs no extra rules.
_GRAMMAR = re.compile(
    r"(?P<resource>[a-z_]+(?:\.[a-z_]+)?)(?:--(?P<reach>my|access|all))?:(?P<access>ro|rw)"
)


@dataclass(frozen=True)
class Scope:
    name: str
    description: str  # shown to the end user on the consent page
    resource: str  # group heading in UIs
    role: str = "agent"  # least role that may hold this scope (LiveChat gates scopes by role)
    includes: tuple[str, ...] = ()  # scopes of another resource it grants too (LiveChat's wording)


def _catalog(*scopes: Scope) -> dict[str, Scope]:
    return {scope.name: scope for scope in scopes}


# Insertion order is display order, grouped by resource.
CATALOG: dict[str, Scope] = _catalog(
    # Chats: "conversation and meta data" (LiveChat). `access`: the chats of the groups the user
    # may access; `my`: the chats she is present in ("requester presence").
    Scope("chats--all:ro", "Read all chats in your organisation", "Chats", "administrator"),
    Scope("chats--all:rw", "Read and manage all chats in your organisation", "Chats", "administrator",
          includes=("chats.conversation--all:rw",)),  # rw of meta data and conversation alike
    Scope("chats--access:ro", "Read chats in the groups you have access to", "Chats"),
    Scope("chats--access:rw", "Read and manage chats in the groups you have access to", "Chats"),
    Scope("chats--my:ro", "Read the chats you take part in", "Chats"),
    Scope("chats--my:rw", "Read and manage the chats you take part in", "Chats"),
    # LiveChat: write conversations "and Read permission ... of all license chats (chats--all:ro)".
    Scope("chats.conversation--all:rw", "Send messages in any chat in your organisation, and read all "
          "chats", "Chats", "administrator", includes=("chats--all:ro",)),
    Scope("customers:ro", "See your customers' details", "Customers"),
    Scope("customers:rw", "See and edit your customers' details, and add customers", "Customers"),
    Scope("agents--all:ro", "See every agent in your organisation", "Agents"),
    Scope("agents--all:rw", "Add, edit and remove agents in your organisation", "Agents", "administrator"),
    Scope("agents--my:ro", "See your own agent profile", "Agents"),
    Scope("agents--my:rw", "Edit your own agent profile", "Agents"),
    Scope("webhooks--all:ro", "See the webhooks set up for your organisation", "Webhooks", "administrator"),
    # LiveChat: "(all in license, delete only)"; adding one takes webhooks.configuration:rw.
    Scope("webhooks--all:rw", "See and remove the webhooks set up for your organisation", "Webhooks",
          "administrator"),
    Scope("webhooks.configuration:rw", "Add the app's webhooks and change their settings", "Webhooks",
          "administrator"),
    Scope("webhooks.state:rw", "Switch the app's own webhooks on and off", "Webhooks", "administrator"),
    Scope("openid", "Confirm who you are", "Identity"),
    Scope("profile", "See your name and basic profile", "Identity"),
    Scope("email", "See your email address", "Identity"),
)


OPENID_CONNECT = frozenset({"openid", "profile", "email"})  # OIDC Core §5.4; not LiveChat's


def split_scope(text: str | None) -> list[str]:
    """Parse a scope parameter (RFC 6749 §3.3) into names, first occurrence kept.

    RFC 6749 §3.3 delimits with spaces; we split on any whitespace, as Authlib
    does, so tabs or doubled spaces never produce empty or odd names.
    """
    # The RFC makes the scope an unordered set, so duplicates carry no meaning.
    return list(dict.fromkeys((text or "").split()))


def _names(names: str | Iterable[str] | None) -> list[str]:
    # Accept a raw scope string too, so a caller can never iterate it char by char.
    return split_scope(names) if isinstance(names, str) or names is None else list(dict.fromkeys(names))


def join_scope(names: str | Iterable[str] | None) -> str:
    """Format names as a scope parameter (RFC 6749 §3.3), in a stable display order."""
    order = list(CATALOG)
    # sorted() is stable, so unknown names keep their given order at the end.
    return " ".join(sorted(_names(names), key=lambda n: order.index(n) if n in CATALOG else len(order)))


def is_known(name: str) -> bool:
    return name in CATALOG


def unknown(names: str | Iterable[str] | None) -> list[str]:
    """Names not in the catalog, in given order (RFC 6749 §4.1.2.1 ``invalid_scope``)."""
    return [name for name in _names(names) if not is_known(name)]


def implied_by(name: str) -> set[str]:
    """Every catalog scope that ``name`` grants, itself included; unknown names grant nothing."""
    if not is_known(name):
        return set()
    match = _GRAMMAR.fullmatch(name)
    if match is None:  # OpenID Connect scopes stand alone
        return {name}
    resource, reach, access = match.group("resource", "reach", "access")
    accesses = _ACCESS[: _ACCESS.index(access) + 1]
    # Scopes without a reach part (customers:rw) only have the rw ⊇ ro rule.
    reaches = _REACH[: _REACH.index(reach) + 1] if reach else (None,)
    candidates = {f"{resource}--{r}:{a}" if r else f"{resource}:{a}" for r in reaches for a in accesses}
    # The grammar allows combinations LiveChat does not offer (e.g. agents--access:ro).
    granted = candidates & CATALOG.keys()
    # Each included scope brings its own hierarchy (chats.conversation--all:rw ⇒ chats--my:ro).
    return granted.union(*(implied_by(other) for scope in granted for other in CATALOG[scope].includes))


def expand(names: str | Iterable[str] | None) -> set[str]:
    return set().union(*map(implied_by, _names(names)))


def covers(granted: str | Iterable[str] | None, required: str) -> bool:
    return required in expand(granted)


def is_subset(requested: str | Iterable[str] | None, allowed: str | Iterable[str] | None) -> bool:
    """Whether ``requested`` stays within ``allowed``, counting what ``allowed`` implies.

    Used where scope may only narrow: a refresh request (RFC 6749 §6). (The scopes an app
    registered are matched by name: it asks for what it registered.)
    """
    granted = expand(allowed)
    return all(name in granted for name in _names(requested))


def required_role(name: str) -> str:
    return CATALOG[name].role  # KeyError for unknown names: there is no rule to apply


def role_allows(role: str, name: str) -> bool:
    """Whether a user with ``role`` may hold scope ``name``; unknown roles or scopes never may."""
    return role in ROLES and is_known(name) and ROLES.index(role) >= ROLES.index(required_role(name))


def forbidden_for_role(role: str, names: str | Iterable[str] | None) -> list[str]:
    return [name for name in _names(names) if not role_allows(role, name)]


def role_gated(names: str | Iterable[str] | None) -> list[str]:
    """The known scopes that need more than the least role (LiveChat's administrator scopes):
    only a signed-in user holding that role can grant them."""
    return [name for name in _names(names) if is_known(name) and required_role(name) != ROLES[0]]


def describe(name: str) -> str:
    return CATALOG[name].description


def grouped(names: str | Iterable[str] | None = None) -> dict[str, list[Scope]]:
    """Known scopes by resource, in catalog order, for a consent page; unknown names are skipped."""
    wanted = CATALOG.keys() if names is None else set(_names(names))
    groups: dict[str, list[Scope]] = {}
    for scope in CATALOG.values():
        if scope.name in wanted:
            groups.setdefault(scope.resource, []).append(scope)
    return groups
