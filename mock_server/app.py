"""The app factory: one call builds a complete, independent server from a ``Settings``.

No import-time state: a notebook can run two differently switched servers side by side (the
security lab does).
"""
from __future__ import annotations

import io
import threading

from authlib.oauth2.rfc6749.errors import InsecureTransportError
from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from . import admin, agent_api, clients, consent, device, errors, livechat, metadata, oidc, owner
from . import par, protected_resource, public_url, resource_api, tokens, transport, users
from .authorization_server import AuthorizationServer
from .clock import DETERMINISTIC_START, Clock, route_authlib_through_clock
from .grants import (AuthorizationCodeGrant, ClientCredentialsGrant, DeviceCodeGrant, ImplicitGrant,
                     OpenIDCode, RefreshTokenGrant, StrictCodeChallenge)
from .ids import Ids
from .keys import SigningKeys
from .recording import install_recorder
from .resource import ResourceProtector
from .resource_indicators import ResourceIndicators
from .retention import Purger
from .sessions import DatabaseSessionInterface, cookie_name
from .settings import LIVECHAT, Settings
from .state import ServerState, current
from .storage import Base, Storage
from .transcript import Transcript

BLUEPRINTS = (users, consent, clients, device, tokens, par, oidc, metadata, resource_api, protected_resource,
              admin, public_url)
# Request bodies larger than this answer 413 unread: the largest legitimate one (a registration
# with a JWK Set, a console form) is a few kilobytes.
MAX_CONTENT_LENGTH = 256 * 1024


def populate(state: ServerState, first_key=None) -> None:
    """A new world's (or a restarted one's) rows: the signing key (`first_key`, when one was made
    ahead), demo users and demo apps."""
    state.keys = SigningKeys(state.storage, state.clock, state.settings.seed is not None, first_key)
    users.ensure_demo_users(state.db)
    clients.ensure_demo_apps(state.db, state.settings)
    state.storage.session.remove()


def start_over(state: ServerState) -> None:
    """A deterministic world from its first instant again, on a running server (admin.py): the
    seeded ids from the start, the clock frozen at its start, no rows but the demo ones, no
    messages. The settings stay: a learned public URL is still where the browser reaches us."""
    state.ids = Ids(state.settings.seed)
    state.clock = Clock(frozen_at=DETERMINISTIC_START)
    db = state.db
    for table in reversed(Base.metadata.sorted_tables):
        db.execute(table.delete())
    db.commit()
    populate(state)
    state.transcript.clear()
    state.world = resource_api.InProcessWorld(agent_api.World.demo())
    state.clients.clear()
    state.purger = Purger()
    if state.settings.profile == LIVECHAT:
        livechat.start_over()
    state.run = owner.new_key()[:16]


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings()
    route_authlib_through_clock()
    transport.route_authlib_transport_check()
    app = Flask(__name__)
    deterministic = settings.seed is not None
    state = ServerState(
        settings=settings,
        clock=Clock(frozen_at=DETERMINISTIC_START if deterministic else None),
        ids=Ids(settings.seed),
        storage=Storage(settings.db),
        keys=None,
        transcript=Transcript(),
        world=resource_api.InProcessWorld(agent_api.World.demo()),
        admin_access=admin.owner_only,
        owner_key=owner.new_key(),
        run=owner.new_key()[:16],
        purger=Purger(),
        clients=clients.ClientCache(),
    )
    app.extensions["mock_server"] = state
    app.config.update(SESSION_COOKIE_NAME=cookie_name(settings), SESSION_COOKIE_SAMESITE="Lax",
                      MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH, MAX_FORM_MEMORY_SIZE=MAX_CONTENT_LENGTH)
    app.session_interface = DatabaseSessionInterface()
    with app.app_context():
        populate(state)
    vendor = settings.profile == LIVECHAT  # LiveChat's rules, a layer on top: mock_server/livechat/
    state.authorization_server = (livechat.authorization_server(app) if vendor
                                  else _authorization_server(app, settings))
    state.registration = clients.ClientRegistrationEndpoint(state.authorization_server)
    state.resource_protector = ResourceProtector()
    for module in BLUEPRINTS:
        app.register_blueprint(module.blueprint)
    _install_request_hooks(app, state)
    if vendor:
        livechat.install(app, home)  # its paths, after the hooks every request passes first
    else:
        app.add_url_rule("/", "home", home)
    return app


def _authorization_server(app: Flask, settings: Settings) -> AuthorizationServer:
    server = AuthorizationServer(app, query_client=clients.query_client, save_token=tokens.save_token)
    server.register_token_generator("default", tokens.token_generator(settings))
    resource = ResourceIndicators()  # RFC 8707, at the authorization and token endpoints
    server.register_grant(AuthorizationCodeGrant,
                          [StrictCodeChallenge(settings.switches.require_pkce), OpenIDCode(), resource])
    server.register_grant(RefreshTokenGrant, [resource])
    server.register_grant(ClientCredentialsGrant, [resource])
    server.register_grant(DeviceCodeGrant, [resource])
    if settings.switches.allow_implicit:
        server.register_grant(ImplicitGrant, [resource])
    server.register_extension(consent.IssuerParameter())
    server.register_extension(par.PushedRequests())
    server.register_endpoint(tokens.RevocationEndpoint)
    server.register_endpoint(tokens.IntrospectionEndpoint)
    return server


def _install_request_hooks(app: Flask, state: ServerState) -> None:
    if state.settings.seed is not None:
        app.wsgi_app = _one_at_a_time(app.wsgi_app)
    app.wsgi_app = transport.PublicAddress(app.wsgi_app, state)
    app.before_request(errors.guard_host)  # first: before any other hook or view runs
    install_recorder(app)
    app.before_request(errors.guard_request)

    @app.after_request
    def security_headers(response):
        if response.mimetype == "text/html":
            # Login and consent never render inside someone else's frame — unless the lab's
            # switch lets any site frame them.
            if not state.settings.switches.allow_framing:
                deny_framing(response)
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.teardown_request
    def release(_exc):
        served = current()
        served.storage.session.remove()
        served.purger.maybe_purge(served)

    app.register_error_handler(HTTPException, errors.handle_http_exception)
    app.register_error_handler(InsecureTransportError, transport.refused)
    app.register_error_handler(Exception, errors.handle_unexpected)


def deny_framing(response) -> None:
    """Clickjacking: a page must never render inside someone else's frame (RFC 9700 §4.16)."""
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"


def _one_at_a_time(wsgi_app):
    """Deterministic mode serves one request at a time: each request then draws its codes and
    tokens from the seeded generator in one run, so the same requests in the same order give the
    same values. The body is read first, outside the lock: a client that sends it slowly delays
    nobody (nor does one that sends too much: Flask answers 413 without reading it)."""
    lock = threading.Lock()

    def serve(environ, start_response):
        length = environ.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) <= MAX_CONTENT_LENGTH:
            environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(int(length)))
        with lock:
            return wsgi_app(environ, start_response)
    return serve


def home():
    if public_url.through_our_jupyter_proxy():  # the launcher tile, before the hub's name is known
        return public_url.learning_page()
    settings = current().settings
    return render_template("home.html", settings=settings, users=users.DEMO_USERS,
                           apps=clients.demo_apps(settings),
                           teaching=metadata.teaching_switches(settings))
