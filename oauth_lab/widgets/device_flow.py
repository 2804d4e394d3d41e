"""The device flow (RFC 8628) as widgets: what the device's screen shows, and the device polling.

``DeviceScreen`` draws the screen of RFC 8628 §3.3.1: the verification URI and the user code as
text, and a QR code of ``verification_uri_complete`` (segno, pure Python: the same URL always
gives the same SVG, so nbval can compare it).

``DevicePoller`` is the device at work. Each poll is a real token request through the app's own
``OAuth2Session``; *Allow* and *Deny* are the user on another device — the scripted browser on the
real ``/device`` page; waiting ``interval`` seconds is a move of the server's virtual clock (a
real device sleeps). By code: ``poller.poll()``, ``poller.decide("Allow")``, ``poller.value``.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import ipywidgets as widgets
import segno
import traitlets
from oauthlib.oauth2.rfc6749.errors import OAuth2Error

from ..user_agent import UserAgent, UserAgentError
from .base import LabWidget, Picture, escape, mask
from .clock import duration, expiry
from .consent_panel import SCOPE_LINE, alert_text

KEEP_POLLING = ("authorization_pending", "slow_down")  # RFC 8628 §3.5: any other answer ends it
SLOW_DOWN_STEP = 5  # RFC 8628 §3.5: "the interval MUST be increased by 5 seconds"
DEFAULT_INTERVAL = 5  # RFC 8628 §3.2: the interval when the server names none


class DeviceScreen(Picture):
    """What the device shows the user: where to go, the code to type, and a QR code of both."""

    WIDTH, HEIGHT, QR_SCALE, TEXT_WIDTH = 640, 240, 4, 420

    def __init__(self, grant: dict, app_name: str = "Fernhollow Shop TV"):
        self.grant, self.app_name = grant, app_name

    def _qr_code(self):
        return segno.make(self.grant["verification_uri_complete"], error="m")

    def qr(self) -> str:
        """The QR code of verification_uri_complete, as an inline SVG element."""
        return self._qr_code().svg_inline(scale=self.QR_SCALE, border=2, dark="#111", light="white")

    def svg(self) -> str:
        size = self._qr_code().symbol_size(scale=self.QR_SCALE, border=2)[0]
        uri = self.grant["verification_uri"]
        uri_size = min(16, int(self.TEXT_WIDTH / (0.6 * len(uri))))  # a long (proxied) URI still fits
        lines = [(50, 16, "bold", f"{self.app_name}: connect your account"),
                 (84, 14, "normal", "Scan the QR code or, using a browser"),
                 (104, 14, "normal", "on another device, visit:"),
                 (132, uri_size, "bold", uri),
                 (166, 14, "normal", "And enter the code:"),
                 (208, 32, "bold", self.grant["user_code"])]
        text = "\n".join(f'<text x="34" y="{ty}" font-size="{fs}" font-weight="{fw}" fill="#f8f9fa">'
                         f"{escape(t)}</text>" for ty, fs, fw, t in lines)
        x, y = self.WIDTH - size - 34, (self.HEIGHT - size) // 2
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.WIDTH}" height="{self.HEIGHT}" '
                f'viewBox="0 0 {self.WIDTH} {self.HEIGHT}" style="max-width:100%;height:auto" '
                'font-family="sans-serif">\n'
                f"<title>The device's screen: {escape(self.text())}</title>\n"
                f'<rect x="4" y="4" width="{self.WIDTH - 8}" height="{self.HEIGHT - 8}" rx="14" '
                'fill="#212529" stroke="#868e96" stroke-width="6"/>\n'
                f"{text}\n"
                f'<g transform="translate({x},{y})">{self.qr()}</g>\n</svg>')

    def text(self) -> str:
        return (f"{self.app_name}: scan the QR code or, using a browser on another device, visit "
                f"{self.grant['verification_uri']} and enter the code {self.grant['user_code']}")


@dataclass(frozen=True)
class Poll:
    after: int  # seconds since the device got its codes, on the server's clock
    answer: str  # the error code, or "tokens"
    interval: int  # the interval the device keeps to from then on


def scope_text(scope) -> str:
    """A token response's scope as one string (oauthlib hands it back as a list)."""
    return " ".join(scope) if isinstance(scope, list) else str(scope)


class DevicePoller(LabWidget):
    value = traitlets.Dict()  # the token response, once the server issued one

    def __init__(self, lab, session, grant: dict, username: str = "jane", **fetch_kwargs):
        """``session``: the app's OAuth2Session (a DeviceClient); ``grant``: the device
        authorization response; ``fetch_kwargs``: how the app authenticates when it polls
        (a public client sends its client_id: the default)."""
        super().__init__()
        self.lab, self.session, self.grant = lab, session, grant
        self.fetch_kwargs = fetch_kwargs or {"include_client_id": True}
        self.interval = grant.get("interval", DEFAULT_INTERVAL)
        self.started = lab.clock.now()
        self.expires_at = self.started + grant["expires_in"]
        self.polls: list[Poll] = []
        self.browser = UserAgent(username, f"{username}-password", lab.reach())
        self.decision, self.asked, self.refused = None, [], ""
        self.wait_and_poll = widgets.Button(description="Wait and poll", button_style="primary",
                                            tooltip="Wait `interval` seconds (the virtual clock), then poll")
        self.poll_now = widgets.Button(description="Poll now", tooltip="Poll without waiting")
        self.allow = widgets.Button(description=f"Allow as {username}", button_style="success",
                                    layout=widgets.Layout(width="auto"))
        self.deny = widgets.Button(description=f"Deny as {username}", layout=widgets.Layout(width="auto"))
        self.wait_and_poll.on_click(lambda _b: self.poll())
        self.poll_now.on_click(lambda _b: self.poll(wait=False))
        self.allow.on_click(lambda _b: self.decide("Allow"))
        self.deny.on_click(lambda _b: self.decide("Deny"))
        link = (f"<a href='{escape(grant['verification_uri_complete'])}' target='_blank'>Open the "
                "verification page in your browser</a> (sign in as jane / jane-password)")
        self.screen = widgets.HTML(DeviceScreen(grant).svg() + f"<p>{link}</p>")
        self.report = widgets.HTML()
        self.children = [self.screen, widgets.HBox([self.wait_and_poll, self.poll_now]),
                         widgets.HBox([self.allow, self.deny]), self.report]
        self._redraw()

    @property
    def finished(self) -> bool:
        return bool(self.polls) and self.polls[-1].answer not in KEEP_POLLING

    def poll(self, wait: bool = True) -> str:
        """Wait ``interval`` seconds (unless ``wait=False``), then ask the token endpoint once.
        Returns the error code, or "tokens". Once the answer is final, the device stops."""
        if self.finished:
            return self.polls[-1].answer
        if wait:
            self.lab.clock.advance(self.interval)
        try:
            self.value = dict(self.session.fetch_token(self.lab.endpoint("token"),
                                                       device_code=self.grant["device_code"], **self.fetch_kwargs))
            answer = "tokens"
        except OAuth2Error as error:
            answer = error.error
        if answer == "slow_down":
            self.interval += SLOW_DOWN_STEP
        self.polls.append(Poll(self.lab.clock.now() - self.started, answer, self.interval))
        self._redraw()
        return answer

    def decide(self, decision: str = "Allow") -> str | None:
        """The user, on another device: open the verification URI, sign in, type the user code,
        read what the device asks, click Allow or Deny — on the real page."""
        if self.decision is None and not self.refused:
            try:
                page = self.browser.device_consent_page(self.grant["verification_uri"], self.grant["user_code"])
            except UserAgentError as error:  # decided already (your browser), or expired
                self.refused = alert_text(error.response.text)
            else:
                self.asked = [(html.unescape(d), n) for d, n in SCOPE_LINE.findall(page.text)]
                self.browser.decide_on_device_page(page, decision)
                self.decision = decision
            self._redraw()
        return self.decision

    def _lines(self) -> list[str]:
        now = self.lab.clock.now()
        state = "done" if self.finished else f"device code {expiry(self.expires_at, now)}"
        lines = [f"User code {self.grant['user_code']} · interval {self.interval} s · {state}"]
        if self.decision:
            asked = ", ".join(f"{d} [{n}]" for d, n in self.asked)
            lines.append(f"{self.browser.username}, on another device: {self.decision} (the page asked for {asked})")
        elif self.refused:
            lines.append(f"The verification page refused the code: {self.refused}")
        for number, poll in enumerate(self.polls, 1):
            lines.append(f"poll {number} at +{duration(poll.after)}: {self._reading(poll)}")
        return lines

    def _reading(self, poll: Poll) -> str:
        if poll.answer != "tokens":
            then = {"slow_down": f"; interval now {poll.interval} s", "authorization_pending": ""}
            return f"400 {poll.answer}" + then.get(poll.answer, " — stop polling")
        token = self.value
        return (f"200 — {token.get('token_type')} token, expires_in {token.get('expires_in')}, "
                f"scope {scope_text(token.get('scope', ''))}")

    def _redraw(self) -> None:
        self.wait_and_poll.disabled = self.poll_now.disabled = self.finished
        self.allow.disabled = self.deny.disabled = bool(self.decision or self.refused or self.finished)
        head, *rest = self._lines()
        rows = "".join(f"<li>{escape(line)}</li>" for line in rest)
        tokens = ""
        if self.value:
            shown = {k: mask(v) if k.endswith("_token") else scope_text(v) if k == "scope" else v
                     for k, v in self.value.items() if k != "expires_at"}  # expires_at: the kernel's clock
            tokens = "".join(f"<li><code>{escape(k)}</code>: {escape(v)}</li>" for k, v in shown.items())
            tokens = f"<p>The token response:</p><ul>{tokens}</ul>"
        self.report.value = f"<p><b>{escape(head)}</b></p><ul>{rows}</ul>{tokens}"

    def text(self) -> str:
        return "\n".join(self._lines())

