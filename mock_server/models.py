"""The stored things, as RFC 6749 names them: clients, users, authorization codes, tokens, device
codes; and the signing keys and browser sessions.

Expiry is always read from the virtual clock (``state.current().clock``), never from ``time``.
No code or token is deleted when used or revoked: a used code and a rotated refresh token are kept,
marked, because *reuse* of either is the signal of an attack (RFC 6749 §4.1.2, RFC 9700 §4.14.2).
They are purged once nothing can use them any more (``purge``). Tokens are kept as hashes, never
as the strings a client holds.
"""
from __future__ import annotations

import hmac

from authlib.integrations.sqla_oauth2 import OAuth2ClientMixin
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, TokenMixin
from authlib.oauth2.rfc8628 import DeviceCredentialMixin
from sqlalchemy import Boolean, Column, Integer, String, Text

from . import redirects, scopes
from .state import current
from .storage import Base, credential_hash


def _now() -> int:
    return current().clock.timestamp()


class User(Base):
    """A resource owner: an agent of the demo organisation."""

    __tablename__ = "users"
    id = Column(String(64), primary_key=True)
    password_hash = Column(Text, nullable=False)
    name = Column(Text, nullable=False)
    email = Column(Text, nullable=False)
    role = Column(String(20), nullable=False)
    organization_id = Column(String(64), nullable=False)

    def get_user_id(self):
        return self.id


class Client(Base, OAuth2ClientMixin):
    """A registered app. ``app_type`` is LiveChat's word: "server-side" (confidential) or "browser"."""

    __tablename__ = "clients"
    id = Column(Integer, primary_key=True)
    app_type = Column(String(20), nullable=False, default="server-side")
    # A resource server (the agent API) may introspect any token (RFC 7662 §4).
    is_resource_server = Column(Boolean, nullable=False, default=False)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def is_native(self) -> bool:
        """Registered as a native app (`application_type`, OpenID Connect Dynamic Client
        Registration §2): its loopback IP redirect URIs match on any port (RFC 8252 §7.3)."""
        return self.client_metadata.get("application_type") == "native"

    def check_redirect_uri(self, redirect_uri):
        mode = current().settings.switches.redirect_matching
        return redirects.matches(redirect_uri, self.redirect_uris, mode, native=self.is_native)

    def check_client_secret(self, client_secret):
        """Constant-time, on bytes: a secret may hold any character (str comparison would raise)."""
        if not self.client_secret or not isinstance(client_secret, str):
            return False
        return hmac.compare_digest(self.client_secret.encode(), client_secret.encode())

    def get_default_redirect_uri(self):
        """RFC 6749 §3.1.2.3: `redirect_uri` may be omitted only when exactly one is registered."""
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    @property
    def is_metadata_document(self) -> bool:
        """Known by the URL of its metadata document, not registered (client_id_metadata.py)."""
        return self.client_id.startswith(("https://", "http://"))

    def get_allowed_scope(self, scope):
        """RFC 6749 §3.3: no `scope` gets the app's registered scopes (LiveChat's way); with
        `scope`, every scope asked for must be registered — refusing (None → invalid_scope)
        rather than silently dropping what the app asked for. A metadata document that names no
        `scope` limits nothing: the user decides, and the roles apply."""
        if not scope:
            return scopes.join_scope(scopes.split_scope(self.scope))
        requested = scopes.split_scope(scope)
        registered = set(scopes.split_scope(self.scope))
        if self.is_metadata_document and "scope" not in self.client_metadata:
            registered = set(scopes.CATALOG)
        if not requested or not set(requested) <= registered:
            return None
        return scopes.join_scope(requested)

    def check_endpoint_auth_method(self, method, endpoint):
        """A public client proves nothing ("none"); a confidential one sends its secret in the Basic
        header (RFC 6749 §2.3.1: servers MUST support it) or in the form body (allowed there, though
        NOT RECOMMENDED; client libraries use both)."""
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")


class AuthorizationCode(Base, AuthorizationCodeMixin):
    __tablename__ = "authorization_codes"
    id = Column(Integer, primary_key=True)
    code = Column(String(120), unique=True, nullable=False)
    client_id = Column(String(255), nullable=False)  # 255: a metadata document's URL
    user_id = Column(String(64), nullable=False)
    redirect_uri = Column(Text, default="")
    response_type = Column(Text, default="")
    scope = Column(Text, default="")
    nonce = Column(Text)
    state = Column(Text)
    auth_time = Column(Integer, nullable=False)
    issued_at = Column(Integer, nullable=False)
    expires_at = Column(Integer, nullable=False)
    code_challenge = Column(Text)
    code_challenge_method = Column(String(48))
    # RFC 8707 §2.1: the path of the protected resource the grant is for; NULL: the default one.
    resource = Column(String(64))
    used_at = Column(Integer)
    # RFC 9449 §10: the JWK thumbprint of the DPoP key the code is bound to (dpop_jkt), if any.
    dpop_jkt = Column(String(64))

    def is_expired(self):
        return self.expires_at <= _now()

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_auth_time(self):
        return self.auth_time

    def get_nonce(self):
        return self.nonce

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class Token(Base, TokenMixin):
    """One token response: an access token and, maybe, a refresh token — what checking and
    revoking them needs (id, owner, scope, expiry) and the hashes of the two strings.

    ``family_id`` ties together every token descended from one authorization (one code, or one
    device grant) through refresh: reuse of a rotated refresh token revokes the whole family.
    """

    __tablename__ = "tokens"
    id = Column(Integer, primary_key=True)
    token_id = Column(String(64), unique=True, nullable=False)  # the JWT's jti
    client_id = Column(String(255), nullable=False)  # 255: a metadata document's URL
    user_id = Column(String(64))
    grant_type = Column(String(80), nullable=False)
    token_type = Column(String(40), nullable=False, default="Bearer")
    access_token_hash = Column(String(64), unique=True, nullable=False)  # credential_hash()
    refresh_token_hash = Column(String(64), unique=True)
    scope = Column(Text, default="")  # the access token's
    # The refresh token's scope: the grant's, unchanged by rotation even when a refresh narrowed
    # the access token (RFC 6749 §6). NULL in files written before it existed: then `scope`.
    refresh_scope = Column(Text)
    issued_at = Column(Integer, nullable=False)
    expires_in = Column(Integer, nullable=False)
    refresh_expires_at = Column(Integer)
    access_revoked_at = Column(Integer)
    refresh_revoked_at = Column(Integer)
    refresh_used_at = Column(Integer)  # rotated away: presenting it again is reuse
    family_id = Column(String(64), nullable=False)
    code_id = Column(Integer)
    # RFC 8707: the path of the protected resource the access token is for (its `aud`), and so of
    # its grant's (one resource per grant); NULL in rows written before: the default one.
    resource = Column(String(64))
    # The livechat profile only: the refresh token this access token came with, sealed under the
    # access token, for LiveChat's /v2/info (mock_server/livechat/tokens.py).
    refresh_token_sealed = Column(Text)
    # RFC 9449 §6: the thumbprint (RFC 7638) of the DPoP key the access token is bound to, and
    # (§5: public clients only) the one its refresh token is bound to. NULL: a bearer token.
    dpop_jkt = Column(String(64))
    refresh_dpop_jkt = Column(String(64))

    def check_client(self, client):
        return self.client_id == client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def get_refresh_scope(self) -> str:
        return self.scope if self.refresh_scope is None else self.refresh_scope

    @property
    def expires_at(self) -> int:
        return self.issued_at + self.expires_in

    def is_expired(self):
        return self.expires_at <= _now()

    def is_revoked(self):
        return self.access_revoked_at is not None

    def is_access_token(self, value: str) -> bool:
        return self.access_token_hash == credential_hash(value)

    def is_refresh_token(self, value: str) -> bool:
        return self.refresh_token_hash is not None and self.refresh_token_hash == credential_hash(value)

    def is_refresh_active(self) -> bool:
        return (
            self.refresh_token_hash is not None
            and self.refresh_revoked_at is None
            and self.refresh_used_at is None
            and (self.refresh_expires_at is None or self.refresh_expires_at > _now())
        )

    def is_active(self) -> bool:
        return not self.is_revoked() and not self.is_expired()

    def revoke(self) -> None:
        now = _now()
        self.access_revoked_at = self.access_revoked_at or now
        if self.refresh_token_hash:
            self.refresh_revoked_at = self.refresh_revoked_at or now


class DeviceCredential(Base, DeviceCredentialMixin):
    """RFC 8628: a device code waiting for a user to type its user code and decide."""

    __tablename__ = "device_credentials"
    id = Column(Integer, primary_key=True)
    device_code = Column(String(120), unique=True, nullable=False)
    user_code = Column(String(16), unique=True, nullable=False)
    client_id = Column(String(255), nullable=False)  # 255: a metadata document's URL
    scope = Column(Text, default="")
    issued_at = Column(Integer, nullable=False)
    expires_at = Column(Integer, nullable=False)
    interval = Column(Integer, nullable=False)
    last_polled_at = Column(Integer)
    user_id = Column(String(64))
    decision = Column(String(10))  # "allow" / "deny" once the user chose
    consumed_at = Column(Integer)

    def get_client_id(self):
        return self.client_id

    def get_scope(self):
        return self.scope

    def get_user_code(self):
        return self.user_code

    def get_nonce(self):
        return None

    def get_auth_time(self):
        return self.issued_at

    def is_expired(self):
        return self.expires_at <= _now()


class SigningKey(Base):
    """An RSA key that signs JWT access tokens and ID tokens; retired keys stay published."""

    __tablename__ = "signing_keys"
    kid = Column(String(64), primary_key=True)
    private_jwk = Column(Text, nullable=False)
    created_at = Column(Integer, nullable=False)
    retired_at = Column(Integer)


class BrowserSession(Base):
    """One browser's session (sessions.py): the cookie holds only ``id``; logout deletes the row."""

    __tablename__ = "browser_sessions"
    id = Column(String(64), primary_key=True)
    data = Column(Text, nullable=False)  # JSON: the signed-in user, auth_time, the CSRF token
    created_at = Column(Integer, nullable=False)


class LoginFailure(Base):
    """A wrong password for a username, kept a while to rate-limit guessing (users.py)."""

    __tablename__ = "login_failures"
    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, index=True)
    at = Column(Integer, nullable=False)  # real time: a learner's fast-forward must not lift it



class PushedRequest(Base):
    """RFC 9126: an authorization request a client pushed, waiting for the browser to bring its
    ``request_uri`` to the authorization endpoint. Kept as the hash of the ``request_uri``, bound
    to the client that pushed it, short-lived, used once."""

    __tablename__ = "pushed_requests"
    id = Column(Integer, primary_key=True)
    request_uri_hash = Column(String(64), unique=True, nullable=False)  # credential_hash()
    client_id = Column(String(255), nullable=False)  # 255: a metadata document's URL
    parameters = Column(Text, nullable=False)  # JSON: the pushed authorization request
    issued_at = Column(Integer, nullable=False)
    expires_at = Column(Integer, nullable=False)
    used_at = Column(Integer)


class DPoPProof(Base):
    """RFC 9449 §11.1: a DPoP proof seen, by a hash of its key's thumbprint and its ``jti``, until
    the proof could no longer be accepted anyway: the same proof twice is a replay."""

    __tablename__ = "dpop_proofs"
    id = Column(Integer, primary_key=True)
    proof_hash = Column(String(64), unique=True, nullable=False)
    expires_at = Column(Integer, nullable=False, index=True)


class DPoPNonce(Base):
    """RFC 9449 §8, §9: a nonce this server handed out (``DPoP-Nonce``), accepted in proofs for a
    while after."""

    __tablename__ = "dpop_nonces"
    id = Column(Integer, primary_key=True)
    value = Column(String(64), unique=True, nullable=False)
    issued_at = Column(Integer, nullable=False, index=True)
