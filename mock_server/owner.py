"""Whose server this is: an owner key for the admin routes, and the card that hands it to the
owner's other processes.

The admin routes (``/_mock/``: the virtual clock, the transcript with every secret in it, starting
the world over) answer only on loopback — but on a shared machine (a JupyterHub whose users share
one host, a second JupyterLab) loopback is everyone. So each server also has a random owner key,
asked for as ``Authorization: Bearer <key>``. Whoever starts the server writes it to a card only
its user can read, ``~/.oauth-lab/servers/<host>-<port>.json``; a notebook kernel of the same
user finds the card there, so it can drive a server it did not start (Binder's, ``make server``,
another notebook's) — and another user's kernel, which finds no card, knows the server is not its
own. The card goes when the server stops. The course's small sites (the app's redirect URI:
oauth_lab/loopback_site.py) keep their keys on cards here too.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

CARDS = "MOCK_SERVER_CARDS"  # another folder for the cards (tests: one per run)


def new_key() -> str:
    return secrets.token_urlsafe(32)  # never seeded: deterministic mode must not make it guessable


def folder() -> Path:
    return Path(os.environ.get(CARDS) or Path.home() / ".oauth-lab" / "servers")


def card_path(url: str) -> Path:
    """The card of the server whose back-channel URL is `url` (``http://127.0.0.1:5001``)."""
    return folder() / (url.split("://", 1)[-1].replace(":", "-").replace("/", "").strip("[]") + ".json")


def write_card(url: str, key: str, started_by: str) -> Path:
    path = card_path(url)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(opened, "w") as card:
        json.dump({"url": url, "key": key, "pid": os.getpid(), "started_by": started_by}, card)
    return path


def read_card(url: str) -> dict | None:
    try:
        card = json.loads(card_path(url).read_text())
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) and isinstance(card.get("key"), str) else None


def remove_card(url: str, key: str) -> None:
    """Remove the card, unless it is already another server's (a later one on the same port)."""
    if (card := read_card(url)) and card["key"] == key:
        card_path(url).unlink(missing_ok=True)
