"""A client's website for the Client ID Metadata Document tests: it serves whatever each test
puts at a path (a document, a redirect, a huge or slow answer) and logs every request it gets, so a
test can tell a refusal *before* any fetch from one after it."""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from flows import APP_CALLBACK


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    drip: float = 0.0  # seconds between the body's bytes
    length: bool = True  # send Content-Length
    lower_case: bool = False  # header names in lower case, as HTTP/2 servers and many proxies send them


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        site = self.server.site
        site.requests.append({"path": self.path, "host": self.headers.get("Host"),
                              "authorization": self.headers.get("Authorization"),
                              "cookie": self.headers.get("Cookie")})
        answer = site.answers.get(self.path, Answer(404, b"not here", "text/plain"))
        time.sleep(answer.delay)
        self.send_response(answer.status)
        headers = {"Content-Type": answer.content_type,
                   **({"Content-Length": str(len(answer.body))} if answer.length else {}), **answer.headers}
        for name, value in headers.items():
            self.send_header(name.lower() if answer.lower_case else name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            if answer.drip:
                for byte in answer.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(answer.drip)
            else:
                self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the fetcher gave up: that is the point of the test
        self.close_connection = True

    def log_message(self, *args):
        pass


class DocumentSite:
    """``http://<host>:<port>`` (or https with `tls`), serving `answers` by path."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None):
        self.answers: dict[str, Answer] = {}
        self.requests: list[dict] = []
        self._server = ThreadingHTTPServer((host, 0), _Handler)
        self._server.daemon_threads = True
        self._server.site = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.host = host
        scheme = "https" if tls else "http"
        self.origin = f"{scheme}://{f'[{host}]' if ':' in host else host}:{self.port}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str = "/client.json") -> str:
        return self.origin + path

    def publish(self, path: str = "/client.json", client_id: str | None = None, cache: str | None = None,
                **metadata) -> str:
        """A valid document at `path` (its client_id its own URL unless said otherwise), served
        with `Cache-Control: cache` when given."""
        url = self.url(path)
        document = {"client_id": url if client_id is None else client_id, "client_name": "Doc App",
                    "redirect_uris": [APP_CALLBACK], **metadata}
        self.answers[path] = Answer(body=json.dumps(document).encode(),
                                    headers={"Cache-Control": cache} if cache else {})
        return url

    def fetched(self, path: str = "/client.json") -> int:
        return sum(1 for request in self.requests if request["path"] == path)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def certificate_authority(folder: Path, name: str) -> tuple[Path, ssl.SSLContext]:
    """A throwaway CA (its certificate file, for SSL_CERT_FILE) and a server context whose
    certificate it signed, for `name` and 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return ca_file, context
