"""Loopback-only admin routes: the virtual clock, the transcript, and learning the public URL.

For a notebook attached to a server it did not start (another process, Binder's background
server). Refused to anyone not on this machine: on a shared class server, students must not move
the instructor's clock or read everyone's secrets from the transcript.
"""
from __future__ import annotations

import hmac
import re
import secrets

from flask import Blueprint, abort, jsonify, request

from .clients import ensure_demo_apps
from .errors import json_body
from .settings import APP_CALLBACK, behind_jupyter
from .state import current
from .transcript import FOLLOWED, message_number

blueprint = Blueprint("admin", __name__, url_prefix="/_mock")


@blueprint.before_request
def check_access():
    return current().admin_access()


def loopback_only():
    """Who may use the admin routes of a learner's own server: callers on this machine."""
    if request.remote_addr not in ("127.0.0.1", "::1"):
        abort(403, description="The admin routes answer only on loopback.")


@blueprint.get("/clock")
def clock():
    return jsonify(current().clock.state())


@blueprint.post("/clock")
def move_clock():
    body = json_body()
    seconds = body.get("advance") if isinstance(body, dict) else None
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= 10**9:
        abort(400, description='Send {"advance": <seconds, 0 to 1e9>}.')
    try:
        current().clock.advance(seconds)
    except ValueError as too_far:  # past what a date can hold (clock.MOST_AHEAD)
        abort(400, description=str(too_far))
    return jsonify(current().clock.state())


@blueprint.get("/transcript")
def transcript():
    since = message_number(request.args.get("since", "0"))
    if since is None:
        abort(400, description="'since' must be a message number (0 to 2**63 - 1).")
    transcript, flow = current().transcript, request.args.get("flow", "")
    if flow:
        name, _, value = flow.partition(":")
        if name not in FOLLOWED:
            abort(400, description=f"'flow' starts from one of {', '.join(FOLLOWED)}: e.g. state:xyz.")
        messages = transcript.flow(since, **{name: value})
    else:
        messages = transcript.messages(since, request.args.get("key"))
    return jsonify(messages=[m.to_dict() for m in messages], last_seq=transcript.last_seq())


@blueprint.delete("/transcript")
def clear_transcript():
    current().transcript.clear()
    return jsonify(cleared=True)


# What a browser's `location.origin` looks like (hosts are ASCII there, IDNs in punycode), and a
# hub's JUPYTERHUB_SERVICE_PREFIX: path segments of RFC 3986 pchars, one slash at each end.
ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::(\d{1,5}))?", re.I)
PREFIX = re.compile(r"/(?:[A-Za-z0-9._~!$&'()*+,;=:@%-]+/)*")


LEARNING = "/_mock/public-url"


def learning_request() -> bool:
    """The browser's one POST that teaches the server its public URL. It comes through the proxy
    with the hub's Host, which the Host check cannot know yet: it lets this one request through,
    and the one-time token below decides (a rebinding page cannot get the token: fetching it is
    Host-checked)."""
    return request.path == LEARNING and request.method == "POST" and not current().settings.public_url


@blueprint.get("/public-url/token")
def learning_token():
    """A one-time token for the learning POST; only a caller on loopback with one of our own names
    in Host (the notebook's kernel) gets it, and puts it into the script the browser runs."""
    state = current()
    if state.settings.public_url:
        abort(409, description=f"The public URL is already set: {state.settings.public_url}.")
    state.learning_token = secrets.token_urlsafe(32)  # never seeded: it must not be predictable
    return jsonify(token=state.learning_token)


@blueprint.post("/public-url")
def learn_public_url():
    """Learn the browser-facing URL, once, on a hub that does not announce it.

    Behind jupyter-server-proxy only the learner's browser knows the address it uses (hubs
    without ``JUPYTERHUB_PUBLIC_URL`` never tell the container). ``oauth_lab.setup()`` has the
    browser POST ``{"origin": location.origin, "prefix": "<JUPYTERHUB_SERVICE_PREFIX>"}`` here,
    through the proxy — so from loopback. The server then announces
    ``settings.behind_jupyter(origin + prefix)``: issuer, pages and redirects at ``…/oauth``, and
    the app's ``…/oauth-app/callback`` registered for the demo apps (the loopback one stays).

    400 unless `origin` is an http(s) origin (scheme, host, port: nothing more) and `prefix` a
    path with a slash at each end; 409 once a public URL is set, configured or learned: an issuer
    must not change under clients that have read it; 403 without the one-time token of
    ``GET /_mock/public-url/token``. Answers the new issuer and redirect URIs.
    """
    body = json_body()
    jupyter_url = _jupyter_url(body) if isinstance(body, dict) else None
    if jupyter_url is None:
        abort(400, description='Send {"origin": "https://<hub host>", "prefix": "/user/<name>/", '
                               '"token": "<from GET /_mock/public-url/token>"}.')
    state = current()
    if state.settings.public_url:
        abort(409, description=f"The public URL is already set: {state.settings.public_url}.")
    sent, expected = body.get("token"), state.learning_token
    if not (isinstance(sent, str) and expected and hmac.compare_digest(sent.encode(), expected.encode())):
        abort(403, description="Send the one-time token from GET /_mock/public-url/token.")
    state.learning_token = None
    public_url, app_url = behind_jupyter(jupyter_url)
    redirect_uris = dict.fromkeys((*state.settings.app_redirect_uris, app_url + APP_CALLBACK))
    # Views read current().settings on every request: the new URL holds from the next one on.
    state.settings = state.settings.replace(public_url=public_url, app_redirect_uris=tuple(redirect_uris))
    ensure_demo_apps(state.db, state.settings)
    return jsonify(issuer=state.settings.issuer, app_redirect_uris=list(redirect_uris))


def _jupyter_url(body: dict) -> str | None:
    """origin + prefix, when both look like what a browser and a hub send; otherwise None."""
    origin, prefix = body.get("origin"), body.get("prefix")
    if not (isinstance(origin, str) and isinstance(prefix, str)):
        return None
    found = ORIGIN.fullmatch(origin)
    if not found or int(found[1] or 0) > 65535:
        return None
    if not PREFIX.fullmatch(prefix) or {".", ".."} & set(prefix.split("/")):
        return None
    return origin + prefix
