"""The server's virtual clock as a widget: the time, countdowns for tokens, fast-forward buttons.

Expiry is always measured against the *server's* clock (read back over HTTP after every change),
never the kernel's: the server decides whether a token has expired, and in deterministic mode its
clock stands still at 2026-01-05 09:00:00 UTC until someone moves it.

The time phrases here are shared with the other widgets, so "expires in 60 min" reads the same
everywhere in the course.
"""
from __future__ import annotations

import ipywidgets as widgets

from ..server_link import RemoteClock
from .base import LabWidget, escape

STEPS = (("plus_1min", "+1 min", 60), ("plus_10min", "+10 min", 600),
         ("plus_1h", "+1 h", 3600), ("plus_1day", "+1 day", 86400))


def duration(seconds: int) -> str:
    """A span as a learner reads it: "45 s", "59 min 30 s", "60 min", "3 h 20 min", "2 days 1 h"."""
    seconds = abs(int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds <= 7200:  # up to two hours minutes read better than "1 h 5 min"
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    if seconds < 2 * 86400:
        hours, rest = divmod(seconds, 3600)
        return f"{hours} h" + (f" {rest // 60} min" if rest // 60 else "")
    days, rest = divmod(seconds, 86400)
    return f"{days} days" + (f" {rest // 3600} h" if rest // 3600 else "")


def relative(timestamp: int, now: int) -> str:
    """"in 60 min", "3 min ago" or "now"."""
    if timestamp == now:
        return "now"
    span = duration(timestamp - now)
    return f"in {span}" if timestamp > now else f"{span} ago"


def expiry(expires_at: int, now: int) -> str:
    """"expires in 60 min" or "expired 3 min ago" (a token is dead at its `exp` second)."""
    if expires_at > now:
        return f"expires in {duration(expires_at - now)}"
    if expires_at == now:
        return "expired just now"
    return f"expired {duration(now - expires_at)} ago"


class ClockWidget(LabWidget):
    def __init__(self, lab):
        super().__init__()
        self.lab = lab
        self.tracked: dict[str, int] = {}
        self.view = widgets.HTML()
        for attribute, label, seconds in STEPS:
            button = widgets.Button(description=label, tooltip=f"Move the server's clock {label}")
            button.on_click(lambda _, seconds=seconds: self.advance(seconds))
            setattr(self, attribute, button)
        self.children = [self.view, widgets.HBox([getattr(self, step[0]) for step in STEPS])]
        self.refresh()

    def track(self, name: str, expires_at: int) -> None:
        """Add (or replace) a countdown row, e.g. ``track("access token", claims["exp"])``."""
        self.tracked[name] = int(expires_at)
        self.refresh()

    def advance(self, seconds: float) -> None:
        self.lab.clock.advance(seconds)
        self.refresh()

    def refresh(self) -> None:
        """Read the server's time again (another cell may have moved it) and redraw."""
        self.now = self.lab.clock.now()
        rows = "".join(
            f"<li style='color:{'#b00020' if expires_at <= self.now else 'inherit'}'>"
            f"<b>{escape(name)}</b>: {escape(expiry(expires_at, self.now))} "
            f"<small>({RemoteClock.format(expires_at)})</small></li>"
            for name, expires_at in self.tracked.items())
        self.view.value = (f"<div><span style='font-size:1.3em'>Virtual time {RemoteClock.format(self.now)}</span>"
                           f"<ul>{rows}</ul></div>")

    def text(self) -> str:
        rows = [f"{name}: {expiry(expires_at, self.now)}" for name, expires_at in self.tracked.items()]
        return " · ".join([f"Virtual time {RemoteClock.format(self.now)}", *rows])
