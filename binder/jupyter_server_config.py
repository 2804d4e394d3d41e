"""Jupyter server config for Binder: the mock server, reachable from the learner's browser.

postBuild appends this file to the user's ``jupyter_server_config.py``; tests/browser/test_proxy.py
loads the same file. The mock server (started by binder/start) listens on 127.0.0.1 only; this entry
makes jupyter-server-proxy serve it at ``{base_url}oauth/`` with a "Fernhollow Accounts" launcher tile.

- ``command: []``: binder/start already runs the server; the proxy only forwards.
- ``absolute_url: False``: the proxy strips ``{base_url}oauth`` before forwarding. The server builds
  every browser-facing link and redirect as an absolute URL from its ``--public-url``, which the
  proxy never rewrites (it would double the prefix of a root-relative ``Location``).
- The port: ``MOCK_SERVER_PORT``, default 5001 — the same default as binder/start,
  ``python -m mock_server`` and ``oauth_lab.setup()``.
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
}
