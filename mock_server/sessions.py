"""Browser sessions, kept on the server: the cookie holds only a random session id.

Flask's default session is the cookie itself (signed data): logging out cannot end it, because a
copy of the old cookie stays valid wherever it was saved. Here the data (who signed in, when, the
CSRF token) is a row in the database; logout deletes the row, so a replayed cookie names nothing.
Signing in moves the data to a fresh id (``rotate``), so an id planted in a browser before sign-in
never becomes a signed-in one (session fixation). Nothing is kept in the process: several server
processes sharing one database would share the sessions.
"""
from __future__ import annotations

import json
import secrets
from urllib.parse import urlsplit

from flask import request
from flask.sessions import SecureCookieSession, SessionInterface

from .models import BrowserSession
from .state import current


def cookie_name(settings) -> str:
    """``mock_oauth_session_<port>``, the port of the server's own URL. Browsers keep cookies per
    host, not per port (RFC 6265 §8.5): with one name, signing in to a second server on 127.0.0.1
    (notebook 12's weakened one) would replace the first one's cookie and sign Jane out there.
    Processes behind one public URL share its port, so they share the cookie and the session."""
    return f"mock_oauth_session_{urlsplit(settings.issuer).port or 'default'}"


class ServerSession(SecureCookieSession):
    """The session's data, with the id of its row (None until first saved)."""

    def __init__(self, sid: str | None = None, data: dict | None = None):
        super().__init__(data or {})
        self.sid = sid
        self.replaced: str | None = None  # the id given up by rotate(): its row is deleted

    def rotate(self) -> None:
        """Keep the data under a new id from now on; the old id stops naming anything."""
        self.replaced, self.sid = self.sid, None
        self.modified = True


class DatabaseSessionInterface(SessionInterface):
    def get_cookie_path(self, app) -> str:
        """The path the server is mounted at (a workshop learner's ``/t/<id>``): the browser
        sends each server only its own cookie."""
        return request.script_root or super().get_cookie_path(app)

    def open_session(self, app, request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        row = current().db.get(BrowserSession, sid) if sid else None
        return ServerSession(row.id, json.loads(row.data)) if row else ServerSession()

    def save_session(self, app, session: ServerSession, response) -> None:
        if not session.modified:
            return
        db = current().db
        # The id rotate() gave up; and, when the session was cleared (logout), its own.
        for sid in filter(None, (session.replaced, None if session else session.sid)):
            db.query(BrowserSession).filter_by(id=sid).delete()
        response.vary.add("Cookie")
        cookie = {"domain": self.get_cookie_domain(app), "path": self.get_cookie_path(app),
                  "secure": self.get_cookie_secure(app), "samesite": self.get_cookie_samesite(app),
                  "httponly": self.get_cookie_httponly(app)}
        if not session:  # cleared (logout): the row is gone, and so is the cookie
            db.commit()
            response.delete_cookie(self.get_cookie_name(app), **cookie)
            return
        # From the OS even in deterministic mode: no output shows a session id, and drawing it
        # from the seeded generator would change every code and token a notebook prints.
        session.sid = session.sid or secrets.token_urlsafe(32)
        row = db.get(BrowserSession, session.sid) or BrowserSession(
            id=session.sid, created_at=current().clock.timestamp())
        row.data = json.dumps(dict(session))
        db.add(row)
        db.commit()
        response.set_cookie(self.get_cookie_name(app), session.sid, **cookie)
