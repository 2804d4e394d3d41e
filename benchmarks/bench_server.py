"""Throughput and latency of the mock server, against a bare Flask JSON endpoint served the same way.

    .venv/bin/python benchmarks/bench_server.py            # or: make bench
    .venv/bin/python benchmarks/bench_server.py --quick    # a smoke run, a few seconds

Scenarios (each at 1 and 4 concurrent client threads, one ``requests.Session`` per thread):

  bare         POST /bare on a Flask app with one JSON view: the baseline (same body and Basic header
               as the token request, ignored by the view)
  client-cred  POST /token grant_type=client_credentials, HTTP Basic fernhollow-reports:reports-secret
  auth-code    one full authorization-code flow with PKCE: GET /authorize, POST /login,
               GET /authorize, POST /authorize (Allow), POST /token, POST /v3.5/agent/action/list_chats

Servings, each used for the mock server AND its bare baseline, so every ratio compares like with like:

  werkzeug     in this process, on a background thread: werkzeug ``make_server(threaded=True)`` with
               the quiet handler of ``mock_server.start()`` (what notebooks and tests use). The client
               threads share the interpreter (and its GIL) with the server, as they do in a notebook.
  waitress     a separate process, waitress ``threads=8``: ``python -m mock_server --port N`` (class
               mode), and this file with ``--serve-bare`` for the baseline.

A script that prints figures, not a test: nothing here passes or fails on a number.
"""
from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import os
import platform
import secrets
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

STARTED = time.perf_counter()
CLIENT = ("fernhollow-reports", "reports-secret")
USER = ("jane", "jane-password")
SCOPE = "chats--access:ro"  # one Jane (a normal agent) can grant
THREADS = 8  # waitress threads in `python -m mock_server`
HERE = os.path.abspath(__file__)


# --- the baseline app ------------------------------------------------------------------------------

def bare_app():
    """A Flask app with one JSON endpoint and nothing else: no hooks, no storage, no lock."""
    from flask import Flask, jsonify

    app = Flask("bare")

    @app.post("/bare")
    def bare():
        return jsonify(ok=True)

    @app.get("/")
    def home():
        return jsonify(ok=True)

    return app


# --- servings ---------------------------------------------------------------------------------------

class Served:
    """A running server: url and stop()."""

    url: str

    def stop(self) -> None:
        raise NotImplementedError


class WerkzeugServed(Served):
    def __init__(self, which: str):
        import mock_server

        port = mock_server.free_port()
        if which == "mock":
            self._handle = mock_server.start(port=port, seed=None)
            self.url = self._handle.url
            self._stop = self._handle.stop
        else:
            from werkzeug.serving import make_server
            try:  # the very handler mock_server.start() uses, so the two servings match exactly
                from mock_server.runner import _QuietHandler as handler
            except ImportError:  # pragma: no cover - the runner changed
                from werkzeug.serving import WSGIRequestHandler as handler
            server = make_server("127.0.0.1", port, bare_app(), threaded=True, request_handler=handler)
            thread = threading.Thread(target=server.serve_forever, daemon=True, name=f"bare-{port}")
            thread.start()
            self.url = f"http://127.0.0.1:{port}"

            def stop():
                server.shutdown()
                server.server_close()
                thread.join(timeout=5)
            self._stop = stop
        wait_until_up(self.url)

    def stop(self) -> None:
        self._stop()


class WaitressServed(Served):
    def __init__(self, which: str):
        import mock_server

        port = mock_server.free_port()
        if which == "mock":
            command = [sys.executable, "-m", "mock_server", "--port", str(port)]
        else:
            command = [sys.executable, HERE, "--serve-bare", str(port)]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(self.url, process=self._process)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


SERVINGS = {"werkzeug": WerkzeugServed, "waitress": WaitressServed}


def serve_bare_with_waitress(port: int) -> None:
    from waitress import serve

    serve(bare_app(), host="127.0.0.1", port=port, threads=THREADS, ident="bare")


def wait_until_up(url: str, timeout: float = 30, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}): "
                               f"{process.stderr.read().decode(errors='replace')[-2000:]}")
        try:
            if requests.get(url + "/", timeout=2).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


# --- one unit of work per scenario ---------------------------------------------------------------------

class Counter:
    """Counts HTTP responses seen by the sessions it hooks (exact requests per flow)."""

    def __init__(self):
        self.count = 0
        self._lock = threading.Lock()

    def hook(self, session: requests.Session) -> requests.Session:
        def on_response(response, *args, **kwargs):
            with self._lock:
                self.count += 1
        session.hooks["response"].append(on_response)
        return session


class Worker:
    """One client thread's state: its sessions (keep-alive where the server allows it)."""

    def __init__(self, url: str, counter: Counter):
        from oauth_lab.user_agent import UserAgent

        self.url = url
        self.session = counter.hook(requests.Session())  # the app's back channel
        self.browser = UserAgent(*USER)  # the user's browser, front channel
        counter.hook(self.browser.session)

    def sessions(self):
        return [self.session, self.browser.session]

    def bare(self) -> None:
        response = self.session.post(f"{self.url}/bare", auth=CLIENT,
                                     data={"grant_type": "client_credentials"})
        expect(response, 200)

    def client_credentials(self) -> None:
        response = self.session.post(f"{self.url}/token", auth=CLIENT,
                                     data={"grant_type": "client_credentials"})
        expect(response, 200)
        if "access_token" not in response.json():
            raise RuntimeError(f"no access_token: {response.text[:300]}")

    def authorization_code(self) -> None:
        self.browser.session.cookies.clear()  # a new visitor: the flow includes signing in
        redirect_uri = f"{self.url}/callback"
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(16)
        authorization_url = f"{self.url}/authorize?" + urlencode({
            "response_type": "code", "client_id": CLIENT[0], "redirect_uri": redirect_uri,
            "scope": SCOPE, "state": state, "code_challenge": challenge, "code_challenge_method": "S256"})
        location = self.browser.authorize(authorization_url)
        params = parse_qs(urlsplit(location).query)
        if params.get("state") != [state] or "code" not in params:
            raise RuntimeError(f"unexpected redirect: {location}")
        token = self.session.post(f"{self.url}/token", auth=CLIENT, data={
            "grant_type": "authorization_code", "code": params["code"][0],
            "redirect_uri": redirect_uri, "code_verifier": verifier})
        expect(token, 200)
        api = self.session.post(f"{self.url}/v3.5/agent/action/list_chats", json={},
                                headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        expect(api, 200)


def expect(response: requests.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.url}: HTTP {response.status_code}, "
                           f"expected {status}: {response.text[:300]}")


SCENARIOS = {  # name -> (Worker method, unit, which server)
    "bare": ("bare", "req", "bare"),
    "client-cred": ("client_credentials", "req", "mock"),
    "auth-code": ("authorization_code", "flow", "mock"),
}


# --- measuring ---------------------------------------------------------------------------------------

@dataclass
class Result:
    scenario: str
    serving: str
    concurrency: int
    unit: str
    units: int
    seconds: float
    requests: int
    connections: int
    latencies: list = field(repr=False)  # seconds per unit

    @property
    def units_per_s(self) -> float:
        return self.units / self.seconds

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds

    @property
    def requests_per_unit(self) -> float:
        return self.requests / self.units

    def percentile(self, p: float) -> float:
        """Milliseconds, nearest-rank."""
        ordered = sorted(self.latencies)
        rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1] * 1000


class ConnectCounter:
    """Counts TCP connects made by the client (urllib3 reconnects on the same connection object
    after `Connection: close`, so its pool counters cannot tell keep-alive from one-shot)."""

    def __init__(self):
        import urllib3.connection

        self.count = 0
        self._lock = threading.Lock()
        original = urllib3.connection.HTTPConnection.connect
        counter = self

        def connect(conn, *args, **kwargs):
            with counter._lock:
                counter.count += 1
            return original(conn, *args, **kwargs)

        if not getattr(original, "_bench_counted", False):
            connect._bench_counted = True
            urllib3.connection.HTTPConnection.connect = connect


CONNECTS: ConnectCounter  # made in main(): it patches urllib3 in this process


def measure(url: str, scenario: str, serving: str, concurrency: int, units: int, warmup: int) -> Result:
    method, unit, _ = SCENARIOS[scenario]
    counter = Counter()
    workers = [Worker(url, counter) for _ in range(concurrency)]
    for worker in workers:  # warm up: connections, caches, first-request imports
        for _ in range(warmup):
            getattr(worker, method)()
    before_requests = counter.count
    before_connections = CONNECTS.count
    shares = [units // concurrency + (i < units % concurrency) for i in range(concurrency)]
    latencies: list[list[float]] = [[] for _ in workers]
    errors: list[BaseException] = []
    barrier = threading.Barrier(concurrency + 1)

    def run(i: int) -> None:
        call, own = getattr(workers[i], method), latencies[i]
        barrier.wait()
        try:
            for _ in range(shares[i]):
                started = time.perf_counter()
                call()
                own.append(time.perf_counter() - started)
        except BaseException as error:  # reported after the run
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{scenario} on {serving} x{concurrency} failed: {errors[0]}") from errors[0]
    connections = CONNECTS.count - before_connections
    for worker in workers:
        for session in worker.sessions():
            session.close()
    return Result(scenario, serving, concurrency, unit, units, seconds,
                  counter.count - before_requests, connections, [x for own in latencies for x in own])


# --- reporting ---------------------------------------------------------------------------------------

def header() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:  # pragma: no cover
            return "?"

    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return "\n".join([
        f"date     {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine  {platform.machine()}, nproc {nproc} (cpu_count {os.cpu_count()}), "
        f"{platform.system()} {platform.release()}",
        f"python   {platform.python_implementation()} {platform.python_version()}; "
        + ", ".join(f"{name} {v(name)}" for name in
                    ("Flask", "Werkzeug", "waitress", "Authlib", "cryptography", "requests")),
    ])


def table(results: list[Result]) -> str:
    baseline = {(r.serving, r.concurrency): r for r in results if r.scenario == "bare"}
    columns = ("scenario", "serving", "conc", "units", "units/s", "req/unit", "req/s",
               "p50 ms", "p99 ms", "conns", "req/s÷bare", "units/s÷bare", "p50÷bare")
    rows = []
    for r in results:
        base = baseline.get((r.serving, r.concurrency))
        rows.append((
            r.scenario, r.serving, str(r.concurrency), f"{r.units} {r.unit}s",
            f"{r.units_per_s:,.1f}", f"{r.requests_per_unit:.1f}", f"{r.requests_per_s:,.0f}",
            f"{r.percentile(50):.2f}", f"{r.percentile(99):.2f}", str(r.connections),
            f"{r.requests_per_s / base.requests_per_s:.3f}" if base else "-",
            f"{r.units_per_s / base.units_per_s:.4f}" if base else "-",
            f"{r.percentile(50) / base.percentile(50):.1f}x" if base else "-",
        ))
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    line = lambda cells: "  ".join(c.ljust(w) if i < 4 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(row) for row in rows])


LEGEND = """\
units: requests (bare, client-cred) or whole flows (auth-code); p50/p99 are per unit, so a flow's
latency is the sum of its {flow_requests:.0f} requests. conns: TCP connections opened during the
timed run (≈ concurrency with keep-alive, ≈ requests without it). Ratios divide by the bare row of
the same serving and concurrency: req/s÷bare is the share of the bare endpoint's request rate the
server keeps (1.0 = as cheap as bare Flask); units/s÷bare is flows per bare request; p50÷bare is
how many bare requests' time one unit takes."""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bare", type=int, default=1500, help="bare requests per run (default 1500)")
    parser.add_argument("--client-credentials", type=int, default=160,
                        help="client-credentials token requests per run (default 160)")
    parser.add_argument("--flows", type=int, default=40, help="authorization-code flows per run (default 40)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4],
                        help="client threads, one run each (default: 1 4)")
    parser.add_argument("--servings", nargs="+", choices=sorted(SERVINGS), default=["werkzeug", "waitress"])
    parser.add_argument("--warmup", type=int, default=3, help="untimed units per client thread first")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10x fewer of everything")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        serve_bare_with_waitress(args.serve_bare)
        return 0
    global CONNECTS
    CONNECTS = ConnectCounter()
    counts = {"bare": args.bare, "client-cred": args.client_credentials, "auth-code": args.flows}
    if args.quick:
        counts = {k: max(v // 10, 4) for k, v in counts.items()}
        args.warmup = min(args.warmup, 2)

    print("Mock server throughput and latency vs a bare Flask JSON endpoint, same serving")
    print(header())
    print(f"runs     {', '.join(f'{k} {v}' for k, v in counts.items())} per run; "
          f"concurrency {' '.join(map(str, args.concurrency))}; warm-up {args.warmup}/thread\n", flush=True)
    results: list[Result] = []
    for serving in args.servings:
        for which in ("bare", "mock"):
            served = SERVINGS[serving](which)
            try:
                for scenario, (_, _, server_kind) in SCENARIOS.items():
                    if server_kind != which:
                        continue
                    for concurrency in args.concurrency:
                        result = measure(served.url, scenario, serving, concurrency,
                                         counts[scenario], args.warmup)
                        results.append(result)
                        print(f"  {scenario:12} {serving:9} x{concurrency}: {result.units_per_s:8.1f} "
                              f"{result.unit}s/s  p50 {result.percentile(50):7.2f} ms  "
                              f"p99 {result.percentile(99):7.2f} ms", flush=True)
            finally:
                served.stop()
    order = {name: i for i, name in enumerate(SCENARIOS)}
    results.sort(key=lambda r: (args.servings.index(r.serving), r.concurrency, order[r.scenario]))
    print()
    print(table(results))
    flows = [r.requests_per_unit for r in results if r.scenario == "auth-code"]
    print()
    print(LEGEND.format(flow_requests=statistics.mean(flows) if flows else 6))
    print(f"\ntotal {time.perf_counter() - STARTED:.0f}s (servers started and stopped included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
