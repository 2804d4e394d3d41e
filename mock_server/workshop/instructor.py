"""The instructor's dashboard: the class's exchanges as they happen, each learner's progress
through the course, the errors most learners hit right now, the class's limits, and a reset for a
stuck learner.

Behind the instructor secret: typed once into the sign-in form, which starts a session (a random
id in an HttpOnly, SameSite=Strict cookie, its hash in the class database, so every worker knows
it) that ends after ``SESSION_HOURS`` or at "Sign out"; or sent as ``Authorization: Bearer
<secret>`` by a script. Wrong secrets are rate-limited per address, as learners' passwords are.
The page polls ``/instructor/feed`` every two seconds; it builds the page with text nodes only,
since learner names are whatever learners typed.
"""
from __future__ import annotations

import hmac
import secrets
import time

from flask import Blueprint, current_app, jsonify, redirect, render_template, request
from sqlalchemy import delete, func, select

from ..errors import json_error
from ..storage import credential_hash
from ..transcript import message_number
from .guessing import too_many_wrong, wait_message, wrong_secret
from .models import InstructorSession, Milestone, SpareKey, TranscriptEntry
from .progress import MILESTONES
from .transcripts import BOOKKEEPING

blueprint = Blueprint("instructor", __name__, url_prefix="/instructor")
FEED_PATH = "/instructor/feed"  # its answer names every learner: long by nature (rsgi.py, aside)
COOKIE = "mock_instructor"
SESSION_HOURS = 12  # a teaching day
RECENT = 600  # seconds: "right now", for the common errors
ACTIVE = 300  # seconds: a learner seen this recently is active
FEED_SIZE = 40
SECRET = "instructor secret"  # what is guessed, for the rate limit


def classroom():
    return current_app.extensions["workshop"]


def refusal():
    """None for the instructor — a live session's cookie, or the secret as a bearer token —
    else the answer: 401, or 429 after too many wrong secrets from this address."""
    sent = request.authorization
    if sent and sent.type == "bearer" and sent.token:
        if too_many_wrong(SECRET):
            return json_error(429, "access_denied", wait_message(SECRET))
        if is_secret(sent.token):
            return None
    elif in_session():
        return None
    return json_error(401, "invalid_token", "Sign in at /instructor with the instructor secret.",
                      {"WWW-Authenticate": 'Bearer realm="instructor"'})


def in_session() -> bool:
    cookie = request.cookies.get(COOKIE)
    return bool(cookie) and classroom().session.scalar(select(func.count()).select_from(InstructorSession).where(
        InstructorSession.id_hash == credential_hash(cookie), InstructorSession.expires_at > time.time())) > 0


def is_secret(sent: str) -> bool:
    """Compared in constant time; a wrong one is counted."""
    right = hmac.compare_digest(sent.encode("utf-8", "replace"), classroom().config.instructor_secret.encode())
    if not right:
        wrong_secret(SECRET)
    return right


@blueprint.get("")
def dashboard():
    if refusal() is not None:
        return render_template("instructor_login.html", error=None, base_url=classroom().config.base_url)
    return render_template("instructor.html", milestones=MILESTONES, base_url=classroom().config.base_url)


@blueprint.post("/login")
def login():
    room = classroom()
    if too_many_wrong(SECRET):
        return render_template("instructor_login.html", error=wait_message(SECRET),
                               base_url=room.config.base_url), 429
    if not is_secret(request.form.get("secret", "")):
        return render_template("instructor_login.html", error="That is not the instructor secret.",
                               base_url=room.config.base_url), 401
    session_id = secrets.token_urlsafe(32)
    room.session.execute(delete(InstructorSession).where(InstructorSession.expires_at < time.time()))
    room.session.add(InstructorSession(id_hash=credential_hash(session_id),
                                       expires_at=time.time() + SESSION_HOURS * 3600))
    room.session.commit()
    response = redirect(f"{room.config.base_url}/instructor", 303)
    response.set_cookie(COOKIE, session_id, max_age=SESSION_HOURS * 3600, path="/instructor", httponly=True,
                        samesite="Strict", secure=room.config.base_url.startswith("https:"))
    return response


@blueprint.post("/logout")
def logout():
    """Ends this browser's session (a cross-site form cannot: the cookie is SameSite=Strict)."""
    room = classroom()
    if cookie := request.cookies.get(COOKIE):
        room.session.execute(delete(InstructorSession).where(InstructorSession.id_hash == credential_hash(cookie)))
        room.session.commit()
    response = redirect(f"{room.config.base_url}/instructor", 303)
    response.delete_cookie(COOKIE, path="/instructor")
    return response


@blueprint.get(FEED_PATH.removeprefix("/instructor"))
def feed():
    if refused := refusal():
        return refused
    since = message_number(request.args.get("since", "0"))
    if since is None:
        return json_error(400, "invalid_request", "'since' must be a message number (0 to 2**63 - 1).")
    room, now = classroom(), time.time()
    db = room.session
    tenants = room.tenants()
    names = {tenant.id: tenant.name for tenant in tenants}
    rows = db.execute(select(TranscriptEntry.id, TranscriptEntry.tenant, TranscriptEntry.method,
                             TranscriptEntry.path, TranscriptEntry.status, TranscriptEntry.error,
                             TranscriptEntry.recorded_at)
                      .where(TranscriptEntry.id > since).order_by(TranscriptEntry.id.desc())
                      .limit(FEED_SIZE)).all()
    reached: dict[str, list[str]] = {}
    for tenant, phase in db.execute(select(Milestone.tenant, Milestone.phase)):
        reached.setdefault(tenant, []).append(phase)
    config = room.config
    return jsonify(
        last_seq=max([since] + [row.id for row in rows]),
        exchanges=[{"seq": row.id, "learner": names.get(row.tenant, row.tenant), "tenant": row.tenant,
                    "method": row.method, "path": row.path.split("?", 1)[0], "status": row.status,
                    "error": row.error, "at": row.recorded_at} for row in reversed(rows)],
        learners=[{"tenant": tenant.id, "name": tenant.name, "issuer": room.issuer_of(tenant.id),
                   "milestones": [m for m in MILESTONES if m in reached.get(tenant.id, [])],
                   # noted by the workers every BOOKKEEPING seconds at most
                   "active": (tenant.last_seen or 0) > now - ACTIVE - BOOKKEEPING,
                   "transcript_bytes": tenant.transcript_bytes or 0} for tenant in tenants],
        errors=common_errors(db, now, names),
        limits={"learners": len(tenants), "max_learners": config.max_learners,
                "joins_per_address": config.joins_per_address, "disk_per_learner": config.disk_per_learner,
                "storage": room.places.describe(), "spare_keys": db.scalar(select(func.count()).select_from(SpareKey))})


def common_errors(db, now: float, names: dict) -> list[dict]:
    """The errors most learners hit in the last RECENT seconds: how many learners, and who."""
    rows = db.execute(select(TranscriptEntry.error, TranscriptEntry.tenant)
                      .where(TranscriptEntry.error.is_not(None), TranscriptEntry.recorded_at > now - RECENT)
                      .distinct()).all()
    who: dict[str, list[str]] = {}
    for error, tenant in rows:
        who.setdefault(error, []).append(names.get(tenant, tenant))
    ranked = sorted(who.items(), key=lambda item: (-len(item[1]), item[0]))[:8]
    return [{"error": error, "learners": len(learners), "names": sorted(learners)}
            for error, learners in ranked]


@blueprint.post("/learners/<tenant_id>/reset")
def reset(tenant_id: str):
    if refused := refusal():
        return refused
    if not request.is_json and request.authorization is None:
        # The cookie is SameSite=Strict; a JSON body (which no cross-site form can send) too.
        return json_error(400, "invalid_request", "Send the reset as JSON.")
    if not classroom().reset(tenant_id):
        return json_error(404, "not_found", "No such learner.")
    return jsonify(reset=tenant_id)
