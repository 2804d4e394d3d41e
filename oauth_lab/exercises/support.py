"""What the exercise checks share: asking the API and the server about a token, reading a redirect.

Each check asks the server, not a string comparison: a token passes if the API accepts it for
what the exercise asked and refuses the rest.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import requests

from ..lab import current_lab
from ..resource_servers import RESOURCE_SERVER


def status(action: str, access_token: str) -> int:
    """The agent API's status code for this action with this token (empty JSON payload)."""
    return requests.post(current_lab().api(action), json={},
                         headers={"Authorization": f"Bearer {access_token}"}, timeout=5).status_code


def access_token_of(answer) -> str:
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
        raise ValueError("expected the token response: a dict with an 'access_token'")
    return answer["access_token"]


def introspect(token: str, lab=None) -> dict:
    """Ask the server (`lab`'s, or the notebook's) about a token, as the resource server would
    (RFC 7662)."""
    return requests.post((lab or current_lab()).endpoint("introspection"), data={"token": token},
                         auth=RESOURCE_SERVER, timeout=5).json()


def still_works(token: str, lab=None) -> bool:
    """Whether the server still honours a token, refresh tokens included: asked as the server's
    owner, since an API may introspect only access tokens (refresh tokens "are never sent to
    resource servers", RFC 6749 §1.5) and a public app cannot authenticate to ask."""
    return (lab or current_lab()).introspect_as_owner(token).get("active") is True


def query(url) -> dict:
    """The query parameters of a URL (a redirect the app received), or {} for anything else."""
    return dict(parse_qsl(urlsplit(url).query)) if isinstance(url, str) else {}


def refuses(validate, token: str) -> bool:
    """Did the learner's validator refuse this token (by raising)?"""
    try:
        validate(token)
    except Exception:  # noqa: BLE001 — any exception is the API saying no
        return True
    return False
