"""Every random value the server hands out: codes, tokens, client ids, secrets, CSRF tokens.

Unseeded, they come from the operating system (``secrets``). Seeded (deterministic mode), they come
from one ``random.Random(seed)``: the same requests in the same order give the same values, which
is what lets nbval compare notebook outputs. Never seed a real server.
"""
from __future__ import annotations

import random
import secrets
import string
import threading

URLSAFE = string.ascii_letters + string.digits + "-_"
# RFC 8628 §6.1's base-20 alphabet for user codes: letters only, so a phone types them without
# switching to digits or another case (no modifier keys), and no vowels, so that a random code
# never spells a word. The device page ignores case and punctuation when the user types it.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


class Ids:
    def __init__(self, seed: int | None = None):
        self.seeded = seed is not None
        self._random = random.Random(seed) if self.seeded else secrets.SystemRandom()
        self._lock = threading.Lock()

    def _choose(self, alphabet: str, length: int) -> str:
        with self._lock:
            return "".join(self._random.choice(alphabet) for _ in range(length))

    def token(self, length: int = 43) -> str:
        """43 URL-safe characters ≈ 258 bits: well past the 2^-128 guessing chance RFC 6749 §10.10
        allows (it recommends 2^-160). Unseeded, straight from ``secrets`` (the same alphabet)."""
        if not self.seeded:
            return secrets.token_urlsafe(length)[:length]
        return self._choose(URLSAFE, length)

    def prefixed(self, prefix: str, length: int = 43) -> str:
        """A readable kind marker (``ac_`` code, ``rt_`` refresh...) so learners tell them apart."""
        return prefix + self.token(length)

    def user_code(self) -> str:
        code = self._choose(USER_CODE_ALPHABET, 8)
        return f"{code[:4]}-{code[4:]}"
