"""The instructor's dashboard: the class's exchanges as they happen, each learner's progress
through the course, the errors most learners hit right now, and a reset for a stuck learner.

Behind the instructor secret: typed once into the sign-in form (which sets an HttpOnly,
SameSite=Strict cookie derived from the secret, so every worker recognises it), or sent as
``Authorization: Bearer <secret>`` by a script. The page polls ``/instructor/feed`` every two
seconds; it builds the page with text nodes only, since learner names are whatever learners typed.
"""
from __future__ import annotations

import hashlib
import hmac
import time

from flask import Blueprint, current_app, jsonify, redirect, render_template, request
from sqlalchemy import func, select

from ..errors import json_error
from .models import Milestone, TranscriptEntry
from .progress import MILESTONES

blueprint = Blueprint("instructor", __name__, url_prefix="/instructor")
COOKIE = "mock_instructor"
RECENT = 600  # seconds: "right now", for the common errors
ACTIVE = 300  # seconds: a learner seen this recently is active
FEED_SIZE = 40


def classroom():
    return current_app.extensions["workshop"]


def _cookie_value() -> str:
    secret = classroom().config.instructor_secret.encode()
    return hmac.new(secret, b"mock-server instructor session", hashlib.sha256).hexdigest()


def signed_in() -> bool:
    expected = classroom().config.instructor_secret
    sent = request.authorization
    if sent and sent.type == "bearer" and sent.token:
        return hmac.compare_digest(sent.token.encode(), expected.encode())
    cookie = request.cookies.get(COOKIE, "")
    return hmac.compare_digest(cookie.encode(), _cookie_value().encode())


def refused():
    return json_error(401, "invalid_token", "Sign in at /instructor with the instructor secret.",
                      {"WWW-Authenticate": 'Bearer realm="instructor"'})


@blueprint.get("")
def dashboard():
    if not signed_in():
        return render_template("instructor_login.html", error=None, base_url=classroom().config.base_url)
    return render_template("instructor.html", milestones=MILESTONES,
                           base_url=classroom().config.base_url)


@blueprint.post("/login")
def login():
    sent = request.form.get("secret", "")
    if not hmac.compare_digest(sent.encode("utf-8", "replace"),
                               classroom().config.instructor_secret.encode()):
        return render_template("instructor_login.html", error="That is not the instructor secret.",
                               base_url=classroom().config.base_url), 401
    response = redirect(f"{classroom().config.base_url}/instructor", 303)
    response.set_cookie(COOKIE, _cookie_value(), path="/instructor", httponly=True, samesite="Strict",
                        secure=classroom().config.base_url.startswith("https:"))
    return response


@blueprint.get("/feed")
def feed():
    if not signed_in():
        return refused()
    room, now = classroom(), time.time()
    db = room.session
    try:
        since = int(request.args.get("since", "0"))
    except ValueError:
        since = 0
    names = {tenant.id: tenant.name for tenant in room.tenants()}
    rows = db.execute(select(TranscriptEntry.id, TranscriptEntry.tenant, TranscriptEntry.method,
                             TranscriptEntry.path, TranscriptEntry.status, TranscriptEntry.error,
                             TranscriptEntry.recorded_at)
                      .where(TranscriptEntry.id > since).order_by(TranscriptEntry.id.desc())
                      .limit(FEED_SIZE)).all()
    reached: dict[str, list[str]] = {}
    for tenant, phase in db.execute(select(Milestone.tenant, Milestone.phase)):
        reached.setdefault(tenant, []).append(phase)
    last_seen = dict(db.execute(select(TranscriptEntry.tenant, func.max(TranscriptEntry.recorded_at))
                                .where(TranscriptEntry.recorded_at > now - ACTIVE)
                                .group_by(TranscriptEntry.tenant)).all())
    return jsonify(
        last_seq=max([since] + [row.id for row in rows]),
        exchanges=[{"seq": row.id, "learner": names.get(row.tenant, row.tenant), "tenant": row.tenant,
                    "method": row.method, "path": row.path.split("?", 1)[0], "status": row.status,
                    "error": row.error, "at": row.recorded_at} for row in reversed(rows)],
        learners=[{"tenant": tenant_id, "name": name, "issuer": room.issuer_of(tenant_id),
                   "milestones": [m for m in MILESTONES if m in reached.get(tenant_id, [])],
                   "active": tenant_id in last_seen} for tenant_id, name in names.items()],
        errors=common_errors(db, now, names))


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
    if not signed_in():
        return refused()
    if not request.is_json and request.authorization is None:
        # The cookie is SameSite=Strict; a JSON body (which no cross-site form can send) too.
        return json_error(400, "invalid_request", "Send the reset as JSON.")
    if not classroom().reset(tenant_id):
        return json_error(404, "not_found", "No such learner.")
    return jsonify(reset=tenant_id)
