"""The token endpoint and discovery under `hey` (8 keep-alive connections), in one run on one machine:

  workshop        python -m mock_server --workshop (granian, 2 workers, SQLite WAL): a learner's
                  POST /t/<id>/token, client_credentials, RS256 JWT, persisted and recorded
  floor-granian   a bare Flask view that signs an RS256 JWT of the same size, served the same way
                  (granian RSGI, 2 workers, the same bridge)
  oidc-provider   panva's oidc-provider (Node, one process), client_credentials, RS256 JWT access
                  tokens (benchmarks/oidc-provider; npm-installed here when missing)
  single          python -m mock_server (waitress, 8 threads): one learner's server, the default
  floor-waitress  the bare view served the same way (waitress, 8 threads)

and the memory (RSS of every process of the server) after 10,000 and 100,000 token requests. Beside
each rate, the server's CPU time per request (all its processes, from /proc): a shared machine's
load moves the rates between runs, not what a request costs.

    .venv/bin/python benchmarks/bench_speed.py [--requests 20000] [--memory] [--targets ...]

Needs `hey` (Debian: apt-get install hey) and Node for oidc-provider. A script that prints figures,
not a test. Check `uptime` first: on a shared machine measure when the load average is low.
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
CLIENT = ("fernhollow-reports", "reports-secret")
FORM = "grant_type=client_credentials&scope=customers:ro"
CLASS_CODE = "bench"
TARGETS = ("workshop", "floor-granian", "oidc-provider", "single", "floor-waitress")


# --- the floor: a bare Flask view signing the same JWT ---------------------------------------------

def floor_app(issuer: str):
    import secrets

    from flask import Flask, jsonify
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, private=True, parameters={"kid": "floor"})
    app = Flask("floor")

    @app.post("/token")
    def token():
        now = int(time.time())
        claims = {"iss": issuer, "exp": now + 3600, "client_id": CLIENT[0], "iat": now,
                  "jti": secrets.token_urlsafe(16), "scope": "customers:ro", "sub": CLIENT[0],
                  "aud": f"{issuer}/v3.5/agent"}
        access_token = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "floor"}, claims, key)
        return jsonify(access_token=access_token, expires_in=3600, scope="customers:ro", token_type="Bearer")

    @app.get("/.well-known/openid-configuration")
    def discovery():
        return jsonify(issuer=issuer, token_endpoint=f"{issuer}/token")

    return app


def floor_rsgi():
    """Granian's factory target for the floor: the class server's own bridge, as it runs it."""
    from mock_server.app import MAX_CONTENT_LENGTH
    from mock_server.workshop.classroom import WorkshopConfig
    from mock_server.workshop.rsgi import WSGIOverRSGI

    threads = WorkshopConfig.__dataclass_fields__["threads"].default
    return WSGIOverRSGI(floor_app(os.environ["FLOOR_ISSUER"]), threads=threads, max_body=MAX_CONTENT_LENGTH)


def serve_floor(how: str, port: int) -> None:
    issuer = f"http://127.0.0.1:{port}"
    if how == "waitress":
        from waitress import serve

        serve(floor_app(issuer), host="127.0.0.1", port=port, threads=8, _quiet=True)
        return
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    os.environ["FLOOR_ISSUER"] = issuer
    sys.path.insert(0, str(HERE))
    Granian("bench_speed:floor_rsgi", factory=True, address="127.0.0.1", port=port, workers=2,
            interface=Interfaces.RSGI, http=HTTPModes.http1, log_access=False).serve()


# --- targets ---------------------------------------------------------------------------------------

class Target:
    def __init__(self, name: str, command: list[str], cwd: Path = ROOT):
        from mock_server import free_port

        self.name, self.port = name, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([part.replace("{port}", str(self.port)) for part in command],
                                        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        self.token_url, self.discovery_url = f"{self.base}/token", f"{self.base}/.well-known/openid-configuration"
        self._wait()

    def _wait(self) -> None:
        for _ in range(300):
            try:
                requests.get(self.discovery_url, timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def _group(self):
        """/proc of every process in the target's process group (granian's workers too)."""
        for status in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = status.read_text().rsplit(")", 1)[1].split()
                if int(fields[3]) == self.process.pid:
                    yield status.parent, fields
            except (OSError, IndexError, ValueError):
                continue

    def rss_mib(self) -> float:
        """Resident memory of every process in the target's session."""
        return sum(int((folder / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
                   for folder, _ in self._group()) / 2**20

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of every process in the target's session so far."""
        return sum(int(fields[11]) + int(fields[12]) for _, fields in self._group()) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)


def start(name: str, folder: str) -> Target:
    python = sys.executable
    if name == "workshop":
        # One learner: no signing keys made ahead for a class (their maker would run beside the
        # measured requests, and count in the server's CPU).
        target = Target(name, [python, "-m", "mock_server", "--workshop", "--port", "{port}",
                               "--db", f"{folder}/class.sqlite3", "--class-code", CLASS_CODE,
                               "--spare-keys", "0"])
        joined = requests.post(f"{target.base}/workshop/join", json={"class_code": CLASS_CODE, "name": "bench"}).json()
        target.token_url = f"{joined['issuer']}/token"
        target.discovery_url = f"{joined['issuer']}/.well-known/openid-configuration"
        return target
    if name == "single":
        return Target(name, [python, "-m", "mock_server", "--port", "{port}"])
    if name.startswith("floor-"):
        return Target(name, [python, str(HERE / "bench_speed.py"), "--serve-floor", name[6:], "{port}"])
    folder = HERE / "oidc-provider"
    if not (folder / "node_modules" / "oidc-provider").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=folder, check=True)
    return Target(name, ["node", "server.mjs", "{port}"], cwd=folder)


def measured(target: Target, url: str, count: int, token: bool) -> dict:
    """hey's figures, and the server's CPU per request: what it costs, whatever else the machine
    runs meanwhile (a shared machine's load moves the rates, not this)."""
    before = target.cpu_seconds()
    result = hey(url, count, token)
    result["cpu_ms"] = (target.cpu_seconds() - before) / count * 1000
    return result


def hey(url: str, count: int, token: bool) -> dict:
    command = ["hey", "-n", str(count), "-c", "8"]
    if token:
        basic = base64.b64encode(":".join(CLIENT).encode()).decode()  # (hey's -a sent no match here)
        command += ["-m", "POST", "-H", f"Authorization: Basic {basic}",
                    "-T", "application/x-www-form-urlencoded", "-d", FORM]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    statuses = dict(re.findall(r"\[(\d+)\]\s+(\d+) responses", out))
    return {"rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
            "p50": float(re.search(r"50%+ in ([\d.]+) secs", out)[1]) * 1000,
            "p99": float(re.search(r"99%+ in ([\d.]+) secs", out)[1]) * 1000,
            "errors": count - int(statuses.get("200", 0))}


def load_average() -> float:
    return os.getloadavg()[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000, help="per measurement (default 20000)")
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--memory", action="store_true", help="also RSS after 10k and 100k token requests")
    parser.add_argument("--serve-floor", nargs=2, metavar=("HOW", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_floor:
        serve_floor(args.serve_floor[0], int(args.serve_floor[1]))
        return 0
    print(f"load average before: {load_average():.2f} (measure below 0.5 on a shared machine)")
    results, memory = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.targets:
            target = start(name, folder)
            try:
                hey(target.token_url, 1000, token=True)  # warm-up
                hey(target.discovery_url, 1000, token=False)
                results[name] = {"token": measured(target, target.token_url, args.requests, token=True),
                                 "discovery": measured(target, target.discovery_url, args.requests, token=False)}
                print(f"  {name:15} token {results[name]['token']}  discovery {results[name]['discovery']}",
                      flush=True)
                if args.memory and name in ("workshop", "single"):
                    memory[name] = rss_curve(target)
                    print(f"  {name:15} RSS MiB after token requests: {memory[name]}", flush=True)
            finally:
                target.stop()
    print(f"load average after: {load_average():.2f}\n")
    print(f"{'target':15} {'token/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} {'CPU ms':>7} "
          f"{'disc/s':>9} {'p99 ms':>7} {'CPU ms':>7}")
    for name, r in results.items():
        t, d = r["token"], r["discovery"]
        print(f"{name:15} {t['rate']:9.0f} {t['p50']:7.2f} {t['p99']:7.2f} {t['errors']:4} {t['cpu_ms']:7.3f} "
              f"{d['rate']:9.0f} {d['p99']:7.2f} {d['cpu_ms']:7.3f}")
    print("(CPU ms: the server's CPU time per request, all its processes)")
    ratios = [("workshop", "oidc-provider"), ("workshop", "floor-granian"), ("single", "floor-waitress"),
              ("single", "oidc-provider")]
    for ours, theirs in ratios:
        if ours in results and theirs in results:
            o, t = results[ours], results[theirs]
            print(f"{ours} ÷ {theirs}: token {o['token']['rate'] / t['token']['rate']:.2f}× "
                  f"(CPU {t['token']['cpu_ms'] / o['token']['cpu_ms']:.2f}×), discovery "
                  f"{o['discovery']['rate'] / t['discovery']['rate']:.2f}× "
                  f"(CPU {t['discovery']['cpu_ms'] / o['discovery']['cpu_ms']:.2f}×)")
    return 0


def rss_curve(target: Target) -> dict:
    done, curve = 0, {}
    for mark in (10_000, 40_000, 100_000):
        hey(target.token_url, mark - done, token=True)
        done = mark
        curve[f"{mark // 1000}k"] = round(target.rss_mib(), 1)
    return curve


if __name__ == "__main__":
    sys.exit(main())
