"""03 · The authorization request."""
from __future__ import annotations

from ..checks import Exercise
from ..lab import current_lab
from .support import query


def _invalid_scope_redirect(answer):
    received = query(answer)
    if received.get("error") != "invalid_scope":
        return f"the app received error={received.get('error')!r}, not invalid_scope"
    if received.get("iss") != current_lab().issuer or not received.get("state"):
        return "an error redirect still carries the app's state and the server's iss"
    return None


def _customers_request(answer):
    received = query(answer)
    if "code" not in received:
        return f"no code in that URL (error={received.get('error')!r})" if received else "not a redirect URL"
    lab = current_lab()
    if received.get("iss") != lab.issuer:
        return "iss is not this server's issuer"
    requests_sent = [m for m in lab.transcript.flow(state=received.get("state", ""))
                     if m["path"].startswith("/authorize") and m["method"] == "GET"]
    if not requests_sent:
        return "the server never saw an authorization request with that state"
    asked = query(requests_sent[0]["path"])
    if asked.get("client_id") != "fernhollow-reports" or asked.get("scope") != "customers:ro":
        return f"your request asked {asked.get('client_id')} for scope {asked.get('scope')!r}"
    return None


invalid_scope = Exercise(
    "03 · provoke invalid_scope", _invalid_scope_redirect,
    hint="ask fernhollow-reports for a scope it never registered (e.g. webhooks--all:rw) and read "
         "ConsentPanel(lab, url).value.",
    solution="solutions/03_invalid_scope.py",
    success="the server refused before any code existed, and told the app why.")

customers_request = Exercise(
    "03 · ask for customers only", _customers_request,
    hint="OAuth2Session('fernhollow-reports', redirect_uri=lab.redirect_uri, scope=['customers:ro'], "
         "pkce='S256', state='your-own'); .authorization_url(...); then ConsentPanel(...).decide('Allow').",
    solution="solutions/03_customers_request.py",
    success="the server saw your request for customers:ro, and Jane allowed it.")
