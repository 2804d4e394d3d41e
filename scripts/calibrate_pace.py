"""Compare oauth_lab.pace's computed times with a careful reader's, and say how far they are.

The reference is the reading reported in issue 15 (a reviewer read every notebook against the RFCs
and ran it with its solutions, and gave each a time); where it gave a range, its middle. The
script prints, per notebook, what pace.py computes, the reference, and the difference, then the
one factor that would scale all of pace.py's rates to fit best (least squares). pace.py's rates
were set from it; run it again after a notebook grows or shrinks.

    python scripts/calibrate_pace.py
"""
from __future__ import annotations

from pathlib import Path

from oauth_lab import pace

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# Issue 15, "Pace": 03 40, 04 50–60, 07/09/11 40–45, 08/10 35–40, 12 75–90, 13 50–60, 14 45–60.
REFERENCE = {"03": 40, "04": 55, "07": 42.5, "08": 37.5, "09": 42.5, "10": 37.5, "11": 42.5,
             "12": 82.5, "13": 55, "14": 52.5}


def main() -> None:
    computed = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        number = path.name[:2]
        computed[number] = minutes = pace.content(pace.body(path)).minutes()
        reference = REFERENCE.get(number)
        line = f"{path.stem:55} computed {minutes:5.1f} min (shown: {pace.rounded(minutes):3d})"
        if reference:
            line += f"   reference {reference:5.1f}   difference {minutes - reference:+5.1f}"
        print(line)
    pairs = [(computed[n], r) for n, r in REFERENCE.items() if n in computed]
    factor = sum(c * r for c, r in pairs) / sum(c * c for c, _ in pairs)
    error = (sum((c * factor - r) ** 2 for c, r in pairs) / len(pairs)) ** 0.5
    print(f"\nbest single factor on every rate: {factor:.2f} (root-mean-square error then {error:.1f} min)")


if __name__ == "__main__":
    main()
