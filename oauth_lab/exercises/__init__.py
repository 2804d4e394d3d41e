"""The exercises at the end of each notebook, one module per notebook, checked against the server.

    from oauth_lab.exercises import refresh
    refresh.rotated.check(my_answer, previous_refresh_token)

Solutions live in ``notebooks/solutions/``; ``tests/test_solutions.py`` runs every one of them
(``ALL`` lists every exercise), and the tests feed every check wrong answers too.
"""
from __future__ import annotations

import importlib

from ..checks import Exercise

# Notebook order; a new notebook's exercises are a new module named here.
MODULES = ("start_here", "password", "register", "authorization", "exchange", "api", "refresh", "pkce",
           "client_credentials", "device", "revocation", "openid", "security_lab", "livechat", "capstone", "dpop",
           "where_to_sign_in")


def _all() -> dict[str, Exercise]:
    found = {}
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        found.update({f"{name}.{attribute}": value for attribute, value in vars(module).items()
                      if isinstance(value, Exercise)})
    return found


ALL = _all()
