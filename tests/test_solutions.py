"""Every exercise's solution passes its own check, against a real server — and a wrong answer fails.

A solution file is the code a learner would ``%load`` into the exercise cell: it may use ``lab``
and must leave the answer in ``my_answer``.
"""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest

import mock_server
from oauth_lab.exercises import ALL
from oauth_lab.lab import setup

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture(scope="module")
def lab():
    port = mock_server.free_port()
    lab = setup(seed=None, port=port)
    yield lab
    lab.handle.stop()


def test_every_exercise_has_a_solution_file():
    assert len(ALL) >= 7
    for name, exercise in ALL.items():
        assert (NOTEBOOKS / exercise.solution).is_file(), name


@pytest.mark.parametrize("name", sorted(ALL))
def test_solution_passes(lab, name):
    exercise = ALL[name]
    namespace = runpy.run_path(str(NOTEBOOKS / exercise.solution), init_globals={"lab": lab})
    verdict = exercise.check(namespace["my_answer"], *(namespace[v] for v in exercise.context))
    assert verdict.passed, verdict.text()
    assert verdict.text().startswith("✓")


@pytest.mark.parametrize("name", sorted(ALL))
def test_no_answer_fails_with_a_hint(lab, name):
    exercise = ALL[name]
    verdict = exercise.check(None, *([None] * len(exercise.context)))
    assert not verdict.passed
    assert "Hint:" in verdict.text() and exercise.solution in verdict.text()


@pytest.mark.parametrize("name, wrong", [
    ("start_here.token_endpoint", "http://127.0.0.1/token"),
    ("password.customers_only", {"access_token": "forged"}),
    ("register.browser_app", {"client_id": "x", "client_secret": "s", "token_endpoint_auth_method": "client_secret_basic"}),
    ("authorization.customers_request", "http://127.0.0.1:5001/callback?error=access_denied"),
    ("exchange.by_hand", {"access_token": "forged"}),
    ("api.can_call", lambda token, action: True),
    ("authorization.invalid_scope", "http://127.0.0.1:5001/callback?code=abc&state=s"),
    ("exchange.verify", {"jti": "not-a-token-id", "sub": "jane"}),
    ("api.needed_scope", "agents--all:ro"),
])
def test_a_wrong_answer_fails(lab, name, wrong):
    assert not ALL[name].check(wrong).passed
