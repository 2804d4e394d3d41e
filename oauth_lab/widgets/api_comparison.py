"""Several APIs asked about one token, step after step: their answers side by side.

Each row is one moment — the first call, after a revocation, after the clock moved — and what
every API answered then (status and reason); the last line counts each API's calls to the
authorization server while it answered. **Call each API** adds a row; **+10 min** and **+1 h**
move the server's virtual clock first. By code: ``.call("after the revocation")``, ``.wait(3600)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets

from ..server_link import RemoteClock
from .base import LabWidget, escape
from .clock import duration


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    calls: int  # the API's calls to the authorization server since this widget's first row

    @property
    def short(self) -> str:
        return f"{self.status} {self.reason}"


@dataclass(frozen=True)
class Row:
    time: int
    step: str
    answers: tuple[Answer, ...]


def reading(response) -> str:
    """What an API's answer means, in a few words: accepted, or its RFC 6750 reason."""
    if response.status_code == 200:
        return "accepted"
    try:
        return response.json().get("error_description") or f"HTTP {response.status_code}"
    except ValueError:
        return f"HTTP {response.status_code}"


class ApiComparison(LabWidget):
    def __init__(self, lab, token: str, apis, step: str = "first call"):
        super().__init__()
        self.lab, self.token, self.apis = lab, token, list(apis)
        self.rows: list[Row] = []
        self.calls_before = [api.calls_to_authorization_server for api in self.apis]
        self.call_button = widgets.Button(description="Call each API", button_style="primary",
                                          tooltip="Send the token to every API now")
        self.plus_10min = widgets.Button(description="+10 min", tooltip="Move the server's clock, then call")
        self.plus_1h = widgets.Button(description="+1 h", tooltip="Move the server's clock, then call")
        self.call_button.on_click(lambda _: self.call("call"))
        self.plus_10min.on_click(lambda _: self.wait(600))
        self.plus_1h.on_click(lambda _: self.wait(3600))
        self.view = widgets.HTML()
        self.children = [widgets.HBox([self.call_button, self.plus_10min, self.plus_1h]), self.view]
        self.call(step)

    def call(self, step: str = "call") -> Row:
        """Send the token to every API and add a row with their answers."""
        answers = []
        for api, before in zip(self.apis, self.calls_before):
            response = api.call(self.token)
            answers.append(Answer(response.status_code, reading(response),
                                  api.calls_to_authorization_server - before))
        row = Row(self.lab.clock.now(), step, tuple(answers))
        self.rows.append(row)
        self.view.value = self._html()
        return row

    def wait(self, seconds: int) -> Row:
        """Fast-forward the server's clock, then call every API again."""
        self.lab.clock.advance(seconds)
        return self.call(f"{duration(seconds)} later")

    def text(self) -> str:
        lines = [["", *(api.name for api in self.apis)]]
        lines += [[f"{RemoteClock.format(row.time)[11:16]} {row.step}", *(a.short for a in row.answers)]
                  for row in self.rows]
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
        table = ["   ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
        calls = " · ".join(f"{api.name} {a.calls}" for api, a in zip(self.apis, self.rows[-1].answers))
        return "\n".join([*table, f"Calls to the authorization server while answering: {calls}"])

    def _html(self) -> str:
        head = "".join(f"<th>{escape(api.name)}<br><small>{escape(api.how)}</small></th>" for api in self.apis)
        body = "".join(f"<tr class='step'>{_time_cell(row.time)}<td>{escape(row.step)}</td>"
                       + "".join(map(_answer_cell, row.answers)) + "</tr>" for row in self.rows)
        calls = "".join(f"<td>{a.calls}</td>" for a in self.rows[-1].answers)
        return (f"<table><tr><th>time</th><th>step</th>{head}</tr>{body}"
                f"<tr><td colspan='2'><small>calls to the authorization server while answering</small></td>"
                f"{calls}</tr></table>")


def _time_cell(timestamp: int) -> str:
    when = RemoteClock.format(timestamp)
    return f"<td title='{escape(when)}'>{when[11:16]}</td>"


def _answer_cell(answer: Answer) -> str:
    colour = "#1a7f37" if answer.status == 200 else "#b00020"
    return f"<td style='color:{colour}'><b>{answer.status}</b> {escape(answer.reason)}</td>"
