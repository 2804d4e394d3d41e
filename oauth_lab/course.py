"""The course itself: its notebooks in order, what each covers, the strips and lines that frame them.

``scripts/run_notebooks.py`` writes each notebook's first and last cells from here (navigation,
expected time, the "where we are" strip), and ``tests/test_notebook_files.py`` checks they match —
so the course map lives in one place.
"""
from __future__ import annotations

import importlib.metadata
import sys
from dataclasses import dataclass
from pathlib import Path

from . import pace
from .widgets.base import escape

# The journey of each flow, as the "where we are" strip shows it. The authorization code flow;
# "or: client credentials" is the other way to a token there: the app alone, no user (notebook 08).
# The device flow (RFC 8628): its user decides on another device while the app polls (notebook 09).
STEPS = ("register the app", "authorization request", "sign-in & consent", "code → tokens",
         "or: client credentials", "call the API", "expiry & refresh", "revocation")
DEVICE_STEPS = ("register the app", "device & user codes", "user decides on another device",
                "polling → tokens", "call the API", "expiry & refresh", "revocation")
FLOWS = {"code": ("", STEPS), "device": (" (device flow)", DEVICE_STEPS)}


NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@dataclass(frozen=True)
class Notebook:
    name: str
    title: str
    what: str  # one line for the course table
    steps: tuple[str, ...] = ()  # the steps of its flow this notebook is about; () = the whole journey
    flow: str = "code"  # a key of FLOWS

    @property
    def minutes(self) -> int:
        """A learner's expected time, computed from what the notebook holds (oauth_lab.pace)."""
        return pace.notebook_minutes(NOTEBOOKS / f"{self.name}.ipynb")


COURSE = (
    Notebook("00-start-here", "Start here", "the house, the four roles, your setup"),
    Notebook("01-why-not-share-your-password", "Why not share your password?",
             "the anti-pattern, run for real"),
    Notebook("02-register-your-app", "Register your app", "client id, secret, redirect URIs, scopes",
             ("register the app",)),
    Notebook("03-the-authorization-request", "The authorization request",
             "scopes, state, PKCE, consent, the code", ("authorization request", "sign-in & consent")),
    Notebook("04-the-token-exchange", "The token exchange",
             "code → tokens on the back channel; what the API checks", ("code → tokens",)),
    Notebook("05-calling-the-api", "Calling the API", "bearer tokens, 401 and 403", ("call the API",)),
    Notebook("06-expiry-and-refresh", "Expiry and refresh", "the clock, refresh, rotation",
             ("expiry & refresh",)),
    Notebook("07-pkce-and-public-clients", "PKCE and public clients",
             "a stolen code with and without PKCE; S256 step by step; downgrades refused",
             ("authorization request", "code → tokens")),
    Notebook("08-machine-to-machine-client-credentials", "Machine to machine: client credentials",
             "no user, no consent: the app's own token, and what it may reach",
             ("or: client credentials", "call the API")),
    Notebook("09-devices-without-a-browser-device-flow", "Devices without a browser",
             "the device flow: a code on the TV, Allow on your phone, polling",
             ("device & user codes", "user decides on another device", "polling → tokens"), "device"),
    Notebook("10-ending-access-revocation-and-introspection", "Ending access: revocation and introspection",
             "disconnect an app; local JWT checks vs introspection", ("revocation",)),
    Notebook("11-openid-connect-who-is-the-user", "OpenID Connect: who is the user?",
             "ID tokens, nonce, userinfo, discovery; log in with Fernhollow",
             ("authorization request", "code → tokens")),
    Notebook("12-security-lab", "Security lab",
             "nine attacks run for real on a weakened server, then stopped by the default one"),
    Notebook("13-livechat-in-practice", "LiveChat in practice",
             "the same client code against LiveChat's rules: what differs, what breaks, what to change",
             ("authorization request", "code → tokens", "expiry & refresh", "revocation")),
    Notebook("14-capstone", "Capstone: your app, end to end",
             "register, authorize with PKCE, call, refresh, revoke: graded from the server's record",
             tuple(step for step in STEPS if step != "or: client credentials")),
    Notebook("15-tokens-that-only-work-for-you-dpop-and-par", "Tokens that only work for you: DPoP and PAR",
             "a stolen token refused without its key; proofs, nonces; the request pushed off the URL",
             ("authorization request", "code → tokens", "call the API")),
    Notebook("16-an-api-that-tells-you-where-to-sign-in", "An API that tells you where to sign in",
             "from an API's URL alone: its metadata, its server, a client known by its own document, a "
             "token for that API only — the way MCP clients connect",
             ("register the app", "authorization request", "code → tokens", "call the API")),
)
BY_NAME = {notebook.name: notebook for notebook in COURSE}


def navigation(name: str) -> str:
    """The previous · contents · next line for a notebook (markdown)."""
    names = [n.name for n in COURSE]
    i = names.index(name)
    parts = []
    if i > 0:
        parts.append(f"[← {COURSE[i - 1].title}]({COURSE[i - 1].name}.ipynb)")
    parts.append("[Contents](index.ipynb)")
    if i + 1 < len(COURSE):
        parts.append(f"[{COURSE[i + 1].title} →]({COURSE[i + 1].name}.ipynb)")
    return " · ".join(parts)


def where_we_are(name: str) -> str:
    """The notebook's flow as one line, this notebook's part in bold (markdown)."""
    notebook = BY_NAME[name]
    which, steps = FLOWS[notebook.flow]
    if not notebook.steps:
        return f"**Where we are{which}:** " + " → ".join(steps) + " — *the whole journey, seen from above*"
    return f"**Where we are{which}:** " + " → ".join(f"**▶ {s}**" if s in notebook.steps else s for s in steps)


def header(name: str) -> str:
    """The first cell of a notebook: navigation, title, expected time, the strip (markdown)."""
    notebook = BY_NAME[name]
    return (f"{navigation(name)}\n\n# {name[:2]} · {notebook.title}\n\n"
            f"*About {notebook.minutes} minutes.*  \n{where_we_are(name)}")


def footer(name: str) -> str:
    return f"---\n{navigation(name)}"


def contents(folder: str = "") -> str:
    """The course map as a markdown table; `folder` is where the notebooks are, seen from the
    page it goes in ("notebooks/" from the README)."""
    rows = [f"| {n.name[:2]} | [{n.title}]({folder}{n.name}.ipynb) | {n.what} | {n.minutes} min |"
            for n in COURSE]
    return "\n".join(["| # | notebook | what you do | time |", "|---|---|---|---|", *rows])


def index() -> str:
    """The contents notebook's one cell (markdown)."""
    return ("# OAuth 2.0, hands-on — contents\n\n"
            "Learn OAuth 2.0 by running it: every notebook talks to a real (mock) authorization server "
            "and API, shows every HTTP message, and ends with an exercise that checks itself.\n\n"
            f"{contents()}\n\n"
            f"Start with [00 · Start here]({COURSE[0].name}.ipynb). Solutions to the exercises are in "
            "[`solutions/`](solutions/) — load one into a cell with `%load solutions/<file>.py`.")


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
    rows.append(("Your app's redirect URI answers", lab.app.received() is not None, lab.redirect_uri))
    rows.append(("Virtual clock", True, lab.clock.isoformat()))
    return SetupReport(rows)


# A workshop's 90 minutes: from "why not share your password" to a working token — PKCE, refreshed,
# revoked — by the sections that carry the main line; the rest of each notebook stays for later.
# (notebook, the sections to do: "(opening)" is what comes before the first heading)
WORKSHOP_TRACK = (
    ("00-start-here", ("(opening)", "Setup", "The house", "The four roles", "Recap")),
    ("01-why-not-share-your-password", ("(opening)", "The house key: the app keeps Jane's password",
                                        "The access code: Jane's own browser, one zone", "Recap")),
    ("02-register-your-app", ("(opening)", "What you register, and what is secret", "The Developer Console",
                              "Recap")),
    ("03-the-authorization-request", ("(opening)", "Scopes: the zones, in LiveChat's grammar",
                                      "The request, parameter by parameter", "PKCE, in one paragraph",
                                      "Jane decides", "Exercise", "Recap")),
    ("04-the-token-exchange", ("(opening)", "Two channels", "The exchange", "The API's view of the access token",
                               "Recap")),
    ("05-calling-the-api", ("(opening)", "Which scope opens which call", "The bearer token in the header",
                            "How the API decides", "Recap")),
    ("06-expiry-and-refresh", ("(opening)", "The clock", "Refresh in your own app", "Recap")),
    ("10-ending-access-revocation-and-introspection", ("(opening)", "Disconnect: revoke the refresh token",
                                                       "Recap")),
)


def workshop_track() -> str:
    """The 90-minute track as a markdown table: what to do in each notebook, what to leave for
    later, and its minutes (oauth_lab.pace, section by section)."""
    rows, total = [], 0.0
    for name, kept in WORKSHOP_TRACK:
        sections = dict(pace.sections(NOTEBOOKS / f"{name}.ipynb"))
        missing = set(kept) - sections.keys()
        if missing:
            raise KeyError(f"{name} has no section {sorted(missing)}: update WORKSHOP_TRACK")
        minutes = sum(sections[title] for title in kept)
        total += minutes
        do = " · ".join(title for title in sections if title in kept and title not in ("(opening)", "Recap"))
        skip = " · ".join(title for title in sections if title not in kept) or "—"
        rows.append(f"| {name[:2]} · {BY_NAME[name].title} | {do} | {skip} | {round(minutes)} min |")
    return "\n".join(["| notebook | do (with its opening and recap) | leave for later | time |",
                      "|---|---|---|---|", *rows, f"| | | **in all** | **{round(total)} min** |"])
