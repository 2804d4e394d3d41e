"""On a JupyterHub (Binder): the addresses your browser uses, learned from your browser.

Inside the container the server and your app listen on 127.0.0.1, which your browser cannot reach;
jupyter-server-proxy serves them at ``{Jupyter's public URL}oauth`` and ``…oauth-app``. The kernel
knows the path (``JUPYTERHUB_SERVICE_PREFIX``) but not always the host: many hubs never set
``JUPYTERHUB_PUBLIC_URL``. Your browser knows it — so ``setup()`` shows a one-line script that
sends ``location.origin`` through the proxy to the server, which then announces its public URL
(``mock_server/public_url.py``, ``POST /_mock/public-url``; the server's launcher tile does the
same on its first view). Headless runs (nbval, CI) have no hub prefix: nothing is shown, nothing
waited for.
"""
from __future__ import annotations

import json
import os
import time
from urllib.parse import urlsplit

import requests

LEARN_TIMEOUT = 3.0  # seconds setup() waits for the browser; it goes on either way


def hub_prefix() -> str | None:
    """This Jupyter server's path on the hub (``/user/<name>/``), with a slash at each end."""
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    return "/".join(("", *filter(None, prefix.split("/")), "")) if prefix else None


def metadata_of(url: str) -> dict:
    return requests.get(f"{url}/.well-known/oauth-authorization-server", timeout=5).json()


def unannounced(metadata: dict, url: str) -> bool:
    """Does the server still name itself by its back-channel `url` (no public URL known)?"""
    return metadata["issuer"] == url


def learn_public_url(url: str, key: str, prefix: str, timeout: float = LEARN_TIMEOUT) -> dict:
    """Have the learner's browser tell the server (back channel `url`, owner `key`) its origin;
    wait up to `timeout` seconds for the server to announce it. Returns the metadata, learned or not."""
    from IPython.display import display

    token = requests.get(f"{url}/_mock/public-url/token", timeout=5,
                         headers={"Authorization": f"Bearer {key}"}).json()["token"]
    display({"application/javascript": _script(prefix, token),
             "text/plain": "(asking your browser for the address it reaches this hub at)"}, raw=True)
    deadline = time.monotonic() + timeout
    while unannounced(metadata := metadata_of(url), url) and time.monotonic() < deadline:
        time.sleep(0.1)
    if unannounced(metadata, url):
        print(f"Your browser did not tell the server its address within {timeout:.0f} s: links to the "
              "server's pages point at 127.0.0.1, which it cannot reach. The panels in the notebook "
              "work; run setup() again to retry.")
    return metadata


def _script(prefix: str, token: str) -> str:
    """The browser's side: POST its origin to the server, through the proxy (same origin, the
    Jupyter session cookie authenticates it), with the one-time token only this kernel could get;
    the answer is the server's business."""
    from mock_server.settings import behind_jupyter  # here: Flask and Authlib load only if used

    server_path = urlsplit(behind_jupyter(prefix)[0]).path
    body = (f"JSON.stringify({{origin: location.origin, prefix: {json.dumps(prefix)}, "
            f"token: {json.dumps(token)}}})")
    return (f"fetch({json.dumps(server_path + '/_mock/public-url')}, {{method: 'POST', "
            f"headers: {{'Content-Type': 'application/json'}}, body: {body}}});")


def app_public_url(issuer: str, prefix: str) -> str | None:
    """The app's public URL, when the server sits where ``behind_jupyter`` puts it (the app is
    then beside it, under the same Jupyter server); None otherwise."""
    from mock_server.settings import behind_jupyter

    origin = "{0.scheme}://{0.netloc}".format(urlsplit(issuer))
    server_url, app_url = behind_jupyter(origin + prefix)
    return app_url if server_url == issuer else None


def in_a_kernel() -> bool:
    """A Jupyter kernel, whose outputs a front end renders (a script has none to run ours)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None
