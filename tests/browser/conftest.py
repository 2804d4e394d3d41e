"""Real-browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser).

Without Chromium these tests skip with a message saying how to enable them — unless
``REQUIRE_BROWSER`` is set (CI sets it), when a missing browser is a failure.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# As root, in a sandbox with no network: no sandbox, no background calls to Google.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _chromium_missing() -> str | None:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


@pytest.fixture(scope="session")
def playwright():
    """Playwright, once per worker (it cannot run twice in one thread); skips as said above."""
    problem = _chromium_missing()
    if problem:
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"REQUIRE_BROWSER is set but {problem}")
        pytest.skip(f"browser tests skipped: {problem}. Enable them with "
                    "`apt-get install chromium` (Debian); CI sets REQUIRE_BROWSER=1.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


def launch_chromium(playwright, *extra_args: str):
    """Debian's Chromium with the arguments above (and `extra_args`)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])


@pytest.fixture(scope="session")
def chromium(playwright):
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


@pytest.fixture
def page(chromium):
    """A fresh browser context (its own cookies) and page per test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """A browser test that fails leaves the page it failed on in test-artifacts/ (the whole
    notebook, for a JupyterLab page): what it showed when it failed."""
    report = yield
    page = item.funcargs.get("lab") or item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.failed and call.when == "call" and page is not None and not page.is_closed():
        from jupyterlab_driver import NOTEBOOK, whole_notebook

        path = ARTIFACTS / f"failed-{re.sub(r'[^A-Za-z0-9_.-]+', '-', item.name)}.png"
        try:
            ARTIFACTS.mkdir(exist_ok=True)
            if page.locator(NOTEBOOK).count():
                whole_notebook(page, path)
            else:
                page.screenshot(path=path, full_page=True)
        except Exception as error:  # the browser may be what failed: say so, keep the report
            report.sections.append(("failure screenshot", f"none taken: {error}"))
    return report


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
