"""14 · Capstone: the check is the grader (``oauth_lab.capstone``), one verdict per phase.

    capstone.app.check(attempt)      # attempt = lab.transcript.mark(): the app registered after it
    capstone.app.check(client_id)    # or name the app
"""
from __future__ import annotations

import dataclasses

from .. import capstone as grader
from ..checks import Exercise
from ..lab import current_lab
from ..widgets.grade_report import GradeReport


class Capstone(Exercise):
    """An exercise whose answer is a whole app: ``problem`` grades it and returns the report, and
    ``check`` shows it live (``GradeReport``) instead of one verdict with one fixed hint."""

    def check(self, answer, *context):
        if answer is None:
            return super().check(answer)
        return GradeReport(lambda: dataclasses.replace(self.problem(answer), solution=self.solution))


app = Capstone(
    "14 · capstone", lambda answer: grader.grade(current_lab(), answer),
    hint="pass the mark taken before your app's cell (attempt), or your app's client_id",
    solution="solutions/14_capstone.py",
    success="every phase passes.")
