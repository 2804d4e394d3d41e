"""00 · Start here."""
from __future__ import annotations

from ..checks import Exercise
from ..lab import current_lab


def _token_endpoint(answer, metadata=None):
    if answer != current_lab().metadata["token_endpoint"]:
        return f"{answer!r} is not the token endpoint the metadata announces"
    # Read, not typed: the very string the metadata document holds. A string you typed (or built)
    # is another object, even when its characters are the same.
    read_from = [m for m in (metadata, current_lab().metadata) if isinstance(m, dict)]
    if not any(answer is value for m in read_from for value in m.values()):
        return ("that is the right URL, but typed (or rebuilt), not read from `metadata`: a client that "
                "reads it keeps working when the server moves its endpoints")
    return None


token_endpoint = Exercise(
    "00 · token endpoint", _token_endpoint,
    hint="metadata is a dict; the key ends with _endpoint.",
    solution="solutions/00_token_endpoint.py", context=("metadata",))
