"""The grader's report, live: each phase ✓ or ✗ with its hint, graded again at a click.

    report = GradeReport(lambda: capstone.grade(lab, client_id))
    report.grade()          # what "Grade again" does: read the server's record anew

"Grade again" is for the learner who fixes one phase (revokes the right token, say) without running
the whole app again: the server's record has grown, the report reads it again. "Show your app's
messages" draws the record the grader read, as a sequence diagram.
"""
from __future__ import annotations

from typing import Callable

import ipywidgets as widgets

from .base import LabWidget


class GradeReport(LabWidget):
    def __init__(self, grader: Callable[[], object]):
        super().__init__()
        self._grader = grader
        self.again = widgets.Button(description="Grade again", icon="refresh")
        self.show_messages = widgets.Checkbox(value=False, description="Show your app's messages",
                                              indent=False)
        self._report, self._diagram = widgets.HTML(), widgets.HTML()
        self.again.on_click(lambda _b: self.grade())
        self.show_messages.observe(lambda _change: self._draw(), names="value")
        self.children = [self._report, widgets.HBox([self.again, self.show_messages]), self._diagram]
        self.grade()

    def grade(self):
        """Read the server's record again and show the new report; returns it."""
        self.report = self._grader()
        self._report.value = self.report.html()
        self._draw()
        return self.report

    def _draw(self) -> None:
        shown = self.show_messages.value and self.report.messages
        self._diagram.value = (f'<div style="overflow-x:auto">{self.report.diagram().svg()}</div>'
                               if shown else "")

    def diagram(self):
        """The server's record of the app, as a sequence diagram."""
        return self.report.diagram()

    @property
    def passed(self) -> bool:
        return self.report.passed

    def __bool__(self):
        return self.passed

    def text(self) -> str:
        return self.report.text()
