"""The exchange inspector: every request and response of a step, grouped by leg, then the diagram.

    ExchangeInspector.for_step(step)                  # step = lab.transcript.mark(), then a cell
    ExchangeInspector.for_flow(lab, state="s-123")    # one whole flow

Secrets are masked until the learner ticks "Show secrets" (or code sets ``.show_secrets.value``):
a notebook shared on GitHub should not show a usable token by default, even a mock one.
"""
from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import ipywidgets as widgets

from ..server_link import RemoteClock
from .base import LabWidget, escape
from .diagram import (COLOURS, LEGS, SequenceDiagram, hide, hide_header, hide_json, hide_params, leg,
                      protocol_messages)


class ExchangeInspector(LabWidget):
    def __init__(self, messages: list[dict], title: str = ""):
        self.messages, self.heading = protocol_messages(messages), title
        self.show_secrets = widgets.Checkbox(value=False, description="Show secrets", indent=False)
        self._exchanges, self._diagram = widgets.HTML(), widgets.HTML()
        super().__init__([self.show_secrets, self._exchanges, self._diagram])
        self.show_secrets.observe(self._render, names="value")
        self._render()

    @classmethod
    def for_flow(cls, lab, title: str = "", **start) -> "ExchangeInspector":
        """Every message of one flow, e.g. ``for_flow(lab, state="s-123")``."""
        return cls(lab.transcript.flow(**start), title)

    @classmethod
    def for_step(cls, step, title: str = "") -> "ExchangeInspector":
        return cls(step.messages(), title)

    def diagram(self) -> SequenceDiagram:
        return SequenceDiagram(self.messages, self.heading, self.show_secrets.value)

    def _render(self, change=None) -> None:
        show = self.show_secrets.value
        self._exchanges.value = "".join(_leg_html(name, self.messages, show) for name in LEGS)
        self._diagram.value = f'<div style="overflow-x:auto">{self.diagram().svg()}</div>'

    def text(self) -> str:
        lines = [self.diagram().text()]
        if self.messages:
            lines += ["", *map(_summary, self.messages)]
        return "\n".join(lines)


def _summary(message: dict) -> str:
    return f"{leg(message)} {message['method']} {urlsplit(message['path']).path} → {message['status']}"


def _leg_html(name: str, messages: list[dict], show: bool) -> str:
    chosen = [m for m in messages if leg(m) == name]
    if not chosen:
        return ""
    heading = LEGS[name][0].upper() + LEGS[name][1:]
    return f"<h4>{escape(heading)}</h4>" + "".join(_message_html(m, show) for m in chosen)


def _message_html(message: dict, show: bool) -> str:
    url = escape(hide_params(message["path"], show))
    when = RemoteClock.format(message["time"])  # the virtual clock: what expiry is measured against
    return (f'<div style="border-left:4px solid {COLOURS[leg(message)]};padding-left:8px;margin:8px 0">'
            f'<div><b>{escape(message["method"])}</b> <code>{url}</code>'
            f' <span style="color:#868e96">{when}</span></div>'
            + _table(message["request_headers"].items(), hide_header, show)
            + _body(message["request_body"], message["request_headers"], show)
            + f'<div><b>← {message["status"]}</b></div>'
            + _table(message["response_headers"].items(), hide_header, show)
            + _body(message["response_body"], message["response_headers"], show)
            + "</div>")


def _table(pairs, hider, show: bool) -> str:
    rows = "".join(f'<tr><th style="text-align:left;padding-right:12px">{escape(k)}</th>'
                   f'<td style="text-align:left"><code>{escape(hider(k, v, show))}</code></td></tr>'
                   for k, v in pairs)
    return f"<table>{rows}</table>" if rows else ""


def _body(body: str, headers: dict, show: bool) -> str:
    if not body:
        return ""
    kind = headers.get("Content-Type", "")
    if "x-www-form-urlencoded" in kind:
        return _table(parse_qsl(body, keep_blank_values=True), hide, show)
    return f'<pre style="margin:4px 0">{escape(_pretty(body, kind, show))}</pre>'


def _pretty(body: str, kind: str, show: bool) -> str:
    if "json" in kind:
        try:
            return json.dumps(hide_json(json.loads(body), show), indent=2, ensure_ascii=False)
        except ValueError:
            pass  # a body that lies about its type is shown as text
    return hide_params(body, show)  # masked even here: unknown text may still carry a form
