"""Notebook-side helpers for the OAuth 2.0 course: widgets, transcript views, exercise checks."""
