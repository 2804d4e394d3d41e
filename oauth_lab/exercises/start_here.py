"""00 · Start here."""
from __future__ import annotations

from ..checks import Exercise
from ..lab import current_lab


def _token_endpoint(answer):
    if answer != current_lab().metadata["token_endpoint"]:
        return f"{answer!r} is not the token endpoint the metadata announces"
    return None


token_endpoint = Exercise(
    "00 · token endpoint", _token_endpoint,
    hint="metadata is a dict; the key ends with _endpoint.",
    solution="solutions/00_token_endpoint.py")
