"""DPoP (RFC 9449): tokens bound to a key the client holds, so that a stolen token alone is useless.

A client signs a short JWT — a *proof* — for each request, with a private key it keeps; the proof
carries the public key (``jwk``), the request's method (``htm``) and URL (``htu``), when it was made
(``iat``), a one-time id (``jti``) and, at an API, a hash of the access token (``ath``). The token
endpoint binds the tokens it issues to that key (``cnf.jkt``, the key's RFC 7638 thumbprint); an
API then serves a bound token only with a fresh proof signed by the same key.

Authlib has no DPoP: the checks are this module's, on joserfc, which parses and verifies every
proof (nothing here splits a JWT by hand). Proofs seen and nonces handed out live in the world's
database, so every process of a class server shares them (RULES.md, "DPoP").
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from flask import g, request
from joserfc import jwk, jws, jwt
from joserfc.errors import ExceededSizeError, JoseError, SecurityWarning
from joserfc.jws import JWSRegistry
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from .errors import json_error, rfc_text
from .models import DPoPNonce, DPoPProof
from .settings import LIVECHAT
from .state import current
from .storage import credential_hash

# §4.3 step 5, §11.6: asymmetric algorithms only, never "none" nor a MAC. EdDSA is RFC 8037's
# name for Ed25519 signatures, which RFC 9864 deprecates in favour of "Ed25519"; clients still
# send it (jwskate, under requests-oauth2client), so both are accepted, and joserfc's warning
# about the old name is no news to a server that chose to.
ALGORITHMS = ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512",
              "Ed25519", "EdDSA")
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)
MEDIA_TYPE = "application/dpop+jwt"  # §4.2: typ "dpop+jwt" (RFC 7515 §4.1.9: "application/" implied)
RSA_BITS = (2048, 4096)  # local policy (§4.3 step 5): no weak keys, no keys that cost a CPU to verify
MOST_PROOF_CHARACTERS = 8192  # a proof is a few hundred characters; a header of 200 KB is an attack
MOST_JTI_CHARACTERS = 256  # §11.1: "reject DPoP proof JWTs with unnecessarily large jti values"
# §11.1: a proof is accepted for a short time after its creation ("on the order of seconds or
# minutes"), and from a little ahead of our clock (the client's may run fast).
PROOF_LIFETIME = 300
CLOCK_SKEW = 60
NONCE_LIFETIME = 300  # a nonce is accepted this long after we handed it out
JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")  # token68, as a compact JWS


class ProofRegistry(JWSRegistry):
    """joserfc's JWS rules for a proof: its header carries a public key (an RSA key of 4096 bits
    is some 1,100 characters, past joserfc's default 512), the rest stays small; header
    parameters joserfc does not know are allowed (§4.2: "MAY contain other JOSE Header
    Parameters"), though "crit" ones still must be understood (RFC 7515 §4.1.11)."""
    max_header_length = 2048
    max_payload_length = MOST_PROOF_CHARACTERS

    def __init__(self, algorithms):
        super().__init__(algorithms=algorithms, strict_check_header=False)


@dataclass(frozen=True)
class Proof:
    """A proof that passed every check of §4.3: the key's thumbprint, and what it claimed."""
    jkt: str
    claims: dict


class InvalidProof(Exception):
    """§4.3: the proof is refused (``invalid_dpop_proof``), for the reason given."""


class NonceRequired(Exception):
    """§8, §9: the proof lacks the nonce this server requires, or carries a stale one; ``nonce``
    is the one to use (sent as ``DPoP-Nonce``)."""

    def __init__(self, nonce: str, description: str):
        super().__init__(description)
        self.nonce = nonce


def thumbprint(key) -> str:
    """RFC 7638: the base64url SHA-256 thumbprint of a public JWK (the ``jkt`` of §6.1, §10)."""
    return key.thumbprint()


def access_token_hash(access_token: str) -> str:
    """§4.2 ``ath``: base64url of the SHA-256 of the access token's ASCII."""
    digest = hashlib.sha256(access_token.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def normalized_url(url: str) -> str | None:
    """§4.3: RFC 3986 syntax- and scheme-based normalization before comparing ``htu``: scheme and
    host in lower case, no default port, an empty path as "/"; query and fragment ignored."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = {"http": 80, "https": 443}[scheme]
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def request_urls() -> set[str]:
    """The URLs this request may claim as ``htu``: the endpoint's URL as the metadata names it
    (the issuer plus the path: what a client discovered and used), and the URL the request was
    addressed to. They differ behind a proxy: on a hub the kernel reaches the server on loopback
    while the metadata names the public address (mock_server/transport.py)."""
    urls = {current().settings.issuer + request.path, request.base_url}
    return {normalized for url in urls if (normalized := normalized_url(url))}


def proof_header() -> str | None:
    """The DPoP header's value, None when there is none."""
    return request.headers.get("DPoP")


def check_proof(access_token: str | None = None) -> Proof | None:
    """§4.3: this request's DPoP proof, checked; None when it carries none. `access_token`: the
    token presented with it at a protected resource (step 12: ``ath``). Raises InvalidProof or
    NonceRequired."""
    value = proof_header()
    if value is None:
        return None
    header, key = _header_and_key(value)
    try:
        claims = jwt.decode(value, key, algorithms=[header["alg"]],  # step 6
                            registry=ProofRegistry([header["alg"]])).claims
    except (JoseError, ValueError, TypeError, RecursionError) as error:
        raise InvalidProof(f"The proof's signature does not verify with its jwk ({_name(error)}).") from error
    _check_claims(claims, access_token)
    proof = Proof(thumbprint(key), claims)
    _remember(proof)  # last: a proof refused for any other reason fills no cache
    return proof


def _header_and_key(value: str):
    """Steps 1, 2, 4, 5, 7: one well-formed JWT, typed dpop+jwt, an accepted algorithm, and a
    public key of acceptable size in ``jwk``."""
    if len(value) > MOST_PROOF_CHARACTERS:
        raise InvalidProof(f"The proof is longer than {MOST_PROOF_CHARACTERS} characters.")
    if not JWT_SHAPE.fullmatch(value):
        # A WSGI server joins two DPoP header lines with ", ": no JWT has a comma (step 1).
        raise InvalidProof("The DPoP header must hold exactly one JWT (RFC 9449 section 4.3).")
    try:
        header = jws.extract_compact(value.encode(), registry=ProofRegistry(ALGORITHMS)).headers()
    except ExceededSizeError:
        raise InvalidProof("The proof's header or payload is larger than this server accepts.") from None
    except (JoseError, ValueError, TypeError, RecursionError) as error:
        raise InvalidProof(f"The DPoP header is not a well-formed JWT ({_name(error)}).") from error
    typ = header.get("typ")
    if not isinstance(typ, str) or _media_type(typ) != MEDIA_TYPE:
        raise InvalidProof("The proof's typ must be dpop+jwt (RFC 9449 section 4.2): a JWT made for "
                           "another purpose is never a proof (section 11.5).")
    if header.get("alg") not in ALGORITHMS:
        raise InvalidProof(f"The proof's alg must be one of {' '.join(ALGORITHMS)}: an asymmetric "
                           "signature, never none or a MAC (RFC 9449 section 11.6).")
    if not isinstance(header.get("jwk"), dict):
        raise InvalidProof("The proof's header must carry the public key as a JWK in 'jwk'.")
    try:
        key = jwk.import_key(header["jwk"])
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidProof(f"The proof's jwk is not a usable key ({_name(error)}).") from error
    if key.key_type == "oct" or key.is_private:
        raise InvalidProof("The proof's jwk must be a public key: it carries a private or secret key, "
                           "which is now no secret (RFC 9449 section 4.2).")
    if key.key_type == "RSA" and not RSA_BITS[0] <= key.raw_value.key_size <= RSA_BITS[1]:
        raise InvalidProof(f"An RSA key in a proof has {RSA_BITS[0]} to {RSA_BITS[1]} bits here.")
    return header, key


def _media_type(typ: str) -> str:
    """RFC 7515 §4.1.9: media types ignore case, and a typ without "/" means "application/typ"."""
    typ = typ.lower()
    return typ if "/" in typ else f"application/{typ}"


def _check_claims(claims, access_token: str | None) -> None:
    """Steps 3, 8 to 12 (the nonce first: a client told to use one may retry at once)."""
    for name, kind in (("jti", str), ("htm", str), ("htu", str), ("iat", int)):
        if not isinstance(claims.get(name), kind) or isinstance(claims.get(name), bool):
            raise InvalidProof(f"The proof must carry '{name}' (a {'number' if kind is int else 'string'}; "
                               "RFC 9449 section 4.2).")
    if current().settings.require_dpop_nonce:
        _check_nonce(claims.get("nonce"))
    if not 0 < len(claims["jti"]) <= MOST_JTI_CHARACTERS:
        raise InvalidProof(f"The proof's jti must be 1 to {MOST_JTI_CHARACTERS} characters.")
    if claims["htm"] != request.method:
        raise InvalidProof(f"The proof is for {rfc_text(claims['htm'][:20])} requests (htm), "
                           f"this is a {request.method}.")
    if normalized_url(claims["htu"]) not in request_urls():
        raise InvalidProof(f"The proof is for another URL (htu): this request is for "
                           f"{current().settings.issuer + request.path}.")
    now = current().clock.timestamp()
    if not now - PROOF_LIFETIME <= claims["iat"] <= now + CLOCK_SKEW:
        raise InvalidProof(f"The proof was made at {claims['iat']} (iat); this server accepts proofs "
                           f"made at most {PROOF_LIFETIME} s before its clock ({now}) and "
                           f"{CLOCK_SKEW} s after.")
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        raise InvalidProof("The proof's ath is not the hash of the access token sent with it: a "
                           "proof is made for one token (RFC 9449 section 7).")


def _remember(proof: Proof) -> None:
    """§11.1: each proof once. Kept (as a hash, bounded) until it could no longer be accepted."""
    db = current().db
    digest = credential_hash(json.dumps([proof.jkt, proof.claims["jti"]]))
    try:
        db.execute(insert(DPoPProof).values(proof_hash=digest,
                                            expires_at=proof.claims["iat"] + PROOF_LIFETIME + CLOCK_SKEW))
        db.commit()
    except IntegrityError:
        db.rollback()
        raise InvalidProof("This proof was used before (its jti): each request needs a new proof "
                           "(RFC 9449 section 11.1).") from None


def _check_nonce(nonce) -> None:
    """§8, §11.3: once nonces are required, a proof without a recent one of ours is refused, with
    the nonce to use next."""
    state = current()
    now = state.clock.timestamp()
    if isinstance(nonce, str) and state.db.scalars(select(DPoPNonce.id).where(
            DPoPNonce.value == nonce, DPoPNonce.issued_at >= now - NONCE_LIFETIME).limit(1)).first():
        return
    why = "carries no nonce" if nonce is None else "carries a nonce this server did not give or that expired"
    raise NonceRequired(fresh_nonce(), f"This server requires a DPoP nonce and the proof {why}: "
                                       "make a new proof with the nonce in the DPoP-Nonce header.")


def fresh_nonce() -> str:
    """A nonce to hand out: the newest one while it has half its life left, else a new one — so
    a flood of requests without one adds a row every few minutes, not one per request."""
    state = current()
    now = state.clock.timestamp()
    recent = state.db.scalars(select(DPoPNonce.value).where(DPoPNonce.issued_at > now - NONCE_LIFETIME // 2)
                              .order_by(DPoPNonce.issued_at.desc()).limit(1)).first()
    if recent:
        return recent
    value = state.ids.token(32)  # §8: "Nonce values MUST be unpredictable"
    state.db.execute(insert(DPoPNonce).values(value=value, issued_at=now))
    state.db.commit()
    return value


def _name(error: BaseException) -> str:
    return rfc_text(type(error).__name__)


# --- the authorization server: the token and PAR endpoints ------------------------------------


def accept_proof_at_authorization_server():
    """A direct request to the authorization server (token, PAR) with a DPoP header: check it and
    keep it for this request (``g.dpop``). Returns the error response (§5: 400
    ``invalid_dpop_proof``; §8: 400 ``use_dpop_nonce`` with ``DPoP-Nonce``), or None."""
    try:
        g.dpop = check_proof()
    except NonceRequired as needed:
        return json_error(400, "use_dpop_nonce", rfc_text(str(needed)), {"DPoP-Nonce": needed.nonce})
    except InvalidProof as error:
        return json_error(400, "invalid_dpop_proof", rfc_text(str(error)))
    return None


def request_proof() -> Proof | None:
    """The proof this request carried (checked by ``accept_proof_at_authorization_server``)."""
    return g.get("dpop")


class SenderConstrained:
    """Mixed into each grant of the token endpoint: after the grant's own checks (the client, the
    code, the refresh token), the DPoP rules that depend on them."""

    def validate_token_request(self):
        super().validate_token_request()
        check_binding(self.request)


def check_binding(oauth_request) -> None:
    """§5.2: a client registered with ``dpop_bound_access_tokens`` always sends a proof. §10: a
    code bound with ``dpop_jkt`` is redeemed only with a proof by that key. §5: a public client's
    bound refresh token is used only with a proof by its key."""
    proof = request_proof()
    client = oauth_request.client
    if proof is None and client.client_metadata.get("dpop_bound_access_tokens"):
        raise InvalidRequestError("This app is registered with dpop_bound_access_tokens: every token "
                                  "request sends a DPoP proof (RFC 9449 section 5.2).")
    code = getattr(oauth_request, "authorization_code", None)
    if code is not None and getattr(code, "dpop_jkt", None) and (proof is None or proof.jkt != code.dpop_jkt):
        raise InvalidGrantError("This code is bound to a DPoP key (dpop_jkt): redeem it with a proof "
                                "signed by that key (RFC 9449 section 10).")
    refresh = getattr(oauth_request, "refresh_token", None)
    if refresh is not None and refresh.refresh_dpop_jkt and (proof is None or proof.jkt != refresh.refresh_dpop_jkt):
        raise InvalidGrantError("This refresh token is bound to a DPoP key: use it with a proof signed "
                                "by that key (RFC 9449 section 5).")


def bind_token(token: dict) -> dict:
    """§5: a token response to a request with a valid proof is ``token_type: DPoP`` (the access
    token itself carries ``cnf.jkt``: tokens.JWTAccessTokens)."""
    if request_proof() is not None:
        token["token_type"] = "DPoP"
    return token


def bindings(client, has_refresh_token: bool) -> dict:
    """The token row's columns: the access token bound to the proof's key; the refresh token too
    when the client is public (§5: a confidential client's refresh tokens are bound to it by its
    authentication already)."""
    proof = request_proof()
    jkt = proof.jkt if proof else None
    return {"dpop_jkt": jkt, "refresh_dpop_jkt": jkt if has_refresh_token and client.is_public else None}


def confirmation(jkt: str | None) -> dict:
    """§6.1, §6.2: the ``cnf`` claim (JWT) or member (introspection) of a bound token."""
    return {"cnf": {"jkt": jkt}} if jkt else {}


# --- the resource servers: the agent API and userinfo ---------------------------------------


def algs_parameter() -> str:
    return f'algs="{" ".join(ALGORITHMS)}"'


class DPoPChallenge(OAuth2Error):
    """§7.1: a 401 (or 403) whose error belongs to the DPoP scheme, which the request used: the
    DPoP challenge carries it, first; a bare Bearer challenge follows (§7.2: the resource
    accepts both schemes)."""

    def __init__(self, error: str, description: str, realm: str, status_code: int = 401,
                 nonce: str | None = None, scope: str | None = None):
        super().__init__(description=rfc_text(description), status_code=status_code)
        self.error, self.realm, self.nonce, self.scope = error, realm, nonce, scope

    def get_headers(self):
        params = [f'realm="{self.realm}"', f'error="{self.error}"', f'error_description="{self.description}"']
        if self.scope:
            params.append(f'scope="{self.scope}"')
        headers = super().get_headers()
        headers.append(("WWW-Authenticate",
                        f"DPoP {', '.join([*params, algs_parameter()])}, Bearer realm=\"{self.realm}\""))
        if self.nonce:
            headers.append(("DPoP-Nonce", self.nonce))
        return headers


def offer_dpop(response, realm: str):
    """§7.2: beside a Bearer challenge, the DPoP one (bare: the request did not use DPoP, or used
    nothing), so a client learns it may send a DPoP-bound token and which algorithms to sign with."""
    challenge = response.headers.get("WWW-Authenticate", "")
    if current().settings.profile == LIVECHAT:  # LiveChat documents no DPoP: its APIs offer none
        return response
    if challenge.startswith("Bearer"):  # a DPoPChallenge starts with its own, and names Bearer
        response.headers["WWW-Authenticate"] = f'{challenge}, DPoP realm="{realm}", {algs_parameter()}'
    return response


def check_presented_proof(token, token_string: str, realm: str) -> None:
    """§7.1: a token sent with the DPoP scheme is served only when it is DPoP-bound and the
    request's proof (with ``ath``) checks and is signed by the key it is bound to."""
    if not token.dpop_jkt:
        raise DPoPChallenge("invalid_token", "This access token is not DPoP-bound: send it as "
                                             "Authorization: Bearer.", realm)
    try:
        proof = check_proof(access_token=token_string)
    except NonceRequired as needed:
        raise DPoPChallenge("use_dpop_nonce", str(needed), realm, nonce=needed.nonce) from None
    except InvalidProof as error:
        raise DPoPChallenge("invalid_dpop_proof", str(error), realm) from None
    if proof is None:
        raise DPoPChallenge("invalid_dpop_proof", "A DPoP-bound token needs a DPoP proof in the DPoP "
                                                  "header (RFC 9449 section 7.1).", realm)
    if proof.jkt != token.dpop_jkt:
        raise DPoPChallenge("invalid_token", "Invalid DPoP key binding: the proof is signed by another "
                                             "key than the one this token is bound to.", realm)
