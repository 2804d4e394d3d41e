"""The course itself: its notebooks in order, the navigation between them, and the setup check."""
from __future__ import annotations

import importlib.metadata
import sys
from dataclasses import dataclass

from .widgets.base import escape

COURSE = (
    ("00-start-here", "Start here", "the house, the four roles, your setup"),
    ("01-why-not-share-your-password", "Why not share your password?", "the anti-pattern, run for real"),
    ("02-register-your-app", "Register your app", "client id, secret, redirect URIs, scopes"),
    ("03-the-authorization-request", "The authorization request", "scopes, state, consent, the code"),
    ("04-the-token-exchange", "The token exchange", "code → tokens on the back channel"),
    ("05-calling-the-api", "Calling the API", "bearer tokens, 401 and 403"),
    ("06-expiry-and-refresh", "Expiry and refresh", "the clock, refresh, rotation"),
)


def navigation(name: str) -> str:
    """The previous · contents · next line for a notebook (markdown)."""
    names = [n for n, _, _ in COURSE]
    i = names.index(name)
    parts = []
    if i > 0:
        parts.append(f"[← {COURSE[i - 1][1]}]({COURSE[i - 1][0]}.ipynb)")
    parts.append("[Contents](index.ipynb)")
    if i + 1 < len(COURSE):
        parts.append(f"[{COURSE[i + 1][1]} →]({COURSE[i + 1][0]}.ipynb)")
    return " · ".join(parts)


def contents() -> str:
    """The course map as a markdown table."""
    rows = [f"| {n[:2]} | [{title}]({n}.ipynb) | {what} |" for n, title, what in COURSE]
    return "\n".join(["| # | notebook | what you do |", "|---|---|---|", *rows])


@dataclass
class SetupReport:
    rows: list

    @property
    def ok(self) -> bool:
        return all(passed for _, passed, _ in self.rows)

    def text(self) -> str:
        return "\n".join(f"{'✓' if p else '✗'} {name}: {detail}" for name, p, detail in self.rows)

    def __repr__(self):
        return self.text()

    def _repr_html_(self):
        body = "".join(f"<tr><td>{'✓' if p else '✗'}</td><td>{escape(n)}</td><td>{escape(d)}</td></tr>"
                       for n, p, d in self.rows)
        return f"<table>{body}</table>"


def check_setup(lab) -> SetupReport:
    """What a workshop instructor asks first: right Python, libraries, a server that answers."""
    rows = [("Python 3.11 or newer", sys.version_info >= (3, 11), "yes" if sys.version_info >= (3, 11) else sys.version)]
    for package in ("requests-oauthlib", "oauthlib", "ipywidgets", "joserfc", "authlib"):
        try:
            rows.append((package, True, importlib.metadata.version(package)))
        except importlib.metadata.PackageNotFoundError:
            rows.append((package, False, "missing: run `make lab` (or pip install -r requirements.txt)"))
    metadata = lab.metadata
    rows.append(("Authorization server answers", metadata.get("issuer") == lab.issuer, lab.issuer))
    rows.append(("Endpoints advertised", "token_endpoint" in metadata,
                 f"{sum(k.endswith('_endpoint') for k in metadata)} endpoints in its metadata"))
    rows.append(("Virtual clock", True, lab.clock.isoformat()))
    return SetupReport(rows)
