"""A JupyterHub set up as mybinder.org serves a learner: tests/browser/test_real_hub.py starts it.

What Binder does and this hub does too: a public https address with a path prefix per user
(``/user/<name>/``), JupyterHub's own proxy (npm configurable-http-proxy) in front, the single-user
server started through the repository's ``binder/start`` (the mock server in the background, then
``exec jupyterhub-singleuser``), and **no public URL announced** (no ``JupyterHub.public_url``, so
the single-user server's ``JUPYTERHUB_PUBLIC_URL`` is empty).

What differs, for a test: one local user (DummyAuthenticator, SimpleLocalProcessSpawner) whose home
holds a copy of notebooks/; every directory in the test's temporary folder; free ports, handed in
through the environment (HUB_TEST_*), also for the mock server and the app (MOCK_SERVER_PORT,
MOCK_APP_PORT: `make test` runs the notebooks on the default ports beside this test).
"""
import os

c = get_config()  # noqa: F821 (provided by the config loader)
env = os.environ

# The public side: TLS on the proxy, bound to loopback; the browser calls it hub.test.
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(env["HUB_TEST_PORT"])
c.JupyterHub.ssl_cert = env["HUB_TEST_CERT"]
c.JupyterHub.ssl_key = env["HUB_TEST_KEY"]
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(env["HUB_TEST_HUB_PORT"])

c.ConfigurableHTTPProxy.command = [env["HUB_TEST_CHP"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env['HUB_TEST_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.pid_file = os.path.join(env["HUB_TEST_DIR"], "jupyterhub-proxy.pid")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(env["HUB_TEST_DIR"], "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(env["HUB_TEST_DIR"], "jupyterhub_cookie_secret")

c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {env["HUB_TEST_USER"]}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = env["HUB_TEST_HOME"]

# repo2docker's launch: `binder/start jupyterhub-singleuser <the hub's arguments>`.
c.Spawner.cmd = [env["HUB_TEST_START"], "jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.args = ["--LabApp.expose_app_in_browser=True"]  # the test drives JupyterLab's commands
if os.geteuid() == 0:  # Binder's jovyan is not root; a test machine or container may be
    c.Spawner.args.append("--allow-root")
# HUB_TEST_DIR marks every process of this hub's (the single-user server, binder/start's mock
# server, the kernels, as the proxy and the hub itself): the test stops them all by it.
c.Spawner.environment = {name: env[name] for name in (
    "MOCK_SERVER_PORT", "MOCK_APP_PORT", "MOCK_SERVER_LOG", "HUB_TEST_DIR")}
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
