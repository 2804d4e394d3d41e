"""How long a notebook (or one of its sections) takes a learner: computed the same way everywhere,
from what it holds.

A learner reads the prose, reads each code cell and runs it, reads what it shows, and does each
exercise. Each of those has a rate below; a notebook's time is their sum. The rates were fitted
(least squares, scripts/calibrate_pace.py) to a careful reviewer's reading of eleven notebooks —
the times issue 15 of this project reports — and kept only where they stayed plausible for
reading technical prose; the fit's residuals are in that script's output. A newcomer who stops to
try things will take longer; a reader who skims the provoked failures, less.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

PROSE_WORDS_PER_MINUTE = 130  # technical prose, read to be understood, not skimmed
CODE_LINE_SECONDS = 8  # reading one line of code before running it
OUTPUT_WORDS_PER_MINUTE = 200  # what a cell shows: scanned more than read
CELL_SECONDS = 30  # running a cell and finding one's place again
EXERCISE_MINUTES = 5  # an exercise: think, write a few lines, run the check, maybe the hint
ROUND_TO = 5  # minutes: times are shown as "about N minutes"

WORD = re.compile(r"\w+")


@dataclass
class Content:
    prose_words: int = 0
    code_lines: int = 0
    output_words: int = 0
    code_cells: int = 0
    exercises: int = 0

    def minutes(self) -> float:
        return (self.prose_words / PROSE_WORDS_PER_MINUTE + self.code_lines * CODE_LINE_SECONDS / 60
                + self.output_words / OUTPUT_WORDS_PER_MINUTE + self.code_cells * CELL_SECONDS / 60
                + self.exercises * EXERCISE_MINUTES)

    def add(self, cell: dict) -> None:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            self.prose_words += len(WORD.findall(source))
            return
        self.code_cells += 1
        self.code_lines += sum(1 for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#"))
        self.exercises += ".check(" in source
        for output in cell.get("outputs", []):
            shown = output.get("text") or output.get("data", {}).get("text/plain", "")
            self.output_words += len(WORD.findall("".join(shown)))


def body(path: Path) -> list[dict]:
    """The cells a learner works through: all but the generated header and footer."""
    return cells_of(json.loads(Path(path).read_text()))


def cells_of(notebook: dict) -> list[dict]:
    """A notebook's (JSON) cells but its first and last, the header and footer course.py writes."""
    return notebook["cells"][1:-1]


def content(cells: list[dict]) -> Content:
    counted = Content()
    for cell in cells:
        counted.add(cell)
    return counted


def rounded(minutes: float) -> int:
    return max(ROUND_TO, ROUND_TO * round(minutes / ROUND_TO))


def notebook_minutes(path: Path) -> int:
    return rounded(content(body(path)).minutes())


def sections(path: Path) -> list[tuple[str, float]]:
    """Each ``## `` section of a notebook (and what comes before the first) with its minutes,
    unrounded: an instructor adds up the ones a track keeps."""
    found: list[tuple[str, Content]] = [("(opening)", Content())]
    for cell in body(path):
        heading = re.match(r"##\s+(.+)", "".join(cell["source"])) if cell["cell_type"] == "markdown" else None
        if heading:
            found.append((heading[1].strip(), Content()))
        found[-1][1].add(cell)
    return [(title, counted.minutes()) for title, counted in found if counted.minutes()]
