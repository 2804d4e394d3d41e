"""What every course widget shares: a plain-text face.

In JupyterLab a widget renders live; in a static view (GitHub, nbviewer) and for nbval only the
``text/plain`` output exists. ipywidgets puts a truncated ``repr`` there; ours put ``text()`` — a
sentence a reader (and a test) can understand.
"""
from __future__ import annotations

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
    """A drawing with a plain-text twin: SVG where a notebook renders it, ``text()`` elsewhere."""

    def svg(self) -> str:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError

    def _repr_svg_(self) -> str:
        return self.svg()

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
