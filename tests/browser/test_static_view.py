"""The committed notebooks as a static view shows them (an HTML export, as nbviewer renders them),
read in Chromium on a machine where the course is not running: nothing answers on its loopback
ports, as on any reader's machine (the requests are refused here, since a test run may have the
notebooks' own servers up)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def exported(name: str, folder: Path) -> Path:
    page = folder / f"{name}.html"
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir", folder,
                    NOTEBOOKS / f"{name}.ipynb"], check=True, capture_output=True)
    return page


def test_notebook_12s_attacker_pages_are_drawings_with_a_caption(page, tmp_path, artifacts):
    html = exported("12-security-lab", tmp_path)
    assert "<iframe" not in html.read_text()  # a frame would show a broken box
    page.route(re.compile(r"^http://(127\.0\.0\.1|localhost)(:\d+)?/"), lambda route: route.abort("connectionrefused"))
    page.goto(html.as_uri())
    windows = page.locator(".jp-OutputArea-output:has(object)")
    assert windows.count() == 2
    for index, (expected, caption) in enumerate([("Your browser refuses", "Nothing crashed"),
                                                  ("The framed page shows", "lets any site frame")]):
        window = windows.nth(index)
        drawing = window.locator("img[alt^=\"the attacker's page\"]")
        drawing.wait_for(state="visible")  # the <object>'s fallback: the page itself did not load
        assert drawing.evaluate("img => img.complete && img.naturalWidth") == 740
        assert expected in drawing.get_attribute("alt")
        assert caption in window.locator("p").last.inner_text()
        window.scroll_into_view_if_needed()
        window.screenshot(path=artifacts / f"static-12-attacker-page-{index + 1}.png")
