"""The one setup call at the top of every notebook: find or start the server, deterministic mode.

    from oauth_lab import setup
    lab = setup()

``lab`` knows the server's URLs (from its metadata, as a real client would), its virtual clock and
its transcript — over HTTP, so it works the same whether this kernel started the server or found
one already running (``make server``, Binder's background server, another notebook). It also
runs your app's redirection endpoint (``lab.redirect_uri``), on the app's own origin.

On a JupyterHub that does not announce its public URL, it first learns from your browser the
address the server and the app are reached at (``oauth_lab.hub``): up to 3 s, once per server.

In a workshop, one setting points every notebook at the class server instead — the
``MOCK_CLASS_SERVER`` and ``MOCK_CLASS_CODE`` environment variables (``MOCK_LEARNER_NAME``
optional), or ``setup(class_server=..., class_code=..., name=...)``: the first notebook joins the
class and gets a server of your own there (your issuer and learner key, kept in
``~/.oauth-lab/classes.json`` so every notebook finds the same one); everything else stays the
same. ``MOCK_SERVER_URL`` + ``MOCK_LEARNER_KEY`` name an issuer and key you already have.
"""
from __future__ import annotations

import getpass
import html
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

from mock_server.tokens import api_audience

from . import hub
from .failures import show_oauth_errors
from .redirection_endpoint import APP_PORT, RedirectionEndpoint
from .server_link import OwnerIntrospection, RemoteClock, RemoteTranscript
from .user_agent import under

DEFAULT_PORT = 5001  # binder/start and the proxy entry read MOCK_SERVER_PORT with the same default
CLASSES = Path.home() / ".oauth-lab" / "classes.json"  # the worlds this user joined, per class server
_current: "Lab | None" = None


@dataclass
class Lab:
    url: str  # back channel: what this kernel's HTTP calls use
    metadata: dict
    clock: RemoteClock
    transcript: RemoteTranscript
    introspect_as_owner: OwnerIntrospection  # the exercise checks' view of any token
    app: RedirectionEndpoint  # your app's redirect URI, served by this kernel (or another one)
    handle: object = None  # the in-process server, when this kernel started it
    # Your world on a class server: another machine's, which fetches nothing from yours (such as
    # your app's metadata document, notebook 16: RULES.md, "Client ID Metadata Documents").
    on_class_server: bool = False

    @property
    def issuer(self) -> str:
        return self.metadata["issuer"]

    @property
    def port(self) -> int:
        """The server's port; a notebook's extra servers take fixed offsets from it."""
        return urlsplit(self.url).port

    def endpoint(self, name: str) -> str:
        """A back-channel URL for a metadata endpoint, e.g. ``lab.endpoint("token")``."""
        return self.back_channel(self.metadata[f"{name}_endpoint"])

    def back_channel(self, url: str) -> str:
        """Where this kernel reaches a URL the server announces. The same URL on a laptop; behind
        a proxy (Binder) the server announces its public address, which only the browser uses."""
        rest = under(url, self.issuer)
        return url if rest is None else self.url + rest

    @property
    def api_audience(self) -> str:
        """The API's own name, as the `aud` of the access tokens meant for it (RFC 9068 §3)."""
        return api_audience(self.issuer)

    @property
    def redirect_uri(self) -> str:
        """Your app's redirect URI, registered for the demo apps: a page your app serves."""
        return self.app.redirect_uri

    def reach(self) -> dict[str, str]:
        """Browser-facing origins → where this kernel reaches them (they differ behind a proxy)."""
        return {self.issuer: self.url, self.app.public_url: self.app.url}

    def page(self, path: str, title: str) -> "Link":
        """A link to one of the server's pages, at the address *your browser* uses."""
        return Link(title, f"{self.issuer}/{path.lstrip('/')}")

    def api(self, action: str) -> str:
        return f"{self.url}/v3.5/agent/action/{action}"

    def __repr__(self):  # where it runs, and whose, setup() has said
        return (f"Lab(authorization server {self.issuer}; your app at {self.app.public_url}; "
                f"virtual time {self.clock.isoformat()})")


@dataclass(frozen=True)
class Link:
    title: str
    url: str

    def __repr__(self):
        return f"{self.title}: {self.url}"

    def _repr_html_(self):
        return (f"<a href='{html.escape(self.url)}' target='_blank'>{html.escape(self.title)}</a> "
                f"<code>{html.escape(self.url)}</code>")


def setup(seed: int | None = 1, port: int | None = None, make_current: bool = True,
          profile: str | None = None, class_server: str | None = None, class_code: str | None = None,
          name: str | None = None, **switches) -> Lab:
    """Find the server on `port`, or start one in this kernel (deterministic with `seed`).

    A deterministic server found running (Binder's, ``make server ARGS="--seed 1"``, this
    kernel's from an earlier Run All, another notebook's) starts its world over for this notebook,
    so Restart & Run All gives the outputs the text shows — and a notebook that ran before sees,
    from its clock and transcript calls, that the world is no longer its own. A server of another
    user's (no card for it here: ``mock_server.owner``) is refused, never joined.

    ``switches`` are the server's teaching switches (``require_pkce=False``...): a second,
    weakened server beside the default one is ``setup(port=5002, make_current=False,
    require_pkce=False)``. ``profile="livechat"`` makes it behave as LiveChat's docs describe.
    A server found running must have exactly these switches and this profile.

    With a class server (``class_server``, or the environment: see the module's docstring), the
    lab is your world on it; a `port`, a profile or switches still mean a server of your own here."""
    proxied = int(os.environ.get("MOCK_SERVER_PORT", DEFAULT_PORT))  # the one a hub's proxy serves
    # requests-oauthlib refuses plain http unless told: fine on loopback, never anywhere else.
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    show_oauth_errors()  # an uncaught OAuth error (a Deny in your browser) shows as a Failure, not a traceback
    app = RedirectionEndpoint(int(os.environ.get("MOCK_APP_PORT", APP_PORT)),
                              os.environ.get("MOCK_APP_PUBLIC_URL"))
    class_server = class_server or os.environ.get("MOCK_CLASS_SERVER")
    if port is None and profile is None and not switches and (class_server or os.environ.get("MOCK_LEARNER_KEY")):
        lab = _class_lab(app, class_server, class_code, name)
        print(f"Fernhollow Accounts: your own world on the class server, {lab.issuer}.")
        return _remember(lab, make_current)
    port = port or proxied
    url = f"http://127.0.0.1:{port}"
    prefix = hub.hub_prefix() if port == proxied else None  # only the proxied one has a public URL
    if _answers(url):
        handle, key = running_here(port), _owner_key(url)
        _check_switches(port, hub.metadata_of(url), switches, profile)
        world = _join(url, key, start_over=seed is not None)
    else:
        import mock_server

        redirect_uris = dict.fromkeys((mock_server.settings.APP_REDIRECT_URI, app.redirect_uri))
        handle = mock_server.start(port=port, seed=seed, app_redirect_uris=tuple(redirect_uris),
                                   profile=profile, jupyter_prefix=prefix, **switches)
        key, world = handle.owner_key, _run_of(url, handle.owner_key)
    if make_current and world["seed"] is not None and seed is not None:
        seed_client_randomness(seed)  # a fresh world: the client starts its sequence again too
    metadata = hub.metadata_of(url)
    if prefix:
        metadata = _browser_facing(url, key, metadata, app, prefix)
    lab = Lab(url, metadata, RemoteClock(url, key, world["run"]),
              RemoteTranscript(url, key, world["run"], metadata["issuer"]),
              OwnerIntrospection(url, key, world["run"]), app, handle)
    if make_current or world["joined"]:
        print(_whose(lab, world))
    return _remember(lab, make_current)


def running_here(port: int):
    """The handle of the server this process runs on `port`, if it is one of ours."""
    from mock_server.runner import running_here as running

    return running("127.0.0.1", port)


def _owner_key(url: str) -> str:
    """The owner key on this user's card for the server at `url` (mock_server.owner): a server with
    no card here is another user's, or one whose owner has no card to show — not this notebook's."""
    from mock_server.owner import card_path, read_card

    card = read_card(url)
    if card is None or requests.get(f"{url}/_mock/run", timeout=5, headers=_bearer(card["key"])).status_code != 200:
        raise RuntimeError(
            f"A server answers at {url}, but it is not yours: this user has no card for it "
            f"({card_path(url)}). It may be another user's on this machine; its flows and its "
            f"transcript are not yours to use. Use another port — setup(port=...) or "
            f"MOCK_SERVER_PORT — or stop that server.")
    return card["key"]


def _bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _run_of(url: str, key: str) -> dict:
    run = requests.get(f"{url}/_mock/run", headers=_bearer(key), timeout=5).json()
    return {**run, "joined": False, "started_over": False}


def _join(url: str, key: str, start_over: bool) -> dict:
    """Join a server this kernel did not just start: a deterministic one starts its world over."""
    run = _run_of(url, key)
    if start_over and run["seed"] is not None:
        answer = requests.post(f"{url}/_mock/start-over", headers=_bearer(key), timeout=10)
        answer.raise_for_status()
        run.update(answer.json(), started_over=True)
    return {**run, "joined": True}


def _whose(lab: Lab, world: dict) -> str:
    """One line: where the server runs, and what this notebook made of its world."""
    if not world["joined"]:
        seeded = f" — deterministic (seed {world['seed']})" if world["seed"] is not None else ""
        return f"Fernhollow Accounts: started in this kernel at {lab.issuer}{seeded}."
    where = (f"this kernel's server at {lab.issuer}" if lab.handle else
             f"joined the server already running at {lab.issuer} (started by {world['started_by']})")
    if world["started_over"]:
        return (f"Fernhollow Accounts: {where}; its world started over for this notebook: seed "
                f"{world['seed']}, clock at {lab.clock.isoformat()}, only the demo users and apps.")
    return f"Fernhollow Accounts: {where}. It is not deterministic: codes, tokens and times differ from the text's."


def _remember(lab: Lab, make_current: bool) -> Lab:
    if make_current:
        global _current
        _current = lab
    return lab


def _class_lab(app: RedirectionEndpoint, class_server: str | None, class_code: str | None,
               name: str | None) -> Lab:
    """Your world on a class server: the issuer and key in the environment, the one this user
    joined before (CLASSES), or a new one (POST /workshop/join with the class code)."""
    issuer, key = os.environ.get("MOCK_SERVER_URL"), os.environ.get("MOCK_LEARNER_KEY")
    if not (issuer and key):
        name = name or os.environ.get("MOCK_LEARNER_NAME") or getpass.getuser()
        issuer, key = _joined(class_server, name) or join_class(
            class_server, class_code or os.environ.get("MOCK_CLASS_CODE", ""), name, app.redirect_uri)
    return Lab(issuer, hub.metadata_of(issuer), RemoteClock(issuer, key),
               RemoteTranscript(issuer, key, server=issuer), OwnerIntrospection(issuer, key), app,
               on_class_server=True)


def join_class(class_server: str, class_code: str, name: str, redirect_uri: str) -> tuple[str, str]:
    """Join the class: a server of your own on the class server. Returns (issuer, learner key)."""
    answer = requests.post(f"{class_server.rstrip('/')}/workshop/join", timeout=30, json={
        "class_code": class_code, "name": name, "redirect_uris": [redirect_uri]})
    if answer.status_code != 201:
        raise RuntimeError(f"Could not join the class at {class_server}: "
                           f"{answer.json().get('error_description', answer.text)}")
    joined = answer.json()
    known = json.loads(CLASSES.read_text()) if CLASSES.exists() else {}
    known[f"{class_server} {name}"] = [joined["issuer"], joined["learner_key"]]
    CLASSES.parent.mkdir(parents=True, exist_ok=True)
    CLASSES.write_text(json.dumps(known, indent=1))
    CLASSES.chmod(0o600)  # the learner key opens your transcript, secrets included
    return joined["issuer"], joined["learner_key"]


def _joined(class_server: str, name: str) -> tuple[str, str] | None:
    """The world this user joined before on this class server, if it still answers."""
    known = json.loads(CLASSES.read_text()) if CLASSES.exists() else {}
    issuer, key = known.get(f"{class_server} {name}", (None, None))
    if issuer and _answers(issuer):
        return issuer, key
    return None


def _check_switches(port: int, metadata: dict, switches: dict, profile: str | None) -> None:
    """A server found running (another notebook's, `make server`) must be the one asked for: a
    weakened server, or LiveChat's profile, mistaken for the default one would teach the wrong
    lesson."""
    from mock_server.metadata import authorization_server_metadata_for
    from mock_server.runner import settings_from

    expected = authorization_server_metadata_for(settings_from(**switches))  # as that server says
    wanted = expected.get("mock_server_teaching_switches", {})
    running = metadata.get("mock_server_teaching_switches", {})
    # Stricter policies are no switches, but a server without them would not show their lesson.
    policies = {name: expected.get(name, False)
                for name in ("require_pushed_authorization_requests", "mock_server_requires_dpop_nonce")}
    found = {name: metadata.get(name, False) for name in policies}
    if found != policies:
        raise RuntimeError(
            f"The server already running on port {port} has {found}, not {policies}: another notebook "
            f"(or `make server`) started it. Restart that notebook's kernel, or use another port.")
    if running != wanted:
        raise RuntimeError(
            f"The server already running on port {port} has teaching switches {running or 'off'}, "
            f"not {wanted or 'off'}: another notebook (or `make server`) started it. Restart that "
            f"notebook's kernel, or use another port.")
    if metadata.get("mock_server_profile") != profile:
        raise RuntimeError(
            f"The server already running on port {port} has the profile "
            f"{metadata.get('mock_server_profile') or 'none (the standards)'}, not {profile or 'none'}: "
            f"another notebook (or `make server`) started it. Restart that notebook's kernel, or "
            f"use another port.")


def _browser_facing(url: str, key: str, metadata: dict, app: RedirectionEndpoint, prefix: str) -> dict:
    """Under a hub prefix: the server's metadata once it knows its public URL (learned from the
    browser if nobody announced it), and the app's public URL beside it unless announced."""
    if hub.unannounced(metadata, url) and hub.in_a_kernel():
        metadata = hub.learn_public_url(url, key, prefix)
    if not os.environ.get("MOCK_APP_PUBLIC_URL"):
        app.public_url = hub.app_public_url(metadata["issuer"], prefix) or app.public_url
    return metadata


def current_lab() -> Lab:
    """The lab of this kernel's last ``setup()`` (exercise checks talk to the same server)."""
    if _current is None:
        raise RuntimeError("Run the setup cell first: lab = setup()")
    return _current


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=2).ok
    except requests.ConnectionError:
        return False


def seed_client_randomness(seed: int) -> None:
    """Make the client library's random values (`state`, PKCE `code_verifier`, a `nonce`) reproducible.

    oauthlib draws them from ``SystemRandom``, as it must. For notebook outputs that are identical
    on every run, deterministic mode swaps in a seeded generator — a teaching trick: never do this
    in an application. ``setup()`` seeds it each time the notebook's server starts its world over
    (which also forgets every ``nonce`` it saw, so a repeated one is no replay); a second server
    beside it (``make_current=False``) continues the sequence, as in a fresh kernel.
    """
    import oauthlib.common

    seeded = random.Random(seed)
    oauthlib.common.SystemRandom = lambda: seeded
