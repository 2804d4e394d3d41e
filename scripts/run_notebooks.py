"""Regenerate the committed notebook outputs: a clean, deterministic run of every notebook.

    python scripts/run_notebooks.py [notebooks/03-*.ipynb ...]

Each cell gets a timeout (nbconvert/nbclient can hang on widget notebooks: platform-notes), the
first and last cells (navigation, expected time, "where we are") are rewritten from
``oauth_lab.course``, and the widgets' state is saved in the notebook's metadata, so GitHub, nbviewer
and a JupyterLab without a kernel show the widgets themselves (nbval ignores metadata).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from oauth_lab.course import BY_NAME, contents, footer, header, index

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def refresh_frame(nb, name: str) -> None:
    if name in BY_NAME:
        nb.cells[0].source, nb.cells[-1].source = header(name), footer(name)


def coalesce_streams(outputs: list) -> list:
    """One output per run of stdout (or stderr): the kernel splits prints into chunks at random,
    and nbval compares the joined text, so the committed file should hold it joined too."""
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.output_type == "stream" and previous is not None
                and previous.output_type == "stream" and previous.name == output.name):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    refresh_frame(nb, path.stem)
    started = time.perf_counter()
    NotebookClient(nb, timeout=60, kernel_name="python3", record_timing=False, store_widget_state=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    nbformat.write(nb, path)
    return time.perf_counter() - started


def write_index() -> None:
    path = NOTEBOOKS / "index.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = index()  # the one cell, rewritten in place (its id stays)
    nbformat.write(nb, path)


def write_readme_table() -> None:
    """The README's course table is the course map too."""
    path = NOTEBOOKS.parent / "README.md"
    text = path.read_text()
    start = text.index("| # | notebook | what you do |")
    end = text.index("\n\n", start)
    path.write_text(text[:start] + contents("notebooks/") + text[end:])


def main(paths: list[str]) -> int:
    write_index()
    write_readme_table()
    targets = [Path(p).resolve() for p in paths] or sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    for path in targets:
        print(f"{path.name}: {run(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
