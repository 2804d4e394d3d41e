"""Signing keys (RFC 7517 JWKS): RS256 keys that sign JWT access tokens and ID tokens.

A fresh 2048-bit key per server normally. In deterministic mode the server signs with the demo key
shipped in ``keys/deterministic-demo-key.pem``: RSA key generation cannot be seeded, and RS256
(PKCS#1 v1.5) signatures are deterministic, so a fixed key makes whole JWTs reproducible. That key
is public — never use it outside this course.

Rotation keeps retired keys in the JWKS, so tokens signed before the rotation still verify until
they expire (RULES.md, "Metadata and keys").
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateNumbers, RSAPublicNumbers
from joserfc.jwk import KeySet, RSAKey
from joserfc.util import base64_to_int

from .models import SigningKey

DEMO_KEY = Path(__file__).parent / "keys" / "deterministic-demo-key.pem"
RELOAD_EVERY = 10.0  # seconds: another process sharing the database may have rotated the key


def own_key(jwk: dict) -> RSAKey:
    """A key this server generated and stored itself, imported without cryptography's consistency
    check of a 2048-bit RSA key (~50 ms: it guards against a crafted key from elsewhere). With the
    check, a class server's every worker paid it for every learner's world it served."""
    numbers = RSAPrivateNumbers(
        p=base64_to_int(jwk["p"]), q=base64_to_int(jwk["q"]), d=base64_to_int(jwk["d"]),
        dmp1=base64_to_int(jwk["dp"]), dmq1=base64_to_int(jwk["dq"]), iqmp=base64_to_int(jwk["qi"]),
        public_numbers=RSAPublicNumbers(base64_to_int(jwk["e"]), base64_to_int(jwk["n"])))
    return RSAKey(numbers.private_key(unsafe_skip_rsa_key_validation=True), jwk)


class SigningKeys:
    def __init__(self, storage, clock, deterministic: bool, first_key: RSAKey | None = None):
        """`first_key`: a key made ahead (a class server's spare keys); None: make one now."""
        self._storage = storage
        self._clock = clock
        self._cache: dict[str, RSAKey] = {}
        self._sets: tuple[KeySet, KeySet] | None = None
        self._sets_loaded = 0.0
        db = storage.session
        if db.query(SigningKey).count() == 0:
            self._add(db, RSAKey.import_key(DEMO_KEY.read_bytes()) if deterministic else first_key)
        db.commit()
        storage.session.remove()

    def _add(self, db, key: RSAKey | None) -> SigningKey:
        key = key or RSAKey.generate_key(2048, private=True)
        kid = key.thumbprint()  # RFC 7638: a kid derived from the key, the same on every run
        data = key.as_dict(private=True, kid=kid, use="sig", alg="RS256")
        row = SigningKey(kid=kid, private_jwk=json.dumps(data), created_at=self._clock.timestamp())
        db.add(row)
        return row

    def _rows(self):
        return self._storage.session.query(SigningKey).order_by(SigningKey.created_at)

    def _key(self, row: SigningKey) -> RSAKey:
        """The imported key, cached by kid."""
        if row.kid not in self._cache:
            self._cache[row.kid] = own_key(json.loads(row.private_jwk))
        return self._cache[row.kid]

    def _key_sets(self) -> tuple[KeySet, KeySet]:
        """(signing, verification) key sets, read from the database at most every RELOAD_EVERY
        seconds (and after a rotation here): every token request signs, every API call verifies."""
        if self._sets is None or time.monotonic() > self._sets_loaded + RELOAD_EVERY:
            rows = self._rows().all()
            signing = [row for row in rows if row.retired_at is None][-1]
            self._sets = KeySet([self._key(signing)]), KeySet([self._key(row) for row in rows])
            self._sets_loaded = time.monotonic()
        return self._sets

    def signing_key(self) -> KeySet:
        """The key that signs new tokens (the newest unretired one), as a one-key set: signing
        with a set puts its `kid` in the JWT header, so verifiers pick the right public key."""
        return self._key_sets()[0]

    def signing_kid(self) -> str:
        return self.signing_key().keys[0].kid

    def verification_keys(self) -> KeySet:
        """Every published key, retired ones included (their tokens stay verifiable)."""
        return self._key_sets()[1]

    def public_jwks(self) -> dict:
        return self.verification_keys().as_dict(private=False)

    def rotate(self) -> str:
        """Retire the signing key (still published) and sign with a new one; returns the new kid."""
        db = self._storage.session
        for row in self._rows().filter(SigningKey.retired_at.is_(None)):
            row.retired_at = self._clock.timestamp()
        kid = self._add(db, None).kid
        db.commit()
        self._sets = None
        return kid
