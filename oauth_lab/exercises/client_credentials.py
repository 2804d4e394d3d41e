"""08 · Machine to machine: client credentials."""
from __future__ import annotations

from urllib.parse import parse_qsl

import requests

from ..checks import Exercise
from ..lab import current_lab
from .support import access_token_of, introspect, status

APP = ("fernhollow-reports", "reports-secret")


def user_of(facts: dict) -> str | None:
    """Whom an active token acts for, as introspection tells the resource server: its `sub`,
    unless that is the app itself (RFC 9068 §2.2: a token with no resource owner)."""
    return None if facts.get("sub") == facts.get("client_id") else facts.get("sub")


def _customers_only(answer):
    facts = introspect(access_token_of(answer))
    if not facts.get("active"):
        return "the server says this access token is not active"
    if user_of(facts):
        return (f"this token acts for the user {user_of(facts)}: a nightly job has no user — use the "
                "client credentials grant, not the code flow")
    if facts.get("client_id") != APP[0]:
        return f"this token was issued to {facts.get('client_id')!r}, not to {APP[0]}"
    if status("list_customers", answer["access_token"]) != 200:
        return "the API refuses this token for list_customers"
    if status("list_chats", answer["access_token"]) != 403:
        return "this token can read chats too: ask for customers:ro only"
    return None


def customer_count(lab) -> int:
    """What the API says today, asked with a token of the check's own."""
    token = requests.post(lab.endpoint("token"), auth=APP, timeout=5, data={
        "grant_type": "client_credentials", "scope": "customers:ro"}).json()["access_token"]
    return requests.post(lab.api("list_customers"), json={}, timeout=5,
                         headers={"Authorization": f"Bearer {token}"}).json()["total_customers"]


def grants_used(messages: list[dict]) -> set[str]:
    """The grant types of the token requests among these messages (the server's transcript)."""
    return {dict(parse_qsl(m["request_body"])).get("grant_type") for m in messages
            if m["path"].split("?")[0] == "/token" and m["method"] == "POST"}


def _nightly_job(answer):
    if not callable(answer):
        return "expected a function count_customers() that returns the number of customers"
    lab = current_lab()
    expected = customer_count(lab)
    for night in ("tonight", "tomorrow night"):
        step = lab.transcript.mark()
        try:
            counted = answer()
        except Exception as error:  # noqa: BLE001 — the job failing is the learner's bug to read
            return (f"{night} your job failed ({type(error).__name__}: {error}); a token from client "
                    "credentials has no refresh token: when it has expired, ask for a new one")
        if counted != expected:
            return f"{night} your job counted {counted!r}; the API lists {expected} customers"
        if other := grants_used(step.messages()) - {"client_credentials"}:
            return (f"{night} your job used the grant {', '.join(sorted(other))}: a nightly job has "
                    "no user to ask; use client credentials")
        lab.clock.advance(24 * 3600)  # a day later: any token the job kept has long expired
    return None


customers_only = Exercise(
    "08 · a token for the nightly customer count", _customers_only,
    hint="OAuth2Session(client=BackendApplicationClient('fernhollow-reports')).fetch_token("
         "lab.endpoint('token'), client_id=..., client_secret=..., scope=['customers:ro'])",
    solution="solutions/08_customers_only.py",
    success="the resource server sees the app itself as the token's subject, and the API lets it "
            "list customers and nothing more.")

nightly_job = Exercise(
    "08 · a job that runs every night", _nightly_job,
    hint="inside the function: fetch a token with client credentials (every run, or again when "
         "the API answers 401), then POST list_customers and return total_customers.",
    solution="solutions/08_nightly_job.py",
    success="the job counted the customers tonight and again a day later, with client credentials "
            "each time.")
