"""Jupyter server config for Binder: the mock server and the app, reachable from the learner's browser.

postBuild appends this file to the user's ``jupyter_server_config.py``; tests/browser/test_proxy.py
loads the same file. The mock server (started by binder/start) and the app's redirection endpoint
(served by the notebook's kernel) listen on 127.0.0.1 only; these entries make jupyter-server-proxy
serve them at ``{base_url}oauth/`` (with a "Fernhollow Accounts" launcher tile) and
``{base_url}oauth-app/`` — the names in ``mock_server.settings.PROXY_ENTRIES``.

- A named entry for the app too, rather than the generic ``{base_url}proxy/8765/``: the redirect URI
  is the string learners read, register and compare byte for byte (``…/user/<name>/oauth-app/callback``
  says whose page it is), it stays the same whatever the port, and both addresses follow one rule,
  ``{Jupyter's public URL}{name}`` (``mock_server.settings.behind_jupyter``, and binder/start).
- ``command: []``: binder/start already runs the server, the kernel serves the app; the proxy only
  forwards.
- ``absolute_url: False``: the proxy strips ``{base_url}<name>`` before forwarding. The server builds
  every browser-facing link and redirect as an absolute URL from its public URL, which the proxy
  never rewrites (it would double the prefix of a root-relative ``Location``). The app never
  redirects.
- The ports: ``MOCK_SERVER_PORT`` (default 5001) and ``MOCK_APP_PORT`` (default 8765) — the same
  defaults as binder/start, ``python -m mock_server`` and ``oauth_lab.setup()``.
"""
import os

c = get_config()  # noqa: F821 (provided by the config loader)

c.ServerProxy.servers = {
    "oauth": {
        "port": int(os.environ.get("MOCK_SERVER_PORT", "5001")),
        "command": [],
        "absolute_url": False,
        "launcher_entry": {
            "enabled": True,
            "title": "Fernhollow Accounts",
            "path_info": "oauth/",
        },
        "new_browser_tab": True,
    },
    "oauth-app": {
        "port": int(os.environ.get("MOCK_APP_PORT", "8765")),
        "command": [],
        "absolute_url": False,
        # Nothing to open: the app's only page is its redirect URI, which the server sends you to.
        "launcher_entry": {"enabled": False},
    },
}
