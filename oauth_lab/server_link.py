"""The server's virtual clock, transcript and token facts, reached over its admin routes with a key
(``Authorization: Bearer``): the owner key on a learner's own server (mock_server.owner), the
learner's key on a class server. Each call names the world's run it belongs to: once another
notebook has started the server's world over, the answer says so instead of showing its flows."""
from __future__ import annotations

import datetime as dt

import requests


class StartedOver(RuntimeError):
    """The server's world is no longer this notebook's: another one started it over."""


def _headers(key: str | None, run: str | None) -> dict:
    return {**({"Authorization": f"Bearer {key}"} if key else {}), **({"X-Mock-Run": run} if run else {})}


def _checked(answer: requests.Response) -> dict:
    if answer.status_code == 409 and answer.json().get("error") == "started_over":
        raise StartedOver(answer.json()["error_description"])
    answer.raise_for_status()
    return answer.json()


class RemoteClock:
    def __init__(self, url: str, key: str | None = None, run: str | None = None):
        self._url = f"{url}/_mock/clock"
        self._headers = _headers(key, run)

    def state(self) -> dict:
        return _checked(requests.get(self._url, headers=self._headers, timeout=5))

    def now(self) -> int:
        return self.state()["now"]

    def isoformat(self) -> str:
        return self.state()["iso"]

    def advance(self, seconds: float) -> int:
        """Fast-forward the server's clock; returns the new virtual time."""
        answer = requests.post(self._url, json={"advance": seconds}, headers=self._headers, timeout=5)
        return _checked(answer)["now"]

    @staticmethod
    def format(timestamp: int) -> str:
        return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class RemoteTranscript:
    """`server`: the issuer, as the browser reaches the server; each message is marked with it, so
    a view can tell the server's own URLs (``…/oauth/authorize`` behind a hub) from others."""

    def __init__(self, url: str, key: str | None = None, run: str | None = None, server: str | None = None):
        self._url = f"{url}/_mock/transcript"
        self._headers = _headers(key, run)
        self._server = server

    def _get(self, **params) -> dict:
        answer = _checked(requests.get(self._url, params=params, headers=self._headers, timeout=5))
        for message in answer["messages"]:
            message["server"] = self._server
        return answer

    def last_seq(self) -> int:
        return self._get(since=10**9)["last_seq"]

    def messages(self, since: int = 0, key: str | None = None) -> list[dict]:
        return self._get(since=since, **({"key": key} if key else {}))["messages"]

    def flow(self, since: int = 0, **start) -> list[dict]:
        """Every message of one flow: ``flow(state="xyz")`` or ``flow(code=...)``."""
        (name, value), = start.items()
        return self._get(since=since, flow=f"{name}:{value}")["messages"]

    def mark(self) -> "Step":
        """Start recording a step: ``step = lab.transcript.mark()`` … ``step.messages()``."""
        return Step(self, self.last_seq())


class Step:
    """The messages exchanged since a mark: what one notebook cell made happen."""

    def __init__(self, transcript: RemoteTranscript, since: int):
        self.transcript, self.since = transcript, since

    def messages(self) -> list[dict]:
        return self.transcript.messages(self.since)


class OwnerIntrospection:
    """What introspection would tell a token's own app, asked as the server's owner
    (``POST /_mock/introspect``): how the exercise checks learn whether a refresh token still
    works — an API may not introspect one, and a public app cannot authenticate to ask."""

    def __init__(self, url: str, key: str | None = None, run: str | None = None):
        self._url = f"{url}/_mock/introspect"
        self._headers = _headers(key, run)

    def __call__(self, token: str) -> dict:
        return _checked(requests.post(self._url, data={"token": token}, headers=self._headers, timeout=5))
