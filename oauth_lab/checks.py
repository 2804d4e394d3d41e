"""Exercise checks: ``exercise.check(answer)`` says ✓ or ✗, with a hint when it is ✗.

A check runs against the real server where it can (introspecting a token, calling the API), so a
learner's answer passes because it *works*, not because it matches a string. Headless (nbval, a
static view) the verdict is the same sentence as text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .widgets.base import escape


@dataclass
class Verdict:
    title: str
    passed: bool
    message: str
    hint: str = ""
    solution: str = ""

    def text(self) -> str:
        if self.passed:
            return f"✓ {self.title}: {self.message}"
        lines = [f"✗ {self.title}: {self.message}", f"Hint: {self.hint}"]
        if self.solution:
            lines.append(f"Stuck? %load {self.solution}")
        return "\n".join(lines)

    def __repr__(self):
        return self.text()

    def __bool__(self):
        return self.passed

    def _repr_html_(self):
        colour = "#0a7d32" if self.passed else "#c81e1e"
        body = escape(self.text()).replace("\n", "<br>")
        return f"<div style='border-left:4px solid {colour};padding:.3em .6em'>{body}</div>"


@dataclass
class Exercise:
    """`problem(answer, *context)` returns None when the answer is right, else what is wrong.

    `context` names the notebook variables (besides the answer) that the check needs."""

    title: str
    problem: Callable[..., str | None]
    hint: str
    solution: str = ""
    success: str = "correct."
    context: tuple[str, ...] = ()

    def check(self, answer, *context) -> Verdict:
        if answer is None:
            return Verdict(self.title, False, "no answer yet: replace None with yours.", self.hint,
                           self.solution)
        try:
            issue = self.problem(answer, *context)
        except Exception as error:  # noqa: BLE001 — a broken answer is a wrong answer, not a crash
            issue = f"checking your answer failed ({type(error).__name__}: {error})"
        return Verdict(self.title, issue is None, issue or self.success, self.hint, self.solution)
