"""The transcript: every request the server handles and its response, in order.

Front channel (what passes through the user's browser: authorize, login, consent, device page,
console) and back channel (app ↔ server: token, introspection, API...) are both recorded, each
message tagged with the keys that tie a flow together — ``client_id``, ``state``, ``code``,
``token`` (the token's id), ``user_code``. ``flow(state=...)`` follows those keys from one
authorization request to its code, its tokens, the API calls made with them and their refreshes.

It records secrets in clear, on purpose: it is a teaching tool, and it says so (the banner).
It keeps the last ``window`` messages (older ones are dropped; numbers keep counting), so a server
under sustained load stays the same size. A workshop keeps each learner's in the database instead
(``mock_server.workshop.transcripts``), with the same interface.
"""
from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from urllib.parse import parse_qsl, urlsplit

# "/ooops": the livechat profile's error page (its authorization endpoint is "/", a page too).
FRONT_CHANNEL = ("/authorize", "/login", "/logout", "/device", "/console", "/ooops")
NOT_RECORDED = "/_mock/"  # the admin routes: reading the transcript must not add to it
REQUEST_HEADERS = ("Authorization", "Content-Type", "Accept")
RESPONSE_HEADERS = ("Location", "Content-Type", "Cache-Control", "Pragma", "WWW-Authenticate")
FOLLOWED = ("state", "code", "token", "user_code", "device_code")  # keys that link one flow
MAX_BODY = 20_000
WINDOW = 5_000  # messages kept: a course's notebook makes a few hundred


@dataclass
class Message:
    seq: int
    time: int  # virtual clock, seconds
    channel: str  # "front" or "back"
    method: str
    path: str  # path and query
    request_headers: dict
    request_body: str
    status: int
    response_headers: dict
    response_body: str
    keys: list = field(default_factory=list)  # "state:xyz", "code:ac_...", "token:<jti>", ...

    def to_dict(self) -> dict:
        return asdict(self)

    def has(self, key: str) -> bool:
        return key in self.keys


class Transcript:
    def __init__(self, window: int | None = None):
        self._messages: deque[Message] = deque(maxlen=window or WINDOW)
        self._last_seq = 0
        self._lock = threading.Lock()

    def append(self, **fields) -> Message:
        with self._lock:
            self._last_seq += 1
            message = Message(seq=self._last_seq, **fields)
            self._messages.append(message)
            return message

    def messages(self, since: int = 0, key: str | None = None) -> list[Message]:
        with self._lock:
            found = [m for m in self._messages if m.seq > since]
        return [m for m in found if key is None or m.has(key)]

    def last_seq(self) -> int:
        with self._lock:
            return self._last_seq

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._last_seq = 0

    def flow(self, since: int = 0, **start) -> list[Message]:
        """The messages of one flow: those sharing a followed key with the start, transitively.

        ``flow(state="xyz")`` gives the authorization request, login, consent, the redirect with
        the code, the token exchange, API calls with the token and its refreshes.
        """
        wanted = {f"{name}:{value}" for name, value in start.items()}
        messages = self.messages(since)
        chosen: set[int] = set()
        grew = True
        while grew:
            grew = False
            for m in messages:
                if m.seq not in chosen and wanted.intersection(m.keys):
                    chosen.add(m.seq)
                    wanted.update(k for k in m.keys if k.split(":", 1)[0] in FOLLOWED)
                    grew = True
        return [m for m in messages if m.seq in chosen]


def keys_of(params: dict, resolve_token) -> set[str]:
    """Flow keys found in one message's parameters (query, form, JSON, Location, Basic user)."""
    keys = set()
    for name in ("client_id", "state", "code", "user_code", "device_code"):
        value = params.get(name)
        if isinstance(value, str) and value:
            keys.add(f"{name}:{value}")
    for name in ("access_token", "refresh_token", "token", "bearer"):
        value = params.get(name)
        token_id = resolve_token(value) if isinstance(value, str) and value else None
        if token_id:
            keys.add(f"token:{token_id}")
    return keys


def query_params(url: str | None) -> dict:
    if not url:
        return {}
    try:
        parts = urlsplit(url)
    except ValueError:
        return {}
    # Implicit-grant tokens travel in the fragment: follow them too.
    return dict(parse_qsl(parts.query)) | dict(parse_qsl(parts.fragment))


def page_title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    return f"<HTML page: {match.group(1).strip() if match else 'untitled'}>"


def is_front_channel(path: str) -> bool:
    """A page the user's browser visits (whole path segments: /device is, /device_authorization is
    not); "/" is the home page, or the livechat profile's authorization endpoint."""
    return path == "/" or any(path == page or path.startswith(page + "/") for page in FRONT_CHANNEL)


def channel_of(path: str) -> str:
    return "front" if is_front_channel(path) else "back"
