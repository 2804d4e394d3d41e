"""A sequence diagram drawn from the server's transcript: who sent what to whom, in order.

Plain SVG — no scripts, no marker ids (two diagrams on one page must not share ids) — so it renders
the same in JupyterLab, GitHub and nbviewer; ``text()`` is its numbered twin for static views and
nbval. The masking helpers here are shared with the exchange inspector: one list of secrets.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote_plus, urlsplit


from ..user_agent import under
from .base import Picture, escape, mask

BROWSER, APP = "User's browser", "App (your code)"
SERVER, API = "Authorization server", "API (resource server)"
PARTICIPANTS = (BROWSER, APP, SERVER, API)
API_PATHS = ("/v3.5/", "/userinfo")
ADMIN_PATHS = ("/_mock/",)  # the course's own clock/transcript calls: no part of any protocol
SECRETS = frozenset({"client_secret", "code_verifier", "password", "csrf_token", "code", "access_token",
                     "refresh_token", "id_token", "device_code", "token", "registration_access_token"})
SHOWN_VALUES = ("response_type", "grant_type", "decision")  # values that name the step itself
IN_FULL = ("iss", "error")  # redirect parameters whose whole value is the lesson
# Plumbing that every request of its kind carries: the inspector lists it, the picture leaves it out.
# (redirect_uri and iss stay in: the course teaches what each protects.)
QUIET = ("code_challenge_method", "csrf_token", "next")
ISSUED = ("access_token", "refresh_token", "id_token", "device_code", "user_code")
COLOURS = {"front": "#d9480f", "back": "#1971c2", "screen": "#2b8a3e"}
LEGS = {"front": "front channel — through the user's browser",
        "back": "back channel — app ↔ server, direct"}
SCREEN = "on screen, not HTTP — the user reads the device and types on another one"
# The device flow (RFC 8628): the app runs on the device; the user's browser is on another device.
DEVICE_FLOW = {APP: "Device (your code)", BROWSER: "Browser, another device"}


# --- masking, shared with the inspector -------------------------------------------------------

def hide(name: str, value, show: bool = False):
    return mask(value, show) if name.lower() in SECRETS else value


_PAIR = re.compile(r"(^|[?&#])([^=&#?]+)=([^&#]*)")


def hide_params(text: str, show: bool = False) -> str:
    """Mask secret values in a URL, query string or form body, keeping its wire form intact."""
    if show:
        return text
    return _PAIR.sub(lambda m: f"{m[1]}{m[2]}={hide(unquote_plus(m[2]), m[3])}", text)


def hide_json(value, show: bool = False):
    if isinstance(value, dict):
        return {k: hide(k, v, show) if isinstance(v, str) else hide_json(v, show) for k, v in value.items()}
    if isinstance(value, list):
        return [hide_json(v, show) for v in value]
    return value


def hide_header(name: str, value: str, show: bool = False) -> str:
    if name.lower() == "authorization":
        scheme, _, credentials = value.partition(" ")
        return f"{scheme} {mask(credentials, show)}"
    return hide_params(value, show) if name.lower() == "location" else value


# --- who talks to whom ------------------------------------------------------------------------

def protocol_messages(messages: list[dict]) -> list[dict]:
    return [m for m in messages if not m["path"].startswith(ADMIN_PATHS)]


def leg(message: dict) -> str:
    """"front" (through the user's browser) or "back" (app ↔ server, direct)."""
    return message["channel"]


def ends(message: dict) -> tuple[str, str]:
    path = message["path"]
    if leg(message) == "front":
        return BROWSER, SERVER
    return APP, API if path.startswith(API_PATHS) else SERVER


def redirect_target(message: dict) -> str | None:
    """The Location of a redirect that leaves the server for the app (carrying code or error)."""
    location = message["response_headers"].get("Location")
    if not location or not 300 <= message["status"] < 400:
        return None
    # An authorization response: the code (or error; a token, implicitly) is for the app.
    parts = urlsplit(location)
    carried = {name for name, _ in parse_qsl(parts.query)} | {name for name, _ in parse_qsl(parts.fragment)}
    return location if carried & {"code", "error", "access_token"} else None


# --- labels -----------------------------------------------------------------------------------

def _pairs(text: str) -> list[tuple[str, str]]:
    return [(name, value) for name, _, value in (p.partition("=") for p in text.split("&") if p)]


def _params(message: dict) -> list[tuple[str, str]]:
    form = "form" in message["request_headers"].get("Content-Type", "")
    return _pairs(message["request_body"] if form else "") or _pairs(urlsplit(message["path"]).query)


def request_label(message: dict) -> str:
    path = urlsplit(message["path"]).path
    target = path.rsplit("/", 1)[1] if "/action/" in path else path
    names = [f"{n}={unquote_plus(v).rsplit(':', 1)[-1]}" if n in SHOWN_VALUES else n
             for n, v in _params(message) if n not in QUIET]
    return f"{message['method']} {target}" + (f" ({', '.join(names)})" if names else "")


def _json_summary(body: str) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if error:  # RFC 6749 string, or the LiveChat API's {"type": ..., "message": ...}
        return error.get("type") if isinstance(error, dict) else str(error)
    issued = [k for k in ISSUED if k in data]
    return ", ".join(issued or list(data)[:3] + (["…"] if len(data) > 3 else []))


def server_path(location: str, server: str | None) -> str:
    """Where a redirect within the server goes, as a path of the server — the way its requests'
    paths read (``/authorize``), also when it is served under a prefix (a hub's ``…/oauth``)."""
    rest = under(location, server) if server else None
    if rest is not None:
        return urlsplit(rest or "/").path or "/"
    return urlsplit(location).path


def _page(location: str) -> str:
    return urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1] or "app"


def _carried(location: str) -> list[tuple[str, str]]:
    """What a redirect hands the app: query parameters, or fragment ones (implicit grant)."""
    parts = urlsplit(location)
    return _pairs(parts.query) + _pairs(parts.fragment)


def _compact(location: str, show: bool) -> str:
    """Values shortened for the picture (secrets in full only when shown); `iss` in full, since
    checking it is the point of it."""
    def value(name: str, raw: str) -> str:
        if name in IN_FULL:
            return unquote_plus(raw)
        return raw if show and name in SECRETS else mask(raw)

    pairs = [(n, v) for n, v in _carried(location) if n not in QUIET]
    return "?" + "&".join(f"{n}={value(n, v)}" for n, v in pairs) if pairs else ""


def response_label(message: dict, show: bool) -> str:
    status, location = message["status"], message["response_headers"].get("Location")
    body = message["response_body"]
    if location and redirect_target(message):
        return f"{status} → {_page(location)} {_compact(location, show)}".rstrip()
    if location:
        return f"{status} → {server_path(location, message.get('server'))}"
    if body.startswith("<HTML page:"):
        title = body[len("<HTML page:"):-1].split(" — ")[0].strip()
        return f"{status} page" if title == "untitled" else f"{status} page “{title}”"
    summary = _json_summary(body)
    challenge = re.search(r'error="([^"]+)"', message["response_headers"].get("WWW-Authenticate", ""))
    summary = summary or (challenge[1] if challenge else "")
    return f"{status} {summary}".rstrip()


# --- the diagram ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Arrow:
    source: str
    target: str
    label: str
    leg: str
    response: bool = False

    def caption(self, number: int) -> str:
        return f"{number}. {self.label}"

    def line(self, number: int) -> str:
        way = "⇢" if self.response else "→"
        return f"{number:>2}. [{self.leg}] {self.source} {way} {self.target}: {self.label}"


def arrows_of(messages: list[dict], show: bool = False) -> list[Arrow]:
    arrows = []
    for message in messages:
        client, server = ends(message)
        arrows.append(Arrow(client, server, request_label(message), leg(message)))
        arrows.append(Arrow(server, client, response_label(message, show), leg(message), True))
        # The browser then brings the answer to the app's redirect URI — a page of the app, which
        # the server's transcript cannot see, so it is drawn from the redirect itself.
        location = redirect_target(message)
        if location and client == BROWSER:
            names = ", ".join(n for n, _ in _carried(location) if n not in QUIET)
            label = f"redirect to {_page(location)}" + (f": {names}" if names else "")
            arrows.append(Arrow(BROWSER, APP, label, "front"))
        # A device's codes reach the user on its screen (RFC 8628 §3.3), which no server sees.
        if urlsplit(message["path"]).path == "/device_authorization" and message["status"] == 200:
            arrows.append(Arrow(APP, BROWSER, "shows verification_uri and user_code", "screen"))
    return arrows


CHAR_W, ROW, MARGIN, HEAD_H, BOX, MIN_GAP, LEGEND_W = 6.5, 30, 16, 30, 160, 180, 320


class SequenceDiagram(Picture):
    def __init__(self, messages: list[dict], title: str = "", show_secrets: bool = False,
                 names: dict | None = None):
        """``names`` renames participants, e.g. ``DEVICE_FLOW`` for RFC 8628's device and browser."""
        self.messages = protocol_messages(messages)
        self.title, self.show_secrets = title, show_secrets
        rename = (names or {}).get
        self.arrows = [Arrow(rename(a.source, a.source), rename(a.target, a.target), a.label, a.leg, a.response)
                       for a in arrows_of(self.messages, show_secrets)]
        used = {a.source for a in self.arrows} | {a.target for a in self.arrows}
        self.participants = [rename(p, p) for p in PARTICIPANTS if rename(p, p) in used]

    def text(self) -> str:
        lines = [self.title] if self.title else []
        lines += [a.line(n) for n, a in enumerate(self.arrows, 1)] or ["(no messages)"]
        return "\n".join(lines)

    def _columns(self) -> dict[str, int]:
        """Each lifeline's x: every gap wide enough for the labels over it, spread evenly when an
        arrow spans several gaps."""
        index = {p: i for i, p in enumerate(self.participants)}
        gaps = [MIN_GAP] * max(len(self.participants) - 1, 0)
        spans = sorted((abs(index[a.target] - index[a.source]), min(index[a.source], index[a.target]),
                        math.ceil(len(a.caption(n)) * CHAR_W) + 24) for n, a in enumerate(self.arrows, 1))
        for span, start, need in spans:  # narrow arrows first: wide ones then take up the slack
            missing = need - sum(gaps[start:start + span])
            if missing > 0:
                for i in range(start, start + span):
                    gaps[i] += math.ceil(missing / span)
        return {p: MARGIN + BOX // 2 + sum(gaps[:i]) for i, p in enumerate(self.participants)}

    def svg(self) -> str:
        x = self._columns()
        top = MARGIN + (24 if self.title else 0)
        first = top + HEAD_H + ROW
        bottom = first + max(len(self.arrows) - 1, 0) * ROW + ROW // 2
        width = max([*x.values(), 0]) + BOX // 2 + MARGIN
        screen = any(a.leg == "screen" for a in self.arrows)
        width, height = max(width, LEGEND_W), bottom + (3 + screen) * 18 + 2 * MARGIN
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
                 f'viewBox="0 0 {width} {height}" style="max-width:100%;height:auto" '
                 'font-family="sans-serif" font-size="12">',
                 f'<rect width="{width}" height="{height}" fill="white"/>']
        if self.title:
            parts.append(f'<text x="{MARGIN}" y="{MARGIN + 12}" font-size="14" font-weight="bold">'
                         f'{escape(self.title)}</text>')
        parts += [_lifeline(name, x[name], top, bottom) for name in self.participants]
        parts += [_arrow(a, n, x[a.source], x[a.target], first + (n - 1) * ROW)
                  for n, a in enumerate(self.arrows, 1)]
        parts += _legend(MARGIN, bottom + MARGIN + 6, screen)
        return "\n".join(parts + ["</svg>"])


def _lifeline(name: str, x: int, top: int, bottom: int) -> str:
    return (f'<line x1="{x}" y1="{top + HEAD_H}" x2="{x}" y2="{bottom}" stroke="#adb5bd" '
            f'stroke-dasharray="2,3"/>\n'
            f'<rect x="{x - BOX // 2}" y="{top}" width="{BOX}" height="{HEAD_H}" rx="4" '
            f'fill="#f1f3f5" stroke="#868e96"/>\n'
            f'<text x="{x}" y="{top + 19}" text-anchor="middle" font-weight="bold">{escape(name)}</text>')


def _arrow(arrow: Arrow, number: int, x1: int, x2: int, y: int) -> str:
    colour, base = COLOURS[arrow.leg], x2 - (8 if x2 > x1 else -8)  # where the arrowhead starts
    dash = ' stroke-dasharray="5,3"' if arrow.response else ""
    return (f'<line x1="{x1}" y1="{y}" x2="{base}" y2="{y}" stroke="{colour}" stroke-width="1.5"{dash}/>\n'
            f'<polygon points="{x2},{y} {base},{y - 4} {base},{y + 4}" fill="{colour}"/>\n'
            f'<text x="{(x1 + x2) // 2}" y="{y - 5}" text-anchor="middle" fill="{colour}">'
            f'{escape(arrow.caption(number))}</text>')


def _legend(x: int, y: int, screen: bool = False) -> list[str]:
    rows = [(COLOURS[leg], "", text) for leg, text in LEGS.items()]
    if screen:
        rows.append((COLOURS["screen"], "", SCREEN))
    rows.append(("#495057", ' stroke-dasharray="5,3"', "dashed: the response to the request above"))
    return [f'<line x1="{x}" y1="{y + i * 18}" x2="{x + 24}" y2="{y + i * 18}" stroke="{colour}" '
            f'stroke-width="1.5"{dash}/>\n'
            f'<text x="{x + 32}" y="{y + i * 18 + 4}">{escape(text)}</text>'
            for i, (colour, dash, text) in enumerate(rows)]
