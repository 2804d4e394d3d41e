"""The grants (RFC 6749 §4, RFC 7636, RFC 8628, OIDC Core): Authlib does the protocol; each subclass
here only says how *this* server stores and decides — the rules in RULES.md.
"""
from __future__ import annotations

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8628 import DeviceCodeGrant as _DeviceCodeGrant
from authlib.oidc.core import OpenIDCode as _OpenIDCode
from authlib.oidc.core import UserInfo
from sqlalchemy import update

from . import scopes
from .dpop import SenderConstrained
from .errors import rfc_text
from .models import AuthorizationCode, DeviceCredential, Token, User
from .state import current
from .storage import credential_hash

CONFIDENTIAL = ["client_secret_basic", "client_secret_post"]  # methods that prove who the client is
PUBLIC_AND_CONFIDENTIAL = [*CONFIDENTIAL, "none"]


def user_info(user: User, scope: str) -> UserInfo:
    """OIDC Core §5.4: what each identity scope reveals about the user."""
    granted = scopes.split_scope(scope)
    info = UserInfo(sub=user.id)
    if "profile" in granted:
        info["name"] = user.name
        info["preferred_username"] = user.id
    if "email" in granted:
        info.update(email=user.email, email_verified=True)
    return info


class StrictCodeChallenge(CodeChallenge):
    """RFC 7636 with this server's defaults: S256 only, and required of public clients at the
    *authorization* endpoint already (Authlib alone checks only at the token endpoint).
    `methods` widens the choice (the livechat profile accepts plain too)."""

    def __init__(self, required: bool, methods: list[str] | None = None):
        super().__init__(required=required)
        self.SUPPORTED_CODE_CHALLENGE_METHOD = methods or (["S256"] if required else ["S256", "plain"])

    def validate_code_challenge(self, grant, redirect_uri):
        payload = grant.request.payload.data
        methods = self.SUPPORTED_CODE_CHALLENGE_METHOD
        if self.required:
            if grant.request.client.is_public and not payload.get("code_challenge"):
                raise InvalidRequestError(
                    f"A public client must send 'code_challenge' with {' or '.join(methods)} (RFC 7636, OAuth 2.1)."
                )
            if grant.request.client.is_native and not payload.get("code_challenge"):
                # RFC 8252 §8.1: "Authorization servers SHOULD reject authorization requests from
                # native apps that don't use PKCE" — a native app with a secret too.
                raise InvalidRequestError(f"A native app must send 'code_challenge' with {' or '.join(methods)} "
                                          "(RFC 8252 section 8.1).")
            if payload.get("code_challenge") and not payload.get("code_challenge_method") and "plain" not in methods:
                # RFC 7636 §4.3: no method means "plain", which this server does not accept.
                raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        try:
            super().validate_code_verifier(grant, result)
        except InvalidRequestError as error:
            # RULES.md: a missing, wrong or unexpected verifier is a grant failure (RFC 7636
            # §4.6) — unless the request is malformed for another reason.
            raise InvalidGrantError(error.description) from error


class AuthorizationCodeGrant(SenderConstrained, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = PUBLIC_AND_CONFIDENTIAL

    def generate_authorization_code(self):
        return current().ids.prefixed("ac_")

    def save_authorization_code(self, code, request):
        state, payload = current(), request.payload
        now = state.clock.timestamp()
        row = AuthorizationCode(
            code=code,
            client_id=request.client.client_id,
            user_id=request.user.id,
            redirect_uri=payload.redirect_uri or "",
            response_type=payload.response_type,
            scope=request.scope,
            nonce=payload.data.get("nonce"),
            state=payload.state,
            auth_time=getattr(request, "auth_time", None) or now,
            issued_at=now,
            expires_at=now + state.settings.lifetimes.authorization_code,
            code_challenge=payload.data.get("code_challenge"),
            code_challenge_method=payload.data.get("code_challenge_method"),
            dpop_jkt=payload.data.get("dpop_jkt"),  # RFC 9449 §10 (par.py puts a PAR proof's here)
            resource=request.resource.path if getattr(request, "resource", None) else None,  # RFC 8707
        )
        state.db.add(row)
        state.db.commit()

    def query_authorization_code(self, code, client):
        """The code, or invalid_grant saying why not — a learner should read *which* rule hit."""
        db = current().db
        row = db.query(AuthorizationCode).filter_by(code=code).first()
        if row is None:
            raise InvalidGrantError("Unknown authorization code.")
        if row.client_id != client.client_id:
            raise InvalidGrantError("This code was issued to another app.")
        if row.used_at is not None:
            _code_reused(row)
        if row.is_expired():
            raise InvalidGrantError("This code expired (codes live "
                                    f"{current().settings.lifetimes.authorization_code} s).")
        return row

    def authenticate_user(self, authorization_code):
        """Redeem the code, once every check has passed: a conditional UPDATE, so of two requests
        presenting it at the same instant exactly one wins (the other waits for its row lock, then
        finds the code used: reuse). The transaction ends when the token is saved."""
        if not claim(AuthorizationCode, authorization_code.id, "used_at"):
            _code_reused(authorization_code)
        return current().db.get(User, authorization_code.user_id)

    def delete_authorization_code(self, authorization_code):
        """Kept, marked used (authenticate_user did it): a second use must be recognised as reuse,
        not as "unknown"."""


def _code_reused(row: AuthorizationCode):
    """RFC 6749 §4.1.2: a reused code means it leaked; revoke what it bought."""
    db = current().db
    db.rollback()
    for token in db.query(Token).filter_by(code_id=row.id):
        revoke_family(token.family_id)
    db.commit()
    raise InvalidGrantError("This code was already used; the tokens issued for it are now "
                            "revoked (RFC 6749 section 4.1.2).")


def claim(model, row_id: int, column: str, *also_null: str) -> bool:
    """Set `column` to now where it is still NULL (and so are the columns `also_null`): True for
    the one request that did it. Opens a write transaction that the next commit ends."""
    columns = [getattr(model, name) for name in (column, *also_null)]
    statement = (update(model).where(model.id == row_id, *(c.is_(None) for c in columns))
                 .values({column: current().clock.timestamp()})
                 .execution_options(synchronize_session=False))
    return current().db.execute(statement).rowcount == 1


class RefreshTokenGrant(SenderConstrained, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = PUBLIC_AND_CONFIDENTIAL

    def __init__(self, request, server):
        super().__init__(request, server)
        self.INCLUDE_NEW_REFRESH_TOKEN = current().settings.switches.refresh_rotation

    def authenticate_refresh_token(self, refresh_token):
        """The token, or invalid_grant saying which rule refused it."""
        db = current().db
        token = db.query(Token).filter_by(refresh_token_hash=credential_hash(refresh_token)).first()
        if token is None:
            raise InvalidGrantError("Unknown refresh token.")
        if token.refresh_used_at is not None and token.refresh_revoked_at is None:
            _refresh_reused(token)
        if not token.is_refresh_active():
            raise InvalidGrantError("This refresh token was revoked or has expired.")
        return token

    def _validate_token_scope(self, token):
        """RFC 6749 §6: no scope "not originally granted by the resource owner". Scope values are
        the server's to define (§3.3); this server's policy: a narrower scope that LiveChat's
        hierarchy implies (chats--access:ro from chats--all:ro) was granted with it. Compared
        with the refresh token's scope — the grant's — not a narrowed access token's. (Authlib's
        own check compares plain names.)"""
        asked = self.request.payload.scope
        if asked and not scopes.is_subset(asked, token.get_refresh_scope()):
            raise InvalidScopeError(rfc_text(
                f"A refresh may ask only for scopes of the grant ({token.get_refresh_scope()}) or "
                "narrower ones they imply, never more (RFC 6749 section 6)."))

    def issue_token(self, user, refresh_token):
        # No `scope` asked: the grant's scope (§6), which a narrowed access token may not show.
        scope = self.request.payload.scope or refresh_token.get_refresh_scope()
        return self.generate_token(user=user, scope=scope,
                                   include_refresh_token=self.INCLUDE_NEW_REFRESH_TOKEN)

    def authenticate_user(self, refresh_token):
        """With rotation, retire the old refresh token first, by a conditional UPDATE: of two
        requests rotating it at the same instant exactly one wins; the other is reuse, and ends
        the family — the winner's new token too, since it waited for the winner's commit."""
        if self.INCLUDE_NEW_REFRESH_TOKEN and not claim(
                Token, refresh_token.id, "refresh_used_at", "refresh_revoked_at"):
            _refresh_reused(refresh_token)
        return current().db.get(User, refresh_token.user_id) if refresh_token.user_id else None

    def revoke_old_credential(self, refresh_token):
        """Retired already, when it was presented (authenticate_user)."""


def _refresh_reused(token: Token):
    """RFC 9700 §4.14.2: a rotated refresh token came back — one of its two holders is an
    attacker, and the server cannot tell which. End the whole family."""
    db = current().db
    db.rollback()
    revoke_family(token.family_id)
    db.commit()
    raise InvalidGrantError("This refresh token was already used (rotated away); every "
                            "token of this grant is now revoked (RFC 9700 section 4.14.2).")


class ImplicitGrant(grants.ImplicitGrant):
    """RFC 6749 §4.2 — only behind the ``allow_implicit`` teaching switch: the token travels in
    the URL fragment, where history, logs and referrers can leak it (RFC 9700 §2.1.2)."""


class ClientCredentialsGrant(SenderConstrained, grants.ClientCredentialsGrant):
    """RFC 6749 §4.4: confidential clients only — every accepted method carries a secret.

    The app acts for itself: no user, so no role, so never a role-gated scope. Registered scopes
    are only the most an app may ask for; anyone may register (RULES.md, "Scopes and roles")."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_requested_scope(self):
        super().validate_requested_scope()
        scope = self.request.client.get_allowed_scope(self.request.payload.scope)
        if scope is None:
            raise InvalidScopeError("Ask only for scopes registered for this app.")
        if gated := scopes.role_gated(scope):
            raise InvalidScopeError(rfc_text(
                f"{' '.join(gated)}: only a signed-in user whose role allows it can grant this "
                "(authorization code or device flow); a client credentials token acts for no user, "
                "so it never carries a role-gated scope."))

    def generate_token(self, user=None, scope=None, **kwargs):
        # No `scope` asked: the app's registered scopes, as at the authorization endpoint.
        return super().generate_token(user, self.request.client.get_allowed_scope(scope), **kwargs)


class DeviceCodeGrant(SenderConstrained, _DeviceCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = PUBLIC_AND_CONFIDENTIAL

    def query_device_credential(self, device_code):
        db = current().db
        credential = db.query(DeviceCredential).filter_by(device_code=device_code).first()
        if credential is None or credential.consumed_at is not None:
            raise InvalidGrantError("Unknown or already used 'device_code'.")
        return credential

    def query_user_grant(self, user_code):
        credential = current().db.query(DeviceCredential).filter_by(user_code=user_code).first()
        if credential.decision is None:
            return None
        return current().db.get(User, credential.user_id), credential.decision == "allow"

    def should_slow_down(self, credential):
        """RFC 8628 §3.5: polling faster than `interval` earns `slow_down` (+5 s each time)."""
        now = current().clock.timestamp()
        too_fast = (
            credential.last_polled_at is not None
            and now - credential.last_polled_at < credential.interval
        )
        if too_fast:
            credential.interval += 5
        credential.last_polled_at = now
        current().db.commit()
        return too_fast

    def create_token_response(self):
        # Consumed before the token is made: of two polls at the same instant, one gets it.
        if not claim(DeviceCredential, self.request.credential.id, "consumed_at"):
            current().db.rollback()
            raise InvalidGrantError("Unknown or already used 'device_code'.")
        return super().create_token_response()


class OpenIDCode(_OpenIDCode):
    """OIDC Core §3.1: an ID token beside the access token when `openid` was granted."""

    def __init__(self):
        super().__init__(require_nonce=False)

    def exists_nonce(self, nonce, request):
        # A nonce seen before for this client is a replayed authentication response.
        query = current().db.query(AuthorizationCode)
        return query.filter_by(client_id=request.payload.client_id, nonce=nonce).first() is not None

    def resolve_client_private_key(self, client):
        return current().keys.signing_key()

    def get_client_algorithm(self, client):
        return "RS256"  # the only ID-token algorithm the metadata advertises

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": current().keys.signing_kid()}

    def get_client_claims(self, client):
        return {"iss": current().settings.issuer, "aud": client.get_client_id()}

    def generate_user_info(self, user, scope):
        return user_info(user, scope)


def revoke_family(family_id: str) -> None:
    """Revoke every access and refresh token descended from one authorization."""
    for token in current().db.query(Token).filter_by(family_id=family_id):
        token.revoke()
