"""Regenerate the committed notebook outputs: a clean, deterministic run of every notebook.

    python scripts/run_notebooks.py [notebooks/03-*.ipynb ...]

Each cell gets a timeout (nbconvert/nbclient can hang on widget notebooks: platform-notes), the
navigation lines are refreshed from ``oauth_lab.course``, and the saved widget state is dropped
(the widgets' text faces stay; the state would add hundreds of kB per notebook).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from oauth_lab.course import COURSE, navigation

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def refresh_navigation(nb, name: str) -> None:
    if name not in {n for n, _, _ in COURSE}:
        return
    first, last = nb.cells[0], nb.cells[-1]
    title = first.source.split("\n", 1)[1] if "\n" in first.source else first.source
    first.source = f"{navigation(name)}\n{title}"
    last.source = f"---\n{navigation(name)}"


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
    refresh_navigation(nb, path.stem)
    started = time.perf_counter()
    NotebookClient(nb, timeout=60, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    nbformat.write(nb, path)
    return time.perf_counter() - started


def main(paths: list[str]) -> int:
    targets = [Path(p).resolve() for p in paths] or sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    for path in targets:
        print(f"{path.name}: {run(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
