"""A scripted user's browser: signs in and clicks Allow or Deny on the real HTML pages.

It does exactly what a browser does — GET the authorization URL, submit the login form, submit the
consent form — and stops at the redirect back to the app, returning its ``Location`` (or, when the
server shows its "Leave Fernhollow Accounts?" page for an app anyone registered, the link the user
clicks there); ``visit`` then takes that redirect to the app, as a browser would: it follows
redirects wherever they lead, keeps the pages it showed in ``history`` and loads their images,
sending the ``Referer`` the page's referrer policy allows. It runs no JavaScript. Widgets use it
for "consent inside the notebook"; tests use it to drive flows without a real browser.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import requests


def under(url: str, base: str) -> str | None:
    """What follows `base` in `url`, when `url` is under it: `base` matches up to a path-segment
    boundary only (``…/oauth`` is not the start of ``…/oauth-app/callback``); else None."""
    if url.startswith(base) and url[len(base):len(base) + 1] in ("", "/", "?", "#"):
        return url[len(base):]
    return None


@dataclass
class Form:
    action: str
    method: str
    fields: dict = field(default_factory=dict)
    buttons: dict = field(default_factory=dict)  # visible label -> (name, value)


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[Form] = []
        self.links: dict[str, str] = {}  # id -> href
        self.images: list[str] = []  # each <img src>, as written
        self._button: tuple | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
        elif tag == "a" and attrs.get("id"):
            self.links[attrs["id"]] = attrs.get("href", "")
        elif tag == "form":
            self.forms.append(Form(attrs.get("action", ""), attrs.get("method", "get").lower()))
        elif tag == "input" and self.forms and attrs.get("name"):
            if attrs.get("type") != "checkbox" or "checked" in attrs:
                self.forms[-1].fields[attrs["name"]] = attrs.get("value", "")
        elif tag == "button" and self.forms:
            self._button = (attrs.get("name"), attrs.get("value"), "")

    def handle_data(self, data):
        if self._button:
            name, value, text = self._button
            self._button = (name, value, text + data)

    def handle_endtag(self, tag):
        if tag == "button" and self._button and self.forms:
            name, value, text = self._button
            self.forms[-1].buttons[text.strip()] = (name, value)
            self._button = None


def server_of(authorization_url: str) -> str:
    """The server an authorization URL points to: what precedes its /authorize path, or (LiveChat's
    authorization endpoint is "/") what precedes its query."""
    if "/authorize" in authorization_url:
        return authorization_url.split("/authorize")[0]
    return authorization_url.split("?")[0].rstrip("/")


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def images_of(html: str) -> list[str]:
    parser = _FormParser()
    parser.feed(html)
    return parser.images


MAX_REDIRECTS = 20  # what browsers allow before they give up
DEFAULT_REFERRER_POLICY = "strict-origin-when-cross-origin"  # every current browser's default
REFERRER_POLICIES = ("no-referrer", "no-referrer-when-downgrade", "same-origin", "origin",
                     "strict-origin", "origin-when-cross-origin", "strict-origin-when-cross-origin",
                     "unsafe-url")


def with_inherited_fragment(location: str, previous: str) -> str:
    """RFC 9110 §10.2.2: a redirect whose Location has no fragment keeps the fragment of the URL
    that was redirected — which is how an access token in a fragment follows an open redirect."""
    fragment = urlsplit(previous).fragment
    return location if "#" in location or not fragment else f"{location}#{fragment}"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _trustworthy(url: str) -> bool:
    """Secure Contexts' "potentially trustworthy" URL: https, or a loopback host."""
    parts = urlsplit(url)
    return parts.scheme == "https" or parts.hostname in ("127.0.0.1", "localhost", "::1")


def referrer(page_url: str, policy: str | None, request_url: str) -> str | None:
    """The Referer a browser sends from the page at `page_url` to `request_url`, under the page's
    `Referrer-Policy` header (W3C Referrer Policy §8.3). Never the fragment or a user:password
    (RFC 9110 §10.1.3). None: no Referer at all."""
    tokens = [t.strip() for t in (policy or "").lower().split(",") if t.strip() in REFERRER_POLICIES]
    policy = tokens[-1] if tokens else DEFAULT_REFERRER_POLICY  # the last one it knows wins
    parts = urlsplit(page_url)
    full = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, ""))
    origin = _origin(page_url) + "/"
    same_origin = _origin(page_url) == _origin(request_url)
    downgrade = _trustworthy(page_url) and not _trustworthy(request_url)
    return {
        "no-referrer": None,
        "no-referrer-when-downgrade": None if downgrade else full,
        "same-origin": full if same_origin else None,
        "origin": origin,
        "strict-origin": None if downgrade else origin,
        "origin-when-cross-origin": full if same_origin else origin,
        "strict-origin-when-cross-origin": full if same_origin else None if downgrade else origin,
        "unsafe-url": full,
    }[policy]


class _MainText(HTMLParser):
    BLOCKS = ("p", "h1", "h2", "div", "form", "li")

    def __init__(self):
        super().__init__()
        self.depth, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        self.depth += tag == "main"
        if self.depth:
            self.parts.append("\0" if tag in self.BLOCKS else " [" if tag == "button" else "")

    def handle_endtag(self, tag):
        if self.depth and tag == "button":
            self.parts.append("]")
        self.depth -= tag == "main"

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def main_text(html: str) -> str:
    """A page's main content as a reader sees it: one line per paragraph, buttons in brackets."""
    parser = _MainText()
    parser.feed(html)
    lines = (" ".join(block.split()) for block in "".join(parser.parts).split("\0"))
    return "\n".join(line for line in lines if line)


def return_link(html: str) -> str | None:
    """The "Continue to the app" link of the server's leaving page, if this is that page."""
    parser = _FormParser()
    parser.feed(html)
    return parser.links.get("return-to-app")


class UserAgentError(RuntimeError):
    """The pages did not go as a user expects (an error page, a wrong password...)."""

    def __init__(self, message: str, response: requests.Response):
        super().__init__(message)
        self.response = response


def _notebook_reach() -> dict[str, str]:
    from .lab import current_lab

    try:
        return current_lab().reach()
    except RuntimeError:  # no setup() in this process: nothing to map
        return {}


class UserAgent:
    """One user's browser: its own cookie jar, so a signed-in session persists between flows.

    Behind a proxy (Binder) pages name the server and the app by their public URLs, which this
    kernel may not reach; ``reach`` maps each public origin to the loopback one to send to — by
    default the notebook's own (``Lab.reach()``), so a notebook cell never has to say it."""

    def __init__(self, username: str = "jane", password: str = "jane-password",
                 reach: dict[str, str] | None = None):
        self.username, self.password = username, password
        self.session = requests.Session()
        self.history: list[str] = []  # every page this browser showed, fragment and all
        reach = _notebook_reach() if reach is None else reach
        self._reach_map = {public: back for public, back in reach.items() if public != back}

    def _reach(self, url: str) -> str:
        """`url` as this kernel reaches it. A public address stands for a whole origin-and-path:
        it matches up to a path-segment boundary only (``…/oauth`` is not the start of
        ``…/oauth-app/callback``), and the longest address that matches wins."""
        for public, back in sorted(self._reach_map.items(), key=lambda item: -len(item[0])):
            if (rest := under(url, public)) is not None:
                return back + rest
        return url

    def _get(self, url: str, **params) -> requests.Response:
        """Navigate to `url`. A page (not a redirect) joins the history and gets its images."""
        response = self.session.get(self._reach(url), params=params or None, allow_redirects=False)
        if not response.is_redirect:
            shown = requests.Request("GET", url, params=params or None).prepare().url
            self.history.append(shown)
            self._load_images(shown, response)
        return response

    def _load_images(self, page_url: str, page: requests.Response) -> None:
        if page.headers.get("Content-Type", "").startswith("text/html"):
            policy = page.headers.get("Referrer-Policy")
            for src in images_of(page.text):
                image = urljoin(page_url, src)
                sent = referrer(page_url, policy, image)
                try:
                    self.session.get(self._reach(image), headers={"Referer": sent} if sent else {},
                                     allow_redirects=False, timeout=5)
                except requests.ConnectionError:
                    pass  # a broken image: the page shows without it

    def _submit(self, page: requests.Response, button: str, **values) -> requests.Response:
        form = next((f for f in forms_of(page.text) if button in f.buttons), None)
        if form is None:
            raise UserAgentError(f"No {button!r} button on the page (HTTP {page.status_code}).", page)
        data = dict(form.fields, **values)
        name, value = form.buttons[button]
        if name:
            data[name] = value
        url = self._reach(urljoin(page.url, form.action))
        if form.method == "get":
            return self._get(url, **data)
        return self.session.post(url, data=data, allow_redirects=False)

    def _follow_local(self, response: requests.Response, stop_at: str | None) -> requests.Response:
        """Follow redirects that stay on the server; stop at one leaving for the app — an
        authorization response (``code`` or ``error``) even when the app's callback happens to
        live on the same host."""
        while response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            query = dict(parse_qsl(urlsplit(location).query))
            if stop_at is None or not location.startswith(stop_at) or {"code", "error"} & set(query):
                return response
            response = self._get(location)
        return response

    def sign_in_if_asked(self, page: requests.Response, server: str) -> requests.Response:
        if "Sign in" not in {b for f in forms_of(page.text) for b in f.buttons}:
            return page
        answer = self._submit(page, "Sign in", username=self.username, password=self.password)
        if answer.status_code == 401:
            raise UserAgentError("Sign-in refused: wrong username or password.", answer)
        return self._follow_local(answer, server)

    def consent_page(self, authorization_url: str, server: str | None = None):
        """Visit the authorization URL and sign in if asked. Returns the consent page, or — when
        the server sends the browser back to the app with an error, at once or through its
        "Leave Fernhollow Accounts?" page — the URL the app receives."""
        server = server or server_of(authorization_url)
        page = self._follow_local(self._get(authorization_url), server)
        if not page.is_redirect:
            page = self.sign_in_if_asked(page, server)
        if page.is_redirect:
            return page.headers["Location"]
        if link := return_link(page.text):
            return link  # the user clicks Continue
        if page.status_code != 200:
            raise UserAgentError(f"The server showed an error page (HTTP {page.status_code}).", page)
        return page

    def decide(self, consent_page: requests.Response, decision: str = "Allow") -> str:
        """Click Allow or Deny; returns the redirect back to the app (with `code` or `error`)."""
        answer = self._submit(consent_page, decision)
        if link := return_link(answer.text):
            return link  # the user clicks Continue
        if not answer.is_redirect:
            raise UserAgentError(f"Clicking {decision} did not redirect (HTTP {answer.status_code}).", answer)
        return answer.headers["Location"]

    def authorize(self, authorization_url: str, decision: str = "Allow", server: str | None = None) -> str:
        """The whole front channel: visit, sign in, decide; returns the URL the app receives."""
        page = self.consent_page(authorization_url, server)
        return page if isinstance(page, str) else self.decide(page, decision)

    def visit(self, url: str) -> requests.Response | None:
        """Go to `url` and follow every redirect, wherever it leads, as a browser does — e.g. the
        redirect back to the app's redirect URI: the app receives it. The page it ends on is the
        last entry of ``history``. None when nothing answers there (a browser would show "can't
        reach this page")."""
        for _ in range(MAX_REDIRECTS):
            try:
                response = self._get(url)
            except requests.ConnectionError:
                return None
            if not response.is_redirect:
                return response
            url = with_inherited_fragment(urljoin(url, response.headers["Location"]), url)
        raise UserAgentError(f"More than {MAX_REDIRECTS} redirects.", response)

    def device_consent_page(self, verification_uri: str, user_code: str) -> requests.Response:
        """Open the device page, sign in if asked and type the user code: the page that asks
        Allow or Deny (RFC 8628 §3.3)."""
        server = verification_uri.rsplit("/device", 1)[0]
        page = self.sign_in_if_asked(self._get(verification_uri), server)
        page = self._submit(page, "Continue", user_code=user_code)
        if page.status_code != 200:
            raise UserAgentError(f"The code was refused (HTTP {page.status_code}).", page)
        return page

    def decide_on_device_page(self, consent_page: requests.Response, decision: str = "Allow") -> str:
        """Click Allow or Deny on the device's consent page; returns the page that answers."""
        return self._submit(consent_page, decision).text

    def approve_device(self, verification_uri: str, user_code: str, decision: str = "Allow") -> str:
        """Type the user code on the device page, sign in if asked, and decide; returns the page text."""
        return self.decide_on_device_page(self.device_consent_page(verification_uri, user_code), decision)
