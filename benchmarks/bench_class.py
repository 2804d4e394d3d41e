"""A class under load: N learners (default 200) join a class server and run whole flows at once.

Each learner: joins (from an address of their own, forwarded by the TLS proxy a class server sits
behind: --trust-proxy); registers an app (RFC 7591) and takes a client_credentials token with it;
runs the authorization-code flow with PKCE in a browser of their own (authorize, sign in, consent),
exchanges the code, calls the API, refreshes, revokes; and tries a neighbour's token at their own
API and a neighbour's app at their own token endpoint — each a cross-tenant leak if it works.
Meanwhile the instructor's dashboard polls its feed every 2 seconds.

    .venv/bin/python benchmarks/bench_class.py [--learners 200] [--concurrency 32 | --pace 10 [--arrive 60]]
        [--workers 2] [--db postgresql://… [--processes 2]] [--open-files 1024] [--crash]
        [--spare-keys N]

By default --concurrency learners at once, each step sent as soon as the last one is answered:
the server's capacity, and the queueing it takes to reach it. --pace S: every learner at once,
each at a human pace (about S seconds before each step): the answer times a class sees; with
--arrive A, the learners arrive one after the other over A seconds (a class typing the class code
the instructor shows) instead of all in the same S seconds. Before the class joins, the server
makes its spare signing keys (as one started before class has them).

--open-files: every server process's limit of open files (ulimit -n; default 1,024, the common
default). --processes: several server processes on one PostgreSQL database, as behind a load
balancer (learners spread over them). --crash: SIGKILL the whole server mid-load, restart it on
the same database and port, check that every app and unexpired token answered before the kill
still works, and let every learner go on.

Prints throughput, p50/p99 per step, errors (must be 0), leaks (must be 0), and each worker's
peak of open files and resident memory. Not a test.

Measured here (2 cores shared with other work, load average 1–3; 1,000 learners, 32 at once,
2 workers, ulimit -n 1024): see benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from oauth_lab.user_agent import UserAgent  # noqa: E402

CLASS_CODE = "load-test"
SECRET = "load-test-instructor"
CALLBACK = "http://127.0.0.1:8765/callback"
SCOPE = "customers:ro"
KEYS_PATIENCE = 600  # seconds for the spare keys: about 55 s of one core makes 1,000


class Server:
    """One class server process group (granian's main process and its workers)."""

    def __init__(self, db: str, workers: int, port: int, open_files: int, learners: int,
                 public_url: str | None = None, spare_keys: int = 0):
        self.port, self.url = port, f"http://127.0.0.1:{port}"
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))) if open_files else None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mock_server", "--workshop", "--port", str(port), "--db", db,
             "--class-code", CLASS_CODE, "--instructor-secret", SECRET, "--workers", str(workers),
             "--trust-proxy", "--max-learners", str(learners), "--spare-keys", str(spare_keys),
             *(["--public-url", public_url] if public_url else [])],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=limit)
        for _ in range(300):
            try:
                requests.get(self.url, timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the class server did not start")

    def wait_for_spare_keys(self, count: int) -> float:
        """Seconds until the class server has made `count` signing keys ahead (spare_keys.py), as
        an instructor's server does before the class arrives: at most one per free seat."""
        started = time.perf_counter()
        while True:
            limits = requests.get(f"{self.url}/instructor/feed", headers={"Authorization": f"Bearer {SECRET}"}
                                  ).json()["limits"]
            if limits["spare_keys"] >= min(count, limits["max_learners"] - limits["learners"]):
                return time.perf_counter() - started
            if time.perf_counter() - started > KEYS_PATIENCE:
                sys.exit(f"only {limits['spare_keys']} of {count} spare keys after {KEYS_PATIENCE} s")
            time.sleep(0.5)

    def workers(self) -> list[int]:
        """The worker processes: the children of granian's main process."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children  # not the maker of spare keys
                if b"spare_keys" not in Path(f"/proc/{pid}/cmdline").read_bytes()]

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(15)


class Gauges:
    """Each worker's peak of open files and of resident memory, sampled twice a second."""

    def __init__(self, servers: list[Server]):
        self.servers, self.files, self.rss = servers, defaultdict(int), defaultdict(int)
        self.done = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self.done.wait(0.5):
            for server in self.servers:
                try:
                    for pid in server.workers():
                        self.files[pid] = max(self.files[pid], len(os.listdir(f"/proc/{pid}/fd")))
                        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
                        self.rss[pid] = max(self.rss[pid], pages * os.sysconf("SC_PAGE_SIZE"))
                except (OSError, ValueError):  # a worker restarting, or the server killed (--crash)
                    continue


class Tally:
    def __init__(self, pace: float = 0):
        self.times, self.errors, self.leaks, self.lock = defaultdict(list), [], 0, threading.Lock()
        self.requests, self.pace = 0, pace

    def step(self, name: str, call, expect: int):
        if self.pace:  # a learner reading, then running the next cell
            time.sleep(random.uniform(0.5, 1.5) * self.pace)
        started = time.perf_counter()
        answer = call()
        with self.lock:
            self.times[name].append(time.perf_counter() - started)
            self.requests += 1
            if answer.status_code != expect:
                self.errors.append(f"{name}: {answer.status_code} {answer.text[:120]}")
        return answer


class Learner:
    def __init__(self, number: int, base: str, tally: Tally):
        self.number, self.base, self.tally = number, base, tally
        self.http = requests.Session()
        # Behind the class's TLS proxy, each learner's own address (--trust-proxy).
        self.http.headers["X-Forwarded-For"] = f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
        self.issuer = self.app = self.kept_token = None

    @property
    def url(self) -> str:
        """The learner's world through their own server process (the issuer names the first)."""
        return self.base + urlsplit(self.issuer).path

    def join(self):
        answer = self.tally.step("join", lambda: self.http.post(f"{self.base}/workshop/join", json={
            "class_code": CLASS_CODE, "name": f"learner {self.number}"}), 201)
        self.issuer = answer.json()["issuer"]

    def register(self):
        answer = self.tally.step("register", lambda: self.http.post(f"{self.url}/register", json={
            "client_name": "Load", "redirect_uris": [CALLBACK], "scope": SCOPE,
            "grant_types": ["authorization_code", "client_credentials"]}), 201)
        self.app = (answer.json()["client_id"], answer.json()["client_secret"])
        got = self.tally.step("client_credentials", lambda: self.token(self.app, grant_type="client_credentials",
                                                                        scope=SCOPE), 200)
        self.kept_token = got.json()["access_token"]

    def token(self, auth=("fernhollow-reports", "reports-secret"), **form):
        return self.http.post(f"{self.url}/token", data=form, auth=auth)

    def flow(self):
        verifier = secrets.token_urlsafe(48)
        state = secrets.token_urlsafe(8)
        url = f"{self.url}/authorize?" + urlencode({
            "response_type": "code", "client_id": "fernhollow-reports", "redirect_uri": CALLBACK,
            "scope": SCOPE, "state": state, "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256"})
        # The pages name the class's public URL (the first process): the learner's browser goes
        # on through their own process, as a load balancer would send it anywhere.
        issuer = urlsplit(self.issuer)
        browser = UserAgent(reach={f"{issuer.scheme}://{issuer.netloc}": self.base})
        browser.session.headers["X-Forwarded-For"] = self.http.headers["X-Forwarded-For"]
        page = self.tally.step("authorize+login", lambda: _page(browser.consent_page(url, self.issuer)), 200)
        location = self.tally.step("consent", lambda: _redirect(browser.decide(page)), 302).location
        code = dict(parse_qsl(urlsplit(location).query))["code"]
        tokens = self.tally.step("token", lambda: self.token(grant_type="authorization_code", code=code,
                                                             redirect_uri=CALLBACK, code_verifier=verifier), 200).json()
        self.tally.step("api", lambda: self.api(tokens["access_token"]), 200)
        refreshed = self.tally.step("refresh", lambda: self.token(grant_type="refresh_token",
                                                                  refresh_token=tokens["refresh_token"]), 200).json()
        self.tally.step("revoke", lambda: self.http.post(f"{self.url}/revoke", auth=(
            "fernhollow-reports", "reports-secret"), data={"token": refreshed["refresh_token"]}), 200)

    def api(self, access_token: str):
        return self.http.post(f"{self.url}/v3.5/agent/action/list_customers", json={},
                              headers={"Authorization": f"Bearer {access_token}"})

    def attack(self, neighbour: "Learner"):
        """A neighbour's token at my API, a neighbour's app at my token endpoint: both must fail."""
        stolen = self.api(neighbour.kept_token).status_code
        borrowed = self.token(neighbour.app, grant_type="client_credentials", scope=SCOPE).status_code
        with self.tally.lock:
            self.tally.requests += 2
            self.tally.leaks += (stolen != 401) + (borrowed != 401)


class _page:  # the consent page, as a response-like object for Tally.step
    def __init__(self, page):
        self.page, self.status_code = page, getattr(page, "status_code", 0)
        self.text = getattr(page, "text", str(page))

    def __getattr__(self, name):
        return getattr(self.page, name)


class _redirect:
    def __init__(self, location: str):
        self.location, self.status_code, self.text = location, 302 if "code=" in location else 0, location


def watch_the_dashboard(base: str, tally: Tally, done: threading.Event) -> None:
    """The instructor's page: its feed every 2 seconds, as the dashboard polls it."""
    http, since = requests.Session(), 0
    http.headers["Authorization"] = f"Bearer {SECRET}"
    while not done.wait(2):
        try:
            answer = tally.step("dashboard feed", lambda: http.get(f"{base}/instructor/feed",
                                                                    params={"since": since}), 200)
            since = answer.json()["last_seq"]
        except requests.ConnectionError:  # killed (--crash)
            continue


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))] * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32, help="learners at once (threads)")
    parser.add_argument("--workers", type=int, default=2, help="per server process")
    parser.add_argument("--db", help="postgresql://… (default: a SQLite file in a temporary folder)")
    parser.add_argument("--processes", type=int, default=1, help="server processes sharing --db (PostgreSQL)")
    parser.add_argument("--open-files", type=int, default=1024, help="each server process's ulimit -n")
    parser.add_argument("--crash", action="store_true", help="SIGKILL mid-load, restart, verify")
    parser.add_argument("--pace", type=float, default=0, metavar="SECONDS",
                        help="each learner waits about this long before each step (0.5–1.5×, at random), "
                             "all learners at once: a class at its own pace, not the server's (default 0: "
                             "--concurrency learners, each step at once)")
    parser.add_argument("--arrive", type=float, default=0, metavar="SECONDS",
                        help="with --pace: learners arrive evenly over this long, each then at their pace "
                             "(default 0: all at once)")
    parser.add_argument("--spare-keys", type=int, help="signing keys made before the class joins "
                        "(default: one per learner, as a server started before the class has them; 0: none)")
    args = parser.parse_args(argv)
    if args.processes > 1 and not args.db:
        parser.error("--processes needs --db postgresql://… (SQLite is one machine's, one process group's)")
    if args.arrive and not args.pace:
        parser.error("--arrive needs --pace")
    from mock_server import free_port

    folder = tempfile.mkdtemp(prefix="bench-class-")
    db = args.db or f"{folder}/class.sqlite3"
    spare_keys = args.learners if args.spare_keys is None else args.spare_keys
    servers = [Server(db, args.workers, free_port(), args.open_files, args.learners, spare_keys=spare_keys)]
    servers += [Server(db, args.workers, free_port(), args.open_files, args.learners, servers[0].url)
                for _ in range(args.processes - 1)]
    print(f"{spare_keys} signing keys made ahead in {servers[0].wait_for_spare_keys(spare_keys):.0f} s "
          "(before the class joins)", flush=True)
    tally, gauges, watching = Tally(args.pace), Gauges(servers), threading.Event()
    learners = [Learner(i, servers[i % len(servers)].url, tally) for i in range(args.learners)]
    threading.Thread(target=watch_the_dashboard, args=(servers[0].url, tally, watching), daemon=True).start()
    started = time.perf_counter()
    with ThreadPoolExecutor(args.learners if args.pace else args.concurrency) as pool:
        if args.crash:  # mid-load: once a quarter of the flows have exchanged their code
            threading.Thread(target=kill_when, args=(servers[0], tally, args.learners // 4), daemon=True).start()
        if args.pace:  # each learner on through the course at their own pace
            arrivals = [started + args.arrive * i / args.learners for i in range(args.learners)]
            interrupted = [learner for learner in pool.map(whole_course, learners, arrivals) if learner]
        else:  # everyone joins, then everyone runs the flow
            list(pool.map(lambda learner: (learner.join(), learner.register()), learners))
            interrupted = [learner for learner in pool.map(flow_unless_killed, learners) if learner]
        if args.crash:
            servers[0] = restart_and_check(servers[0], db, args, learners, tally)
            gauges.servers = servers
            print(f"{len(interrupted)} learners were cut off mid-flow; they start it again")
            list(pool.map(Learner.flow, interrupted))
        list(pool.map(lambda i: learners[i].attack(learners[(i + 1) % len(learners)]), range(len(learners))))
    seconds = time.perf_counter() - started
    watching.set()
    gauges.done.set()
    for server in servers:
        server.stop()
    shutil.rmtree(folder, ignore_errors=True)  # a SQLite class: a thousand learners' files
    kind = f"PostgreSQL, {args.processes} server process{'es' if args.processes > 1 else ''}" if args.db \
        else "SQLite"
    arriving = f"arriving over {args.arrive:g} s" if args.arrive else "all at once"
    at_once = f"{arriving}, a step every {args.pace:g} s or so each" if args.pace else f"{args.concurrency} at once"
    print(f"{args.learners} learners, {at_once}, {args.workers} workers per process, {kind}, "
          f"ulimit -n {args.open_files}{', killed and restarted mid-load' if args.crash else ''}")
    print(f"{tally.requests} requests in {seconds:.1f} s: {tally.requests / seconds:.0f} requests/s")
    print(f"{'step':20} {'count':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for name, times in tally.times.items():
        print(f"{name:20} {len(times):6} {percentile(times, 50):8.1f} {percentile(times, 99):8.1f}")
    print(f"errors: {len(tally.errors)}" + "".join(f"\n  {e}" for e in tally.errors[:10]))
    print(f"cross-tenant leaks: {tally.leaks}")
    for pid in sorted(gauges.files):
        print(f"worker {pid}: at most {gauges.files[pid]} open files, {gauges.rss[pid] / 2**20:.0f} MiB resident")
    return 1 if tally.errors or tally.leaks else 0


def whole_course(learner: Learner, arrival: float) -> Learner | None:
    time.sleep(max(0.0, arrival - time.perf_counter()))  # the learner's turn to arrive (--arrive)
    learner.join()
    learner.register()
    return flow_unless_killed(learner)


def flow_unless_killed(learner: Learner) -> Learner | None:
    """Run the learner's flow; the learner, when the server died under it."""
    try:
        learner.flow()
    except requests.ConnectionError:
        return learner
    return None


def kill_when(server: Server, tally: Tally, tokens: int) -> None:
    while len(tally.times["token"]) < tokens:
        time.sleep(0.01)
    server.kill()


def restart_and_check(server: Server, db: str, args, learners: list, tally: Tally) -> Server:
    """Restart on the same database and port; check what was answered before the SIGKILL."""
    killed = time.perf_counter()
    server = Server(db, args.workers, server.port, args.open_files, args.learners)
    print(f"killed with SIGKILL mid-load, restarted on the same database in "
          f"{time.perf_counter() - killed:.1f} s")
    for learner in learners:
        forwarded = learner.http.headers["X-Forwarded-For"]
        learner.http = requests.Session()  # its connections died with the server
        learner.http.headers["X-Forwarded-For"] = forwarded
    broken = sum(learner.token(learner.app, grant_type="client_credentials", scope=SCOPE).status_code != 200
                 or learner.api(learner.kept_token).status_code != 200 for learner in learners)
    tally.requests += 2 * len(learners)
    print(f"after the restart: {len(learners)} apps and {len(learners)} tokens checked, {broken} broken")
    if broken:
        tally.errors.append(f"{broken} apps or tokens lost in the crash")
    return server


if __name__ == "__main__":
    sys.exit(main())
