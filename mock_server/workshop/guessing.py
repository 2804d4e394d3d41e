"""Guessing the class's secrets, slowed down: wrong class codes and wrong instructor secrets are
counted per client address (the forwarded one under ``--trust-proxy``) in the class database, so
every worker counts them together; past the allowance, that address waits (RFC 6819 §5.1.4.2.3),
even with the right one, until the window has passed.
"""
from __future__ import annotations

import time

from flask import current_app, request
from sqlalchemy import delete, func, select

from .models import WrongSecret

WINDOW = 300  # seconds
ALLOWED = {"class code": 20, "instructor secret": 10}  # wrong ones per address in WINDOW
# A classroom behind one NAT shares an address: a few typos each, for a whole class.


def _address() -> str:
    return request.remote_addr or "?"


def too_many_wrong(kind: str) -> bool:
    db = current_app.extensions["workshop"].session
    count = db.scalar(select(func.count()).select_from(WrongSecret).where(
        WrongSecret.kind == kind, WrongSecret.address == _address(), WrongSecret.at > time.time() - WINDOW))
    return count >= ALLOWED[kind]


def wrong_secret(kind: str) -> None:
    """Count one wrong guess (and forget those past the window)."""
    db, now = current_app.extensions["workshop"].session, time.time()
    db.execute(delete(WrongSecret).where(WrongSecret.at < now - WINDOW))
    db.add(WrongSecret(kind=kind, address=_address(), at=now))
    db.commit()


def wait_message(kind: str) -> str:
    return f"Too many wrong {kind}s from this address: wait {WINDOW // 60} minutes."
