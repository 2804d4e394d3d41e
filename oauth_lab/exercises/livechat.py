"""13 · LiveChat in practice: checked against the livechat profile's server, the notebook's `lc`."""
from __future__ import annotations

import requests

from ..checks import Exercise
from .support import access_token_of

REPORTS = ("fernhollow-reports", "reports-secret")
ASKED = {"chats--access:ro", "customers:ro"}


def token_info(lc, access_token: str) -> requests.Response:
    """LiveChat's own check of a token: GET /v2/info with it as the bearer token."""
    return requests.get(f"{lc.url}/v2/info", headers={"Authorization": f"Bearer {access_token}"}, timeout=5)


def not_livechat(lc) -> str | None:
    if getattr(lc, "metadata", {}).get("mock_server_profile") != "livechat":
        return "pass the livechat server as the second argument: lc"
    return None


def _two_scopes(answer, lc):
    if problem := not_livechat(lc):
        return problem
    access_token = access_token_of(answer)
    facts = token_info(lc, access_token)
    if facts.status_code != 200:
        return ("the livechat server says this access token is not active (not one it issued, "
                "revoked, or copied with %3A in it)")
    facts = facts.json()
    if facts["client_id"] != REPORTS[0]:
        return f"this token was issued to {facts['client_id']}, not to {REPORTS[0]}"
    granted = set(facts["scope"].split(","))
    if granted != ASKED:
        return (f"the token carries {facts['scope']}: ask for exactly chats--access:ro and customers:ro, "
                "in LiveChat's way of writing two scopes")
    answer_for = {action: requests.post(lc.api(action), json={}, timeout=5,
                                        headers={"Authorization": f"Bearer {access_token}"}).status_code
                  for action in ("list_customers", "list_chats")}
    if answer_for != {"list_customers": 200, "list_chats": 200}:
        return f"the API answers this token with {answer_for}"
    return None


def issued(lc, access_token: str) -> bool:
    """Whether the livechat server's token endpoint ever answered with this access token."""
    return any(m["method"] == "POST" and m["path"] == "/v2/token" and access_token in m["response_body"]
               for m in lc.transcript.messages())


def _disconnected(answer, lc):
    if problem := not_livechat(lc):
        return problem
    access_token = access_token_of(answer)
    if not issued(lc, access_token):
        return "the livechat server never issued this access token: use the token response of reports"
    if token_info(lc, access_token).status_code == 200:
        return ("the access token still works: LiveChat revokes with DELETE on its token endpoint, "
                "the token as the bearer token (or as ?code=, LiveChat's second way)")
    again = requests.post(lc.endpoint("token"), auth=REPORTS, timeout=5,
                          data={"grant_type": "refresh_token", "refresh_token": answer.get("refresh_token", "")})
    if again.status_code == 200:
        return "the refresh token still works: the app could get a new access token without Jane"
    return None


two_scopes = Exercise(
    "13 · two scopes, LiveChat's way", _two_scopes, context=("lc",),
    hint="OAuth2Session('fernhollow-reports', redirect_uri=lc.redirect_uri, scope='chats--access:ro,customers:ro', "
         "pkce='S256'): one string, comma-separated; then ConsentPanel(lc, url).decide('Allow') and fetch_token",
    solution="solutions/13_two_scopes.py",
    success="/v2/info says the token is Fernhollow Reports', with exactly those two scopes, and the API "
            "lets it list customers and chats.")

disconnected = Exercise(
    "13 · disconnect, LiveChat's way", _disconnected, context=("lc",),
    hint="requests.delete(f'{lc.url}/v2/token', headers={'Authorization': f\"Bearer {reports.token['access_token']}\"}) "
         "(LiveChat's docs also show ?code=<token>, which puts the token in a URL)",
    solution="solutions/13_disconnected.py",
    success="/v2/info refuses the access token and the token endpoint the refresh token: the app is "
            "disconnected.")
