"""Users and login: the resource owners, their passwords, and the signed-in browser session.

The demo organisation has a normal agent and an administrator; their credentials are printed in
the banner and the README. The session lives on the server (sessions.py). Login and consent forms
carry a CSRF token bound to the session, so a page elsewhere cannot submit them on the user's
behalf (RFC 6749 §10.12). Wrong passwords are rate-limited per username (RFC 6819 §5.1.4.2.3):
after ``LOGIN_FAILURES_ALLOWED`` in ``LOGIN_WINDOW`` seconds, that username is refused a while.
"""
from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, session
from werkzeug.security import check_password_hash, generate_password_hash

from .models import LoginFailure, User
from .state import current

blueprint = Blueprint("users", __name__)


@dataclass(frozen=True)
class DemoUser:
    id: str
    password: str
    name: str
    email: str
    role: str


DEMO_ORGANIZATION = "org-fernhollow"
LOGIN_FAILURES_ALLOWED = 10
LOGIN_WINDOW = 300  # seconds of real time: fast-forwarding the virtual clock does not lift it
DEMO_USERS = (
    DemoUser("jane", "jane-password", "Jane Agent", "jane@fernhollow.example", "agent"),
    DemoUser("ada", "ada-password", "Ada Admin", "ada@fernhollow.example", "administrator"),
)


def ensure_demo_users(db) -> None:
    for demo in DEMO_USERS:
        if db.get(User, demo.id) is None:
            db.add(
                User(
                    id=demo.id,
                    # A cheap hash: demo passwords are public, and logins should be quick.
                    password_hash=generate_password_hash(demo.password, "pbkdf2:sha256:1000"),
                    name=demo.name,
                    email=demo.email,
                    role=demo.role,
                    organization_id=DEMO_ORGANIZATION,
                )
            )


def signed_in_user() -> User | None:
    user_id = session.get("user_id")
    return current().db.get(User, user_id) if user_id else None


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = current().ids.token(32)
    return session["csrf"]


def check_csrf() -> None:
    """Abort with the 400 page unless the form carries this session's CSRF token."""
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="This form expired or did not come from this server (CSRF check "
                               "failed). Go back, reload the page and try again.")


def safe_next(target: str | None) -> str:
    """Only follow `next` to a path on this server (no open redirect), and only one that can be a
    Location header: printable ASCII, no space (a CR or LF would split the header)."""
    if (not target or not target.startswith("/") or target.startswith(("//", "/\\"))
            or not all("!" <= char <= "~" for char in target) or urlsplit(target).netloc):
        return "/"
    return target


def render_login(next_path: str, error: str | None = None, status: int = 200):
    body = render_template("login.html", next=next_path, error=error, csrf_token=csrf_token(),
                           login_action=current().settings.issuer + "/login")
    return body, status


@blueprint.get("/login")
def login_page():
    return render_login(safe_next(request.args.get("next")))


@blueprint.post("/login")
def login():
    check_csrf()
    next_path = safe_next(request.form.get("next"))
    username = request.form.get("username", "")[:64]
    if recent_failures(username) >= LOGIN_FAILURES_ALLOWED:
        return render_login(next_path, f"Too many wrong passwords for {username!r}: wait "
                            f"{LOGIN_WINDOW // 60} minutes before trying again.", 429)
    user = current().db.get(User, username)
    if user is None or not check_password_hash(user.password_hash, request.form.get("password", "")):
        current().db.add(LoginFailure(username=username, at=int(time.time())))
        current().db.commit()
        return render_login(next_path, "Wrong username or password.", 401)
    session.rotate()  # a new session id at sign-in: an id planted before it is worth nothing
    session.clear()
    session.update(user_id=user.id, auth_time=current().clock.timestamp())
    # 303: the browser must not repeat this POST, which carried the password (RFC 9700 §4.12).
    return redirect(current().settings.issuer + next_path, 303)


def recent_failures(username: str) -> int:
    since = int(time.time()) - LOGIN_WINDOW
    return current().db.query(LoginFailure).filter(
        LoginFailure.username == username, LoginFailure.at > since).count()


@blueprint.post("/logout")
def logout():
    check_csrf()
    session.clear()  # deletes the session's row: a replayed cookie is signed out too
    return redirect(current().settings.issuer + safe_next(request.form.get("next")), 303)
