"""``python -m mock_server --workshop``: a class server on granian, several worker processes.

Why granian: measured here (2 cores, 8 keep-alive connections, a Flask view that signs one RS256
JWT) it served 2,120 requests/s with one worker and 2,340 with two, against 1,860 for gunicorn's
sync workers and 1,280 for waitress; its connections are handled by Rust (hyper) outside the
GIL. Through its RSGI interface (``rsgi.py``) a request's body arrives in full before a Python
thread sees it, so a client that trickles its request occupies no thread while it does.

The worker processes import ``rsgi_app`` (a factory) and read the class's configuration from the
environment variable ``MOCK_WORKSHOP``; the main process prepares the database first, so workers
never race to create tables or the template world.
"""
from __future__ import annotations

import dataclasses
import json
import os
import secrets
import sys

from werkzeug.middleware.proxy_fix import ProxyFix

from ..app import MAX_CONTENT_LENGTH, create_app
from ..runner import SERVER_SOFTWARE
from ..settings import Settings
from .classroom import Classroom, WorkshopConfig
from .front import create_front_app
from .rsgi import WSGIOverRSGI
from .tenants import TenantRouter

ENVIRONMENT = "MOCK_WORKSHOP"
ALL_INTERFACES = ("0.0.0.0", "::", "")
DEFAULT_DB = "workshop.sqlite3"


def build(config: WorkshopConfig):
    """The class server as one WSGI application (for any WSGI server, and for tests)."""
    app = create_app(Settings(host=config.host, port=config.port, public_url=config.base_url,
                              db=config.db))
    classroom = Classroom(config, app.extensions["mock_server"])
    served = TenantRouter(classroom, app, create_front_app(classroom))
    served = _server_header(served)
    # Behind a TLS-terminating proxy (--trust-proxy only): the client's address and scheme
    # from one proxy's X-Forwarded-For/-Proto/-Host; never trusted otherwise (anyone can send them).
    return ProxyFix(served, x_for=1, x_proto=1, x_host=1) if config.trust_proxy else served


def _server_header(wsgi_app):
    def serve(environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, ("Server", SERVER_SOFTWARE)], exc_info)
        return wsgi_app(environ, start)
    return serve


def rsgi_app():
    """Granian's factory target, in each worker process."""
    config = WorkshopConfig(**json.loads(os.environ[ENVIRONMENT]))
    return WSGIOverRSGI(build(config), threads=config.threads, max_body=MAX_CONTENT_LENGTH)


def config_from_args(args) -> WorkshopConfig:
    return WorkshopConfig(
        host=args.host, port=args.port, db=args.db or DEFAULT_DB, public_url=args.public_url,
        class_code=args.class_code or "-".join(secrets.token_hex(2) for _ in range(2)),
        instructor_secret=args.instructor_secret or secrets.token_urlsafe(24),
        workers=args.workers, threads=args.threads, trust_proxy=args.trust_proxy)


def banner(config: WorkshopConfig) -> str:
    base = config.base_url
    lines = [
        f"Fernhollow Accounts: class server at {base} (granian, {config.workers} workers)",
        f"  class code          {config.class_code}",
        f"  learners type       setup(class_server=\"{base}\", class_code=\"{config.class_code}\", name=\"...\")",
        f"                      (or MOCK_CLASS_SERVER={base} MOCK_CLASS_CODE={config.class_code})",
        f"  instructor          {base}/instructor",
        f"  instructor secret   {config.instructor_secret}",
        f"  storage             {config.db}",
        "Each learner gets a world of their own at <base>/t/<id>: demo users, apps, clock, transcript.",
        "The transcripts record every message with its secrets: it is a teaching tool.",
    ]
    if config.host in ALL_INTERFACES:
        lines.append(f"WARNING: listening on every interface ({config.host or '0.0.0.0'}): reachable "
                     "from every network this machine is on.")
    if config.trust_proxy:
        lines.append("Trusting X-Forwarded-For/-Proto/-Host from one proxy in front (--trust-proxy).")
    return "\n".join(lines)


def main(args) -> int:
    if args.host in ALL_INTERFACES and not args.all_interfaces:
        print(f"Refusing to listen on {args.host or 'every interface'}: that reaches every network "
              "this machine is on. Name one address (--host 192.168.1.20), or pass --all-interfaces.",
              file=sys.stderr)
        return 2
    if args.seed is not None:
        print("A class server is never deterministic: --seed is for one learner's server.", file=sys.stderr)
        return 2
    config = config_from_args(args)
    build(config)  # creates the tables and the template world once, before any worker starts
    print(banner(config), flush=True)
    os.environ[ENVIRONMENT] = json.dumps(dataclasses.asdict(config))
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    Granian(f"{__name__}:rsgi_app", factory=True, address=config.host or "0.0.0.0", port=config.port,
            interface=Interfaces.RSGI, http=HTTPModes.http1, workers=config.workers,
            log_access=False, respawn_failed_workers=True).serve()
    return 0
