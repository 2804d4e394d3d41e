"""Compare oauth_lab.pace's computed times with a careful reader's, and say how far they are.

The reference is the reading reported in issue 15 (a reviewer read every notebook against the RFCs
and ran it with its solutions, and gave each a time); where it gave a range, its middle. It timed
the notebooks as they were then — commit REFERENCE_COMMIT — so the fit reads them from there; the
notebooks have changed since, and pace.py times today's. The script prints, per notebook, what
pace.py computes for the timed version, the reference and the difference, then the one factor
that would scale all of pace.py's rates to fit best (least squares), then today's times.

    python scripts/calibrate_pace.py
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from oauth_lab import pace

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
REFERENCE_COMMIT = "bd14e97"  # the notebooks the reviewer of issue 15 read and timed
# Issue 15, "Pace": 03 40, 04 50–60, 07/09/11 40–45, 08/10 35–40, 12 75–90, 13 50–60, 14 45–60.
REFERENCE = {"03": 40, "04": 55, "07": 42.5, "08": 37.5, "09": 42.5, "10": 37.5, "11": 42.5,
             "12": 82.5, "13": 55, "14": 52.5}


def timed_version(path: Path) -> list[dict]:
    """The notebook's cells at REFERENCE_COMMIT, but for the generated header and footer."""
    text = subprocess.run(["git", "show", f"{REFERENCE_COMMIT}:notebooks/{path.name}"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout
    return pace.cells_of(json.loads(text))


def main() -> None:
    computed = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        number = path.name[:2]
        if (reference := REFERENCE.get(number)) is None:
            continue
        computed[number] = minutes = pace.content(timed_version(path)).minutes()
        print(f"{path.stem:55} as timed: computed {minutes:5.1f} min, reference {reference:5.1f}, "
              f"difference {minutes - reference:+5.1f}")
    pairs = [(computed[n], r) for n, r in REFERENCE.items() if n in computed]
    factor = sum(c * r for c, r in pairs) / sum(c * c for c, _ in pairs)
    error = (sum((c * factor - r) ** 2 for c, r in pairs) / len(pairs)) ** 0.5
    print(f"\nbest single factor on every rate: {factor:.2f} (root-mean-square error then {error:.1f} min)\n")
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        minutes = pace.content(pace.body(path)).minutes()
        print(f"{path.stem:55} today: {minutes:5.1f} min (shown: about {pace.rounded(minutes)})")


if __name__ == "__main__":
    main()
