"""How long a headless run of the course takes, against the same number of empty notebooks.

    python benchmarks/bench_notebooks.py

Both are executed the same way (nbclient, python3 kernel, one kernel per notebook), in one run, so
the ratio says what the course itself costs beyond starting kernels. Outputs are not saved.
"""
from __future__ import annotations

import platform
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(nb, folder: Path) -> float:
    started = time.perf_counter()
    NotebookClient(nb, timeout=60, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    return time.perf_counter() - started


def main() -> None:
    course = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    empty = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("")])
    print(f"{platform.python_implementation()} {platform.python_version()}, {len(course)} notebooks")
    course_times = [execute(nbformat.read(path, as_version=4), NOTEBOOKS) for path in course]
    empty_times = [execute(nbformat.reads(nbformat.writes(empty), as_version=4), NOTEBOOKS) for _ in course]
    for path, seconds in zip(course, course_times):
        print(f"  {path.stem:40} {seconds:6.2f} s")
    total, baseline = sum(course_times), sum(empty_times)
    print(f"course  {total:6.2f} s   empty notebooks {baseline:6.2f} s   ratio {total / baseline:4.2f}x")


if __name__ == "__main__":
    main()
