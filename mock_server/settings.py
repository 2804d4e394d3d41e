"""Settings: everything that makes one server differ from another, in one object.

Secure behaviour is the default. The *teaching switches* turn a rule off so a learner can watch
the attack it prevents; each one is named for what it weakens and shows up in the banner and in
the metadata field ``mock_server_teaching_switches`` whenever it is on.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

REDIRECT_MATCHING = ("exact", "prefix", "lax")
# A profile makes the server behave as one vendor's docs describe, departures from the standards
# included (mock_server/livechat/). Off by default; shown in the banner and the metadata when on.
LIVECHAT = "livechat"
PROFILES = (LIVECHAT,)
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
# The redirection endpoint of the learner's app (RFC 6749 §3.1.2): served by the app itself, in
# the notebook's kernel (oauth_lab.redirection_endpoint), on its own origin — never by this server.
APP_CALLBACK = "/callback"
# Its port: MOCK_APP_PORT, as oauth_lab.setup(), binder/start and the proxy entry read it.
DEFAULT_APP_PORT = 8765
APP_PORT = int(os.environ.get("MOCK_APP_PORT", DEFAULT_APP_PORT))
APP_REDIRECT_URI = f"http://127.0.0.1:{APP_PORT}{APP_CALLBACK}"
# On a hub, jupyter-server-proxy serves both under the Jupyter server's public URL, by these names
# (binder/jupyter_server_config.py): the browser cannot reach 127.0.0.1 inside the container.
PROXY_ENTRIES = {"server": "oauth", "app": "oauth-app"}


def behind_jupyter(jupyter_url: str) -> tuple[str, str]:
    """This server's public URL and the app's, behind a Jupyter server whose public URL (prefix
    included) is `jupyter_url`: ``https://hub.example/user/jane/`` gives
    ``https://hub.example/user/jane/oauth`` and ``https://hub.example/user/jane/oauth-app``.

    The one derivation: binder/start writes it in bash (tests/test_binder.py checks they agree),
    the admin route that learns the public URL and ``oauth_lab.setup()`` call this."""
    base = jupyter_url.rstrip("/")
    return f"{base}/{PROXY_ENTRIES['server']}", f"{base}/{PROXY_ENTRIES['app']}"


@dataclass(frozen=True)
class Lifetimes:
    """Seconds each credential lives. RFC 6749 §4.1.2 recommends at most 10 minutes for a code."""

    authorization_code: int = 600
    access_token: int = 3600
    refresh_token: int = 30 * 24 * 3600
    device_code: int = 600
    # RFC 9126 §2.2: a request_uri is short-lived ("typically ... between 5 and 600 seconds"):
    # long enough for a person to sign in and decide, since each page of that reads it again.
    pushed_request: int = 120


@dataclass(frozen=True)
class Switches:
    """Insecure teaching switches. Every default here is the secure, standards-true one."""

    allow_implicit: bool = False  # response_type=token (RFC 9700 §2.1.2 says: don't)
    require_pkce: bool = True  # public clients must send an S256 code_challenge
    redirect_matching: str = "exact"  # "prefix" is LiveChat's rule, "lax" accepts any URI
    refresh_rotation: bool = True  # each refresh returns a new refresh token
    allow_token_in_query: bool = False  # ?access_token=... at the API (RFC 6750 §2.3)
    allow_framing: bool = False  # any site may frame login and consent (RFC 9700 §4.16: must not)

    def __post_init__(self):
        if self.redirect_matching not in REDIRECT_MATCHING:
            raise ValueError(f"redirect_matching must be one of {REDIRECT_MATCHING}")

    def insecure(self) -> dict:
        """The switches that differ from the secure default, by name."""
        secure = Switches()
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(secure, f.name)
        }


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 5001
    seed: int | None = None  # deterministic mode: seeded ids and a frozen virtual clock
    db: str | None = None  # SQLite file that keeps apps, users, grants and tokens; None = memory
    public_url: str | None = None  # the browser-facing base URL, when it is not http://host:port
    access_token_format: str = "jwt"  # RFC 9068 JWT, or "opaque"
    registration_token: str | None = None  # initial access token for RFC 7591 off loopback
    # RFC 7591 with no initial access token even off loopback: a workshop learner's own world.
    open_registration: bool = False
    # Registered for the demo apps: the app's loopback callback, plus its proxied one on a hub.
    app_redirect_uris: tuple[str, ...] = (APP_REDIRECT_URI,)
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    switches: Switches = field(default_factory=Switches)
    profile: str | None = None  # None: the standards; "livechat": LiveChat's rules
    # Plain http from other machines (a lab on a trusted network: a hub or class without TLS).
    # OAuth requires TLS there (RFC 6749 §3.1): off by default, and loud when on (transport.py).
    allow_plain_http: bool = False
    # Started for a Jupyter server at this path (JUPYTERHUB_SERVICE_PREFIX, "/user/<name>/"): its
    # proxy serves us at {prefix}oauth, where the first page viewed learns the public URL.
    jupyter_prefix: str | None = None
    # Stricter than the default, never weaker (so not teaching switches): every client must push
    # its authorization requests (RFC 9126 §5), and DPoP proofs must carry a nonce this server
    # handed out (RFC 9449 §8, §9). Both are advertised: the first in the metadata
    # (require_pushed_authorization_requests), the second in mock_server_requires_dpop_nonce.
    require_pushed_authorization_requests: bool = False
    require_dpop_nonce: bool = False

    def __post_init__(self):
        if self.access_token_format not in ("jwt", "opaque"):
            raise ValueError("access_token_format must be 'jwt' or 'opaque'")
        if self.jupyter_prefix is not None and not re.fullmatch(r"/(?:[^/?#]+/)*", self.jupyter_prefix):
            raise ValueError("jupyter_prefix is a path with a slash at each end, e.g. /user/jane/")
        if self.profile not in (None, *PROFILES):
            raise ValueError(f"profile must be one of {PROFILES} (or None)")
        if self.profile and (self.require_pushed_authorization_requests or self.require_dpop_nonce):
            raise ValueError(f"the {self.profile} profile has no pushed authorization requests and no DPoP "
                             "(LiveChat documents neither)")
        if self.profile and (self.switches.insecure() or self.lifetimes.access_token != Lifetimes().access_token):
            # The profile sets these rules itself (redirect matching, PKCE, rotation, 8 h tokens):
            # a switch on top would describe neither the standard nor the vendor.
            raise ValueError(f"the {self.profile} profile takes no teaching switch and keeps its own "
                             "access-token lifetime")

    @property
    def base_url(self) -> str:
        """The back-channel URL: where the kernel (or any client on this machine) reaches us."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def issuer(self) -> str:
        """The issuer identifier (RFC 8414 §2: a URL without query or fragment): the browser-facing
        URL, no trailing slash. Metadata, `iss` and ID tokens repeat it byte for byte (§3.3)."""
        return (self.public_url or self.base_url).rstrip("/")

    @functools.cached_property  # read on every request; settings change only by being replaced
    def allowed_hosts(self) -> frozenset[str]:
        """The host names a request's Host header may carry, any port: this machine's loopback
        names and the names in our own URLs (behind jupyter-server-proxy, the Host is the Jupyter
        server's: loopback locally, the public URL's on a hub). Anything else is a page that
        pointed its own name at us (DNS rebinding)."""
        return LOOPBACK_NAMES | {urlsplit(url).hostname for url in (self.issuer, self.base_url)}

    @property
    def on_loopback(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1")

    @property
    def registration_needs_token(self) -> bool:
        return not (self.on_loopback or self.open_registration)

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)
