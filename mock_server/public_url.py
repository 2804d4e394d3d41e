"""On a JupyterHub that does not announce its address: learning the public URL from the browser.

Behind jupyter-server-proxy only the learner's browser knows the address it uses: hubs without
``JUPYTERHUB_PUBLIC_URL`` (mybinder.org's among them) never tell the container. The server knows
the path, though: started for a Jupyter server at ``jupyter_prefix`` (``/user/<name>/``, from
``JUPYTERHUB_SERVICE_PREFIX``), its proxy serves it at ``{prefix}oauth``. The browser tells it the
rest — ``location.origin`` — in one POST through that proxy, with a one-time token:

- the first page the learner opens there (the *Fernhollow Accounts* launcher tile) is a short page
  whose script sends it and reloads: the tile works on the first click;
- ``oauth_lab.setup()`` in a notebook gets a token on loopback and has the notebook's output send it.

The server then announces ``settings.behind_jupyter(origin + prefix)``: issuer, pages and
redirects at ``…/oauth``, and the app's ``…/oauth-app/callback`` registered for the demo apps (the
loopback one stays). It learns once: an issuer must not change under clients that have read it.

Who can teach it: the POST carries the hub's Host, unknown until learned, so the Host check lets
that one request through and the token decides. A token comes from ``GET /_mock/public-url/token``
(loopback, our own name in Host, the owner key) or in the tile's page — which is served only to a
request from loopback carrying the proxy's ``X-Forwarded-Context`` for our path. A page on this
machine that points its own name at 127.0.0.1 (DNS rebinding) would have to guess the prefix
while nothing has been learned yet (RULES.md).
"""
from __future__ import annotations

import hmac
import re
import secrets

from flask import Blueprint, abort, jsonify, render_template, request

from .clients import ensure_demo_apps
from .errors import json_body
from .settings import APP_CALLBACK, PROXY_ENTRIES, behind_jupyter
from .state import current

blueprint = Blueprint("public_url", __name__, url_prefix="/_mock/public-url")
LEARNING = "/_mock/public-url"
LOOPBACK = ("127.0.0.1", "::1")
# What a browser's `location.origin` looks like (hosts are ASCII there, IDNs in punycode), and a
# hub's JUPYTERHUB_SERVICE_PREFIX: path segments of RFC 3986 pchars, one slash at each end.
ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::(\d{1,5}))?", re.I)
PREFIX = re.compile(r"/(?:[A-Za-z0-9._~!$&'()*+,;=:@%-]+/)*")


def unlearned() -> bool:
    return not current().settings.public_url


def through_our_jupyter_proxy() -> bool:
    """A request the learner's own Jupyter server forwarded to us (``{prefix}oauth``), while the
    public URL is still unknown."""
    prefix = current().settings.jupyter_prefix
    return bool(prefix and unlearned() and request.remote_addr in LOOPBACK
                and request.headers.get("X-Forwarded-Context") == f"{prefix}{PROXY_ENTRIES['server']}")


def may_carry_an_unknown_host() -> bool:
    """The requests the Host check lets through before the hub's name is known: the browser's
    learning POST (the token decides), and the page that makes it, through our own proxy."""
    if request.path == LEARNING and request.method == "POST":
        return unlearned()
    return request.path == "/" and request.method == "GET" and through_our_jupyter_proxy()


def issue_token() -> str:
    state = current()
    state.learning_token = secrets.token_urlsafe(32)  # never seeded: it must not be predictable
    return state.learning_token


def learning_page():
    """The launcher tile's first view: a page whose script tells us the browser's origin, then
    reloads to the real home page."""
    prefix = current().settings.jupyter_prefix
    return render_template("learning.html", prefix=prefix, token=issue_token(),
                           learn=f"{prefix}{PROXY_ENTRIES['server']}{LEARNING}")


@blueprint.before_request
def check_access():
    """The token goes to the owner's kernel; the POST comes through the proxy (so from loopback)
    and its token decides."""
    if request.method == "GET":
        return current().admin_access()
    if request.remote_addr not in LOOPBACK:
        abort(403, description="The public URL is learned only through this machine's proxy.")
    return None


@blueprint.get("/token")
def learning_token():
    """A one-time token for the learning POST, put into the script the browser runs."""
    if not unlearned():
        abort(409, description=f"The public URL is already set: {current().settings.public_url}.")
    return jsonify(token=issue_token())


@blueprint.post("")
def learn_public_url():
    """``{"origin": location.origin, "prefix": "<JUPYTERHUB_SERVICE_PREFIX>", "token": …}``.

    400 unless `origin` is an http(s) origin (scheme, host, port: nothing more) and `prefix` a
    path with a slash at each end; 409 once a public URL is set, configured or learned; 403
    without the latest one-time token. Answers the new issuer and redirect URIs."""
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
