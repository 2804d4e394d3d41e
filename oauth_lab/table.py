"""A table of values a notebook computed, shown as text (nbval, static views) and as HTML."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .widgets.base import escape


@dataclass
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence]

    def text(self) -> str:
        cells = [[str(c) for c in self.columns]] + [[str(v) for v in row] for row in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [" | ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
        lines.insert(1, "-+-".join("-" * w for w in widths))
        return "\n".join(lines)

    def __repr__(self):
        return self.text()

    def _repr_html_(self):
        """The first column names each row; the others hold values, shown as code."""
        head = "".join(f"<th style='text-align:left'>{escape(c)}</th>" for c in self.columns)
        body = "".join(f"<tr><td style='text-align:left'>{escape(row[0])}</td>"
                       + "".join(f"<td style='text-align:left'><code>{escape(v)}</code></td>" for v in row[1:])
                       + "</tr>" for row in self.rows)
        return f"<table><tr>{head}</tr>{body}</table>"
