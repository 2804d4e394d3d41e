"""``python -m mock_server``: serve the mock authorization server in the foreground.

One learner's server is served by waitress (keep-alive, a thread pool). ``--workshop`` serves a
whole class instead (``mock_server.workshop``): a world per learner, on granian.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from . import owner, transport
from .app import create_app
from .clients import demo_apps
from .metadata import teaching_switches
from .runner import SERVER_SOFTWARE, settings_from
from .settings import APP_REDIRECT_URI, PROFILES, REDIRECT_MATCHING, Lifetimes
from .users import DEMO_USERS
from .workshop.classroom import DISK_PER_LEARNER, LEARNERS_PER_CORE, default_max_learners

LIFETIMES = tuple(Lifetimes.__dataclass_fields__)  # each has its --<name>-lifetime flag
MOST_CONNECTIONS = 1000  # at once; more than a notebook (a few) or the test suite (dozens) opens


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mock_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--seed", type=int, help="deterministic mode: seeded ids, frozen clock")
    parser.add_argument("--db", help="SQLite file (or postgresql://… URL) that keeps apps, grants "
                                     "and tokens across restarts")
    parser.add_argument("--public-url", help="browser-facing base URL when behind a proxy")
    parser.add_argument("--access-token-format", choices=("jwt", "opaque"), default="jwt")
    parser.add_argument("--profile", choices=PROFILES,
                        help="behave as one vendor's docs describe (livechat: LiveChat's accounts server)")
    parser.add_argument("--registration-token", help="initial access token for RFC 7591 off loopback")
    parser.add_argument("--allow-plain-http", action="store_true",
                        help="INSECURE: accept plain http from other machines (OAuth requires TLS "
                             "there; for a lab on a network you trust, e.g. a hub without TLS)")
    parser.add_argument("--jupyter-prefix", metavar="PREFIX",
                        help="behind a hub's Jupyter server at PREFIX (JUPYTERHUB_SERVICE_PREFIX): "
                             "the first page viewed at PREFIX/oauth/ learns the public URL")
    parser.add_argument("--app-redirect-uri", action="append", metavar="URI",
                        help="a redirect URI of the learner's app to register for the demo apps, "
                             f"besides {APP_REDIRECT_URI} (repeatable; Binder adds its proxied one)")
    stricter = parser.add_argument_group("stricter than the default (off by default)")
    stricter.add_argument("--require-par", dest="require_pushed_authorization_requests", action="store_true",
                          help="every authorization request must be pushed first (RFC 9126 section 5)")
    stricter.add_argument("--require-dpop-nonce", action="store_true",
                          help="DPoP proofs must carry a nonce this server handed out (RFC 9449 sections 8, 9)")
    insecure = parser.add_argument_group("INSECURE teaching switches (off by default)")
    insecure.add_argument("--allow-implicit", action="store_true", help="enable response_type=token")
    insecure.add_argument("--no-require-pkce", dest="require_pkce", action="store_false",
                          help="public clients may skip PKCE; 'plain' accepted")
    insecure.add_argument("--redirect-matching", choices=REDIRECT_MATCHING, default="exact")
    insecure.add_argument("--no-refresh-rotation", dest="refresh_rotation", action="store_false")
    insecure.add_argument("--allow-token-in-query", action="store_true")
    insecure.add_argument("--allow-framing", action="store_true",
                          help="any site may frame the login and consent pages (clickjacking)")
    for name in LIFETIMES:
        insecure.add_argument(f"--{name.replace('_', '-')}-lifetime", type=int, metavar="SECONDS")
    workshop = parser.add_argument_group("a class server (--workshop)")
    workshop.add_argument("--workshop", action="store_true",
                          help="serve a whole class: a world of their own for every learner who joins")
    workshop.add_argument("--class-code", help="what learners type to join (default: generated)")
    workshop.add_argument("--instructor-secret", help="the dashboard's secret (default: generated)")
    workshop.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    workshop.add_argument("--threads", type=int, default=0,
                          help="threads per worker (default 0: one request at a time on each worker's "
                               "event loop; a few pay off when PostgreSQL is across a network)")
    workshop.add_argument("--all-interfaces", action="store_true",
                          help="allow --host 0.0.0.0 (every network this machine is on)")
    workshop.add_argument("--trust-proxy", action="store_true",
                          help="behind a TLS-terminating proxy: trust its X-Forwarded-For/-Proto/-Host")
    workshop.add_argument("--max-learners", type=int, default=default_max_learners(), metavar="N",
                          help=f"learners the class takes (default {default_max_learners()}: "
                               f"{LEARNERS_PER_CORE} per CPU core)")
    workshop.add_argument("--joins-per-address", type=int, default=60, metavar="N",
                          help="joins from one address in 10 minutes (default 60; behind a proxy, "
                               "with --trust-proxy, the address it forwards)")
    workshop.add_argument("--disk-per-learner", type=float, default=DISK_PER_LEARNER / 2**20, metavar="MB",
                          help=f"transcript a learner keeps, oldest dropped first (default "
                               f"{DISK_PER_LEARNER // 2**20} MB)")
    workshop.add_argument("--spare-keys", type=int, metavar="N",
                          help="signing keys made ahead at the lowest CPU priority, one per free seat up to N, "
                               "so a join need not wait ~70 ms for its own (default: --max-learners; 0: none)")
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace):
    lifetimes = {name: getattr(args, f"{name}_lifetime")
                 for name in LIFETIMES
                 if getattr(args, f"{name}_lifetime") is not None}
    return settings_from(
        host=args.host, port=args.port, seed=args.seed, db=args.db, public_url=args.public_url,
        access_token_format=args.access_token_format, lifetimes=lifetimes,
        allow_implicit=args.allow_implicit, require_pkce=args.require_pkce,
        redirect_matching=args.redirect_matching, refresh_rotation=args.refresh_rotation,
        allow_token_in_query=args.allow_token_in_query, allow_framing=args.allow_framing,
        registration_token=args.registration_token,
        app_redirect_uris=(APP_REDIRECT_URI, *(args.app_redirect_uri or ())), profile=args.profile,
        allow_plain_http=args.allow_plain_http, jupyter_prefix=args.jupyter_prefix,
        require_pushed_authorization_requests=args.require_pushed_authorization_requests,
        require_dpop_nonce=args.require_dpop_nonce)


def banner(settings) -> str:
    lines = [f"Mock OAuth 2.0 server (Fernhollow Accounts) at {settings.issuer}",
             f"  metadata   {settings.issuer}/.well-known/oauth-authorization-server",
             f"  console    {settings.issuer}/console"]
    if settings.profile:
        lines += [f"PROFILE {settings.profile}: LiveChat's rules as its public docs describe them, not the "
                  "standards' defaults",
                  f"  authorize  {settings.issuer}/    tokens  POST|DELETE {settings.issuer}/v2/token    "
                  f"token info  GET {settings.issuer}/v2/info"]
    lines.append("Demo users (username / password, role):")
    lines += [f"  {u.id:6} / {u.password:15} {u.role}" for u in DEMO_USERS]
    lines.append("Demo apps (client id, secret):")
    lines += [f"  {a['client_id']:24} {a['client_secret'] or '(public: PKCE, no secret)'}"
              for a in demo_apps(settings)]
    lines.append(f"Mode: {'deterministic, seed ' + str(settings.seed) if settings.seed is not None else 'random'}"
                 f"; storage: {settings.db or 'memory'}; access tokens: "
                 f"{'opaque, dal: prefix' if settings.profile else settings.access_token_format}")
    lines.append("The transcript records every message with its secrets: it is a teaching tool.")
    if not settings.on_loopback:
        lines.append(f"WARNING: listening on {settings.host}, not loopback: reachable from other machines.")
        lines.append(f"  Registration needs the initial access token: "
                     f"{settings.registration_token or '(none set: --registration-token)'}")
    lines += transport.banner_lines(settings, (settings.issuer, f"http://{settings.host}:{settings.port}"))
    if teaching := teaching_switches(settings):
        lines.append("INSECURE teaching switches ON: " + ", ".join(f"{k}={v}" for k, v in teaching.items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.workshop:
        from .workshop.serve import main as serve_class

        return serve_class(args)
    try:
        settings = settings_from_args(args)
    except ValueError as error:  # settings that contradict each other (a profile with a switch)
        print(f"python -m mock_server: {error}", file=sys.stderr)
        return 2
    app = create_app(settings)
    state = app.extensions["mock_server"]
    state.started_by = f"python -m mock_server (process {os.getpid()})"
    print(banner(settings), flush=True)
    from waitress import serve

    owner.write_card(settings.base_url, state.owner_key, state.started_by)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so the card goes when the server does
    try:
        serve(app, host=settings.host, port=settings.port, threads=8, ident=SERVER_SOFTWARE,
              **connection_limits())
    finally:
        owner.remove_card(settings.base_url, state.owner_key)
    return 0


def connection_limits() -> dict:
    """Waitress's limits on connections. Its default, 100 at once, let 110 idle connections (a web
    page can open a few hundred to 127.0.0.1) make every request wait for minutes: up to 1,000 here,
    as many as the process may open files for, each closed after a minute idle. poll(), since
    select() cannot watch a file descriptor numbered past 1,023."""
    try:
        import resource
    except ImportError:  # Windows: no file limit to read; waitress's own connection limit stands
        return {"channel_timeout": 60}
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {"connection_limit": max(100, min(MOST_CONNECTIONS, soft - 64)), "channel_timeout": 60,
            "asyncore_use_poll": True}


if __name__ == "__main__":
    sys.exit(main())
