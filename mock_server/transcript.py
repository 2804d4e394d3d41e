"""The transcript: every request the server handles and its response, in order.

Front channel (what passes through the user's browser: authorize, login, consent, device page,
console) and back channel (app ↔ server: token, introspection, API...) are both recorded, each
message tagged with the keys that tie a flow together — ``client_id``, ``state``, ``code``,
``token`` (the token's id), ``user_code``. ``flow(state=...)`` follows those keys from one
authorization request to its code, its tokens, the API calls made with them and their refreshes.

It records secrets in clear, on purpose: it is a teaching tool, and it says so (the banner).
It keeps the last ``window`` messages, and no more than ``budget`` characters of them (older ones
are dropped; numbers keep counting), so a server under sustained load stays the same size; and a
message keeps at most ``MAX_PATH`` characters of its path, ``MAX_HEADER`` of a header and
``MAX_BODY`` of a body, saying how much it left out (``kept``). A workshop keeps each learner's in
the database instead (``mock_server.workshop.transcripts``), with the same interface.
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
REQUEST_HEADERS = ("Authorization", "DPoP", "Content-Type", "Accept")
RESPONSE_HEADERS = ("Location", "Content-Type", "Cache-Control", "Pragma", "WWW-Authenticate", "DPoP-Nonce")
FOLLOWED = ("state", "code", "token", "user_code", "device_code")  # keys that link one flow
MAX_KEY = 512  # a longer value is no key: real ones (a state, a code, a client id) are short
# What one message keeps: a web page can send 127.0.0.1 a request of any size (waitress takes a
# 256 KB path), and the transcript must not hold it. A notebook's real messages fit with room.
MAX_PATH = 4096
MAX_HEADER = 4096
MAX_BODY = 20_000
WINDOW = 5_000  # messages kept: a course's notebook makes a few hundred
BUDGET = 32 * 2**20  # characters kept, bodies and all: a few hundred messages are well under 1 MB
LAST_MESSAGE = 2**63 - 1  # message numbers are 64-bit integers, as the databases store them


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

    @property
    def size(self) -> int:
        """Characters kept: what counts against a transcript's budget."""
        return (len(self.path) + len(self.request_body) + len(self.response_body)
                + sum(map(len, self.request_headers.values())) + sum(map(len, self.response_headers.values())))


def kept(text: str, most: int) -> str:
    """At most `most` characters of `text`, saying how many more there were."""
    if len(text) <= most:
        return text
    return f"{text[:most]}… ({len(text) - most:,} more characters not kept)"


def message_number(text: str) -> int | None:
    """A `since` parameter: a message number (0 to LAST_MESSAGE), or None."""
    try:  # int(), not str.isdigit(): "²" is a digit int() refuses
        number = int(text)
    except ValueError:
        return None
    return number if 0 <= number <= LAST_MESSAGE else None


class Transcript:
    def __init__(self, window: int | None = None, budget: int | None = None):
        self._messages: deque[Message] = deque(maxlen=window or WINDOW)
        self._budget = budget or BUDGET
        self._size = 0  # of the messages kept
        self._last_seq = 0
        self._lock = threading.Lock()

    def append(self, **fields) -> Message:
        with self._lock:
            self._last_seq += 1
            message = Message(seq=self._last_seq, **fields)
            if len(self._messages) == self._messages.maxlen:
                self._size -= self._messages[0].size  # the window drops it
            self._messages.append(message)
            self._size += message.size
            while self._size > self._budget and len(self._messages) > 1:
                self._size -= self._messages.popleft().size
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
            self._size = 0
            self._last_seq = 0

    def flow(self, since: int = 0, **start) -> list[Message]:
        """The messages of one flow: those sharing a followed key with the start, transitively.

        ``flow(state="xyz")`` gives the authorization request, login, consent, the redirect with
        the code, the token exchange, API calls with the token and its refreshes. Each key and each
        message is looked at once (an index from key to messages): the time grows with the
        transcript's length, never with its square, whatever order the keys come in.
        """
        messages = self.messages(since)
        having: dict[str, list[int]] = {}
        for position, message in enumerate(messages):
            for key in message.keys:
                having.setdefault(key, []).append(position)
        pending = [f"{name}:{value}" for name, value in start.items()]
        followed, chosen = set(pending), set()
        while pending:
            for position in having.get(pending.pop(), ()):
                if position in chosen:
                    continue
                chosen.add(position)
                for key in messages[position].keys:
                    if key not in followed and key.split(":", 1)[0] in FOLLOWED:
                        followed.add(key)
                        pending.append(key)
        return [messages[position] for position in sorted(chosen)]


def keys_of(params: dict, resolve_token) -> set[str]:
    """Flow keys found in one message's parameters (query, form, JSON, Location, Basic user)."""
    keys = set()
    for name in ("client_id", "state", "code", "user_code", "device_code"):
        value = params.get(name)
        if isinstance(value, str) and 0 < len(value) <= MAX_KEY:
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
