"""A notebook's expected time (oauth_lab/pace.py): the same computation for every notebook, from what
it holds — its header and the README's table show it, so a notebook that grows says so."""
from __future__ import annotations

import json

import pytest

from oauth_lab import pace
from oauth_lab.course import COURSE, NOTEBOOKS


def notebook(*cells) -> dict:
    framed = [{"cell_type": "markdown", "source": "# header"}, *cells, {"cell_type": "markdown", "source": "footer"}]
    return {"cells": framed}


def markdown(text):
    return {"cell_type": "markdown", "source": text}


def code(text, shown=""):
    return {"cell_type": "code", "source": text,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": shown}] if shown else []}


def test_each_part_of_a_notebook_costs_its_rate(tmp_path):
    path = tmp_path / "n.ipynb"
    prose = " ".join(["word"] * pace.PROSE_WORDS_PER_MINUTE)  # one minute of reading
    shown = " ".join(["out"] * pace.OUTPUT_WORDS_PER_MINUTE)  # one minute of looking at outputs
    path.write_text(json.dumps(notebook(
        markdown(prose), code("a = 1\n# a comment is not a line to read\n\nb = 2", shown),
        code("check.check(my_answer)"))))
    counted = pace.content(pace.body(path))
    assert (counted.prose_words, counted.code_lines, counted.code_cells, counted.exercises) == (
        pace.PROSE_WORDS_PER_MINUTE, 3, 2, 1)
    assert counted.minutes() == pytest.approx(
        1 + 1 + 3 * pace.CODE_LINE_SECONDS / 60 + 2 * pace.CELL_SECONDS / 60 + pace.EXERCISE_MINUTES)


def test_the_generated_header_and_footer_are_not_counted(tmp_path):
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(notebook()))
    assert pace.content(pace.body(path)).minutes() == 0 and pace.notebook_minutes(path) == pace.ROUND_TO


@pytest.mark.parametrize("notebook", COURSE, ids=lambda n: n.name)
def test_the_sections_add_up_to_the_notebook(notebook):
    path = NOTEBOOKS / f"{notebook.name}.ipynb"
    total = pace.content(pace.body(path)).minutes()
    assert sum(minutes for _, minutes in pace.sections(path)) == pytest.approx(total)
    assert notebook.minutes == pace.rounded(total) and notebook.minutes % pace.ROUND_TO == 0


def test_times_are_rounded_to_five_minutes():
    assert [pace.rounded(m) for m in (0.4, 7.4, 7.6, 41.9, 83)] == [5, 5, 10, 40, 85]


def test_the_workshop_track_is_in_the_readme_and_fits_90_minutes():
    from oauth_lab.course import workshop_track

    table = workshop_track()
    assert table in (NOTEBOOKS.parent / "README.md").read_text()
    total = int(table.rsplit("**", 2)[-2].split()[0])
    assert 75 <= total <= 90, table
