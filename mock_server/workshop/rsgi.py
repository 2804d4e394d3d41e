"""The class server's WSGI app behind granian's RSGI interface: a request's body is received in
full by granian (asynchronously, in its Rust runtime) before any Python thread sees the request.

Granian's own WSGI interface hands the request to a thread first and lets the app read the body
from there: a client that trickles its body holds that thread, and a handful of them stall a
worker (seen here: six trickling clients stopped a two-thread worker for as long as they liked).
Here, trickling costs no thread; a body not complete within ``BODY_TIMEOUT`` is refused with 408,
and one larger than the app's limit is handed to the app unread, which answers 413 (JSON on the
back channel, the error page for pages). Then the WSGI app (PEP 3333) runs — by default on the
worker's event loop itself, one request at a time per worker process (measured here, a thread
pool's hand-offs cost a third of the floor's throughput: 1,250 against 1,750 requests/s); with
``threads``, in a pool of that many threads, which pays when the database is across a network.
"""
from __future__ import annotations

import asyncio
import io
import json
import sys
from concurrent.futures import ThreadPoolExecutor

BODY_TIMEOUT = 10.0  # seconds for a whole request body to arrive
TIMEOUT_BODY = json.dumps({"error": "invalid_request", "error_description":
                           f"The request body did not arrive within {BODY_TIMEOUT:.0f} seconds."}).encode()


class WSGIOverRSGI:
    def __init__(self, wsgi_app, threads: int, max_body: int, aside: tuple[str, ...] = ()):
        """`aside`: paths whose requests are long by nature (a join makes an RSA key, ~100 ms of
        CPU; the dashboard's feed names every learner): each runs on a thread of its own, so that
        the worker's other requests go on meanwhile instead of queueing behind them."""
        self.wsgi_app, self.max_body = wsgi_app, max_body
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="wsgi") if threads else None
        self._aside = {path: ThreadPoolExecutor(1, thread_name_prefix="aside") for path in aside}

    async def __rsgi__(self, scope, protocol):
        try:
            body = await asyncio.wait_for(self._body(scope, protocol), BODY_TIMEOUT)
        except asyncio.TimeoutError:
            protocol.response_bytes(408, [("content-type", "application/json"),
                                          ("cache-control", "no-store"), ("connection", "close")],
                                    TIMEOUT_BODY)
            return
        threads = self._aside.get(scope.path, self._threads)
        if threads is None:
            status, headers, content = self._call(scope, body)
        else:
            loop = asyncio.get_running_loop()
            status, headers, content = await loop.run_in_executor(threads, self._call, scope, body)
        protocol.response_bytes(status, headers, content)

    async def _body(self, scope, protocol) -> bytes | None:
        """The whole body, or None when it is larger than max_body (then it is not kept)."""
        declared = scope.headers.get("content-length")
        if declared and (not declared.isdigit() or int(declared) > self.max_body):
            return None
        received, size = [], 0
        async for chunk in protocol:
            size += len(chunk)
            if size > self.max_body:
                return None
            received.append(chunk)
        return b"".join(received)

    def _call(self, scope, body: bytes | None):
        environ = self._environ(scope, body)
        started = []

        def start_response(status, headers, exc_info=None):
            started[:] = [int(status.split(" ", 1)[0]), headers]

        result = self.wsgi_app(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return started[0], started[1], content

    def _environ(self, scope, body: bytes | None) -> dict:
        server_host, _, server_port = scope.server.rpartition(":")
        environ = {
            "REQUEST_METHOD": scope.method,
            "SCRIPT_NAME": "",
            # PEP 3333: the path percent-decoded, as bytes carried in a latin-1 str. Granian hands
            # it over decoded already: decoded again, %2569 would become "i" (a proxy's rule on
            # /instructor bypassed) and every literal "%" would be taken for an escape.
            "PATH_INFO": scope.path.encode("utf-8", "surrogateescape").decode("latin-1"),
            "QUERY_STRING": scope.query_string,
            "SERVER_NAME": server_host.strip("[]"),
            "SERVER_PORT": server_port,
            "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
            "REMOTE_ADDR": scope.client.rpartition(":")[0].strip("[]"),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scope.scheme,
            "wsgi.input": io.BytesIO(body or b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        for name, value in scope.headers.items():
            key = name.upper().replace("-", "_")
            key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"
            environ[key] = f"{environ[key]}, {value}" if key in environ else value
        if body is None:  # too large: the app sees a length past its limit and answers 413
            environ["CONTENT_LENGTH"] = str(self.max_body + 1)
        elif "CONTENT_LENGTH" not in environ and body:
            environ["CONTENT_LENGTH"] = str(len(body))
        return environ
