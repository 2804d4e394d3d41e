"""What every course widget shares: a plain-text face.

In JupyterLab a widget renders live; in a static view (GitHub, nbviewer) and for nbval only the
``text/plain`` output exists. ipywidgets puts a truncated ``repr`` there; ours put ``text()`` — a
sentence a reader (and a test) can understand.
"""
from __future__ import annotations

import base64
import html

import ipywidgets as widgets


class LabWidget(widgets.VBox):
    def text(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        data["text/plain"] = self.text()
        return data

    def __repr__(self):
        return self.text()


class Picture:
    """A drawing with a plain-text twin: SVG where a notebook renders it (as an image in HTML too,
    which shrinks to fit), ``text()`` elsewhere."""

    def svg(self) -> str:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_html_(self) -> str:
        """The same SVG as an image no wider than the output: JupyterLab shows an SVG output at its
        own width, cut off at the right when the drawing is wider (a sequence diagram often is).
        Its alt text is the text face."""
        data = base64.b64encode(self.svg().encode()).decode()
        return (f"<img src='data:image/svg+xml;base64,{data}' alt='{escape(self.text())}' "
                "style='max-width:100%;height:auto'>")

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.text())


def mask(value: str, show: bool = False, keep: int = 6) -> str:
    """A secret as a learner should see it by default: its first characters, then an ellipsis."""
    if show or not isinstance(value, str) or len(value) <= keep + 2:
        return value
    return f"{value[:keep]}…"


def escape(value) -> str:
    return html.escape(str(value))


CELL = "text-align:left;vertical-align:top;padding:.25em 1em .25em 0"


def html_table(rows, header=(), code=(), headings: int | None = None) -> str:
    """A table that reads straight in JupyterLab, whose style right-aligns every cell (names and
    values of different lengths then look ragged): every cell left- and top-aligned. Columns whose
    index is in `code` are monospace; column `headings` holds each row's name (bold)."""
    def cell(index: int, value) -> str:
        tag = "th" if index == headings else "td"
        inner = f"<code>{escape(value)}</code>" if index in code else escape(value)
        return f"<{tag} style='{CELL}'>{inner}</{tag}>"

    head = "<tr>" + "".join(f"<th style='{CELL}'>{escape(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(cell(i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table style='border-collapse:collapse'>{head}{body}</table>"
