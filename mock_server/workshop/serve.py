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
import resource
import secrets
import sys
from pathlib import Path

from werkzeug.middleware.proxy_fix import ProxyFix

from sqlalchemy.engine import make_url

from .. import transport
from ..app import MAX_CONTENT_LENGTH, create_app
from ..runner import SERVER_SOFTWARE
from ..settings import Settings
from ..storage import database_url
from . import spare_keys
from .classroom import JOIN_WINDOW, Classroom, WorkshopConfig, checkpoint_in_the_background
from .front import JOIN_PATH, create_front_app
from .instructor import FEED_PATH
from .rsgi import WSGIOverRSGI
from .tenants import TenantRouter
from .worlds import FILES_PER_WORLD, open_world_limit

ENVIRONMENT = "MOCK_WORKSHOP"
ALL_INTERFACES = ("0.0.0.0", "::", "")
# Without --db, the class lives here, in the current directory: a folder that says what it is,
# which tells git to ignore it (a class's data is never part of a repository).
DATA_FOLDER = "workshop-data"
DATA_FILE = "class.sqlite3"
EARLIER_DEFAULT = "workshop.sqlite3"  # where a class lived without --db before ./workshop-data
MOST_FILES = 65536  # the file limit asked for at start, within the hard limit
RESERVED_FILES = 64  # a worker's files besides connections and learners' files: the class database, logs, pipes
IDLE_CONNECTION = 5  # seconds a keep-alive connection may wait for its next request (granian's: 30)
FEWEST_CONNECTIONS = 8


def build(config: WorkshopConfig):
    """The class server as one WSGI application (for any WSGI server, and for tests)."""
    app = create_app(Settings(host=config.host, port=config.port, public_url=config.base_url,
                              db=config.db, allow_plain_http=config.allow_plain_http))
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


def config_from_environment() -> WorkshopConfig:
    """The class's configuration, as the main process left it for its workers (main())."""
    return WorkshopConfig(**json.loads(os.environ[ENVIRONMENT]))


def rsgi_app():
    """Granian's factory target, in each worker process."""
    config = config_from_environment()
    checkpoint_in_the_background(config.db)
    return WSGIOverRSGI(build(config), threads=config.threads, max_body=MAX_CONTENT_LENGTH,
                        aside=(JOIN_PATH, FEED_PATH))


def config_from_args(args) -> WorkshopConfig:
    return WorkshopConfig(
        host=args.host, port=args.port, db=args.db or str(data_folder() / DATA_FILE),
        public_url=args.public_url,
        class_code=args.class_code or "-".join(secrets.token_hex(2) for _ in range(2)),
        instructor_secret=args.instructor_secret or secrets.token_urlsafe(24),
        workers=args.workers, threads=args.threads, trust_proxy=args.trust_proxy,
        allow_plain_http=args.allow_plain_http,
        max_learners=args.max_learners, joins_per_address=args.joins_per_address,
        disk_per_learner=round(args.disk_per_learner * 2**20),
        spare_keys=args.max_learners if args.spare_keys is None else args.spare_keys)


def data_folder() -> Path:
    """./workshop-data, made once, with a .gitignore that ignores everything in it."""
    folder = Path.cwd() / DATA_FOLDER
    folder.mkdir(exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# A class server's data (python -m mock_server --workshop): never committed.\n*\n")
    return folder


def where_the_class_lives(config: WorkshopConfig) -> str:
    if "://" in config.db:  # PostgreSQL: the URL without its password
        return make_url(database_url(config.db)).render_as_string(hide_password=True)
    db = Path(config.db).resolve()
    if db.parent.name == DATA_FOLDER and db.name == DATA_FILE:
        return f"{db.parent} (SQLite: {db.name} and a file per learner)"
    return f"{db} (SQLite, and a file per learner in {db.name}.tenants/)"


def raise_file_limit() -> None:
    """Ask for as many open files as the hard limit allows (a soft limit of 1,024, or macOS's 256,
    is the common default): room for every learner's connections. The class holds at any limit
    (worlds.py); with more, its workers keep more learners' files open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MOST_FILES if hard == resource.RLIM_INFINITY else min(hard, MOST_FILES)
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):  # macOS caps it below its hard limit: keep the default
            pass


def connection_limit() -> int:
    """Connections a worker holds at once: its file handles, less the learners' files it keeps
    open and RESERVED_FILES, so that no flood of connections can leave a learner's file unopened
    (768 at 1,024). Granian's default (1,024, shared by the workers) made new connections of a
    class of 1,000 wait ~20 s for a slot: each learner's kernel and browser keep one alive, and a
    slot came free only when an idle one timed out (bench_class.py --pace 10). Under a limit too
    small for even that (below about 90), FEWEST_CONNECTIONS: the banner shows it; raise the limit."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(FEWEST_CONNECTIONS, soft - open_world_limit() * FILES_PER_WORLD - RESERVED_FILES)


def banner(config: WorkshopConfig) -> str:
    base = config.base_url
    lines = [
        f"Fernhollow Accounts: class server at {base} (granian, {config.workers} workers)",
        f"  class code          {config.class_code}",
        f"  learners type       setup(class_server=\"{base}\", class_code=\"{config.class_code}\", name=\"...\")",
        f"                      (or MOCK_CLASS_SERVER={base} MOCK_CLASS_CODE={config.class_code})",
        f"  instructor          {base}/instructor",
        f"  instructor secret   {config.instructor_secret}",
        f"  class data          {where_the_class_lives(config)}",
        f"  limits              {config.max_learners} learners, {config.joins_per_address} joins per address "
        f"in {JOIN_WINDOW // 60} minutes, {config.disk_per_learner / 2**20:g} MB of transcript each",
        f"  spare keys          one per free seat, up to {config.spare_keys}, made ahead at the lowest "
        "CPU priority (a join takes one)",
        f"  open files          {resource.getrlimit(resource.RLIMIT_NOFILE)[0]} per process"
        + ("" if "://" in config.db else f", {open_world_limit()} learners' files open at once per worker"),
        f"  connections         {connection_limit()} at once per worker, closed after {IDLE_CONNECTION} s idle",
        "Each learner gets a world of their own at <base>/t/<id>: demo users, apps, clock, transcript.",
        "The transcripts record every message with its secrets: it is a teaching tool.",
    ]
    if config.host in ALL_INTERFACES:
        lines.append(f"WARNING: listening on every interface ({config.host or '0.0.0.0'}): reachable "
                     "from every network this machine is on.")
    if config.trust_proxy:
        lines.append("Trusting X-Forwarded-For/-Proto/-Host from one proxy in front (--trust-proxy).")
    lines += transport.banner_lines(config, (base, f"http://{config.host or '0.0.0.0'}:{config.port}"))
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
    raise_file_limit()
    config = config_from_args(args)
    build(config)  # creates the tables and the template world once, before any worker starts
    print(banner(config), flush=True)
    if args.db is None and Path(EARLIER_DEFAULT).exists():
        print(f"An earlier class is in ./{EARLIER_DEFAULT}: to go on with it, start with "
              f"--db {EARLIER_DEFAULT}.", flush=True)
    os.environ[ENVIRONMENT] = json.dumps(dataclasses.asdict(config))
    spare_keys.start_maker(config)
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    Granian(f"{__name__}:rsgi_app", factory=True, address=config.host or "0.0.0.0", port=config.port,
            interface=Interfaces.RSGI, http=HTTPModes.http1, workers=config.workers,
            backpressure=connection_limit(),
            http1_settings=HTTP1Settings(header_read_timeout=IDLE_CONNECTION * 1000),
            log_access=False, respawn_failed_workers=True).serve()
    return 0
