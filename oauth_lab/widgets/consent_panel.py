"""Consent panel: the consent the server shows, with Allow and Deny that drive the server for real.

Clicking here does what the user's browser does (sign in, submit the consent form, follow the
redirect to the app) through a scripted browser; the link opens the same page in *your* browser
instead. Either way the answer is the redirect your app receives: ``panel.value``.

After Run All the panel is already decided (the next cell clicked Allow for you): "Try again" sends
the same authorization request once more — a new consent page, a new code, the same ``state`` that
your app's session expects — so you can click for yourself, then run the cells below again.
"""
from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlsplit

import ipywidgets as widgets
import traitlets

from ..user_agent import UserAgent, UserAgentError
from .base import LabWidget, escape, mask

SCOPE_LINE = re.compile(r'<div class="scope"><strong>(.*?)</strong> <code>(.*?)</code>')
HEADING = re.compile(r"<h1>(.*?)</h1>", re.S)
# What the page says of the app or the API beyond the scopes: an app not registered (it names
# itself by a metadata document), the one API a token would be for (notebook 16).
NOTICE = re.compile(r'<p class="note notice">(.*?)</p>', re.S)
TAG = re.compile(r"<[^>]+>")


class ConsentPanel(LabWidget):
    value = traitlets.Unicode()  # the URL the browser is sent to after the decision

    def __init__(self, lab, authorization_url: str, username: str = "jane", password: str | None = None):
        super().__init__()
        self.lab, self.authorization_url = lab, authorization_url
        self.browser = UserAgent(username, password or f"{username}-password", lab.reach())
        self.allow = widgets.Button(description="Allow", button_style="success")
        self.deny = widgets.Button(description="Deny")
        self.read_app = widgets.Button(description="Read what my app received",
                                       tooltip="After you decided on the real page in your browser",
                                       layout=widgets.Layout(width="auto"))
        self.allow.on_click(lambda _b: self.decide("Allow"))
        self.deny.on_click(lambda _b: self.decide("Deny"))
        self.again = widgets.Button(description="Try again", icon="refresh", layout=widgets.Layout(display="none"),
                                    tooltip="The same authorization request once more: a new consent page")
        self.read_app.on_click(lambda _b: self.read_from_app())
        self.again.on_click(lambda _b: self.try_again())
        self._page = widgets.HTML()
        self._result = widgets.HTML()
        self.children = [self._page, widgets.HBox([self.allow, self.deny, self.read_app, self.again]),
                         self._result]
        self.tries = 1
        self._open()

    def _open(self):
        self._consent_page, self._answered_before = None, len(self._answers())
        self.notices = []
        try:
            page = self.browser.consent_page(self.authorization_url, self.lab.issuer)
        except UserAgentError as error:
            reason = alert_text(error.response.text)
            self.asked = []
            self.heading = f"Error page, no redirect (HTTP {error.response.status_code}): {reason}"
            self._settle(None)
            self._page.value = f"<b>{escape(self.heading)}</b>"
            return
        if isinstance(page, str):  # sent straight back to the app: an error redirect
            self.asked, self.heading = [], "No consent page: the server answered the app directly"
            self.browser.visit(page)
            self._settle(page)
            return
        self._consent_page = page
        self.heading = html.unescape(HEADING.search(page.text).group(1))
        self.asked = [(html.unescape(d), n) for d, n in SCOPE_LINE.findall(page.text)]
        self.notices = [" ".join(html.unescape(TAG.sub("", n)).split()) for n in NOTICE.findall(page.text)]
        items = "".join(f"<li>{escape(d)} <code>{escape(n)}</code></li>" for d, n in self.asked)
        notices = "".join(f"<p><i>{escape(n)}</i></p>" for n in self.notices)
        self._page.value = (f"<b>{escape(self.heading)}</b> (signed in as {escape(self.browser.username)})"
                            f"<ul>{items}</ul>{notices}<a href='{escape(self.authorization_url)}' target='_blank'>"
                            "Open the real consent page in your browser</a>")

    def try_again(self) -> None:
        """A decided panel: send the authorization request again, for a decision of your own."""
        if not (self.value and self._consent_page is not None and self.again.layout.display != "none"):
            return
        self.tries += 1
        self.value, self.decision, self._result.value = "", None, ""
        self.allow.disabled = self.deny.disabled = self.read_app.disabled = False
        self.again.layout.display = "none"
        self._open()

    def decide(self, decision: str = "Allow") -> str:
        """Click Allow or Deny (once); returns where the browser is sent."""
        if not self.value and self._consent_page is not None:
            location = self.browser.decide(self._consent_page, decision)
            self.browser.visit(location)  # the browser goes on to the app's redirect URI
            self._settle(location, decision)
        return self.value

    def read_from_app(self) -> str:
        """The real-browser path: what your app's redirect URI received for this request (since
        the panel opened it: an answer to an earlier try carries the same state)."""
        answers = [] if self.value else self._answers()[self._answered_before:]
        if answers:
            self._settle(answers[-1], "Decided in your browser")
        elif not self.value:
            self._result.value = ("<p>Your app has received nothing for this request yet: sign in and "
                                  "click Allow or Deny on the page the link opened, then press "
                                  "<b>Read what my app received</b> again.</p>")
        return self.value

    def _answers(self) -> list[str]:
        return self.lab.app.answers(dict(parse_qsl(urlsplit(self.authorization_url).query)).get("state", ""))

    def _settle(self, location: str | None, decision: str | None = None):
        self.allow.disabled = self.deny.disabled = self.read_app.disabled = True
        self.decision = decision
        self.value = location or ""
        if location:
            params = "".join(f"<li><code>{escape(k)}={escape(mask(v) if k == 'code' else v)}</code></li>"
                             for k, v in self.received().items())
            where = "back to the app" if self.to_app else "to the server's error page"
            self._result.value = f"<b>{escape(decision or 'Answer')}</b>: the browser is sent {where} with:<ul>{params}</ul>"
            if self._consent_page is not None:  # a decision (not an error): it can be made again
                self._result.value += f"<p>{escape(self._offer_to_decide_again())}</p>"

    def _offer_to_decide_again(self) -> str:
        """Show Try again, or (a request with a nonce) say which cell to run again instead: the same
        request again would replay its nonce, which this server refuses (OIDC Core §3.1.2.1: a
        nonce ties one login to one ID token)."""
        if "nonce" in dict(parse_qsl(urlsplit(self.authorization_url).query)):
            return ("To decide again, run this cell again (a new request with a new nonce: this server "
                    "accepts each nonce once), then the cells below.")
        self.again.layout.display = ""
        return (("Run the cells below again to use this answer. " if self.tries > 1 else "")
                + "Try again asks once more, for a decision of your own.")

    @property
    def to_app(self) -> bool:
        """Whether the browser was sent to the app, not to a page of the server itself (LiveChat
        sends every authorization error, a Deny too, to its own /ooops page)."""
        return not self.value.startswith(self.lab.issuer + "/")

    def received(self) -> dict:
        """The parameters the browser is sent on with: to the app's redirect URI, as a rule."""
        return dict(parse_qsl(urlsplit(self.value).query)) if self.value else {}

    def text(self) -> str:
        lines = [self.heading if not self.asked else f"{self.heading} (as {self.browser.username})"]
        lines += [f"  - {d} [{n}]" for d, n in self.asked]
        lines += [f"  {notice}" for notice in self.notices]
        if self.value:
            got = ", ".join(f"{k}={mask(v) if k == 'code' else v}" for k, v in self.received().items())
            lines.append(f"{self.decision or 'Answer'} → {'app receives' if self.to_app else 'error page'}: {got}")
        elif self.asked:
            lines.append("Waiting for Allow or Deny.")
        return "\n".join(lines)


def alert_text(page: str) -> str:
    """The error a server page shows (its alert paragraph), as text."""
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)) if found else "see the page"
