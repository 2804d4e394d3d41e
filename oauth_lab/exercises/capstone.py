"""14 · Capstone: the check is the grader (``oauth_lab.capstone``), one verdict per phase.

    attempt = lab.transcript.mark()
    ...                                  # your app: registered here, and its callback
    capstone.app.check(attempt, callback)

The check grades only the app registered after the mark, so an app the notebook made before (the
worked example's) is never the learner's; ``report`` grades any app by its ``client_id``.
"""
from __future__ import annotations

import dataclasses

from .. import capstone as grader
from ..checks import Exercise, Verdict
from ..lab import current_lab
from ..server_link import Step
from ..widgets.grade_report import GradeReport


def report(client_id: str, callback=None) -> GradeReport:
    """The grader's report on any app, live: the worked example's, or a broken one's."""
    return GradeReport(lambda: grader.grade(current_lab(), client_id, callback))


class Capstone(Exercise):
    """An exercise whose answer is a whole app: ``problem`` grades it and returns the report, and
    ``check`` shows it live (``GradeReport``) instead of one verdict with one fixed hint."""

    def check(self, answer, *context):
        if answer is None:
            return super().check(answer)
        if not isinstance(answer, Step):
            return Verdict(self.title, False, "the check grades the app your cell registers after the mark "
                                              "`attempt`, not an app named by its client_id (the worked "
                                              "example's, say)", self.hint, self.solution)
        return GradeReport(lambda: dataclasses.replace(self.problem(answer, *context), solution=self.solution))


app = Capstone(
    "14 · capstone", lambda attempt, callback=None: grader.grade(current_lab(), attempt, callback),
    hint="write your app in the cell, after attempt = lab.transcript.mark(), and hand the check its "
         "callback: capstone.app.check(attempt, callback)",
    solution="solutions/14_capstone.py", context=("callback",),
    success="every phase passes.")
