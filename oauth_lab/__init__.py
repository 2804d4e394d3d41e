"""Notebook-side helpers for the OAuth 2.0 course: widgets, transcript views, exercise checks.

Notebook code that a learner would copy into an app uses the real libraries (requests-oauthlib);
this package only sets up, shows and checks.
"""
from .lab import Lab, setup

__all__ = ["Lab", "setup"]
